package oauth

import (
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/client"
)

// ActionClientAuthFailed is the audit action of failed client
// authentications at the token, introspection and revocation endpoints:
// one event per tenant, client ID presented, reason and minute, with
// Details "count", "reason", "window_start" and "source_addrs" (see
// audit.Tally). Never the secret presented.
const ActionClientAuthFailed = "client.auth_failed"

// invalidClientID is the target of failures whose client ID is not one
// this server could have issued: what was presented is not kept.
const invalidClientID = "(invalid)"

// countAuthFailure counts a failed client authentication in the tenant
// for the audit trail. A client ID of the wrong shape is counted as
// invalidClientID, so what reaches the trail is at most 128 characters of
// the client-ID set (no markup, no control characters, no secret pasted
// into the wrong field).
func (s *Server) countAuthFailure(tenantID, clientID, reason, addr string) {
	if s.AuthFailures == nil {
		return
	}
	s.AuthFailures.Add(audit.TallyKey{TenantID: tenantID, Action: ActionClientAuthFailed, TargetType: "client",
		TargetID: presentedClientID(clientID), Reason: reason}, addr)
}

// presentedClientID is what the log and the audit trail may keep of the
// client ID a failed authentication presented: the ID itself when it has
// the shape of a client ID and is not a secret Latchkey generated (a
// caller that swapped its ID and secret presents its secret as the ID,
// and a generated secret has the client-ID shape), else invalidClientID.
func presentedClientID(id string) string {
	if client.ValidateClientID(id) != nil || client.IsGeneratedSecret(id) {
		return invalidClientID
	}
	return id
}
