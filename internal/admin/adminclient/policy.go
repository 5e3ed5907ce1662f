package adminclient

import (
	"context"
	"net/http"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/client"
)

// Policy reads the tenant's policy (GET /policy).
func (c *Client) Policy(ctx context.Context) (*admin.Policy, error) {
	var v admin.Policy
	if err := c.do(ctx, request{method: http.MethodGet, path: "/policy"}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// SetPolicy replaces the tenant's policy with p (PUT /policy); version,
// when set, is sent as If-Match, so a change from an outdated copy fails
// with errs.ErrStale.
func (c *Client) SetPolicy(ctx context.Context, p *client.Policy, version string) (*admin.Policy, error) {
	var h http.Header
	if version != "" {
		h = http.Header{"If-Match": {`"` + version + `"`}}
	}
	var v admin.Policy
	if err := c.do(ctx, request{method: http.MethodPut, path: "/policy", header: h, body: admin.NewPolicyBody(p)}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Compliance reads the compliance report (GET /compliance). A report the
// server had to end early is an error.
func (c *Client) Compliance(ctx context.Context) (*admin.ComplianceReport, error) {
	var v admin.ComplianceReport
	if err := c.do(ctx, request{method: http.MethodGet, path: "/compliance"}, &v); err != nil {
		return nil, err
	}
	if v.Error != nil {
		return nil, problemError(*v.Error)
	}
	return &v, nil
}
