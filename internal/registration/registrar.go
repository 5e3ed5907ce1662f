package registration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// Audit actions of initial access tokens; a registered client's own
// changes are the client domain's (client.created and the rest), with the
// registration as actor.
const (
	ActionTokenIssued  = "tenant.registration_token_issued"
	ActionTokenRevoked = "tenant.registration_token_revoked"
)

// Bounds of initial access tokens.
const (
	DefaultTokenLifetime = 7 * 24 * time.Hour
	MinTokenLifetime     = time.Hour
	MaxTokenLifetime     = 365 * 24 * time.Hour
	MaxTokenUses         = 100000
	unusedBatch          = 100
)

// Registrar runs registration's use cases. Clients, Repo and Store are
// required; Repo is the client domain's, whose transactions the store
// makes implement Tx too.
type Registrar struct {
	Clients *client.Service
	Repo    client.Repository
	Store   Store
	Now     func() time.Time
	Random  io.Reader
}

func (r *Registrar) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Registrar) rand() io.Reader {
	if r.Random != nil {
		return r.Random
	}
	return rand.Reader
}

// Policy returns the tenant's registration policy; a tenant without a
// record has registration off.
func (r *Registrar) Policy(ctx context.Context, tenantID string) (client.RegistrationPolicy, error) {
	p, err := r.Repo.Policy(ctx, tenantID)
	if errors.Is(err, client.ErrNotFound) {
		return client.RegistrationPolicy{Mode: client.RegistrationOff}, nil
	}
	if err != nil {
		return client.RegistrationPolicy{}, err
	}
	if p.Registration.Mode == "" {
		p.Registration.Mode = client.RegistrationOff
	}
	return p.Registration, nil
}

// Enabled reports whether the tenant takes registrations, for discovery's
// registration_endpoint.
func (r *Registrar) Enabled(ctx context.Context, tenantID string) (bool, error) {
	p, err := r.Policy(ctx, tenantID)
	return p.Mode == client.RegistrationOpen || p.Mode == client.RegistrationToken, err
}

// Request is a registration as the endpoint received it.
type Request struct {
	TenantID string
	// Bearer is the access token of the Authorization header; "" for none.
	Bearer     string
	SourceAddr string
	RequestID  string
	Metadata   Metadata
}

// Registered is a client at the moment it is registered or read.
type Registered struct {
	Client       *client.Client
	Registration *Registration
	// Secret is the client's secret, only as registration issues it.
	Secret *client.IssuedSecret
	// AccessToken is the registration access token: issued by
	// registration, or the one a RFC 7592 request presented.
	AccessToken string
}

// errTokenSpent is UseInitialToken's ErrNotFound inside the transaction.
var errTokenSpent = errors.New("registration: initial access token spent")

