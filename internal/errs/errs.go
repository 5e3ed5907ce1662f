// Package errs is the one vocabulary of failure the domains share: the
// sentinel errors every domain and storage adapter returns, and the
// field-level validation error. Each domain re-exports the sentinels it
// uses under its own name (client.ErrNotFound is errs.ErrNotFound), so a
// caller compares with errors.Is against whichever it imports and the
// management surfaces map all of them through one table
// (admin.Classify).
//
// The package imports nothing of Latchkey's: it is the leaf every domain
// may depend on.
package errs

import (
	"errors"
	"strings"
)

// The sentinels. Storage adapters translate driver errors into them at
// their boundary; callers compare with errors.Is.
var (
	// ErrNotFound means no such record exists where the caller may look
	// (a record of another tenant is not found either).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a record with that identity already exists, or a
	// concurrent change won a compare-and-swap.
	ErrConflict = errors.New("already exists")
	// ErrForbidden means the actor lacks the permission the operation
	// needs. Nothing was read or written.
	ErrForbidden = errors.New("permission denied")
	// ErrProtected means the record is protected: the change needs
	// confirmation, or is refused outright.
	ErrProtected = errors.New("protected")
	// ErrInUse means a record cannot be removed while others refer to it;
	// the error's text, worded by the domain, says which.
	ErrInUse = errors.New("in use")
	// ErrStale means the caller changed a record from an outdated copy: the
	// version it named is no longer the record's. Nothing was written.
	ErrStale = errors.New("the record has changed since it was read")
	// ErrUnavailable means the database could not be reached (it is down,
	// restarting or failing over). Nothing is known to have been written;
	// the caller may retry shortly. Surfaces answer it with 503 and
	// Retry-After, and log it once per outage, not once per request.
	ErrUnavailable = errors.New("the database is unavailable")
)

// RetryAfter is the delay, in seconds, a caller refused with
// ErrUnavailable is told to wait: about as long as the store waits at most
// between its attempts to reconnect.
const RetryAfter = 5

// FieldError is one rule broken by one field of the input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Policy names the tenant policy the field breaks, when it is one
	// (see client.Policy), so a caller can tell a guardrail from a typo.
	Policy string `json:"policy,omitempty"`
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

// Invalid returns a *ValidationError for one field.
func Invalid(field, msg string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: msg}}}
}

// Fields returns the field errors of err when it is (or wraps) a
// *ValidationError, and nil otherwise.
func Fields(err error) []FieldError {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Fields
	}
	return nil
}

// Rename returns err with its field errors renamed by names (a field not
// in names keeps its name): a surface that calls a field otherwise than
// the domain does reports it by its own name. Other errors pass unchanged.
func Rename(err error, names map[string]string) error {
	fields := Fields(err)
	if fields == nil {
		return err
	}
	out := make([]FieldError, len(fields))
	for i, f := range fields {
		if n, ok := names[f.Field]; ok {
			f.Field = n
		}
		out[i] = f
	}
	return &ValidationError{Fields: out}
}
