package admin

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// staleParams are the query parameters of GET /reports/stale.
var staleParams = []string{"days", "q", "status", "sort", "order", "page_size", "page_token"}

// DefaultStaleDays is the stale report's days when ?days= is not given.
const DefaultStaleDays = 90

// staleReport lists the clients unused for ?days= days (a never used one
// counting from its creation; 90 when not given), paged like the client
// list.
func staleReport(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := queryParams(r, staleParams...)
	if err != nil {
		return err
	}
	var fe []errs.FieldError
	bad := func(field, msg string) { fe = append(fe, errs.FieldError{Field: field, Message: msg}) }
	days := DefaultStaleDays
	if s := v.Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > client.MaxStaleDays {
			bad("days", fmt.Sprintf("must be a whole number of days from 1 to %d", client.MaxStaleDays))
		}
		days = n
	}
	q := client.ListQuery{Search: v.Get("q"), Status: client.Status(v.Get("status")), Sort: client.SortField(v.Get("sort")),
		After: v.Get("page_token")}
	switch v.Get("order") {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		bad("order", `must be "asc" or "desc"`)
	}
	if s := v.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > client.MaxListLimit {
			bad("page_size", fmt.Sprintf("must be from 1 to %d", client.MaxListLimit))
		}
		q.Limit = n
	}
	if fe != nil {
		return &errs.ValidationError{Fields: fe}
	}
	page, err := a.Clients.Stale(r.Context(), c.actor, days, q)
	if err != nil {
		return renameFields(err, map[string]string{"search": "q", "after": "page_token", "limit": "page_size"})
	}
	out := ClientList{Clients: make([]Client, 0, len(page.Clients)), NextPageToken: page.Next,
		Total: page.Total, TotalEstimated: page.TotalEstimated}
	for _, cl := range page.Clients {
		out.Clients = append(out.Clients, NewClient(cl, nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
