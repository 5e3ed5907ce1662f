package client

import "github.com/latchkey/latchkey/internal/errs"

// Sentinel errors of the domain: the shared ones of package errs under
// this package's names. Storage adapters translate their driver errors
// into ErrNotFound and ErrConflict at their boundary; callers compare with
// errors.Is.
var (
	// ErrNotFound means no such client (or secret) exists in the caller's tenant.
	ErrNotFound = errs.ErrNotFound
	// ErrConflict means the client ID is already taken.
	ErrConflict = errs.ErrConflict
	// ErrForbidden means the actor lacks the permission the operation
	// needs; nothing was read or written.
	ErrForbidden = errs.ErrForbidden
	// ErrProtected means the client is protected: deleting it is refused and
	// editing it needs confirmation.
	ErrProtected = errs.ErrProtected
	// ErrStale means an update named a version the client no longer has.
	ErrStale = errs.ErrStale
)

// FieldError is one rule broken by one field of the input.
type FieldError = errs.FieldError

// ValidationError lists every rule the input broke. Nothing is written when
// it is returned.
type ValidationError = errs.ValidationError

// fieldErrors collects FieldErrors while validating.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field, msg string) {
	*fe = append(*fe, FieldError{Field: field, Message: msg})
}

// merge adds the field errors of err, a *ValidationError or nil.
func (fe *fieldErrors) merge(err error) { *fe = append(*fe, errs.Fields(err)...) }

// err returns a *ValidationError, or nil when nothing was collected.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return &ValidationError{Fields: fe}
}
