package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The oracle probe asks whether the token endpoint's response time tells
// which client IDs exist. It sends failed authentications of three kinds,
// one of each per round in a random order, one at a time over one
// keep-alive connection, so they share the machine's moments and none
// always follows another (an argon2id run leaves garbage for the next
// request's collector):
//
//   - a wrong secret for a client whose secret an admin chose (argon2id),
//   - an unknown but well-formed client ID,
//   - a wrong secret for a client with a generated secret (SHA-256),
//
// and compares the medians of the last two with the first. The server runs
// with its failure limit off, as in the tokens benchmark, so every attempt
// is checked and none is answered 429.

// oracleOptions are the oracle command's flags.
type oracleOptions struct {
	samples int
	maxDiff time.Duration
}

// Bounds on the flags, so a run always ends in reasonable time.
const maxOracleSamples = 2000

func parseOracleOptions(args []string, stderr io.Writer) (oracleOptions, error) {
	o := oracleOptions{}
	fs := flag.NewFlagSet("oracle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.samples, "samples", 60, "failed attempts measured per kind")
	fs.DurationVar(&o.maxDiff, "max-diff", 5*time.Millisecond, "largest difference of medians that passes")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.samples < 5 || o.samples > maxOracleSamples {
		return o, fmt.Errorf("-samples must be in [5, %d]", maxOracleSamples)
	}
	if o.maxDiff <= 0 {
		return o, fmt.Errorf("-max-diff must be positive")
	}
	return o, nil
}

// probeKind is one kind of failed authentication and its timings.
type probeKind struct {
	name  string
	creds credentials
	times []time.Duration
}

// oracleWarmup attempts of each kind are sent first and not measured: the
// first reads fill the server's caches.
const oracleWarmup = 3

// oracle runs the probe and prints its table to stdout and progress to
// stderr. It fails when setup fails, an attempt is not answered 401, or a
// median differs from the argon2id one by maxDiff or more.
func oracle(ctx context.Context, o oracleOptions, stdout, stderr io.Writer) error {
	// Each attempt takes at most about argon2id's time; allow a second.
	ctx, cancel := context.WithTimeout(ctx, setupBudget+time.Duration(3*(o.samples+oracleWarmup))*time.Second)
	defer cancel()
	srv, stop, err := launch(ctx, "latchkey-oracle-", stderr)
	if err != nil {
		return err
	}
	defer stop()
	const chosen = "an-admin-chosen-secret-for-the-oracle-probe"
	slowID, err := srv.createSuppliedClient(ctx, "oracle-argon2id", chosen)
	if err != nil {
		return err
	}
	fast, err := srv.createClient(ctx, "oracle-generated")
	if err != nil {
		return err
	}
	wrong := "a-wrong-guess-of-the-same-length-as-the-real"
	kinds := []*probeKind{
		{name: "wrong argon2id secret", creds: credentials{ID: slowID, Secret: wrong}},
		{name: "unknown client ID", creds: credentials{ID: "lkc_doesnotexist0000000000", Secret: wrong}},
		{name: "wrong generated secret", creds: credentials{ID: fast.ID, Secret: wrong}},
	}
	hc := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}}
	defer hc.CloseIdleConnections()
	fmt.Fprintf(stderr, "probing: %d + %d attempts of each of %d kinds ...\n", oracleWarmup, o.samples, len(kinds))
	order := slices.Clone(kinds)
	for i := range oracleWarmup + o.samples {
		rand.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, k := range order {
			d, err := failedAttempt(ctx, hc, srv.base+"/oauth2/token", k.creds)
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			if i >= oracleWarmup {
				k.times = append(k.times, d)
			}
		}
	}
	if err := stop(); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	return printOracle(stdout, o, kinds)
}

// printOracle prints each kind's timings and its median's difference from
// the first kind's, and fails when one is maxDiff or more.
func printOracle(w io.Writer, o oracleOptions, kinds []*probeKind) error {
	fmt.Fprintf(w, "Latchkey timing oracle probe: %d failed attempts per kind, interleaved, sequential, loopback\n\n", o.samples)
	const line = "%-24s %9s %9s %9s %11s %9s\n"
	fmt.Fprintf(w, line, "kind", "p10", "median", "p90", "vs argon2id", "paired")
	base := median(kinds[0].times)
	worst := time.Duration(0)
	for _, k := range kinds {
		sorted := slices.Clone(k.times)
		slices.Sort(sorted)
		m := median(k.times)
		diff := m - base
		worst = max(worst, diff, -diff)
		// The median of each round's difference from its argon2id attempt,
		// which the machine's slower swings of load cancel out of.
		paired := make([]time.Duration, len(k.times))
		for i := range k.times {
			paired[i] = k.times[i] - kinds[0].times[i]
		}
		fmt.Fprintf(w, line, k.name, ms(nearestRank(sorted, 0.10)), ms(m), ms(nearestRank(sorted, 0.90)),
			signedMS(diff), signedMS(median(paired)))
	}
	fmt.Fprintf(w, "\nlargest difference of medians: %s (passes under %s)\n", ms(worst), o.maxDiff)
	fmt.Fprintln(w, "paired: the median of each round's difference from that round's argon2id attempt")
	if worst >= o.maxDiff {
		return fmt.Errorf("response times tell the kinds apart: medians differ by %s", worst)
	}
	return nil
}

// failedAttempt sends one token request as c, expects 401 invalid_client,
// and returns how long the answer took.
func failedAttempt(ctx context.Context, hc *http.Client, tokenURL string, c credentials) (time.Duration, error) {
	t := tokenTarget(tokenURL, c)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(t.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", t.authorization)
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(body, []byte(`"invalid_client"`)) {
		return 0, fmt.Errorf("status %d: %.300s", resp.StatusCode, body)
	}
	return d, nil
}

// createSuppliedClient registers a client_credentials client whose secret
// is the admin-chosen secret, through the real CLI, and returns its ID.
func (s *latchkeyServer) createSuppliedClient(ctx context.Context, name, secret string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	file := filepath.Join(s.dir, name+".secret")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, s.bin, "clients", "create", "--name", name,
		"--grant-type", "client_credentials", "--scope", "read", "--secret-file", file, "--json")
	cmd.Dir, cmd.Env = s.dir, s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("clients create --secret-file: %w\n%s", err, stderr.Bytes())
	}
	var c credentials
	if err := json.Unmarshal(stdout.Bytes(), &c); err != nil || c.ID == "" {
		return "", fmt.Errorf("clients create printed no client ID (%v):\n%s", err, stdout.Bytes())
	}
	return c.ID, nil
}

// median returns the middle of d by nearest rank, or 0 when it is empty.
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return nearestRank(s, 0.5)
}

// nearestRank returns the p-th (0 < p ≤ 1) value of sorted by nearest
// rank, or 0 when it is empty.
func nearestRank(sorted []time.Duration, p float64) time.Duration {
	r := result{latencies: sorted}
	return r.percentile(p)
}

// signedMS formats d in milliseconds with a sign.
func signedMS(d time.Duration) string {
	if d >= 0 {
		return "+" + ms(d)
	}
	return "-" + ms(-d)
}