// Register registers a client (RFC 7591 §3.1) in the tenant as its policy
// allows. Refusals are *Error values with RFC 7591 §3.2.2's codes.
func (r *Registrar) Register(ctx context.Context, req Request) (*Registered, error) {
	pol, err := r.Policy(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	now := r.now()
	by, byName := OpenRegistrar, "open registration"
	var tokenHash string
	switch pol.Mode {
	case client.RegistrationOpen:
	case client.RegistrationToken:
		if req.Bearer == "" {
			return nil, invalidToken("this tenant registers clients only with an initial access token (Authorization: Bearer)")
		}
		if !client.IsTokenValue(req.Bearer, InitialTokenPrefix) {
			return nil, invalidToken("the initial access token is not valid")
		}
		tokenHash = HashToken(req.Bearer)
		t, err := r.Store.InitialTokenByHash(ctx, req.TenantID, tokenHash)
		if errors.Is(err, ErrNotFound) || err == nil && !t.Usable(now) {
			return nil, invalidToken("the initial access token is not valid: unknown, expired, revoked or used up")
		}
		if err != nil {
			return nil, err
		}
		by, byName = t.ID, t.Name
	default:
		return nil, &Error{Status: http.StatusForbidden, Code: CodeAccessDenied, Description: "dynamic client registration is off for this tenant"}
	}
	tmpl, ok := client.RegistrationTemplateNamed(pol.Template)
	if !ok {
		return nil, fmt.Errorf("registration: the policy names template %q, which does not exist", pol.Template)
	}
	sp, rerr := req.Metadata.check(tmpl)
	if rerr != nil {
		return nil, rerr
	}
	token, err := client.NewTokenValue(r.rand(), AccessTokenPrefix)
	if err != nil {
		return nil, err
	}
	status := client.StatusActive
	if pol.RequireApproval {
		status = client.StatusPending
	}
	reg := &Registration{TenantID: req.TenantID, TokenHash: HashToken(token), Template: tmpl.Name,
		RegisteredBy: by, RegisteredAddr: req.SourceAddr, Extra: sp.Extra, CreatedAt: now}
	hook := func(ctx context.Context, tx client.Tx, c client.Committed) error {
		rtx, ok := tx.(Tx)
		if !ok {
			return errors.New("registration: the store's transactions do not record registrations")
		}
		if tokenHash != "" {
			if _, err := rtx.UseInitialToken(ctx, req.TenantID, tokenHash, now); errors.Is(err, ErrNotFound) {
				return errTokenSpent
			} else if err != nil {
				return err
			}
		}
		reg.ClientID = c.ClientID
		return rtx.CreateRegistration(ctx, reg)
	}
	actor := registrationActor(req.TenantID, "registration:"+by, byName, req.SourceAddr, req.RequestID)
	ctx = client.WithAuditDetail(client.WithinTx(ctx, hook), "registered_by", by)
	c, issued, err := r.Clients.Create(ctx, actor, client.CreateParams{
		Name: sp.Name, Description: "Registered dynamically (" + describeRegistrar(by, byName) + ")",
		Type: sp.Type, TokenEndpointAuthMethod: sp.Method, GrantTypes: sp.Grants, RedirectURIs: sp.Redirects,
		Scopes: sp.Scopes, PostLogoutRedirectURIs: sp.PostLogout, IDTokenAlg: sp.IDAlg,
		RequireConsent: true, RequirePKCE: tmpl.RequirePKCE && sp.Type == client.Confidential,
		AccessTokenTTL: tmpl.AccessTokenTTL, Status: status,
	})
	if errors.Is(err, errTokenSpent) {
		return nil, invalidToken("the initial access token is not valid: unknown, expired, revoked or used up")
	}
	if err != nil {
		return nil, domainError(err)
	}
	return &Registered{Client: c, Registration: reg, Secret: issued, AccessToken: token}, nil
}

func describeRegistrar(by, name string) string {
	if by == OpenRegistrar {
		return "open registration"
	}
	return "initial access token " + by + " " + fmt.Sprintf("%q", name)
}

// registrationActor acts for a registration: it may create, read, change
// and delete clients and nothing else, and grants no role.
func registrationActor(tenantID, id, name, addr, reqID string) client.Actor {
	return client.Actor{Kind: authz.KindRegistration, ID: id, Name: name, TenantID: tenantID,
		Roles: []string{authz.SuperAdmin}, SourceAddr: addr, RequestID: reqID,
		Limit: []authz.Permission{authz.ClientAdd, authz.ClientView, authz.ClientEdit, authz.ClientDelete}}
}

// domainError turns the client domain's refusal into RFC 7591's: a field
// error on the redirect URIs is invalid_redirect_uri, any other
// invalid_client_metadata, naming every field and the policy it breaks.
func domainError(err error) error {
	fields := errs.Fields(err)
	if len(fields) == 0 {
		return err
	}
	code := CodeInvalidClientMetadata
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		name := metadataName(f.Field)
		if name == "redirect_uris" {
			code = CodeInvalidRedirectURI
		}
		msg := name + ": " + f.Message
		if f.Policy != "" {
			msg += " (tenant policy " + f.Policy + ")"
		}
		parts = append(parts, msg)
	}
	return &Error{Status: http.StatusBadRequest, Code: code, Description: strings.Join(parts, "; ")}
}

// metadataName is the RFC 7591 name of a client domain field.
func metadataName(field string) string {
	base, _, _ := strings.Cut(field, "[")
	switch base {
	case "name":
		return "client_name"
	case "scopes":
		return "scope"
	case "id_token_alg":
		return "id_token_signed_response_alg"
	}
	return base
}

// authorize finds the registration a RFC 7592 request's token is for: the
// token must be a registration access token of this very client, in this
// tenant (RFC 7592 §2: anything else is invalid_token).
func (r *Registrar) authorize(ctx context.Context, tenantID, clientID, bearer string) (*Registration, error) {
	if bearer == "" {
		return nil, invalidToken("send the registration access token (Authorization: Bearer)")
	}
	if !client.IsTokenValue(bearer, AccessTokenPrefix) {
		return nil, invalidToken("the registration access token is not valid")
	}
	reg, err := r.Store.RegistrationByToken(ctx, HashToken(bearer))
	if errors.Is(err, ErrNotFound) || err == nil && (reg.TenantID != tenantID || reg.ClientID != clientID) {
		return nil, invalidToken("the registration access token is not valid for this client")
	}
	if err != nil {
		return nil, err
	}
	return reg, nil
}

