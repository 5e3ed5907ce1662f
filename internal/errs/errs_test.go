package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestValidationError(t *testing.T) {
	err := fmt.Errorf("create: %w", &ValidationError{Fields: []FieldError{{Field: "name", Message: "is required"}, {Field: "scopes", Message: "too many"}}})
	if got := err.Error(); got != "create: invalid input: name: is required; scopes: too many" {
		t.Errorf("Error() = %q", got)
	}
	if f := Fields(err); len(f) != 2 || f[1].Field != "scopes" {
		t.Errorf("Fields = %v", f)
	}
	if Fields(ErrNotFound) != nil || Fields(nil) != nil {
		t.Error("Fields of a non-validation error is not nil")
	}
	if f := Fields(Invalid("x", "y")); len(f) != 1 || f[0] != (FieldError{Field: "x", Message: "y"}) {
		t.Errorf("Invalid: %v", f)
	}
}

func TestSentinelsAreDistinct(t *testing.T) {
	all := []error{ErrNotFound, ErrConflict, ErrForbidden, ErrProtected}
	for i, a := range all {
		for j, b := range all {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, i != j)
			}
		}
	}
}
