package main

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// newTestFloor serves a floor with fresh credentials on an httptest server.
func newTestFloor(t *testing.T) (f *floor, base string, client, rs credentials) {
	t.Helper()
	client, err := randomCredentials()
	if err != nil {
		t.Fatal(err)
	}
	rs, err = randomCredentials()
	if err != nil {
		t.Fatal(err)
	}
	f, err = newFloor(floorConfig{Issuer: issuer, Client: client, ResourceServer: rs})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, srv.URL, client, rs
}

// post sends form to url with Basic credentials c and returns the status
// and body.
func post(t *testing.T, url, form string, c credentials) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basicAuth(c))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestFloorTokenIsJWTSignedByItsKey(t *testing.T) {
	f, base, client, rs := newTestFloor(t)
	status, body := post(t, base+"/token", "grant_type=client_credentials&scope=read", client)
	if status != http.StatusOK {
		t.Fatalf("token: status %d: %s", status, body)
	}
	var resp tokenResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("token response %s: %v", body, err)
	}
	if resp.TokenType != "Bearer" || resp.Scope != "read" || resp.ExpiresIn != 3600 {
		t.Errorf("token response = %+v", resp)
	}

	// Verify independently of floor.verify: split, decode, check the
	// header, the r||s signature and the claims.
	parts := strings.Split(resp.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a compact JWS", resp.AccessToken)
	}
	dec := base64.RawURLEncoding
	header, err := dec.DecodeString(parts[0])
	if err != nil || string(header) != floorHeader {
		t.Errorf("header = %s, %v; want %s", header, err, floorHeader)
	}
	sig, err := dec.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %d bytes, %v; want 64", len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&f.key.PublicKey, digest[:], r, s) {
		t.Fatal("signature does not verify with the floor's public key")
	}
	payload, err := dec.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c floorClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("claims %s: %v", payload, err)
	}
	now := time.Now().Unix()
	if c.Iss != issuer || c.Sub != client.ID || c.ClientID != client.ID || c.Aud != issuer ||
		c.Scope != "read" || c.Jti == "" || c.Iat > now || c.Exp <= now {
		t.Errorf("claims = %+v", c)
	}

	// The resource server finds it active.
	status, body = post(t, base+"/introspect", "token="+resp.AccessToken, rs)
	if status != http.StatusOK || !strings.Contains(string(body), `"active":true`) {
		t.Errorf("introspect: status %d: %s", status, body)
	}
	// A tampered token is not.
	tampered := parts[0] + "." + parts[1] + "." + dec.EncodeToString(make([]byte, 64))
	status, body = post(t, base+"/introspect", "token="+tampered, rs)
	if status != http.StatusOK || !strings.Contains(string(body), `"active":false`) {
		t.Errorf("introspect tampered: status %d: %s", status, body)
	}
}

func TestFloorRefusesWrongSecret(t *testing.T) {
	_, base, client, rs := newTestFloor(t)
	for _, tc := range []struct {
		name, path, form string
		c                credentials
	}{
		{"token", "/token", "grant_type=client_credentials", credentials{client.ID, client.Secret + "x"}},
		{"token as another client", "/token", "grant_type=client_credentials", rs},
		{"introspect", "/introspect", "token=x", credentials{rs.ID, "wrong"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, base+tc.path, tc.form, tc.c)
			if status != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_client") {
				t.Errorf("status %d: %s; want 401 invalid_client", status, body)
			}
		})
	}
}
