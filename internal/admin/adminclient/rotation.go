package adminclient

import (
	"context"
	"net/http"

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
