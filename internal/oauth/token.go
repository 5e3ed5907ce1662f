package oauth

import (
	"errors"
	"net/http"

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
		msg := "the grant type is not offered by this server"
		if err := client.CheckGrantType(gt); err != nil {
			msg = err.Error()
		}
		writeError(w, oautherr.UnsupportedGrantType("%s", msg))
		return
	}
	c, sec, oerr := s.authenticate(r.Context(), r, p, h.AllowsPublic(), ts.tenant.ID)
	if oerr != nil {
		writeError(w, oerr)
		return
	}
	resp, err := h.Handle(r.Context(), &grant.Request{Tenant: ts.grantTenant(), Client: c, Secret: sec, Params: p, Now: s.now()})
	var perr *oautherr.Error
	switch {
	case errors.As(err, &perr):
		writeError(w, perr)
	case err != nil:
		serverError(w, s.Logger, r, err)
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}
