package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// An operator who picks RS256 gets RS256 tokens that a JOSE library
// verifies against the published JWKS; an unknown algorithm is a usage
// error before anything starts.
func TestSigningAlgorithmRS256(t *testing.T) {
	in := start(t, sqliteDatabase(t), map[string]string{"LATCHKEY_SIGNING_ALGORITHM": "RS256"})
	id, secret := in.createClient(t, "--name", "RSA", "--grant-type", "client_credentials")
	tok := mustToken(t, in.url, id, secret)
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("not an RS256 token: %v", err)
	}
	res, err := http.Get(in.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 || keys[0].Algorithm != "RS256" {
		t.Fatalf("the token's key is not published as RS256: %+v", keys)
	}
	var claims jwt.Claims
	if err := parsed.Claims(keys[0].Key, &claims); err != nil || claims.Subject != id {
		t.Fatalf("verify: %v, %+v", err, claims)
	}

	c := newCLI(t)
	_, errOut, code := c.run("serve", "--signing-algorithm", "HS256", "--addr", "127.0.0.1:0")
	if code != 2 || !strings.Contains(errOut, "--signing-algorithm") {
		t.Fatalf("serve with HS256: exit %d, %q", code, errOut)
	}
	_, errOut, code = c.run("keys", "rotate", "--signing-algorithm", "none")
	if code != 2 || !strings.Contains(errOut, "--signing-algorithm") {
		t.Fatalf("keys rotate with none: exit %d, %q", code, errOut)
	}
}
