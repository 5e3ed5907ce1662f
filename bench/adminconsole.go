package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The admin benchmark's console step (-console) times the console's
// client list, GET /console/clients, on the same server and fleet as the
// admin API's list, for every shape the API was timed with: the page is
// the same domain call, rendered as HTML for a signed-in admin rather
// than as JSON for a token. Each shape's time is reported beside the
// API's, as a ratio of their medians.

// The console admin the step signs in as. The password is the
// benchmark's own, for a scratch database removed at the end.
const (
	consoleAdminEmail    = "console-bench@example.com"
	consoleAdminPassword = "console-bench-password-of-a-fair-length"
)

// consoleResult is one shape's times on the console.
type consoleResult struct {
	shape listShape
	// vs names the API's shape to compare with: shape's own but for the
	// console's page back from the deep one, compared with the deep one.
	vs string
	// rows is how many clients the last page listed, to check by eye.
	rows  int
	times []time.Duration
	err   error
}

// consoleParams is the console's query for the admin API's parameters v,
// as of now: the same filters under the console's names.
func consoleParams(v url.Values, now time.Time) url.Values {
	out := url.Values{}
	for k, vs := range v {
		s := vs[0]
		switch k {
		case "grant_type":
			out.Set("grant", s)
		case "secret_expires_within":
			// The console filters by a date; the API's 30d is the day 30
			// days on.
			d, err := parseDays(s)
			if err == nil {
				out.Set("expires_before", now.AddDate(0, 0, d).UTC().Format(time.DateOnly))
			}
		case "unused_since":
			if s == "never" {
				out.Set("never_used", "on")
			} else {
				out.Set("unused_since", s)
			}
		case "order":
			out.Set("dir", s)
		case "page_size":
			out.Set("limit", s)
		case "page_token":
			out.Set("after", s)
		default: // q, status, type, owner, created_by, sort
			out.Set(k, s)
		}
	}
	return out
}

// parseDays reads a span of whole days, "30d".
func parseDays(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if err != nil || !strings.HasSuffix(s, "d") {
		return 0, fmt.Errorf("not a span of days: %q", s)
	}
	return n, nil
}

// consoleSession is a browser signed in to the console.
type consoleSession struct {
	srv *latchkeyServer
	b   *pageBrowser
}

// signIn signs the browser in as the console admin.
func (c *consoleSession) signIn(ctx context.Context) error {
	login, err := c.b.get(ctx, c.srv.base+"/account/login")
	if err != nil {
		return err
	}
	to, err := c.b.post(ctx, c.srv.base+"/account/login", url.Values{"csrf": {hiddenValue(login, "csrf")},
		"email": {consoleAdminEmail}, "password": {consoleAdminPassword}, "next": {"/console/"}})
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	if !strings.HasSuffix(to, "/console/") {
		return fmt.Errorf("sign in went to %.200s, not the console", to)
	}
	return nil
}

// page GETs one console list page and returns how long it took, body
// read, and how many clients it listed. A session the server ended (the
// idle timeout, on a slow run) is signed in again and the page asked
// again, unmeasured, so retry is set.
func (c *consoleSession) page(ctx context.Context, q url.Values) (d time.Duration, rows int, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	u := c.srv.base + "/console/clients"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, false, err
	}
	start := time.Now()
	status, loc, body, err := c.b.do(req)
	d = time.Since(start)
	switch {
	case err != nil:
		return 0, 0, false, err
	case status == http.StatusSeeOther && strings.Contains(loc, "/account/login"):
		return 0, 0, true, c.signIn(ctx)
	case status != http.StatusOK:
		return 0, 0, false, fmt.Errorf("GET %s: status %d: %.300s", u, status, body)
	case !strings.Contains(body, `id="clients-table"`) && !strings.Contains(body, `id="empty-state"`):
		return 0, 0, false, fmt.Errorf("GET %s: no list in the page: %.300s", u, body)
	}
	return d, strings.Count(body, "<tr data-client-id="), false, nil
}

