package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/errs"
)

// Client calls the admin API of one tenant of a Latchkey server.
//
// Zero values: HTTP nil is http.DefaultClient; Token nil sends no
// credentials (every operation is then refused as unauthorized).
type Client struct {
	// BaseURL is the tenant's issuer: the server's URL for the default
	// tenant, {server}/t/{slug} for another. The API is below it, at
	// admin.Prefix.
	BaseURL string
	HTTP    *http.Client
	// Token returns the bearer access token of a request. It is called
	// once per request; caching is its business.
	Token func(ctx context.Context) (string, error)
}

// ErrUnauthorized is what a 401 answer wraps: the server took the access
// token for none it issued, or for one expired or revoked.
var ErrUnauthorized = errors.New("not authorized")

// Error is a problem the API answered with (RFC 9457). Its text is the
// problem's detail, exactly as the server's own surfaces word it; it
// wraps the sentinel of package errs the problem's code stands for, if
// any, so callers compare it with errors.Is as they would the domain's
// error.
type Error struct {
	Problem admin.Problem
	err     error
}

func (e *Error) Error() string {
	if e.Problem.Status == http.StatusUnauthorized {
		return "the server did not accept the credentials: " + e.Problem.Message
	}
	return e.Problem.Message
}

func (e *Error) Unwrap() error { return e.err }

// sentinels are the problem codes that stand for a domain sentinel: the
// inverse of admin.Classify's table.
var sentinels = map[string]error{
	"not_found": errs.ErrNotFound,
	"forbidden": errs.ErrForbidden,
	"protected": errs.ErrProtected,
	"conflict":  errs.ErrConflict,
	"stale":     errs.ErrStale,
	"in_use":    errs.ErrInUse,
}

// problemError turns a problem into the error a caller compares: a field
// error list is the domain's *errs.ValidationError, fields unchanged.
func problemError(p admin.Problem) error {
	if p.Code == "invalid_input" && len(p.Fields) > 0 {
		return &errs.ValidationError{Fields: p.Fields}
	}
	e := &Error{Problem: p, err: sentinels[p.Code]}
	if p.Status == http.StatusUnauthorized {
		e.err = ErrUnauthorized
	}
	return e
}

// maxResponse bounds what is read of one answer; the API streams only
// page_size=all, which this client does not ask for.
const maxResponse = 32 << 20

// request is one call of the API.
type request struct {
	method string
	// path is below the API's prefix.
	path   string
	query  url.Values
	header http.Header
	// body, when not nil, is sent as JSON of contentType
	// (application/json when empty).
	body        any
	contentType string
}

// do sends rq and decodes a 2xx answer into out (nil: the body is
// dropped); any other answer is its problem's error.
func (c *Client) do(ctx context.Context, rq request, out any) error {
	u := strings.TrimSuffix(c.BaseURL, "/") + admin.Prefix + rq.path
	if len(rq.query) > 0 {
		u += "?" + rq.query.Encode()
	}
	var rd io.Reader
	if rq.body != nil {
		b, err := json.Marshal(rq.body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, rd)
	if err != nil {
		return err
	}
	for k, vs := range rq.header {
		req.Header[k] = vs
	}
	if rq.body != nil {
		ct := rq.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.Token != nil {
		tok, err := c.Token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the method and URL it repeats
		}
		return fmt.Errorf("no answer from the admin API at %s: %w", c.BaseURL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("reading the admin API's answer: %w", err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return answerError(res, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s answered %d with a body that is not the API's JSON", rq.method, admin.Prefix+rq.path, res.StatusCode)
	}
	return nil
}

// answerError is the error of a non-2xx answer: its problem when it is
// one, else the status alone (a proxy's page is not shown).
func answerError(res *http.Response, b []byte) error {
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	var p admin.Problem
	if (mt == "application/problem+json" || mt == "application/json") && json.Unmarshal(b, &p) == nil && p.Code != "" {
		if p.Status == 0 {
			p.Status = res.StatusCode
		}
		return problemError(p)
	}
	p = admin.NewProblem(res.StatusCode, "http_"+fmt.Sprint(res.StatusCode),
		fmt.Sprintf("the server answered %s, not with the admin API's problem details: is this the right URL?", res.Status))
	return problemError(p)
}

// Me returns who the token speaks for, and what it may do in the tenant.
func (c *Client) Me(ctx context.Context) (*admin.Me, error) {
	var me admin.Me
	if err := c.do(ctx, request{method: http.MethodGet, path: "/me"}, &me); err != nil {
		return nil, err
	}
	return &me, nil
}

// escape is a path segment.
func escape(s string) string { return url.PathEscape(s) }
