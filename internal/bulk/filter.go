package bulk

import (
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// filterOf names a filter's set fields as the admin API's list does, for
// audit and display.
func filterOf(q client.ListQuery) map[string]string {
	m := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	putTime := func(k string, t time.Time) {
		if !t.IsZero() {
			m[k] = t.UTC().Format(time.RFC3339)
		}
	}
	put("status", string(q.Status))
	put("search", q.Search)
	put("owner", q.OwnerUserID)
	put("created_by", q.CreatedBy)
	put("type", string(q.Type))
	put("grant_type", string(q.GrantType))
	put("last_grant", string(q.LastGrant))
	put("authorized_by", q.AuthorizedBy)
	if q.Divisions != nil {
		m["division"] = strings.Join(q.Divisions, ",")
	}
	putTime("unused_since", q.UnusedSince)
	putTime("secret_expires_before", q.SecretExpiresBefore)
	if q.NeverUsed {
		m["never_used"] = "true"
	}
	return m
}

// FilterOf is filterOf for the surfaces.
func FilterOf(q client.ListQuery) map[string]string { return filterOf(q) }
