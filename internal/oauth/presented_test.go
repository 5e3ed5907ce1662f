package oauth

import (
	"crypto/rand"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
)

// TestPresentedClientIDKeepsNoSecret: a caller that swapped its client ID
// and secret presents the secret as the ID. A generated secret has the
// shape of a client ID, so the shape alone does not keep it out of the
// log and the audit trail; its checksum does.
func TestPresentedClientIDKeepsNoSecret(t *testing.T) {
	secret, err := client.NewSecretValue(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if client.ValidateClientID(secret) != nil {
		t.Fatalf("a generated secret no longer has the client-ID shape; this test guards nothing: %v", client.ValidateClientID(secret))
	}
	for _, c := range []struct{ in, want string }{
		{"lkc_2nW0r3pZ", "lkc_2nW0r3pZ"},
		{"latchkey-admin", "latchkey-admin"},
		{secret, invalidClientID},
		{"web/" + secret, invalidClientID},
		{"<script>", invalidClientID},
	} {
		if got := presentedClientID(c.in); got != c.want {
			t.Errorf("presentedClientID(%.8s…) = %.8s…, want %q", c.in, got, c.want)
		}
	}
}
