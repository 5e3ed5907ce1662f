package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/latchkey/latchkey/internal/errs"
)

// Problem is how a management surface reports a failed operation: an HTTP
// status, a stable machine-readable code, a message safe to show, and the
// field errors of invalid input.
type Problem struct {
	Status  int               `json:"-"`
	Code    string            `json:"error"`
	Message string            `json:"message"`
	Fields  []errs.FieldError `json:"fields,omitempty"`
}

// problems is the one table from domain error to Problem. Order matters
// only where an error could match two rows; the first wins.
var problems = []struct {
	sentinel error
	status   int
	code     string
	message  string // "" shows the error's own text, for errors the domain words itself
}{
	{errs.ErrForbidden, http.StatusForbidden, "forbidden", ""},
	{errs.ErrNotFound, http.StatusNotFound, "not_found", "not found"},
	{errs.ErrProtected, http.StatusConflict, "protected", ""},
	// A conflict's own text comes from a storage adapter: never shown.
	{errs.ErrConflict, http.StatusConflict, "conflict", "conflicts with an existing record"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "the operation took too long; try again"},
}

// Classify maps err to the Problem a caller is shown. Validation errors
// carry their fields; the sentinels of package errs map through one table;
// anything else is a 500 "internal error" whose text is never shown (the
// caller logs it). ok is false for that last case.
func Classify(err error) (p Problem, ok bool) {
	if fields := errs.Fields(err); fields != nil {
		return Problem{Status: http.StatusBadRequest, Code: "invalid_input", Message: "the input is not valid", Fields: fields}, true
	}
	for _, row := range problems {
		if errors.Is(err, row.sentinel) {
			msg := row.message
			if msg == "" {
				msg = err.Error()
			}
			return Problem{Status: row.status, Code: row.code, Message: msg}, true
		}
	}
	return Problem{Status: http.StatusInternalServerError, Code: "internal_error", Message: "internal error"}, false
}
