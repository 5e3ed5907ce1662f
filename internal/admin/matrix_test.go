package admin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
)

// fixtureBody is a valid body for each route that takes one, so that a
// request a role may make succeeds. A route added without one is still
// exercised (and fails the 2xx check until it gets one).
func fixtureBody(rt Route, n int) any {
	switch rt.Method + " " + rt.Path {
	case "POST /clients":
		return map[string]any{"name": fmt.Sprintf("matrix %d", n), "grant_types": []string{"client_credentials"},
			"scopes": []string{"read"}}
	case "PATCH /clients/{id}":
		return map[string]any{"description": "changed"}
	case "POST /users":
		return map[string]any{"email": fmt.Sprintf("matrix%d@example.com", n)}
	case "PATCH /users/{id}":
		return map[string]any{"name": "Renamed"}
	case "POST /roles":
		return map[string]any{"name": fmt.Sprintf("matrix-%d", n), "permissions": []string{"audit:view"}}
	case "PATCH /roles/{name}":
		return map[string]any{"description": "changed"}
	case "POST /divisions":
		return map[string]any{"name": fmt.Sprintf("Matrix %d", n)}
	case "PATCH /divisions/{id}":
		return map[string]any{"name": "Renamed"}
	case "POST /webhooks":
		return map[string]any{"url": fmt.Sprintf("https://hooks.example.com/%d", n), "events": []string{"secret-expiring"}}
	case "POST /bulk-jobs":
		return map[string]any{"operation": "deactivate", "dry_run": true}
	case "POST /tenants":
		return map[string]any{"name": fmt.Sprintf("Matrix %d", n), "slug": fmt.Sprintf("matrix-%d", n)}
	case "PUT /policy":
		return map[string]any{"max_access_token_ttl": 3600 + n}
	}
	return nil
}

