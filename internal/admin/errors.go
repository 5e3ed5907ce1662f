package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/latchkey/latchkey/internal/errs"
)

// Problem is how a management surface reports a failed operation: an RFC
// 9457 problem details object. Code is a stable machine-readable name of
// the problem (Type is the same name as a URI), Message a detail safe to
// show, and Fields the field errors of invalid input, exactly as the
// domain words them.
type Problem struct {
	Type    string            `json:"type"`
	Title   string            `json:"title"`
	Status  int               `json:"status"`
	Message string            `json:"detail"`
	Code    string            `json:"code"`
	Fields  []errs.FieldError `json:"errors,omitempty"`
}

// ProblemType is the prefix of a Problem's Type: the URI of problem code c
// is ProblemType + c.
const ProblemType = "urn:latchkey:problem:"

// NewProblem returns the Problem of a status and code with its detail.
func NewProblem(status int, code, detail string) Problem {
	return Problem{Type: ProblemType + code, Title: http.StatusText(status), Status: status, Message: detail, Code: code}
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
	{errs.ErrInUse, http.StatusConflict, "in_use", ""},
	{errs.ErrStale, http.StatusPreconditionFailed, "stale", "the record has changed since it was read; read it again and retry"},
	// A conflict's own text comes from a storage adapter: never shown.
	{errs.ErrConflict, http.StatusConflict, "conflict", "conflicts with an existing record"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "the operation took too long; try again"},
	// The store logs an outage once; each request refused in it is known.
	{errs.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "the database cannot be reached just now; nothing was changed; try again shortly"},
}

// Classify maps err to the Problem a caller is shown. Validation errors
// carry their fields (422); the sentinels of package errs map through one
// table; anything else is a 500 "internal error" whose text is never shown
// (the caller logs it). ok is false for that last case.
func Classify(err error) (p Problem, ok bool) {
	if fields := errs.Fields(err); fields != nil {
		p := NewProblem(http.StatusUnprocessableEntity, "invalid_input", "the input is not valid")
		p.Fields = fields
		return p, true
	}
	for _, row := range problems {
		if errors.Is(err, row.sentinel) {
			msg := row.message
			if msg == "" {
				msg = err.Error()
			}
			return NewProblem(row.status, row.code, msg), true
		}
	}
	return NewProblem(http.StatusInternalServerError, "internal_error", "internal error"), false
}
