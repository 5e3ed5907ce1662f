package admin

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

// authenticate reads the bearer token (RFC 6750 §2.1: the Authorization
// header, the only place the API reads one from), checks it and returns
// the call it authorizes. On failure it has written the 401, 404 or 429.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, reqID string) (*call, bool) {
	now := a.now()
	addr := ratelimit.SourceAddr(r, a.TrustedProxies)
	key := ratelimit.SourceKey(addr)
	if a.AuthFailures != nil {
		// Counted now and refunded on success, so concurrent guesses
		// cannot all slip under the threshold.
		if wait := a.AuthFailures.Attempt(now, key); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			writeProblem(w, NewProblem(http.StatusTooManyRequests, "rate_limited",
				"too many failed authentications from this address; try again later"))
			return nil, false
		}
	}
	c, prob := a.principal(r, reqID, addr)
	if a.AuthFailures != nil && (prob == nil || prob.Status != http.StatusUnauthorized) {
		// Only a failed authentication counts: not a success, nor the
		// server failing, nor a path naming no tenant.
		a.AuthFailures.Refund(now, key)
	}
	if prob != nil {
		writeProblem(w, *prob)
		return nil, false
	}
	return c, true
}

// principal turns the request's bearer token into a call, or says why it
// cannot.
func (a *API) principal(r *http.Request, reqID, addr string) (*call, *Problem) {
	unauthorized := func(detail string) *Problem {
		p := NewProblem(http.StatusUnauthorized, "unauthorized", detail)
		return &p
	}
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return nil, unauthorized("a bearer access token is required")
	}
	scheme, tok, _ := strings.Cut(h[0], " ")
	tok = strings.TrimSpace(tok)
	if len(h) != 1 || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		p := NewProblem(http.StatusUnauthorized, "invalid_token", "send one Authorization header with the Bearer scheme")
		return nil, &p
	}
	slug := r.PathValue("tenant")
	t, err := a.Authenticate(r.Context(), slug, tok)
	if errors.Is(err, errs.ErrNotFound) {
		p := NewProblem(http.StatusNotFound, "not_found", "no tenant is served at this path")
		return nil, &p
	}
	if err != nil {
		p, known := Classify(err)
		if !known {
			a.log().ErrorContext(r.Context(), "admin API authentication failed", "request_id", reqID, "err", err)
		}
		return nil, &p
	}
	if t == nil {
		p := NewProblem(http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
		return nil, &p
	}
	actor := authz.Actor{TenantID: t.TenantID, SourceAddr: addr, RequestID: reqID, Limit: permissionScopes(t.Scopes)}
	failed := func(what string, err error) (*call, *Problem) {
		p, known := Classify(err)
		if !known {
			a.log().ErrorContext(r.Context(), "admin API: "+what, "request_id", reqID, "err", err)
		}
		return nil, &p
	}
	// catalog is the tenant's roles, read only when a principal holds a
	// custom one.
	catalog := func(roles []string) (*authz.Catalog, error) {
		if actor.Catalog != nil || !authz.NamesCustomRole(roles) {
			return actor.Catalog, nil
		}
		if a.Catalogs != nil {
			return a.Catalogs.Catalog(r.Context(), t.TenantID)
		}
		custom, err := a.Accounts.CustomRoles(r.Context(), t.TenantID)
		if err != nil {
			return nil, err
		}
		return authz.NewCatalog(custom), nil
	}
	if t.Subject == t.ClientID {
		// A client acting for itself: its roles, never more than its
		// owner's current grants, division by division (DESIGN: a token's
		// permissions never exceed the owner's).
		c := t.Client
		actor.Kind, actor.ID, actor.Name, actor.Roles = authz.KindClient, c.ID, c.Name, c.Roles
		if actor.Catalog, err = catalog(c.Roles); err != nil {
			return failed("reading the tenant's roles", err)
		}
		if c.OwnerUserID != "" {
			// An owner who is gone, disabled or of another tenant
			// leaves the client nothing: an empty cap, never none.
			actor.Owner = []string{}
			owner, err := a.Accounts.User(r.Context(), c.OwnerUserID)
			switch {
			case err == nil && owner.Active() && owner.TenantID == t.TenantID:
				actor.Owner = append(actor.Owner, owner.Roles...)
				if actor.Catalog, err = catalog(owner.Roles); err != nil {
					return failed("reading the tenant's roles", err)
				}
			case err != nil && !errors.Is(err, errs.ErrNotFound):
				return failed("reading a client's owner", err)
			}
		}
	} else {
		// A person, through an application they signed in to: their
		// current roles, within what the token's scopes carry.
		u, err := a.Accounts.User(r.Context(), t.Subject)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return failed("reading a token's user", err)
		}
		if err != nil || !u.Active() || u.TenantID != t.TenantID {
			p := NewProblem(http.StatusUnauthorized, "invalid_token", "the access token's user cannot sign in")
			return nil, &p
		}
		actor.Kind, actor.ID, actor.Name, actor.Roles = authz.KindUser, u.ID, u.Email, u.Roles
		if actor.Catalog, err = catalog(u.Roles); err != nil {
			return failed("reading the tenant's roles", err)
		}
	}
	return &call{actor: actor, slug: slug, requestID: reqID, defaultTenant: t.DefaultTenant}, nil
}

// permissionScopes returns the scopes that name permissions, never nil:
// a token without any may do nothing here.
func permissionScopes(scopes []string) []authz.Permission {
	out := []authz.Permission{}
	for _, s := range scopes {
		if p := authz.Permission(s); authz.IsPermission(p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
