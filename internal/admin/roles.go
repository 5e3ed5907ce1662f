package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
)

// Role is the JSON form of a role: built in, or one of the tenant's own.
type Role struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Permissions []string   `json:"permissions"`
	BuiltIn     bool       `json:"built_in"`
	CreatedAt   *time.Time `json:"created_at"`
	UpdatedAt   *time.Time `json:"updated_at"`
}

// NewRole returns the JSON form of r.
func NewRole(r *authz.Role) Role {
	v := Role{Name: r.Name, Description: r.Description, Permissions: make([]string, len(r.Permissions)),
		BuiltIn: r.BuiltIn, CreatedAt: optTime(r.CreatedAt), UpdatedAt: optTime(r.UpdatedAt)}
	for i, p := range r.Permissions {
		v.Permissions[i] = string(p)
	}
	return v
}

// RoleList is every role a principal of the tenant may hold.
type RoleList struct {
	Roles []Role `json:"roles"`
}

func listRoles(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	roles, err := a.Roles.List(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := RoleList{Roles: make([]Role, 0, len(roles))}
	for i := range roles {
		out.Roles = append(out.Roles, NewRole(&roles[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// roleBody is the body of POST /roles.
type roleBody struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

func permissions(ps []string) []authz.Permission {
	out := make([]authz.Permission, len(ps))
	for i, p := range ps {
		out[i] = authz.Permission(p)
	}
	return out
}

func createRole(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readCreate(r)
	if err != nil {
		return err
	}
	var b roleBody
	if err := decodeInto(body, &b); err != nil {
		return err
	}
	role, err := a.Roles.Create(r.Context(), c.actor, account.NewRole{Name: b.Name, Description: b.Description,
		Permissions: permissions(b.Permissions)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, NewRole(role))
	return nil
}

func getRole(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	role, err := a.Roles.Get(r.Context(), c.actor, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewRole(role))
	return nil
}

// updateRole applies a JSON merge patch of a custom role: its
// description and permissions.
func updateRole(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
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
	var p account.RoleChanges
	for k, raw := range m {
		switch k {
		case "description":
			p.Description = pt.str(k, raw)
		case "permissions":
			var ps []string
			if json.Unmarshal(raw, &ps) != nil || ps == nil {
				pt.bad(k, "must be an array of permissions")
			}
			perms := permissions(ps)
			p.Permissions = &perms
		case "name", "built_in", "created_at", "updated_at":
			pt.bad(k, "cannot be changed")
		default:
			pt.bad(k, "is not a field of a role")
		}
	}
	if err := pt.err(); err != nil {
		return err
	}
	role, err := a.Roles.Update(r.Context(), c.actor, r.PathValue("name"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewRole(role))
	return nil
}

func deleteRole(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	if err := a.Roles.Delete(r.Context(), c.actor, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Division is the JSON form of a division.
type Division struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// DivisionList is the tenant's divisions.
type DivisionList struct {
	Divisions []Division `json:"divisions"`
}

func newDivision(d *account.Division) Division {
	return Division{ID: d.ID, Name: d.Name, CreatedAt: d.CreatedAt}
}

func listDivisions(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	ds, err := a.Divisions.List(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := DivisionList{Divisions: make([]Division, 0, len(ds))}
	for i := range ds {
		out.Divisions = append(out.Divisions, newDivision(&ds[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// divisionBody is the body of POST /divisions.
type divisionBody struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func createDivision(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readCreate(r)
	if err != nil {
		return err
	}
	var b divisionBody
	if err := decodeInto(body, &b); err != nil {
		return err
	}
	d, err := a.Divisions.Create(r.Context(), c.actor, account.NewDivision{ID: b.ID, Name: b.Name})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newDivision(d))
	return nil
}

// renameDivision serves PATCH /divisions/{id}: a division's name is all
// that changes.
func renameDivision(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	body, err := readBody(r, "application/merge-patch+json", "application/json")
	if err != nil {
		return err
	}
	var b struct {
		Name string `json:"name"`
	}
	if err := decodeInto(body, &b); err != nil {
		return err
	}
	d, err := a.Divisions.Rename(r.Context(), c.actor, r.PathValue("id"), b.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newDivision(d))
	return nil
}

func deleteDivision(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	if err := a.Divisions.Delete(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