// timeConsole signs a super admin in to the server's console and times
// each of the results' shapes there, as the API was timed: warm-up and
// measured requests one at a time, a deep shape at the API's cursor
// 10,000 clients in.
func timeConsole(ctx context.Context, srv *latchkeyServer, hc *http.Client, token string, results []*shapeResult,
	o adminOptions, now time.Time, stderr io.Writer) ([]*consoleResult, error) {
	if err := srv.cli(ctx, consoleAdminPassword+"\n", nil, "users", "create", "--email", consoleAdminEmail,
		"--password-file", "-", "--role", "super_admin"); err != nil {
		return nil, err
	}
	b, err := newPageBrowser(srv.base)
	if err != nil {
		return nil, err
	}
	defer b.hc.CloseIdleConnections()
	c := &consoleSession{srv: srv, b: b}
	if err := c.signIn(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "timing %d shapes on the console ...\n", len(results))
	var out []*consoleResult
	for _, r := range results {
		cr := &consoleResult{shape: r.shape, vs: r.shape.name}
		out = append(out, cr)
		q := consoleParams(r.shape.params, now)
		if r.shape.deep {
			cur, err := deepToken(ctx, hc, srv.base, token)
			if err != nil {
				cr.err = err
				continue
			}
			q = consoleParams(url.Values{"page_token": {cur}}, now)
			// And Previous from there: the page read back from the cursor.
			back := &consoleResult{shape: listShape{name: r.shape.name + ", Previous", deep: true}, vs: r.shape.name}
			out = append(out, back)
			c.time(ctx, back, url.Values{"before": {cur}}, o)
		}
		c.time(ctx, cr, q, o)
	}
	return out, nil
}

// time asks the console for q as the API was asked, into cr.
func (c *consoleSession) time(ctx context.Context, cr *consoleResult, q url.Values, o adminOptions) {
	for i := 0; i < o.warmup+o.requests; {
		d, rows, retry, err := c.page(ctx, q)
		if err != nil {
			cr.err = err
			break
		}
		if retry {
			continue
		}
		if i >= o.warmup {
			cr.times = append(cr.times, d)
		}
		cr.rows = rows
		i++
	}
}

// deepToken walks the admin API deepHops pages of deepHopSize and
// returns the cursor there.
func deepToken(ctx context.Context, hc *http.Client, base, token string) (string, error) {
	hop := url.Values{"page_size": {strconv.Itoa(deepHopSize)}}
	for range deepHops {
		l, _, err := getClients(ctx, hc, base, token, hop)
		if err != nil {
			return "", err
		}
		if l.NextPageToken == "" {
			return "", fmt.Errorf("fewer than %d clients", deepHops*deepHopSize)
		}
		hop.Set("page_token", l.NextPageToken)
	}
	return hop.Get("page_token"), nil
}

// printConsole prints the console's times beside the API's: the ratio of
// the medians says what rendering a page for a browser costs over the
// same list as JSON.
func printConsole(w io.Writer, api []*shapeResult, console []*consoleResult) {
	if len(console) == 0 {
		return
	}
	fmt.Fprintf(w, "\nconsole: GET /console/clients for a signed-in super admin, vs the admin API's http times above\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shape\trows\tconsole p50\tp95\tapi p50\tratio p50\tratio p95\t")
	byName := map[string]*shapeResult{}
	for _, r := range api {
		byName[r.shape.name] = r
	}
	for _, c := range console {
		a := byName[c.vs]
		var at []time.Duration
		if a != nil {
			at = a.http
		}
		note := ""
		if c.err != nil {
			note = "console: " + c.err.Error()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.shape.name, c.rows, ms(p50(c.times)), flagged(c.times),
			ms(p50(at)), ratio(p50(c.times), p50(at)), ratio(p95(c.times), p95(at)), note)
	}
	tw.Flush()
}

// ratio is a/b to two decimals, "-" when b is nothing.
func ratio(a, b time.Duration) string {
	if b <= 0 || a <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}