// fill returns a route's path with its wildcards bound to fresh records of
// the default tenant, so no request depends on another's.
func (h *harness) fill(rt Route, n int) string {
	h.t.Helper()
	path := rt.Path
	if strings.HasPrefix(path, "/clients/{id}") {
		id, secret := h.newClient(fmt.Sprintf("fixture %d", n))
		path = strings.Replace(path, "{id}", id, 1)
		path = strings.Replace(path, "{secret}", secret, 1)
		if strings.HasSuffix(path, "/finish-rotation") {
			// Something to finish: a rotation in its grace period.
			if _, err := h.api.Clients.RotateSecret(context.Background(), authz.SystemActor(h.tenant), id,
				client.RotateParams{Grace: time.Hour}); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	if strings.HasPrefix(path, "/users/{id}") {
		u, err := h.api.Users.Create(context.Background(), authz.SystemActor(h.tenant),
			account.NewUser{Email: fmt.Sprintf("fixture%d@example.com", n)})
		if err != nil {
			h.t.Fatal(err)
		}
		path = strings.Replace(path, "{id}", u.ID, 1)
	}
	if strings.HasPrefix(path, "/roles/{name}") {
		role, err := h.api.Roles.Create(context.Background(), authz.SystemActor(h.tenant),
			account.NewRole{Name: fmt.Sprintf("fixture-%d", n), Permissions: []authz.Permission{authz.AuditView}})
		if err != nil {
			h.t.Fatal(err)
		}
		path = strings.Replace(path, "{name}", role.Name, 1)
	}
	if strings.HasPrefix(path, "/divisions/{id}") {
		d, err := h.api.Divisions.Create(context.Background(), authz.SystemActor(h.tenant),
			account.NewDivision{Name: fmt.Sprintf("Fixture %d", n)})
		if err != nil {
			h.t.Fatal(err)
		}
		path = strings.Replace(path, "{id}", d.ID, 1)
	}
	if strings.HasPrefix(path, "/webhooks/{id}") {
		hook, _, err := h.api.Notify.CreateWebhook(context.Background(), authz.SystemActor(h.tenant),
			fmt.Sprintf("https://hooks.example.com/fixture/%d", n), []event.Type{event.ClientRevoked})
		if err != nil {
			h.t.Fatal(err)
		}
		path = strings.Replace(path, "{id}", hook.ID, 1)
	}
	if strings.HasPrefix(path, "/bulk-jobs/{id}") {
		path = strings.Replace(path, "{id}", h.newBulkJob(n), 1)
	}
	if strings.HasPrefix(path, "/outbox/{id}") {
		path = strings.Replace(path, "{id}", h.newDelivery(n), 1)
	}
	if strings.Contains(path, "{") {
		h.t.Fatalf("no fixture binds the wildcards of %s", rt.Path)
	}
	return path
}

// Each role against each route, generated from the router: a principal
// lacking the route's permission is 403 naming it, one holding it
// succeeds. A new route cannot be forgotten.
func TestPermissionMatrix(t *testing.T) {
	h := newHarness(t)
	n := 0
	for _, rt := range Routes() {
		for _, role := range roleTokens {
			n++
			t.Run(rt.Method+" "+rt.Path+" as "+role, func(t *testing.T) {
				h.t = t
				var held []authz.Permission
				if role != "none" {
					held = authz.RolePermissions(role)
				}
				path := h.fill(rt, n)
				resp := h.do(request{method: rt.Method, path: Prefix + path, token: "tok-" + role,
					body: fixtureBody(rt, n), pattern: rt.Path})
				if rt.Permission != "" && !slices.Contains(held, rt.Permission) {
					if resp.status != http.StatusForbidden {
						t.Fatalf("status %d, want 403: %s", resp.status, resp.body)
					}
					if p := resp.problem(t); p.Code != "forbidden" || !strings.Contains(p.Message, string(rt.Permission)) {
						t.Errorf("problem %+v does not name %s", p, rt.Permission)
					}
					return
				}
				if resp.status < 200 || resp.status > 299 {
					t.Fatalf("status %d, want success: %s", resp.status, resp.body)
				}
			})
		}
	}
}

// Nothing crosses tenants: a super admin of another tenant gets 404 for
// every record of this one, at its own prefix, and its token is not
// valid at this tenant's.
func TestCrossTenant(t *testing.T) {
	h := newHarness(t)
	for i, rt := range Routes() {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			h.t = t
			path := h.fill(rt, 1000+i)
			body := fixtureBody(rt, 1000+i)
			// This tenant's prefix: the other tenant's token is not one of
			// its tokens.
			resp := h.do(request{method: rt.Method, path: Prefix + path, token: "tok-other", body: body})
			if resp.status != http.StatusUnauthorized || resp.problem(t).Code != "invalid_token" {
				t.Fatalf("at this tenant's prefix: status %d: %s", resp.status, resp.body)
			}
			// The other tenant's prefix, naming this tenant's records.
			resp = h.do(request{method: rt.Method, path: "/t/" + otherSlug + Prefix + path, token: "tok-other",
				body: body, pattern: rt.Path})
			switch {
			case strings.Contains(rt.Path, "{"), strings.HasPrefix(rt.Path, "/tenants"):
				if resp.status != http.StatusNotFound {
					t.Fatalf("status %d, want 404: %s", resp.status, resp.body)
				}
			case rt.Method == http.MethodGet:
				if resp.status != http.StatusOK {
					t.Fatalf("status %d: %s", resp.status, resp.body)
				}
				// A list in the other tenant names none of this one's records.
				for _, own := range []string{h.tenant, "latchkey-admin", h.users[authz.SuperAdmin].ID} {
					if strings.Contains(string(resp.body), own) {
						t.Errorf("the other tenant's %s lists %s: %s", rt.Path, own, resp.body)
					}
				}
			}
		})
	}
}

// newDelivery queues a warning mail about a fresh client of the default
// tenant and returns its ID.
func (h *harness) newDelivery(n int) string {
	h.t.Helper()
	id, secret := h.newClient(fmt.Sprintf("mailed %d", n))
	d := notify.Delivery{ID: fmt.Sprintf("dlv_fixture%d", n), TenantID: h.tenant, ClientID: id, SecretID: secret,
		Stage: 7, Channel: notify.ChannelEmail, Event: event.SecretExpiring, Recipient: "owner@example.com",
		UserID: h.users[authz.SuperAdmin].ID, Locale: "sv", Status: notify.Pending, NextAttemptAt: h.now, CreatedAt: h.now,
		Payload: []byte(`{"client_id":"` + id + `","client_name":"Mailed","tenant_name":"Latchkey","expires_at":"2026-12-08T10:00:00Z","days_left":7}`)}
	err := h.db.InNotifyTx(context.Background(), func(tx notify.Tx) error { return tx.AddDeliveries(context.Background(), []notify.Delivery{d}) })
	if err != nil {
		h.t.Fatal(err)
	}
	return d.ID
}

// newBulkJob returns a finished rotation job over no clients.
func (h *harness) newBulkJob(n int) string {
	h.t.Helper()
	ctx := context.Background()
	j, err := h.api.Bulk.Create(ctx, authz.SystemActor(h.tenant), bulk.Rotate,
		client.ListQuery{Search: fmt.Sprintf("no such client %d", n)}, bulk.Params{}, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	for {
		ran, err := h.bulkRunner.RunOnce(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		if !ran {
			return j.ID
		}
	}
}
