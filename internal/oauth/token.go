package oauth

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
)

// handleToken is POST /oauth2/token (RFC 6749 §3.2). Only the tenant's
// own clients authenticate here.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	p, oerr := readParams(w, r)
	if oerr != nil {
		writeError(w, oerr)
		return
	}
	gt := p.Get("grant_type")
	if gt == "" {
		writeError(w, oautherr.InvalidRequest("grant_type is required"))
		return
	}
	h, ok := s.Grants[client.GrantType(gt)]
	if !ok {
		writeError(w, s.unsupportedGrant(gt))
		return
	}
	c, sec, oerr := s.authenticate(r.Context(), r, p, h.AllowsPublic(), ts.tenant.ID)
	if oerr != nil {
		writeError(w, oerr)
		return
	}
	now := s.now()
	resp, err := h.Handle(r.Context(), &grant.Request{Tenant: ts.grantTenant(), Client: c, Secret: sec, Params: p, Now: now})
	var perr *oautherr.Error
	switch {
	case errors.As(err, &perr):
		writeError(w, perr)
	case err != nil:
		serverError(w, s.Logger, r, err)
	default:
		// Coalesced in memory like last-used times: no write here.
		s.Usage.RecordToken(c, h.GrantType(), now)
		s.Metrics.TokenIssued(string(h.GrantType()), c.ID)
		writeJSON(w, http.StatusOK, resp)
	}
}

// unsupportedGrant words the refusal of a grant this server does not serve,
// naming only the grants it does.
func (s *Server) unsupportedGrant(gt string) *oautherr.Error {
	if slices.Contains(grantOrder, client.GrantType(gt)) {
		return oautherr.UnsupportedGrantType("the %s grant is not offered by this server", gt)
	}
	offers := "this server offers no grants"
	if served := servedBy(s.Grants); len(served) > 0 {
		names := make([]string, len(served))
		for i, g := range served {
			names[i] = string(g)
		}
		offers = "this server offers: " + strings.Join(names, ", ")
	}
	// The grants RFC 9700 retired are refused with the reason.
	switch gt {
	case "implicit", "token":
		return oautherr.UnsupportedGrantType("the implicit grant is not supported: it exposes tokens in the browser (RFC 9700); %s", offers)
	case "password":
		return oautherr.UnsupportedGrantType("the password grant is not supported: the client would handle the user's password (RFC 9700); %s", offers)
	}
	return oautherr.UnsupportedGrantType("grant_type %s is not supported; %s", oautherr.Quote(gt), offers)
}
