package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/store"
)

// addDivision gives the default tenant of the database at db a division,
// as the admin API would.
func addDivision(t *testing.T, db, id string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	divs := &account.Divisions{Repo: st}
	if _, err := divs.Create(ctx, authz.SystemActor(tn.ID), account.NewDivision{ID: id, Name: "Division " + id}); err != nil {
		t.Fatal(err)
	}
}

func TestBinaryDivisionFlags(t *testing.T) {
	s, db := migrated(t)
	addDivision(t, db, "emea")

	ana := userOut(t, s, "", "users", "create", "--email", "ana@example.com", "--division", "emea", "--role", "viewer@emea")
	if ana.DivisionID != "emea" || len(ana.Roles) != 1 || ana.Roles[0] != "viewer@emea" {
		t.Fatalf("created %+v", ana)
	}
	if bo := userOut(t, s, "", "users", "create", "--email", "bo@example.com"); bo.DivisionID != "home" {
		t.Errorf("the default division: %q", bo.DivisionID)
	}
	if moved := userOut(t, s, "", "users", "update", "ana@example.com", "--division", "home"); moved.DivisionID != "home" ||
		moved.Roles[0] != "viewer@emea" {
		t.Errorf("moved %+v", moved)
	}
	if cleared := userOut(t, s, "", "users", "update", "ana@example.com", "--role", ""); len(cleared.Roles) != 0 {
		t.Errorf("roles cleared: %+v", cleared)
	}
	s.run("", "users", "update", "ana@example.com").expect(t, "an update of nothing", 2, "nothing to change")
	s.run("", "users", "create", "--email", "x@example.com", "--division", "nowhere").
		expect(t, "no such division", 1, `division (--division): no division "nowhere"`)

	var c struct {
		ClientID   string `json:"client_id"`
		DivisionID string `json:"division_id"`
	}
	r := s.run("", "clients", "create", "--name", "Sync", "--grant-type", "client_credentials", "--division", "emea",
		"--role", "oauth_admin@emea", "--json")
	r.expect(t, "clients create --division", 0)
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.DivisionID != "emea" {
		t.Fatalf("created %s: %v", r.stdout, err)
	}
	r = s.run("", "clients", "update", c.ClientID, "--division", "home", "--json")
	r.expect(t, "clients update --division", 0)
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.DivisionID != "home" {
		t.Errorf("moved %s: %v", r.stdout, err)
	}
	s.run("", "clients", "show", c.ClientID).expect(t, "clients show", 0, "Division:")
	s.run("", "clients", "update", c.ClientID, "--division", "a@b").expect(t, "a malformed division", 1, "division (--division)")
}
