package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// PolicyBody is the tenant policy as PUT /policy takes it: the whole
// document, a field left out being its rule off. Durations are in
// seconds, as a client's access_token_ttl is.
type PolicyBody struct {
	MaxSecretLifetime   int64            `json:"max_secret_lifetime"`
	RequireSecretExpiry bool             `json:"require_secret_expiry"`
	AllowedGrantTypes   []string         `json:"allowed_grant_types"`
	RequirePKCE         bool             `json:"require_pkce"`
	ForbidWildcardScope bool             `json:"forbid_wildcard_scope"`
	RedirectHosts       []string         `json:"redirect_hosts"`
	RequireOwner        bool             `json:"require_owner"`
	MaxAccessTokenTTL   int64            `json:"max_access_token_ttl"`
	RequireAdminMFA     bool             `json:"require_admin_mfa"`
	Stale               StaleBody        `json:"stale"`
	LeakAction          string           `json:"leak_action"`
	Registration        RegistrationBody `json:"registration"`
}

// StaleBody is the stale-client rule, in seconds.
type StaleBody struct {
	After int64 `json:"after"`
	Warn  int64 `json:"warn"`
}

// RegistrationBody is the dynamic registration rule; expire_unused in
// seconds.
type RegistrationBody struct {
	Mode            string `json:"mode"`
	RequireApproval bool   `json:"require_approval"`
	Template        string `json:"template"`
	ExpireUnused    int64  `json:"expire_unused"`
}

// Policy is the JSON form of a tenant's policy: the body PUT takes, and
// when it was last changed and by whom (null and "" for a policy never
// set).
type Policy struct {
	PolicyBody
	UpdatedAt *time.Time `json:"updated_at"`
	UpdatedBy string     `json:"updated_by"`
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

// NewPolicyBody is the body that sets p: what the API's Go client sends.
func NewPolicyBody(p *client.Policy) PolicyBody {
	return PolicyBody{
		MaxSecretLifetime: secs(p.MaxSecretLifetime), RequireSecretExpiry: p.RequireSecretExpiry,
		AllowedGrantTypes: nonNil(strs(p.AllowedGrantTypes)), RequirePKCE: p.RequirePKCE,
		ForbidWildcardScope: p.ForbidWildcardScope, RedirectHosts: nonNil(p.RedirectHosts),
		RequireOwner: p.RequireOwner, MaxAccessTokenTTL: secs(p.MaxAccessTokenTTL), RequireAdminMFA: p.RequireAdminMFA,
		Stale:      StaleBody{After: secs(p.Stale.After), Warn: secs(p.Stale.Warn)},
		LeakAction: string(p.LeakActionOrDefault()),
		Registration: RegistrationBody{Mode: string(p.Registration.Mode), RequireApproval: p.Registration.RequireApproval,
			Template: p.Registration.Template, ExpireUnused: secs(p.Registration.ExpireUnused)},
	}
}

// NewPolicy returns the JSON form of p.
func NewPolicy(p *client.Policy) Policy {
	v := Policy{PolicyBody: NewPolicyBody(p), UpdatedAt: optTime(p.UpdatedAt), UpdatedBy: p.UpdatedBy}
	if v.Registration.Mode == "" {
		v.Registration.Mode = string(client.RegistrationOff)
	}
	return v
}

// Domain is the domain's reading of the body.
func (b PolicyBody) Domain() client.Policy {
	return client.Policy{
		MaxSecretLifetime: seconds(b.MaxSecretLifetime), RequireSecretExpiry: b.RequireSecretExpiry,
		AllowedGrantTypes: grantTypes(b.AllowedGrantTypes), RequirePKCE: b.RequirePKCE,
		ForbidWildcardScope: b.ForbidWildcardScope, RedirectHosts: b.RedirectHosts, RequireOwner: b.RequireOwner,
		MaxAccessTokenTTL: seconds(b.MaxAccessTokenTTL), RequireAdminMFA: b.RequireAdminMFA,
		Stale: client.StalePolicy{After: seconds(b.Stale.After), Warn: seconds(b.Stale.Warn)},
		Leak:  client.LeakAction(b.LeakAction),
		Registration: client.RegistrationPolicy{Mode: client.RegistrationMode(b.Registration.Mode),
			RequireApproval: b.Registration.RequireApproval, Template: b.Registration.Template,
			ExpireUnused: seconds(b.Registration.ExpireUnused)},
	}
}

// policyETag is a policy's entity tag, its version quoted.
func policyETag(p *client.Policy) string { return `"` + p.Version() + `"` }

func getPolicy(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	p, err := a.Clients.Policy(r.Context(), c.actor)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", policyETag(p))
	writeJSON(w, http.StatusOK, NewPolicy(p))
	return nil
}

// putPolicy serves PUT /policy: the whole policy, replaced only if the
// If-Match version is still current.
func putPolicy(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := readBody(r, "application/json")
	if err != nil {
		return err
	}
	var b PolicyBody
	if err := decodeInto(body, &b); err != nil {
		return err
	}
	p, err := a.Clients.SetPolicy(r.Context(), c.actor, b.Domain(), version)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", policyETag(p))
	writeJSON(w, http.StatusOK, NewPolicy(p))
	return nil
}

// Noncompliant is one line of the compliance report: a client and the
// rules of the policy it breaks.
type Noncompliant struct {
	ClientID   string             `json:"client_id"`
	Name       string             `json:"name"`
	Status     string             `json:"status"`
	DivisionID string             `json:"division_id"`
	Violations []client.Violation `json:"violations"`
}

// getCompliance serves GET /compliance: every client the caller can view
// that breaks the tenant's policy, written as the walk finds them, so the
// report holds one page of clients in memory however large the tenant.
// It is one JSON document, not pages: a report is read whole. An error
// after the first byte cannot change the status: it ends the object with
// an "error" problem instead.
func getCompliance(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	// Refusals (permission) answer with their status before any byte.
	if _, err := a.Clients.Policy(r.Context(), c.actor); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	fmt.Fprint(w, `{"clients":[`)
	n := 0
	err := a.Clients.Compliance(r.Context(), c.actor, func(nc client.Noncompliant) error {
		if n > 0 {
			w.Write([]byte{','})
		}
		n++
		enc.Encode(Noncompliant{ClientID: nc.Client.ID, Name: nc.Client.Name, Status: string(nc.Client.Status),
			DivisionID: nc.Client.DivisionID, Violations: nc.Violations})
		if flusher != nil && n%100 == 0 {
			flusher.Flush()
		}
		return nil
	})
	if err != nil {
		prob, known := Classify(err)
		if !known {
			a.log().Error("admin API: compliance report", "request_id", c.requestID, "err", err)
		}
		b, _ := json.Marshal(prob)
		fmt.Fprintf(w, `],"count":%d,"error":%s}`+"\n", n, b)
		return nil
	}
	fmt.Fprintf(w, `],"count":%d}`+"\n", n)
	return nil
}

// ComplianceReport is the JSON form of GET /compliance, as a client reads
// it.
type ComplianceReport struct {
	Clients []Noncompliant `json:"clients"`
	Count   int            `json:"count"`
	Error   *Problem       `json:"error,omitempty"`
}
