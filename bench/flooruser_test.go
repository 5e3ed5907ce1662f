package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// newUserFloor serves a floor with the user grants on an httptest server
// and returns it with the flow that drives it.
func newUserFloor(t *testing.T) (*floor, userFlow) {
	t.Helper()
	flow, cfg, err := floorUserFlow()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Client, err = randomCredentials(); err != nil {
		t.Fatal(err)
	}
	cfg.Issuer, cfg.ResourceServer = issuer, cfg.Client
	f, err := newFloor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, floorUserFlowAt(flow, srv.URL)
}

// testWorker is a worker as runLoad makes them, for one request at a time.
func testWorker(t *testing.T) *worker {
	hc := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(hc.CloseIdleConnections)
	return &worker{hc: hc}
}

func TestFloorUserGrants(t *testing.T) {
	f, flow := newUserFloor(t)
	ctx := context.Background()
	w := testWorker(t)

	code, verifier, err := flow.authorize(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(w.lastLocation)
	if q := loc.Query(); q.Get("state") != "bench" || q.Get("iss") != issuer || !strings.HasPrefix(code, "lkac_") {
		t.Errorf("authorize redirected to %s", w.lastLocation)
	}
	// The wrong verifier is refused, and so is the code after it: codes
	// are single use, whatever the outcome.
	if _, err := flow.exchange(ctx, w, code, strings.Repeat("A", 43)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("the wrong verifier: %v", err)
	}
	if _, err := flow.exchange(ctx, w, code, verifier); err == nil {
		t.Error("a code was exchanged after a refused exchange")
	}

	code, verifier, err = flow.authorize(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	body, err := flow.exchange(ctx, w, code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	var resp userTokenResponse
	if err := json.Unmarshal(body, &resp); err != nil || resp.RefreshToken == "" || resp.Scope != userScope {
		t.Fatalf("exchange response %s: %v", body, err)
	}
	claims := verifyFloorID(t, f, resp.IDToken)
	sum := sha256.Sum256([]byte(resp.AccessToken))
	if claims.Nonce != "bench" || claims.Sub != "usr_floor" || claims.Aud != flow.app.ID || claims.Iss != issuer ||
		claims.AtHash != base64.RawURLEncoding.EncodeToString(sum[:16]) || claims.AuthTime == 0 {
		t.Errorf("ID token claims %+v", claims)
	}
	if _, err := flow.exchange(ctx, w, code, verifier); err == nil {
		t.Error("a code was exchanged twice")
	}
	ac, err := f.verify(resp.AccessToken, time.Now())
	if err != nil || ac.Sub != "usr_floor" || ac.ClientID != flow.app.ID {
		t.Errorf("access token %+v %v", ac, err)
	}

	// A refresh rotates; the old refresh token is then refused.
	form := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(resp.RefreshToken)
	status, body := post(t, flow.tokenURL, form, flow.app)
	var next userTokenResponse
	if status != http.StatusOK || json.Unmarshal(body, &next) != nil || next.RefreshToken == "" || next.RefreshToken == resp.RefreshToken {
		t.Fatalf("refresh: %d %s", status, body)
	}
	if c := verifyFloorID(t, f, next.IDToken); c.Nonce != "" {
		t.Errorf("a refreshed ID token carries a nonce: %+v", c)
	}
	if status, _ := post(t, flow.tokenURL, form, flow.app); status != http.StatusBadRequest {
		t.Errorf("a used refresh token: %d", status)
	}
	// The user grants authenticate the application, not another client.
	form = "grant_type=refresh_token&refresh_token=" + url.QueryEscape(next.RefreshToken)
	if status, _ := post(t, flow.tokenURL, form, credentials{flow.app.ID, "wrong"}); status != http.StatusUnauthorized {
		t.Errorf("a refresh with the wrong secret: %d", status)
	}

	// Without the session cookie, or for another redirect URI, no code.
	flow.cookie = floorSessionCookie + "=someone-else"
	if _, _, err := flow.authorize(ctx, w); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("authorize with the wrong session: %v", err)
	}
}

// verifyFloorID checks an ID token's RS256 signature with the floor's key
// and returns its claims.
func verifyFloorID(t *testing.T, f *floor, tok string) floorIDClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("ID token %q is not a compact JWS", tok)
	}
	dec := base64.RawURLEncoding
	if h, err := dec.DecodeString(parts[0]); err != nil || string(h) != floorIDHeader {
		t.Errorf("ID token header %s %v", h, err)
	}
	sig, err := dec.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&f.user.idKey.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("ID token signature: %v", err)
	}
	payload, err := dec.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c floorIDClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// The user-grant targets run under runLoad without an error, each worker
// with its own refresh token chain.
func TestUserTargetsUnderLoad(t *testing.T) {
	_, flow := newUserFloor(t)
	for name, tg := range map[string]target{"code": codeTarget(flow), "refresh": refreshTarget(flow)} {
		res := runLoad(context.Background(), tg, 3, 0, 200*time.Millisecond)
		if res.errors != 0 || res.requests == 0 {
			t.Errorf("%s: %d requests, %d errors: %v", name, res.requests, res.errors, res.messages)
		}
	}
	// A flow whose set-up fails counts it as an error and sends nothing.
	flow.cookie = ""
	res := runLoad(context.Background(), refreshTarget(flow), 2, 0, 50*time.Millisecond)
	if res.errors != 2 || res.requests != 0 || !strings.HasPrefix(res.messages[0], "set-up: ") {
		t.Errorf("a failed set-up: %d requests, %d errors: %v", res.requests, res.errors, res.messages)
	}
}

func TestHiddenValue(t *testing.T) {
	page := `<form><input type="hidden" name="csrf" value="a&amp;b">
<input type="hidden" name="req" value="sealed"></form>`
	if got := hiddenValue(page, "csrf"); got != "a&b" {
		t.Errorf("csrf = %q", got)
	}
	if got := hiddenValue(page, "req"); got != "sealed" {
		t.Errorf("req = %q", got)
	}
	if got := hiddenValue(page, "nope"); got != "" {
		t.Errorf("nope = %q", got)
	}
}
