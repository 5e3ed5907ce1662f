package client

import (
	"errors"
	"strings"
)

// Sentinel errors of the domain. Storage adapters translate their driver
// errors into ErrNotFound and ErrConflict at their boundary; callers compare
// with errors.Is.
var (
	// ErrNotFound means no such client (or secret) exists in the caller's tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the client ID is already taken.
	ErrConflict = errors.New("already exists")
	// ErrProtected means the client is protected: deleting it is refused and
	// editing it needs confirmation.
	ErrProtected = errors.New("client is protected")
)

// FieldError is one rule broken by one field of the input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every rule the input broke. Nothing is written when
// it is returned.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// fieldErrors collects FieldErrors while validating.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field, msg string) { *fe = append(*fe, FieldError{field, msg}) }

// err returns a *ValidationError, or nil when nothing was collected.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return &ValidationError{Fields: fe}
}