func (r *Registrar) selfActor(reg *Registration, req Request) client.Actor {
	return registrationActor(reg.TenantID, "registration:"+reg.ClientID, "registration access token", req.SourceAddr, req.RequestID)
}

// Read returns a registered client's current registration (RFC 7592 §2.1).
func (r *Registrar) Read(ctx context.Context, req Request, clientID string) (*Registered, error) {
	reg, err := r.authorize(ctx, req.TenantID, clientID, req.Bearer)
	if err != nil {
		return nil, err
	}
	c, _, err := r.Clients.Get(ctx, r.selfActor(reg, req), clientID)
	if errors.Is(err, client.ErrNotFound) {
		return nil, invalidToken("the registration access token is not valid for this client")
	}
	if err != nil {
		return nil, err
	}
	return &Registered{Client: c, Registration: reg, AccessToken: req.Bearer}, nil
}

// Replace replaces a registered client's metadata with req's (RFC 7592
// §2.2): a field left out is reset to its default, as a registration
// without it would have it. The client stays of its type, and within the
// template it was registered from.
func (r *Registrar) Replace(ctx context.Context, req Request, clientID string) (*Registered, error) {
	reg, err := r.authorize(ctx, req.TenantID, clientID, req.Bearer)
	if err != nil {
		return nil, err
	}
	actor := r.selfActor(reg, req)
	old, secrets, err := r.Clients.Get(ctx, actor, clientID)
	if errors.Is(err, client.ErrNotFound) {
		return nil, invalidToken("the registration access token is not valid for this client")
	}
	if err != nil {
		return nil, err
	}
	md := req.Metadata
	if md.ClientID != clientID {
		return nil, badMetadata("client_id must be given, and be this client's")
	}
	if md.ClientSecret != "" && !holdsSecret(secrets, md.ClientSecret, r.now()) {
		return nil, badMetadata("client_secret is not this client's current secret")
	}
	tmpl, ok := client.RegistrationTemplateNamed(reg.Template)
	if !ok {
		tmpl, _ = client.RegistrationTemplateNamed("")
	}
	sp, rerr := md.check(tmpl)
	if rerr != nil {
		return nil, rerr
	}
	if sp.Type != old.Type {
		return nil, badMetadata(fmt.Sprintf("token_endpoint_auth_method cannot change a %s client into a %s one: register a new client", old.Type, sp.Type))
	}
	hook := func(ctx context.Context, tx client.Tx, _ client.Committed) error {
		rtx, ok := tx.(Tx)
		if !ok {
			return errors.New("registration: the store's transactions do not record registrations")
		}
		return rtx.SetRegistrationExtra(ctx, clientID, sp.Extra)
	}
	alg := sp.IDAlg
	c, err := r.Clients.Update(client.WithinTx(ctx, hook), actor, clientID, client.UpdateParams{
		Name: &sp.Name, GrantTypes: &sp.Grants, RedirectURIs: &sp.Redirects, Scopes: &sp.Scopes,
		PostLogoutRedirectURIs: &sp.PostLogout, IDTokenAlg: &alg, TokenEndpointAuthMethod: &sp.Method,
	})
	if err != nil {
		return nil, domainError(err)
	}
	reg.Extra = sp.Extra
	return &Registered{Client: c, Registration: reg, AccessToken: req.Bearer}, nil
}

// holdsSecret reports whether plain is one of the client's usable secrets.
func holdsSecret(secrets []client.Secret, plain string, now time.Time) bool {
	for _, s := range secrets {
		if !s.Usable(now) {
			continue
		}
		if ok, err := client.VerifySecret(s.Hash, plain); err == nil && ok {
			return true
		}
	}
	return false
}

// Delete deletes a registered client (RFC 7592 §2.3); its registration
// access token stops working with it.
func (r *Registrar) Delete(ctx context.Context, req Request, clientID string) error {
	reg, err := r.authorize(ctx, req.TenantID, clientID, req.Bearer)
	if err != nil {
		return err
	}
	err = r.Clients.Delete(ctx, r.selfActor(reg, req), clientID)
	if errors.Is(err, client.ErrNotFound) {
		return invalidToken("the registration access token is not valid for this client")
	}
	return domainError(err)
}

