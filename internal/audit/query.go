package audit

import (
	"context"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
)

// Limits of a Query's page.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	// MaxFilterLen bounds each text filter of a Query.
	MaxFilterLen = 200
)

// Query selects one page of a tenant's audit log. Zero fields do not
// filter. Events come in chain order (by Seq), which is the order they
// committed in; Desc turns it, newest first.
type Query struct {
	// TenantID is required: a query reads one tenant's log.
	TenantID string
	// Since and Until bound the events' At: Since <= At < Until.
	Since, Until time.Time
	// Action is an action's exact name, or, ending in ".", a prefix:
	// "client." selects every client action.
	Action     string
	ActorID    string
	TargetType string
	TargetID   string
	// Desc lists newest first.
	Desc bool
	// Limit is the page size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// After and Before bound Seq, exclusive: the cursor. A page's next
	// cursor goes in After when ascending and in Before when descending.
	After, Before int64
}

// ActionRange is what q.Action selects, as a store's index reads it: the
// actions equal to lo when hi is "", else those from lo up to, not
// including, hi (byte order). A prefix ends in ".", so hi ends in "/", the
// byte after it.
func (q *Query) ActionRange() (lo, hi string) {
	if p, ok := strings.CutSuffix(q.Action, "."); ok {
		return q.Action, p + "/"
	}
	return q.Action, ""
}

// Normalize checks q and fills in its defaults. Field errors are named
// after the query's parameters in the admin API.
func (q *Query) Normalize() error {
	var fe errs.ValidationError
	add := func(field, msg string) { fe.Fields = append(fe.Fields, errs.FieldError{Field: field, Message: msg}) }
	if q.TenantID == "" {
		add("tenant_id", "is required")
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		add("limit", "must be from 1 to 1000")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		add("until", "must be after since")
	}
	if q.After < 0 {
		add("after", "must be a sequence number")
	}
	if q.Before < 0 {
		add("before", "must be a sequence number")
	}
	for _, f := range []struct{ name, v string }{
		{"action", q.Action}, {"actor_id", q.ActorID}, {"target_type", q.TargetType}, {"target_id", q.TargetID},
	} {
		if len(f.v) > MaxFilterLen || strings.ContainsFunc(f.v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			add(f.name, "must be at most 200 characters, without control characters")
		}
	}
	if q.Action == "." {
		add("action", `must name an action, or a prefix such as "client."`)
	}
	if len(fe.Fields) > 0 {
		return &fe
	}
	return nil
}

// Page is one page of the events a Query selects.
type Page struct {
	Events []Event
	// Next is the cursor of the page after this one: the Seq to put in
	// the query's After, or its Before when Desc. 0 when this page is the
	// last.
	Next int64
}

// Lister lists a tenant's audit log for the people who read it: the admin
// API, the console and the CLI's export.
type Lister interface {
	// ListAudit normalizes q (see Query.Normalize) and returns the page of
	// events it selects, at most q.Limit of them.
	ListAudit(ctx context.Context, q Query) (*Page, error)
}
