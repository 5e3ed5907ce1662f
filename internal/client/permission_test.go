package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// Every Service method checks the actor's permission before it acts: run
// each as every built-in role, and as an actor with no role, and compare
// with the role table.
func TestEveryMethodChecksPermission(t *testing.T) {
	methods := []struct {
		name string
		need authz.Permission
		call func(ctx context.Context, s *client.Service, a client.Actor, id string) error
	}{
		{"Create", authz.ClientAdd, func(ctx context.Context, s *client.Service, a client.Actor, _ string) error {
			_, _, err := s.Create(ctx, a, cc("new"))
			return err
		}},
		{"Get", authz.ClientView, func(ctx context.Context, s *client.Service, a client.Actor, id string) error {
			_, _, err := s.Get(ctx, a, id)
			return err
		}},
		{"List", authz.ClientView, func(ctx context.Context, s *client.Service, a client.Actor, _ string) error {
			_, err := s.List(ctx, a, client.ListQuery{})
			return err
		}},
		{"Update", authz.ClientEdit, func(ctx context.Context, s *client.Service, a client.Actor, id string) error {
			name := "renamed"
			_, err := s.Update(ctx, a, id, client.UpdateParams{Name: &name})
			return err
		}},
		{"UpdateToRevoked", authz.ClientRevoke, func(ctx context.Context, s *client.Service, a client.Actor, id string) error {
			st := client.StatusRevoked
			_, err := s.Update(ctx, a, id, client.UpdateParams{Status: &st})
			return err
		}},
		{"Deactivate", authz.ClientEdit, func(ctx context.Context, s *client.Service, a client.Actor, id string) error {
			_, err := s.SetStatus(ctx, a, id, client.StatusInactive, false)
			return err
		}},
		{"Revoke", authz.ClientRevoke, func(ctx context.Context, s *client.Service, a client.Actor, id string) error {
			_, err := s.Revoke(ctx, a, id)
			return err
		}},
		{"RotateSecret", authz.ClientRotate, func(ctx context.Context, s *client.Service, a client.Actor, id string) error {
			_, err := s.RotateSecret(ctx, a, id, client.RotateParams{})
			return err
		}},
		{"Delete", authz.ClientDelete, func(ctx context.Context, s *client.Service, a client.Actor, id string) error {
			return s.Delete(ctx, a, id)
		}},
	}
	roles := append(authz.RoleNames(), "")
	for _, role := range roles {
		for _, m := range methods {
			name := role
			if name == "" {
				name = "no_role"
			}
			t.Run(name+"/"+m.name, func(t *testing.T) {
				f := newFixture(t)
				ctx := context.Background()
				target, _, err := f.svc.Create(ctx, f.sys, cc("target"))
				if err != nil {
					t.Fatal(err)
				}
				before := auditCount(t, f)
				actor := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a"}
				if role != "" {
					actor.Roles = []string{role}
				}
				// UpdateToRevoked needs edit as well as revoke.
				allowed := authz.Has(actor.Roles, m.need) && (m.name != "UpdateToRevoked" || authz.Has(actor.Roles, authz.ClientEdit))
				err = m.call(ctx, f.svc, actor, target.ID)
				switch {
				case allowed && err != nil:
					t.Fatalf("%s may %s, got %v", name, m.need, err)
				case !allowed && !errors.Is(err, client.ErrForbidden):
					t.Fatalf("%s lacks %s, got %v, want ErrForbidden", name, m.need, err)
				case !allowed && auditCount(t, f) != before:
					t.Fatal("a refused call wrote an audit event")
				}
				if !allowed {
					c, _, err := f.svc.Get(ctx, f.sys, target.ID)
					if err != nil || c.Name != "target" || c.Status != client.StatusActive {
						t.Fatalf("a refused call changed the client: %+v, %v", c, err)
					}
				}
			})
		}
	}
}

func auditCount(t *testing.T, f *fixture) int {
	t.Helper()
	es, err := f.db.AuditEvents(context.Background(), "ten_a", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// Every change commits its audit event: who, what, which fields, with the
// request's source and ID, and never a secret.
func TestChangesAreAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	op := client.Actor{Kind: authz.KindUser, ID: "usr_1", Name: "u@example.com", TenantID: "ten_a",
		Roles: []string{authz.SuperAdmin}, SourceAddr: "198.51.100.4", RequestID: "req-42"}
	c, sec, err := f.svc.Create(ctx, op, cc("Audited"))
	if err != nil {
		t.Fatal(err)
	}
	name := "Audited, renamed"
	if _, err := f.svc.Update(ctx, op, c.ID, client.UpdateParams{Name: &name}); err != nil {
		t.Fatal(err)
	}
	rot, err := f.svc.RotateSecret(ctx, op, c.ID, client.RotateParams{Grace: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetStatus(ctx, op, c.ID, client.StatusInactive, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetStatus(ctx, op, c.ID, client.StatusActive, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, op, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(ctx, op, c.ID); err != nil {
		t.Fatal(err)
	}
	// A refused change leaves no event.
	bad := ""
	if _, err := f.svc.Update(ctx, op, "lkc_nosuchclient000000000", client.UpdateParams{Name: &bad}); err == nil {
		t.Fatal("update of a missing client succeeded")
	}

	es, err := f.db.AuditEvents(ctx, "ten_a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
		if e.ActorID != "usr_1" || e.ActorKind != authz.KindUser || e.ActorName != "u@example.com" ||
			e.SourceAddr != "198.51.100.4" || e.RequestID != "req-42" || e.TargetID != c.ID || e.Result != audit.ResultSuccess {
			t.Errorf("event %d: %+v", e.Seq, e)
		}
		for _, v := range e.Details {
			if v == sec.Plaintext || v == rot.Plaintext || v == sec.Hash || v == rot.Hash {
				t.Errorf("event %d holds a secret or its hash", e.Seq)
			}
		}
	}
	want := []string{client.ActionCreated, client.ActionUpdated, client.ActionSecretRotated, client.ActionDeactivated,
		client.ActionActivated, client.ActionRevoked, client.ActionDeleted}
	if !slices.Equal(actions, want) {
		t.Fatalf("actions %v, want %v", actions, want)
	}
	if !slices.Equal(es[1].Changes, []string{"name"}) || !slices.Contains(es[0].Changes, "grant_types") {
		t.Errorf("changes: create %v, update %v", es[0].Changes, es[1].Changes)
	}
	if es[2].Details["secret_id"] != rot.ID || es[2].Details["replaced"] != sec.ID || es[2].Details["grace_seconds"] != "3600" {
		t.Errorf("rotation details: %v", es[2].Details)
	}
	if err := audit.Verify(es, 0, ""); err != nil {
		t.Fatal(err)
	}
}

// An admin-chosen secret is hashed only with a turn at argon2id; a caller
// that has given up gets no turn and writes nothing.
func TestSlowHashWaitsForATurn(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := cc("chosen")
	p.Secret = "an-admin-chosen-secret-of-enough-length-0123"
	if _, _, err := f.svc.Create(ctx, f.sys, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with a cancelled context: %v", err)
	}
	if n := auditCount(t, f); n != 0 {
		t.Fatalf("%d events written", n)
	}
}
