package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/token"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
		msg    string
		ok     bool
	}{
		{errs.Invalid("name", "is required"), http.StatusUnprocessableEntity, "invalid_input", "the input is not valid", true},
		{fmt.Errorf("update: %w", client.ErrNotFound), http.StatusNotFound, "not_found", "not found", true},
		{fmt.Errorf("%w: this needs oauth:client:add", errs.ErrForbidden), http.StatusForbidden, "forbidden",
			"permission denied: this needs oauth:client:add", true},
		{fmt.Errorf("%w: confirm", client.ErrProtected), http.StatusConflict, "protected", "protected: confirm", true},
		{fmt.Errorf("sqlite: add signing key %q: %w", "k1", errs.ErrConflict), http.StatusConflict, "conflict", "conflicts with an existing record", true},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "the operation took too long; try again", true},
		{fmt.Errorf("postgres: get client: %w: dial tcp: connection refused", errs.ErrUnavailable), http.StatusServiceUnavailable, "unavailable",
			"the database cannot be reached just now; nothing was changed; try again shortly", true},
		{errors.New("pq: password=hunter2 connection refused"), http.StatusInternalServerError, "internal_error", "internal error", false},
	}
	for _, tt := range tests {
		p, ok := Classify(tt.err)
		if p.Status != tt.status || p.Code != tt.code || p.Message != tt.msg || ok != tt.ok {
			t.Errorf("Classify(%v) = %+v, %v", tt.err, p, ok)
		}
	}
	// Every domain's sentinels are the shared ones, so the one table maps
	// them all.
	for _, err := range []error{account.ErrNotFound, token.ErrNotFound, client.ErrNotFound} {
		if p, _ := Classify(fmt.Errorf("store: %w", err)); p.Code != "not_found" {
			t.Errorf("Classify(%v) = %+v", err, p)
		}
	}
	for _, err := range []error{account.ErrConflict, token.ErrConflict, client.ErrConflict} {
		if p, _ := Classify(err); p.Code != "conflict" {
			t.Errorf("Classify(%v) = %+v", err, p)
		}
	}
	if p, _ := Classify(errs.Invalid("name", "is required")); len(p.Fields) != 1 || p.Fields[0].Field != "name" {
		t.Errorf("fields: %+v", p.Fields)
	}
}
