package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

// AuditList is one page of the audit log.
type AuditList struct {
	Events        []AuditEvent `json:"events"`
	NextPageToken string       `json:"next_page_token,omitempty"`
}

// listAudit serves GET /audit/events: the tenant's audit log, newest first
// unless order=asc, filtered by time, action (exact, or a prefix ending in
// "."), actor and target, paginated by the chain's sequence numbers.
//
// It needs audit:view tenant-wide: the log speaks of every division's
// records, so one division's viewer may not read it.
func listAudit(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := queryParams(r, "since", "until", "action", "actor", "target_type", "target_id", "order", "page_size", "page_token")
	if err != nil {
		return err
	}
	q := audit.Query{TenantID: c.actor.TenantID, Action: v.Get("action"), ActorID: v.Get("actor"),
		TargetType: v.Get("target_type"), TargetID: v.Get("target_id"), Desc: true}
	var fe []errs.FieldError
	bad := func(field, msg string) { fe = append(fe, errs.FieldError{Field: field, Message: msg}) }
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			t, err := parseInstant(s)
			if err != nil {
				bad(name, "must be a date (2026-01-31) or an RFC 3339 time")
			}
			*dst = t
		}
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Desc = false
	default:
		bad("order", `must be "asc" or "desc"`)
	}
	if s := v.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > audit.MaxLimit {
			bad("page_size", "must be from 1 to 1000")
		}
		q.Limit = n
	}
	if s := v.Get("page_token"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			bad("page_token", "is not a page token this server issued")
		} else if q.Desc {
			q.Before = n
		} else {
			q.After = n
		}
	}
	if fe != nil {
		return &errs.ValidationError{Fields: sortFields(fe)}
	}
	if err := c.actor.Require(authz.AuditView); err != nil {
		return err
	}
	page, err := a.Audit.ListAudit(r.Context(), q)
	if err != nil {
		return renameFields(err, map[string]string{"limit": "page_size", "actor_id": "actor"})
	}
	out := AuditList{Events: make([]AuditEvent, 0, len(page.Events))}
	for i := range page.Events {
		out.Events = append(out.Events, NewAuditEvent(&page.Events[i]))
	}
	if page.Next != 0 {
		out.NextPageToken = strconv.FormatInt(page.Next, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
