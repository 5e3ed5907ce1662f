package adminclient

import (
	"context"
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey/internal/admin"
)

// FinishRotation revokes the client's retiring secrets now and returns
// them as they now are.
func (c *Client) FinishRotation(ctx context.Context, id string, confirmed bool) (*admin.SecretList, error) {
	var v admin.SecretList
	if err := c.do(ctx, request{method: http.MethodPost, path: "/clients/" + escape(id) + "/finish-rotation", query: confirm(confirmed)}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// StaleClients returns one page of the clients unused for days days.
func (c *Client) StaleClients(ctx context.Context, days int, p ListParams) (*admin.ClientList, error) {
	q := p.values()
	q.Set("days", strconv.Itoa(days))
	var l admin.ClientList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/reports/stale", query: q}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}
