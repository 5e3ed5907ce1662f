package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/term"
)

// tokenCmd asks the running server for a client-credentials token and
// prints it with its decoded claims: the quickest way to try a client.
func (cc *clientsCmd) tokenCmd() *cobra.Command {
	var scopes stringList
	var secretFile string
	cmd := &cobra.Command{
		Use:   "token CLIENT_ID [--scope S]",
		Short: "Get a token from the running server with a client's credentials, and show its claims",
		Long: `Ask the running server (at --endpoint or --issuer, or the tenant's issuer
under it) for a token with the client_credentials grant, and print it
with its decoded claims. The secret is read from --secret-file, or from
standard input (asked for without echo on a terminal): never from a
flag.`,
		Args: oneArg("client ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			issuer, err := cc.issuer(cmd.Context())
			if err != nil {
				return err
			}
			secret, err := cc.a.readSecret(secretFile, "Client secret of "+args[0]+": ", 4096)
			if err != nil {
				return err
			}
			return cc.token(cmd.Context(), issuer, args[0], secret, scopes)
		},
	}
	fs := cmd.Flags()
	fs.Var(&scopes, "scope", "scope to ask for (repeatable; default: the client's scopes)")
	fs.StringVar(&secretFile, "secret-file", "-", `file holding the client secret, or "-" for standard input`)
	return cmd
}

// issuer is the issuer of the tenant the command names: the server's
// issuer for the default tenant, {issuer}/t/{slug} for another; with
// --endpoint, that server's. Only a tenant named without --endpoint needs
// the database.
func (cc *clientsCmd) issuer(ctx context.Context) (string, error) {
	if cc.endpoint != "" {
		r, err := newRemote(cc.endpoint, cc.tenant)
		if err != nil {
			return "", err
		}
		return r.base, nil
	}
	if cc.tenant == "" {
		return cc.a.cfg.issuer, nil
	}
	st, err := openExisting(ctx, &cc.a.cfg)
	if err != nil {
		return "", err
	}
	defer st.Close()
	t, err := resolveTenant(ctx, st, cc.tenant)
	if err != nil {
		return "", err
	}
	if t.Default {
		return cc.a.cfg.issuer, nil
	}
	return cc.a.cfg.issuer + "/t/" + t.Slug, nil
}

// readSecret reads a client secret named by --secret-file: see
// readFlagged.
func (a *app) readSecret(path, prompt string, limit int64) (string, error) {
	return a.readFlagged("--secret-file", "secret", path, prompt, limit)
}

// readFlagged reads a secret from a file, or, for "-", from standard
// input: asked for without echo on a terminal. A trailing line break is
// dropped; an empty secret is a usage error, never a silent default. It
// reads at most limit bytes. Its messages name the flag that gave path,
// and what the secret is.
func (a *app) readFlagged(flag, what, path, prompt string, limit int64) (string, error) {
	var b []byte
	var err error
	switch f, ok := a.stdin.(*os.File); {
	case path != "-":
		var file *os.File
		if file, err = os.Open(path); err == nil {
			b, err = io.ReadAll(io.LimitReader(file, limit))
			file.Close()
		}
	case ok && term.IsTerminal(int(f.Fd())):
		fmt.Fprint(a.stderr, prompt)
		b, err = term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
	default:
		b, err = io.ReadAll(io.LimitReader(a.stdin, limit))
	}
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, path, err)
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if secret == "" {
		where := path
		if path == "-" {
			where = "standard input"
		}
		return "", usageError{msg: fmt.Sprintf("%s: no %s in %s", flag, what, where)}
	}
	return secret, nil
}

// tokenEndpoint reads the token endpoint from the issuer's RFC 8414
// metadata, as a client library would.
func tokenEndpoint(ctx context.Context, hc *http.Client, issuer string) (string, error) {
	u := issuer + "/.well-known/oauth-authorization-server"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	res, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("no server answers at %s (is it running? --issuer names it): %w", issuer, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s: is --issuer (or --tenant) right?", u, res.Status)
	}
	var m struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&m); err != nil || m.TokenEndpoint == "" {
		return "", fmt.Errorf("%s is not authorization server metadata", u)
	}
	return m.TokenEndpoint, nil
}

// tokenOutput is what "clients token --json" prints.
type tokenOutput struct {
	AccessToken string         `json:"access_token"`
	TokenType   string         `json:"token_type"`
	ExpiresIn   int64          `json:"expires_in,omitempty"`
	Scope       string         `json:"scope,omitempty"`
	Header      map[string]any `json:"header,omitempty"`
	Claims      map[string]any `json:"claims,omitempty"`
}

func (cc *clientsCmd) token(ctx context.Context, issuer, id, secret string, scopes []string) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	endpoint, err := tokenEndpoint(ctx, hc, issuer)
	if err != nil {
		return err
	}
	conf := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: endpoint,
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := conf.Token(ctx)
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) {
		msg := rerr.ErrorCode
		if rerr.ErrorDescription != "" {
			msg += ": " + rerr.ErrorDescription
		}
		return fmt.Errorf("the server refused: %s", msg)
	}
	if err != nil {
		return err
	}
	out := tokenOutput{AccessToken: tok.AccessToken, TokenType: tok.TokenType}
	if !tok.Expiry.IsZero() {
		// The library turns expires_in into a time; turn it back.
		out.ExpiresIn = int64(time.Until(tok.Expiry).Round(time.Second) / time.Second)
	}
	if s, ok := tok.Extra("scope").(string); ok {
		out.Scope = s
	}
	out.Header, out.Claims = decodeJWT(tok.AccessToken)
	if cc.json {
		return printJSON(cc.a.stdout, out)
	}
	w := cc.a.stdout
	fmt.Fprintf(w, "Access token: %s\n", out.AccessToken)
	fmt.Fprintf(w, "Token type:   %s\n", out.TokenType)
	if out.ExpiresIn > 0 {
		fmt.Fprintf(w, "Expires in:   %s\n", time.Duration(out.ExpiresIn)*time.Second)
	}
	fmt.Fprintf(w, "Scope:        %s\n", orNone(out.Scope))
	if out.Claims == nil {
		fmt.Fprintln(w, "An opaque token: the server's introspection endpoint tells what it carries.")
		return nil
	}
	fmt.Fprintln(w, "Header and claims (decoded here; resource servers check the signature against the JWKS):")
	return printJSON(w, map[string]any{"header": out.Header, "claims": out.Claims})
}

// decodeJWT returns a compact JWS's header and claims, or nils when the
// token is not one.
func decodeJWT(tok string) (header, claims map[string]any) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			return nil, nil
		}
	}
	return header, claims
}
