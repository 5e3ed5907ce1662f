package admin

import (
	"crypto/rand"
	"net/http"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// UserList is the tenant's users.
type UserList struct {
	Users []User `json:"users"`
	Total int    `json:"total"`
}

func listUsers(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	users, err := a.Users.List(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := UserList{Users: make([]User, 0, len(users)), Total: len(users)}
	for i := range users {
		out.Users = append(out.Users, NewUser(&users[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// UserBody is the body of POST /users. The password is optional: a user
// without one cannot sign in until it is set.
type UserBody struct {
	Email      string   `json:"email"`
	Name       string   `json:"name,omitempty"`
	Locale     string   `json:"locale,omitempty"`
	Password   string   `json:"password,omitempty"`
	Roles      []string `json:"roles,omitempty"`
	DivisionID string   `json:"division_id,omitempty"`
}

func createUser(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readCreate(r)
	if err != nil {
		return err
	}
	return a.idempotent(w, r, c, body, func() (int, any, any, error) {
		var b UserBody
		if err := decodeInto(body, &b); err != nil {
			return 0, nil, nil, err
		}
		u, err := a.Users.Create(r.Context(), c.actor, account.NewUser{Email: b.Email, Name: b.Name, Locale: b.Locale,
			Password: b.Password, Roles: b.Roles, DivisionID: b.DivisionID})
		if err != nil {
			return 0, nil, nil, renameFields(err, userFieldNames)
		}
		v := NewUser(u)
		return http.StatusCreated, v, v, nil
	})
}

func getUser(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	u, err := a.Users.Get(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewUser(u))
	return nil
}

// userFieldNames maps the domain's field names to the API's where they
// differ.
var userFieldNames = map[string]string{"division": "division_id"}

// updateUser applies a JSON merge patch (RFC 7396) of a user: email, name,
// locale, roles and division; a null clears one (refused where it cannot
// be empty).
func updateUser(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	body, err := readBody(r, "application/merge-patch+json", "application/json")
	if err != nil {
		return err
	}
	m, pt, err := readPatch(body)
	if err != nil {
		return err
	}
	var p account.UserChanges
	for k, raw := range m {
		switch k {
		case "name":
			p.Name = pt.str(k, raw)
		case "locale":
			p.Locale = pt.str(k, raw)
		case "email":
			p.Email = pt.str(k, raw)
		case "division_id":
			p.DivisionID = pt.str(k, raw)
		case "roles":
			p.Roles = pt.list(k, raw)
		case "status":
			pt.bad(k, "use POST /users/{id}/disable or /enable")
		case "password":
			pt.bad(k, "cannot be set through the API; use latchkey users set-password")
		case "id", "tenant_id", "password_set", "created_at", "updated_at":
			pt.bad(k, "cannot be changed")
		default:
			pt.bad(k, "is not a field of a user")
		}
	}
	if err := pt.err(); err != nil {
		return err
	}
	u, err := a.Users.Update(r.Context(), c.actor, r.PathValue("id"), p)
	if err != nil {
		return renameFields(err, userFieldNames)
	}
	writeJSON(w, http.StatusOK, NewUser(u))
	return nil
}

// setUserStatus serves disable and enable.
func setUserStatus(to account.UserStatus) handler {
	return func(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
		if _, err := queryParams(r); err != nil {
			return err
		}
		u, err := a.Users.SetStatus(r.Context(), c.actor, r.PathValue("id"), to)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, NewUser(u))
		return nil
	}
}

// TenantList is every tenant.
type TenantList struct {
	Tenants []Tenant `json:"tenants"`
}

// errOtherTenants answers a tenant's principal asking about tenants: the
// tenants are managed from the default tenant only, so a super admin of
// one tenant never learns of another.
var errOtherTenants = &Problem{Type: ProblemType + "not_found", Title: "Not Found", Status: http.StatusNotFound,
	Message: "tenants are managed from the default tenant", Code: "not_found"}

func listTenants(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.defaultTenant {
		return errOtherTenants
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	ts, err := a.Tenants.List(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := TenantList{Tenants: make([]Tenant, 0, len(ts))}
	for i := range ts {
		out.Tenants = append(out.Tenants, NewTenant(&ts[i], a.Issuer))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tenantBody is the body of POST /tenants; the ID is generated.
type tenantBody struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

func createTenant(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.defaultTenant {
		return errOtherTenants
	}
	body, err := readCreate(r)
	if err != nil {
		return err
	}
	return a.idempotent(w, r, c, body, func() (int, any, any, error) {
		var b tenantBody
		if err := decodeInto(body, &b); err != nil {
			return 0, nil, nil, err
		}
		id, err := client.NewID(rand.Reader, "ten_")
		if err != nil {
			return 0, nil, nil, err
		}
		t, err := a.Tenants.Create(r.Context(), c.actor, account.NewTenant{ID: id, Name: b.Name, Slug: b.Slug})
		if err != nil {
			return 0, nil, nil, err
		}
		v := NewTenant(t, a.Issuer)
		return http.StatusCreated, v, v, nil
	})
}

// Me is who the bearer token speaks for, and what it may do here.
type Me struct {
	Kind        string   `json:"kind"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	TenantID    string   `json:"tenant_id"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

func getMe(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	out := Me{Kind: string(c.actor.Kind), ID: c.actor.ID, Name: c.actor.Name, TenantID: c.actor.TenantID,
		Roles: nonNil(c.actor.Roles), Permissions: []string{}}
	for _, p := range authz.AllPermissions() {
		if holds(c.actor, p) {
			out.Permissions = append(out.Permissions, string(p))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
