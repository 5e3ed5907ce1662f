package oauth

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/token"
)

// Minter issues access tokens in the name of the requesting tenant:
// stateless RFC 9068 JWTs signed with the tenant's keys, or opaque tokens
// stored as hashes for clients that chose them. Either way iss and aud are
// the tenant's issuer.
type Minter struct {
	Keys   *token.TenantKeys
	Store  token.Store
	Random io.Reader
}

var _ grant.TokenIssuer = (*Minter)(nil)

// Claim names of Latchkey's private claims.
const (
	claimOwner    = "owner"
	claimSecretID = "secret_id"
)

// IssueAccess mints a token for r with the client's lifetime, with r.ID
// as its jti when set.
func (m *Minter) IssueAccess(ctx context.Context, r grant.AccessRequest) (*grant.Issued, error) {
	jti := r.ID
	if jti == "" {
		var err error
		if jti, err = client.NewID(m.Random, ""); err != nil {
			return nil, err
		}
	}
	c := r.Client
	aud := []string{r.Tenant.Issuer}
	now := r.Now.Truncate(time.Second)
	exp := grant.AccessExpiry(c, r.Now)
	if c.TokenFormat == client.TokenOpaque {
		value, hash, err := token.NewOpaque(m.Random)
		if err != nil {
			return nil, err
		}
		rec := &token.Record{ID: jti, Hash: hash, ClientID: c.ID, SecretID: r.SecretID, Subject: r.Subject,
			Audience: aud, Scopes: r.Scopes, IssuedAt: now, ExpiresAt: exp}
		if err := m.Store.CreateToken(ctx, rec); err != nil {
			return nil, err
		}
		return &grant.Issued{Token: value, ExpiresIn: c.AccessTokenTTL, ID: jti, ExpiresAt: exp}, nil
	}
	claims := token.Claims{
		Issuer: r.Tenant.Issuer, Subject: r.Subject, Audience: aud, ClientID: c.ID,
		Scope: strings.Join(r.Scopes, " "), ID: jti, IssuedAt: now, ExpiresAt: exp, Extra: r.Extra,
	}
	if r.SecretID != "" {
		if claims.Extra == nil {
			claims.Extra = map[string]any{}
		}
		claims.Extra[claimSecretID] = r.SecretID
	}
	keys, err := m.Keys.Get(ctx, r.Tenant.ID)
	if err != nil {
		return nil, err
	}
	tok, err := keys.SignAccess(claims)
	if err != nil {
		return nil, err
	}
	return &grant.Issued{Token: tok, ExpiresIn: c.AccessTokenTTL, ID: jti, ExpiresAt: exp}, nil
}
