package console

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// During a rotation's grace period the client's page shows where the old
// secret was last used from, in the secrets table and in the "Finish
// rotation now" dialog, so an admin can tell who still uses it.
func TestClientDetailShowsTheRetiringSecretsLastUse(t *testing.T) {
	cf := newConsoleFixture(t)
	ctx := context.Background()
	c, _ := cf.createClient(client.CreateParams{Name: "Rotating", GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	_, old := cf.client(c.ID)
	if _, err := cf.admin.Clients.RotateSecret(ctx, system, c.ID, client.RotateParams{Grace: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := cf.db.RecordUse(ctx, []client.Use{{ClientID: c.ID, SecretID: old[0].ID, At: t0.Add(time.Hour), Addr: "198.51.100.7"}}); err != nil {
		t.Fatal(err)
	}
	r := cf.signedIn(rootEmail).get("/console/clients/" + c.ID)
	wantStatus(t, r, 200)
	wantBody(t, r, `from <code class="last-used-addr">198.51.100.7</code>`, "Finish rotation now")
	checkConsoleAccessible(t, r.Body)
}