// ExpireUnused deletes the tenant's registered clients unused for the
// policy's ExpireUnused (never used: since registration), and returns how
// many it deleted. Each deletion is audited as client.deleted by the
// system, with reason=registration_unused. Run it on several instances at
// once and a client is deleted once; the others find it gone.
func (r *Registrar) ExpireUnused(ctx context.Context, tenantID string) (int, error) {
	pol, err := r.Policy(ctx, tenantID)
	if err != nil || pol.ExpireUnused <= 0 {
		return 0, err
	}
	before := r.now().Add(-pol.ExpireUnused)
	ctx = client.WithAuditDetail(ctx, "reason", "registration_unused")
	deleted := 0
	for {
		ids, err := r.Store.UnusedRegistrations(ctx, tenantID, before, unusedBatch)
		if err != nil {
			return deleted, err
		}
		for _, id := range ids {
			err := r.Clients.Delete(ctx, client.SystemActor(tenantID), id)
			switch {
			case err == nil:
				deleted++
			case errors.Is(err, client.ErrNotFound):
			default:
				return deleted, err
			}
		}
		if len(ids) < unusedBatch {
			return deleted, nil
		}
	}
}

// TokenParams describe a new initial access token.
type TokenParams struct {
	Name string
	// Lifetime is how long it lasts; 0 for DefaultTokenLifetime.
	Lifetime time.Duration
	// MaxUses is how many clients it may register; 0 for any number.
	MaxUses int
}

// IssueToken issues an initial access token for the actor's tenant; the
// actor needs oauth:client:add tenant-wide. Its value is returned once.
func (r *Registrar) IssueToken(ctx context.Context, actor client.Actor, p TokenParams) (*InitialToken, string, error) {
	if err := actor.Require(authz.ClientAdd); err != nil {
		return nil, "", err
	}
	var fe []errs.FieldError
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > client.MaxNameLen {
		fe = append(fe, errs.FieldError{Field: "name", Message: fmt.Sprintf("must be 1 to %d characters", client.MaxNameLen)})
	}
	if p.Lifetime == 0 {
		p.Lifetime = DefaultTokenLifetime
	}
	if p.Lifetime < MinTokenLifetime || p.Lifetime > MaxTokenLifetime {
		fe = append(fe, errs.FieldError{Field: "expires_in", Message: "must be from 1 hour to 365 days"})
	}
	if p.MaxUses < 0 || p.MaxUses > MaxTokenUses {
		fe = append(fe, errs.FieldError{Field: "max_uses", Message: fmt.Sprintf("must be from 0 (any number) to %d", MaxTokenUses)})
	}
	if len(fe) > 0 {
		return nil, "", &errs.ValidationError{Fields: fe}
	}
	id, err := client.NewID(r.rand(), "iat_")
	if err != nil {
		return nil, "", err
	}
	value, err := client.NewTokenValue(r.rand(), InitialTokenPrefix)
	if err != nil {
		return nil, "", err
	}
	now := r.now()
	t := &InitialToken{ID: id, TenantID: actor.TenantID, Hash: HashToken(value), Name: p.Name, CreatedBy: actor.ID,
		CreatedAt: now, ExpiresAt: now.Add(p.Lifetime), MaxUses: p.MaxUses}
	err = r.Repo.InTx(ctx, func(tx client.Tx) error {
		rtx, ok := tx.(Tx)
		if !ok {
			return errors.New("registration: the store's transactions do not record registrations")
		}
		if err := rtx.CreateInitialToken(ctx, t); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionTokenIssued, audit.TargetTenant, actor.TenantID)
		e.Details = map[string]string{"token_id": t.ID, "name": t.Name, "expires_at": t.ExpiresAt.Format(time.RFC3339),
			"max_uses": fmt.Sprint(t.MaxUses)}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, "", err
	}
	return t, value, nil
}

// Tokens lists the tenant's initial access tokens; the actor needs
// oauth:client:view tenant-wide.
func (r *Registrar) Tokens(ctx context.Context, actor client.Actor) ([]InitialToken, error) {
	if err := actor.Require(authz.ClientView); err != nil {
		return nil, err
	}
	return r.Store.InitialTokens(ctx, actor.TenantID)
}

// RevokeToken revokes one of the tenant's initial access tokens; the actor
// needs oauth:client:add tenant-wide. Clients it registered stay.
func (r *Registrar) RevokeToken(ctx context.Context, actor client.Actor, id string) error {
	if err := actor.Require(authz.ClientAdd); err != nil {
		return err
	}
	now := r.now()
	return r.Repo.InTx(ctx, func(tx client.Tx) error {
		rtx, ok := tx.(Tx)
		if !ok {
			return errors.New("registration: the store's transactions do not record registrations")
		}
		if err := rtx.RevokeInitialToken(ctx, actor.TenantID, id, now); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: no initial access token %q in this tenant", errs.ErrNotFound, id)
		} else if err != nil {
			return err
		}
		e := audit.New(actor, now, ActionTokenRevoked, audit.TargetTenant, actor.TenantID)
		e.Details = map[string]string{"token_id": id}
		return tx.AppendAudit(ctx, e)
	})
}
