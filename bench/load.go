package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// target is one endpoint under load: the same request, sent over and over,
// and how to tell a good answer; or a flow of requests.
type target struct {
	url           string
	body          string // application/x-www-form-urlencoded
	authorization string // the Authorization header
	// want is a fragment a good response body contains; the status must
	// be 200 as well.
	want string

	// flow, when set, replaces the single request: each worker calls it
	// once, before the clock starts, for a step of its own (one that may
	// keep state, such as the refresh token it rotates), and then runs
	// that step back to back. A step is one measured request, however
	// many HTTP requests it sends.
	flow func(ctx context.Context, w *worker) (step, error)
}

// step is one iteration of a flow.
type step func(ctx context.Context, w *worker) error

// basicAuth is the Authorization header for c, form-encoding the ID and
// secret as RFC 6749 §2.3.1 asks.
func basicAuth(c credentials) string {
	raw := url.QueryEscape(c.ID) + ":" + url.QueryEscape(c.Secret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

// tokenTarget asks tokenURL for a client_credentials token as c.
func tokenTarget(tokenURL string, c credentials) target {
	return target{url: tokenURL, body: "grant_type=client_credentials&scope=read",
		authorization: basicAuth(c), want: `"access_token"`}
}

// introspectionTarget asks introspectURL, as the resource server rs,
// whether tok is active.
func introspectionTarget(introspectURL string, rs credentials, tok string) target {
	return target{url: introspectURL, body: url.Values{"token": {tok}}.Encode(),
		authorization: basicAuth(rs), want: `"active":true`}
}

// result is what one load run measured.
type result struct {
	// requests completed successfully within the measured window.
	requests int
	window   time.Duration
	// latencies of those requests, sorted.
	latencies []time.Duration
	// errors over the whole run, warmup included, and the first few
	// distinct messages.
	errors   int
	messages []string
}

// rate is the successful requests per second.
func (r *result) rate() float64 { return float64(r.requests) / r.window.Seconds() }

// percentile returns the p-th (0 < p ≤ 1) latency by nearest rank, or 0
// when nothing was measured.
func (r *result) percentile(p float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*p+0.999999) - 1
	return r.latencies[min(max(i, 0), n-1)]
}

// merge adds o's measurements to r, as one longer run.
func (r *result) merge(o *result) {
	r.requests += o.requests
	r.window += o.window
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
	r.errors += o.errors
	for _, m := range o.messages {
		if len(r.messages) < maxMessages && !slices.Contains(r.messages, m) {
			r.messages = append(r.messages, m)
		}
	}
}

// maxMessages bounds the distinct error messages a run keeps.
const maxMessages = 5

// requestTimeout bounds one request, so a stuck server cannot stall a run.
const requestTimeout = 10 * time.Second

// runLoad sends t's request from concurrency workers, each back to back on
// its own keep-alive connection, for warmup and then duration. Only
// requests that complete within the measured window (after warmup) are
// counted and timed; errors are counted throughout. Every response is read
// to the end and checked. A flow's set-up comes first, within
// requestTimeout. runLoad returns within warmup + duration + twice
// requestTimeout, or sooner when ctx ends.
func runLoad(ctx context.Context, t target, concurrency int, warmup, duration time.Duration) *result {
	tr := &http.Transport{
		Proxy:               nil, // loopback only; never an environment proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: requestTimeout,
		// A redirect is an answer to check (the authorize endpoint's code),
		// never one to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res := &result{window: duration}
	workers := make([]*worker, concurrency)
	for i := range workers {
		workers[i] = &worker{hc: hc, t: t, lat: make([]time.Duration, 0, 1<<12)}
	}
	// A flow's set-up is not load: it is done before the clock starts, and
	// a worker whose set-up failed counts one error and sends nothing.
	if t.flow != nil {
		setupCtx, cancel := context.WithTimeout(ctx, requestTimeout)
		for _, w := range workers {
			if w.step, w.setupErr = t.flow(setupCtx, w); w.setupErr != nil {
				w.errors++
				w.messages = append(w.messages, "set-up: "+w.setupErr.Error())
			}
		}
		cancel()
	}

	start := time.Now()
	measureFrom := start.Add(warmup)
	measureTo := measureFrom.Add(duration)
	ctx, cancel := context.WithDeadline(ctx, measureTo.Add(requestTimeout))
	defer cancel()

	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, w := range workers {
		wg.Go(func() {
			if w.setupErr == nil {
				w.loop(ctx, measureFrom, measureTo)
			}
			mu.Lock()
			defer mu.Unlock()
			res.requests += len(w.lat)
			res.latencies = append(res.latencies, w.lat...)
			res.errors += w.errors
			for _, m := range w.messages {
				if len(res.messages) < maxMessages && !slices.Contains(res.messages, m) {
					res.messages = append(res.messages, m)
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(res.latencies)
	return res
}

// worker is one client issuing requests back to back.
type worker struct {
	hc       *http.Client
	t        target
	step     step // the flow's, if any
	setupErr error
	// lastLocation is the Location header of the last response.
	lastLocation string
	lat          []time.Duration
	errors       int
	messages     []string
	buf          bytes.Buffer
}

// loop sends requests until measureTo or ctx ends, recording the latency
// of each good response that completes in [measureFrom, measureTo).
func (w *worker) loop(ctx context.Context, measureFrom, measureTo time.Time) {
	for ctx.Err() == nil {
		begin := time.Now()
		if !begin.Before(measureTo) {
			return
		}
		err := w.do(ctx)
		end := time.Now()
		if err != nil {
			w.errors++
			if len(w.messages) < maxMessages && !slices.Contains(w.messages, err.Error()) {
				w.messages = append(w.messages, err.Error())
			}
			continue
		}
		if !end.Before(measureFrom) && end.Before(measureTo) {
			w.lat = append(w.lat, end.Sub(begin))
		}
	}
}

// do sends one request, or runs one step of the flow, and checks the
// response.
func (w *worker) do(ctx context.Context) error {
	if w.step != nil {
		return w.step(ctx, w)
	}
	_, err := w.post(ctx, w.t.url, w.t.body, w.t.authorization, w.t.want)
	return err
}

// post sends a form with an Authorization header and returns the
// response body, which must come with 200 and contain want. The body is
// valid until the worker's next request.
func (w *worker) post(ctx context.Context, url, body, authorization, want string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", authorization)
	status, b, err := w.send(req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.200s", status, bytes.TrimSpace(b))
	}
	if !bytes.Contains(b, []byte(want)) {
		return nil, fmt.Errorf("response lacks %s: %.200s", want, bytes.TrimSpace(b))
	}
	return b, nil
}

// send sends req and reads the response to the end (within a bound), so
// that the connection is reused. The body is valid until the worker's
// next request.
func (w *worker) send(req *http.Request) (int, []byte, error) {
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	w.buf.Reset()
	if _, err := w.buf.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return 0, nil, fmt.Errorf("read response: %w", err)
	}
	w.lastLocation = resp.Header.Get("Location")
	return resp.StatusCode, w.buf.Bytes(), nil
}
