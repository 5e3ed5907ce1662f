package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// clientsCmd is one run of "latchkey clients ...": the tenant it acts in,
// and what it acts through: the database, or a server's admin API.
type clientsCmd struct {
	a        *app
	tenant   string
	endpoint string
	json     bool
	ops      clientOps
}

func (a *app) clientsCmd() *cobra.Command {
	cc := &clientsCmd{a: a}
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Manage OAuth clients",
		Long: `Manage the OAuth clients of a tenant (the default tenant unless --tenant
names another). Changes reach running servers within a second.

With --endpoint the commands use a running server's admin API instead of
the database, as the principal "latchkey login" signed in, or the one
LATCHKEY_TOKEN, or LATCHKEY_CLIENT_ID with LATCHKEY_CLIENT_SECRET,
authenticate; the output is the same.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	pf := cmd.PersistentFlags()
	tenantFlag(pf, &cc.tenant, "tenant to act in")
	endpointFlag(pf, &cc.endpoint, endpointHelp)
	pf.BoolVar(&cc.json, "json", false, "print JSON for scripts")
	cmd.AddCommand(cc.createCmd(), cc.listCmd(), cc.showCmd(), cc.updateCmd(),
		cc.statusCmd("activate", "Let an inactive client obtain tokens again", client.StatusActive),
		cc.statusCmd("deactivate", "Stop a client obtaining tokens until it is activated", client.StatusInactive),
		cc.statusCmd("revoke", "End a client for good (it stays listed)", client.StatusRevoked),
		cc.rotateCmd(), cc.finishRotationCmd(), cc.staleCmd(), cc.deleteCmd(), cc.tokenCmd())
	return cmd
}

// open connects the commands to the tenant named: in the database, as
// the operator, or with --endpoint through the server's admin API. It
// returns a function that closes the connection.
func (cc *clientsCmd) open(ctx context.Context) (func(), error) {
	if cc.endpoint != "" {
		r, api, err := cc.a.connect(cc.endpoint, cc.tenant)
		if err != nil {
			return nil, err
		}
		cc.ops = remoteClients{api: api, r: r}
		return func() {}, nil
	}
	st, err := openExisting(ctx, &cc.a.cfg)
	if err != nil {
		return nil, err
	}
	tenant, err := resolveTenant(ctx, st, cc.tenant)
	if err != nil {
		st.Close()
		return nil, err
	}
	cc.ops = localClients{svc: &client.Service{Repo: st}, users: &account.Users{Repo: st}, actor: operator(tenant.ID, cc.a.env)}
	return func() { st.Close() }, nil
}

// withClient is the RunE of a command on one client: it opens the
// connection,
// runs fn on the client ID given, and words fn's error for that client.
func (cc *clientsCmd) withClient(fn func(ctx context.Context, cmd *cobra.Command, id string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		done, err := cc.open(cmd.Context())
		if err != nil {
			return err
		}
		defer done()
		return clientErr(cmd, args[0], fn(cmd.Context(), cmd, args[0]))
	}
}

// clientFields registers the flags create and update share. Update
// changes only the fields whose flags were given.
type clientFields struct {
	name, description, owner, format string
	division                         string
	grants, scopes, redirects, roles stringList
	authMethod, idTokenAlg           string
	postLogout                       stringList
	accessTTL, refreshTTL            time.Duration
	consent, pkce                    bool
}

// updateFlags are the flags of clientFields, the ones update can change.
var updateFlags = []string{"name", "description", "grant-type", "scope", "redirect-uri", "role", "owner", "division",
	"token-format", "access-token-ttl", "refresh-token-ttl", "require-consent", "require-pkce",
	"token-endpoint-auth-method", "id-token-alg", "post-logout-redirect-uri"}

func (cf *clientFields) register(cmd *cobra.Command, update bool) {
	fs := cmd.Flags()
	// On update a flag replaces the field: its help names no default.
	help := func(create, upd string) string {
		if update {
			return upd
		}
		return create
	}
	fs.StringVar(&cf.name, "name", "", help("display name (required)", "new display name"))
	fs.StringVar(&cf.description, "description", "", help("what the client is for", "new description"))
	fs.Var(&cf.grants, "grant-type", help("grant type, repeatable: "+grantHelp(),
		"grant types, replacing the current ones (repeatable): "+grantHelp()))
	fs.Var(&cf.scopes, "scope", help("scope the client may request (repeatable)", `scopes, replacing the current ones (repeatable; "" clears them)`))
	fs.Var(&cf.redirects, "redirect-uri", help("redirect URI, for authorization_code (repeatable; matched exactly)",
		`redirect URIs, replacing the current ones (repeatable; matched exactly; "" clears them)`))
	fs.Var(&cf.postLogout, "post-logout-redirect-uri", help("where RP-initiated logout may send the browser back to, for authorization_code (repeatable; matched exactly)",
		`post-logout redirect URIs, replacing the current ones (repeatable; matched exactly; "" clears them)`))
	fs.Var(&cf.roles, "role", help("role for client_credentials: super_admin, oauth_admin, viewer, resource_server or a custom role, ROLE@DIVISION for one division only (repeatable)",
		`roles, replacing the current ones (repeatable; "" clears them): super_admin, oauth_admin, viewer, resource_server or a custom role, ROLE@DIVISION for one division only`))
	fs.StringVar(&cf.division, "division", "", help("ID of the division the client belongs to (default home)", "ID of the division to move the client to"))
	fs.StringVar(&cf.authMethod, "token-endpoint-auth-method", "", help(
		"how the client authenticates at the token endpoint: client_secret_basic, client_secret_post or none (default client_secret_basic; none with --public)",
		"new token endpoint authentication method: client_secret_basic or client_secret_post (a public client's is none)"))
	fs.StringVar(&cf.idTokenAlg, "id-token-alg", "", help("signing algorithm of the client's ID tokens: RS256 or ES256 (default RS256)",
		"new signing algorithm of the client's ID tokens: RS256 or ES256"))
	fs.StringVar(&cf.owner, "owner", "", help("user ID the client acts for", "new owner user ID (empty: none)"))
	fs.StringVar(&cf.format, "token-format", "", help("access token format: jwt or opaque (default jwt)", "new access token format: jwt or opaque"))
	optionalDurationVar(fs, &cf.accessTTL, "access-token-ttl", help("access token lifetime, 300s to 48h (default 1h)", "new access token lifetime, 300s to 48h"))
	optionalDurationVar(fs, &cf.refreshTTL, "refresh-token-ttl", help("refresh token lifetime (default 30d)", "new refresh token lifetime"))
	fs.BoolVar(&cf.consent, "require-consent", false, help("ask the end user before issuing tokens", "ask the end user before issuing tokens (true or false)"))
	fs.BoolVar(&cf.pkce, "require-pkce", false, help("make a confidential client send PKCE at /authorize (public clients always must)",
		"make a confidential client send PKCE at /authorize (true or false)"))
	completeValues(cmd, "grant-type", "client_credentials", "authorization_code", "refresh_token")
	completeValues(cmd, "token-format", "jwt", "opaque")
	completeValues(cmd, "token-endpoint-auth-method", string(client.AuthSecretBasic), string(client.AuthSecretPost), string(client.AuthNone))
	completeValues(cmd, "id-token-alg", client.IDTokenRS256, client.IDTokenES256)
	completeValues(cmd, "role", "super_admin", "oauth_admin", "viewer", "resource_server")
}

// grantHelp lists the grant types a client may be registered with, and
// says which of them the token endpoint does not serve yet.
func grantHelp() string {
	served := oauth.ServedGrants()
	var on, off []string
	for _, g := range []client.GrantType{client.GrantClientCredentials, client.GrantAuthorizationCode, client.GrantRefreshToken} {
		if slices.Contains(served, g) {
			on = append(on, string(g))
		} else {
			off = append(off, string(g))
		}
	}
	s := strings.Join(on, ", ")
	if len(off) > 0 {
		s += " (registered, not yet served by the token endpoint: " + strings.Join(off, ", ") + ")"
	}
	return s
}

// warnUnserved tells the operator when a client holds a grant the token
// endpoint does not serve, so that the CLI and discovery agree.
func (cc *clientsCmd) warnUnserved(c *client.Client) {
	served := oauth.ServedGrants()
	for _, g := range c.GrantTypes {
		if !slices.Contains(served, g) {
			fmt.Fprintf(cc.a.stderr, "note: this server's token endpoint does not serve the %s grant yet; the client is registered with it, and tokens come only from the grants it serves (%s)\n",
				g, joinGrants(served))
		}
	}
}

func joinGrants(gs []client.GrantType) string {
	s := make([]string, len(gs))
	for i, g := range gs {
		s[i] = string(g)
	}
	return strings.Join(s, ", ")
}

func grantTypes(l stringList) []client.GrantType {
	out := make([]client.GrantType, 0, len(l))
	for _, g := range l {
		for _, p := range strings.Split(g, ",") {
			out = append(out, client.GrantType(strings.TrimSpace(p)))
		}
	}
	return out
}

// secretFlags are the flags that shape a new secret, on create and rotate.
type secretFlags struct{ expires, file string }

func (sf *secretFlags) register(f *pflag.FlagSet) {
	f.StringVar(&sf.expires, "secret-expires", "", `secret lifetime, like 90d, or "never" (default 180d)`)
	f.StringVar(&sf.file, "secret-file", "", `read an admin-chosen secret (at least 32 characters) from this file, or "-" for standard input; default: generate one`)
}

// resolve returns the secret's lifetime and the admin-chosen secret, if any.
func (sf *secretFlags) resolve(a *app) (time.Duration, string, error) {
	lifetime, err := parseSecretExpiry(sf.expires)
	if err != nil || sf.file == "" {
		return lifetime, "", err
	}
	supplied, err := a.readSecret(sf.file, "New client secret: ", client.MaxSuppliedSecretLen+2)
	return lifetime, supplied, err
}

func parseSecretExpiry(s string) (time.Duration, error) {
	switch s {
	case "":
		return 0, nil
	case "never":
		return client.NeverExpires, nil
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		return 0, usageError{msg: fmt.Sprintf("--secret-expires %q: use a lifetime like 90d, or \"never\"", s)}
	}
	return d, nil
}

func (cc *clientsCmd) createCmd() *cobra.Command {
	var cf clientFields
	var id string
	var public, inactive bool
	var sf secretFlags
	cmd := &cobra.Command{
		Use:   "create --name NAME --grant-type GRANT [flags]",
		Short: "Register a client; prints its generated secret once",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			lifetime, supplied, err := sf.resolve(cc.a)
			if err != nil {
				return err
			}
			done, err := cc.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			p := client.CreateParams{
				ClientID: id, Name: cf.name, Description: cf.description, GrantTypes: grantTypes(cf.grants),
				RedirectURIs: cf.redirects, Scopes: cf.scopes, Roles: cf.roles, OwnerUserID: cf.owner,
				AccessTokenTTL: cf.accessTTL, RefreshTokenTTL: cf.refreshTTL, TokenFormat: client.TokenFormat(cf.format),
				RequireConsent: cf.consent, RequirePKCE: cf.pkce, SecretLifetime: lifetime, Secret: supplied,
				TokenEndpointAuthMethod: client.AuthMethod(cf.authMethod), IDTokenAlg: cf.idTokenAlg,
				PostLogoutRedirectURIs: cf.postLogout, DivisionID: cf.division,
			}
			if public {
				p.Type = client.Public
			}
			if inactive {
				p.Status = client.StatusInactive
			}
			v, err := cc.ops.Create(ctx, p)
			if err != nil {
				return err
			}
			cc.warnUnserved(&client.Client{GrantTypes: grantTypes(v.GrantTypes)})
			return cc.print(withGenerated(v, supplied != ""))
		},
	}
	cf.register(cmd, false)
	fs := cmd.Flags()
	fs.StringVar(&id, "client-id", "", "client ID to use instead of a generated lkc_… one")
	fs.BoolVar(&public, "public", false, "a public client: no secret, PKCE required")
	fs.BoolVar(&inactive, "inactive", false, "create the client inactive")
	sf.register(fs)
	return cmd
}

// withGenerated keeps a new secret in the view for its one showing,
// unless the admin supplied it: a secret someone chose is never printed
// back.
func withGenerated(v admin.Client, supplied bool) admin.Client {
	if supplied {
		v.ClientSecret, v.ClientSecretShown = "", ""
	}
	return v
}

func (cc *clientsCmd) listCmd() *cobra.Command {
	var q client.ListQuery
	var status, sort, owner, lastGrant, authorizedBy string
	var all bool
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "List clients (--search, --status, --last-grant, --authorized-by, --sort, --limit)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Limit < 1 || q.Limit > client.MaxListLimit {
				return usageError{msg: fmt.Sprintf("--limit %d: use 1 to %d", q.Limit, client.MaxListLimit)}
			}
			done, err := cc.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			q.Status, q.OwnerUserID, q.LastGrant = client.Status(status), owner, client.GrantType(lastGrant)
			if q.AuthorizedBy, err = cc.userID(cmd.Context(), authorizedBy); err != nil {
				return err
			}
			if s, ok := strings.CutPrefix(sort, "-"); ok {
				q.Sort, q.Desc = client.SortField(s), true
			} else {
				q.Sort = client.SortField(sort)
			}
			return cc.list(cmd.Context(), q, all)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&q.Search, "search", "", "substring of the name or client ID")
	fs.StringVar(&status, "status", "", "active, inactive or revoked")
	fs.StringVar(&sort, "sort", "created_at", "name, client_id, created_at, last_used_at, last_authorized_at, last_token_at, secret_expires_at or status; prefix - for descending")
	fs.IntVar(&q.Limit, "limit", client.DefaultListLimit, fmt.Sprintf("clients per page (1 to %d)", client.MaxListLimit))
	fs.StringVar(&q.After, "after", "", "continue after this cursor (printed at the end of a page)")
	fs.StringVar(&owner, "owner", "", "only clients owned by this user ID")
	fs.StringVar(&lastGrant, "last-grant", "", "only clients whose latest token came from this grant: client_credentials, authorization_code or refresh_token")
	fs.StringVar(&authorizedBy, "authorized-by", "", "only clients this user (ID or email) was the latest to authorize")
	fs.BoolVar(&all, "all", false, "print every page")
	completeValues(cmd, "status", "active", "inactive", "revoked")
	completeValues(cmd, "sort", "name", "-name", "client_id", "-client_id", "created_at", "-created_at",
		"last_used_at", "-last_used_at", "last_authorized_at", "-last_authorized_at", "last_token_at", "-last_token_at",
		"secret_expires_at", "-secret_expires_at", "status", "-status")
	completeValues(cmd, "last-grant", string(client.GrantClientCredentials), string(client.GrantAuthorizationCode), string(client.GrantRefreshToken))
	return cmd
}

// userID resolves a user named by ID or email to their ID; an email no
// user of the tenant has is an error, where an ID is passed on as given.
func (cc *clientsCmd) userID(ctx context.Context, ref string) (string, error) {
	if !strings.Contains(ref, "@") {
		return ref, nil
	}
	id, err := cc.ops.UserID(ctx, ref)
	if err != nil {
		return "", userErr(ref, err)
	}
	return id, nil
}

func (cc *clientsCmd) list(ctx context.Context, q client.ListQuery, all bool) error {
	var rows []admin.Client
	var page admin.ClientList
	var err error
	for {
		if page, err = cc.ops.List(ctx, q); err != nil {
			return err
		}
		rows = append(rows, page.Clients...)
		if !all || page.NextPageToken == "" {
			break
		}
		q.After = page.NextPageToken
	}
	out := cc.a.stdout
	if cc.json {
		next := page.NextPageToken
		if all {
			next = ""
		}
		return cc.print(struct {
			Clients        []admin.Client `json:"clients"`
			Total          int            `json:"total"`
			TotalEstimated bool           `json:"total_estimated,omitempty"`
			Next           string         `json:"next,omitempty"`
		}{nonNilRows(rows), page.Total, page.TotalEstimated, next})
	}
	now := time.Now()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCLIENT ID\tSTATUS\tCREATED\tLAST USED\tLAST AUTHORIZED\tLAST GRANT\tEXPIRES")
	for _, c := range rows {
		authorized, grant := "Never", "(none)"
		if a := c.LastAuthorization; a != nil {
			authorized = a.At.Format(time.DateOnly)
		}
		if l := c.LastToken; l != nil {
			grant = l.Grant
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(c.Name, 40), c.ClientID, c.Status,
			c.CreatedAt.Format(time.DateOnly), lastUsed(c.LastUsedAt), authorized, grant, expiresIn(c, now))
	}
	tw.Flush()
	total := strconv.Itoa(page.Total)
	if page.TotalEstimated {
		total = "about " + total
	}
	fmt.Fprintf(out, "%d of %s client(s)", len(rows), total)
	if page.NextPageToken != "" && !all {
		fmt.Fprintf(out, "; next page: --after %s", page.NextPageToken)
	}
	fmt.Fprintln(out)
	return nil
}

func nonNilRows(r []admin.Client) []admin.Client {
	if r == nil {
		return []admin.Client{}
	}
	return r
}

func (cc *clientsCmd) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show a client and its secrets' metadata",
		Args:  oneArg("client ID"),
		RunE: cc.withClient(func(ctx context.Context, _ *cobra.Command, id string) error {
			v, err := cc.ops.Get(ctx, id)
			if err != nil {
				return err
			}
			return cc.print(v)
		}),
	}
}

func (cc *clientsCmd) updateCmd() *cobra.Command {
	var cf clientFields
	var confirm bool
	cmd := &cobra.Command{
		Use:   "update CLIENT_ID [flags]",
		Short: "Change a client's fields (only those whose flags are given)",
		Args:  oneArg("client ID"),
	}
	cmd.RunE = cc.withClient(func(ctx context.Context, cmd *cobra.Command, id string) error {
		p, err := cf.changes(cmd.Flags())
		if err != nil {
			return err
		}
		p.Confirm = confirm
		v, err := cc.ops.Update(ctx, id, p)
		if err != nil {
			return err
		}
		cc.warnUnserved(&client.Client{GrantTypes: grantTypes(v.GrantTypes)})
		return cc.print(v)
	})
	cf.register(cmd, true)
	cmd.Flags().BoolVar(&confirm, "confirm", false, "confirm changing a protected client")
	return cmd
}

// changes turns the field flags given into an update; none given is a
// usage error, since an update that changes nothing is a mistake.
func (cf *clientFields) changes(fs *pflag.FlagSet) (client.UpdateParams, error) {
	var p client.UpdateParams
	given := func(name string) bool { return fs.Changed(name) }
	if !slices.ContainsFunc(updateFlags, given) {
		return p, usageError{msg: "nothing to change: give at least one of --" + strings.Join(updateFlags, ", --")}
	}
	if given("name") {
		p.Name = &cf.name
	}
	if given("description") {
		p.Description = &cf.description
	}
	// A list flag given only "" clears the list; "" beside other values
	// is a slip, not a request.
	for _, f := range []struct {
		name string
		l    *stringList
	}{{"grant-type", &cf.grants}, {"scope", &cf.scopes}, {"redirect-uri", &cf.redirects}, {"role", &cf.roles},
		{"post-logout-redirect-uri", &cf.postLogout}} {
		switch {
		case !given(f.name) || !slices.Contains(*f.l, ""):
		case len(*f.l) == 1:
			*f.l = stringList{}
		default:
			return p, usageError{msg: fmt.Sprintf(`--%s "": an empty value clears the list; give it alone`, f.name)}
		}
	}
	if given("grant-type") {
		g := grantTypes(cf.grants)
		p.GrantTypes = &g
	}
	if given("scope") {
		p.Scopes = (*[]string)(&cf.scopes)
	}
	if given("redirect-uri") {
		p.RedirectURIs = (*[]string)(&cf.redirects)
	}
	if given("post-logout-redirect-uri") {
		p.PostLogoutRedirectURIs = (*[]string)(&cf.postLogout)
	}
	if given("role") {
		p.Roles = (*[]string)(&cf.roles)
	}
	if given("token-endpoint-auth-method") {
		m := client.AuthMethod(cf.authMethod)
		p.TokenEndpointAuthMethod = &m
	}
	if given("id-token-alg") {
		p.IDTokenAlg = &cf.idTokenAlg
	}
	if given("owner") {
		p.OwnerUserID = &cf.owner
	}
	if given("division") {
		p.DivisionID = &cf.division
	}
	if given("token-format") {
		tf := client.TokenFormat(cf.format)
		p.TokenFormat = &tf
	}
	if given("access-token-ttl") {
		p.AccessTokenTTL = &cf.accessTTL
	}
	if given("refresh-token-ttl") {
		p.RefreshTokenTTL = &cf.refreshTTL
	}
	if given("require-consent") {
		p.RequireConsent = &cf.consent
	}
	if given("require-pkce") {
		p.RequirePKCE = &cf.pkce
	}
	return p, nil
}

func (cc *clientsCmd) statusCmd(name, short string, to client.Status) *cobra.Command {
	var confirm bool
	cmd := &cobra.Command{
		Use:   name + " CLIENT_ID",
		Short: short,
		Args:  oneArg("client ID"),
		RunE: cc.withClient(func(ctx context.Context, _ *cobra.Command, id string) error {
			v, err := cc.ops.SetStatus(ctx, id, to, confirm)
			if err != nil {
				return err
			}
			return cc.print(v)
		}),
	}
	// A protected client can be deactivated and activated when confirmed;
	// it is never revoked, so revoke has nothing to confirm.
	if to != client.StatusRevoked {
		cmd.Flags().BoolVar(&confirm, "confirm", false, "confirm changing a protected client")
	}
	return cmd
}

func (cc *clientsCmd) rotateCmd() *cobra.Command {
	var grace time.Duration
	var confirm bool
	var sf secretFlags
	cmd := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID [flags]",
		Short: "Issue a new secret (--grace keeps the old one working)",
		Args:  oneArg("client ID"),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		lifetime, supplied, err := sf.resolve(cc.a)
		if err != nil {
			return err
		}
		return cc.withClient(func(ctx context.Context, _ *cobra.Command, id string) error {
			v, err := cc.ops.RotateSecret(ctx, id, client.RotateParams{Grace: grace, Lifetime: lifetime, Confirm: confirm, Secret: supplied})
			if err != nil {
				return err
			}
			return cc.print(withGenerated(v, supplied != ""))
		})(cmd, args)
	}
	fs := cmd.Flags()
	optionalDurationVar(fs, &grace, "grace", "keep the old secret working this long (e.g. 24h); default: stop it at once")
	fs.BoolVar(&confirm, "confirm", false, "confirm rotating a protected client's secret")
	sf.register(fs)
	return cmd
}

func (cc *clientsCmd) deleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Remove a client",
		Args:  oneArg("client ID"),
		RunE: cc.withClient(func(ctx context.Context, _ *cobra.Command, id string) error {
			if err := cc.ops.Delete(ctx, id); err != nil {
				return err
			}
			if cc.json {
				return cc.print(map[string]any{"client_id": id, "deleted": true})
			}
			fmt.Fprintf(cc.a.stdout, "Deleted client %s.\n", id)
			return nil
		}),
	}
}

// clientErr words domain errors about one client for a person at a
// terminal, by the code admin.Classify gives them. A protected client's
// refusal names --confirm only on a command that has it.
func clientErr(cmd *cobra.Command, id string, err error) error {
	if err == nil {
		return nil
	}
	switch p, _ := admin.Classify(err); p.Code {
	case "not_found":
		return fmt.Errorf("no client %q in this tenant", id)
	case "protected":
		if cmd.Flags().Lookup("confirm") != nil {
			return fmt.Errorf("%w (pass --confirm to go ahead)", err)
		}
	}
	return err
}

// print writes v as JSON with --json, else as a readable summary.
func (cc *clientsCmd) print(v any) error {
	if cc.json {
		return printJSON(cc.a.stdout, v)
	}
	c, ok := v.(admin.Client)
	if !ok {
		return fmt.Errorf("nothing to print")
	}
	now := time.Now()
	tw := tabwriter.NewWriter(cc.a.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Client ID", c.ClientID)
	row("Name", oneLine(c.Name, 200))
	if c.Description != "" {
		row("Description", oneLine(c.Description, 200))
	}
	row("Type", c.Type)
	row("Status", c.Status)
	row("Grant types", strings.Join(c.GrantTypes, " "))
	row("Scopes", orNone(strings.Join(c.Scopes, " ")))
	if len(c.RedirectURIs) > 0 {
		row("Redirect URIs", strings.Join(c.RedirectURIs, " "))
	}
	if len(c.PostLogoutRedirectURIs) > 0 {
		row("Post-logout URIs", strings.Join(c.PostLogoutRedirectURIs, " "))
	}
	row("Token endpoint auth", c.TokenEndpointAuthMethod)
	row("ID token algorithm", c.IDTokenAlg)
	if len(c.Roles) > 0 {
		row("Roles", strings.Join(c.Roles, " "))
	}
	if c.OwnerUserID != "" {
		row("Owner", c.OwnerUserID)
	}
	row("Division", c.DivisionID)
	row("Access token TTL", fmt.Sprintf("%ds (%s)", c.AccessTokenTTL, c.TokenFormat))
	if c.Protected {
		row("Protected", "yes")
	}
	row("Created", c.CreatedAt.Format(time.RFC3339)+" by "+c.CreatedBy)
	row("Last used", lastUsed(c.LastUsedAt))
	if a := c.LastAuthorization; a != nil {
		row("Last authorized", fmt.Sprintf("%s by %s, redirected to %s", a.At.Format(time.RFC3339), a.UserID, a.RedirectURI))
	} else {
		row("Last authorized", "Never")
	}
	if l := c.LastToken; l != nil {
		row("Last token", fmt.Sprintf("%s by %s", l.At.Format(time.RFC3339), l.Grant))
	} else {
		row("Last token", "Never")
	}
	if c.Status == string(client.StatusRevoked) {
		row("Secret expires", "none: the client is revoked")
	} else {
		row("Secret expires", expiresIn(c, now))
	}
	for _, s := range c.Secrets {
		row("Secret "+s.ID, fmt.Sprintf("…%s %s, %s", s.Hint, secretExpiry(s), secretLastUse(s)))
	}
	if c.ClientSecret != "" {
		row("Client secret", c.ClientSecret)
	}
	tw.Flush()
	if c.ClientSecret != "" {
		fmt.Fprintln(cc.a.stdout, admin.SecretNotice)
	}
	return nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func lastUsed(t *time.Time) string {
	if t == nil {
		return "Never used"
	}
	return t.Format(time.DateOnly)
}

// secretLastUse says when, and from where, a secret was last used: to the
// minute, as a retiring secret's last use tells whether its caller has
// moved to the new one.
func secretLastUse(s admin.Secret) string {
	if s.LastUsedAt == nil {
		return "never used"
	}
	at := "last used " + s.LastUsedAt.UTC().Format("2006-01-02 15:04 MST")
	if s.LastUsedAddr != nil {
		at += " from " + *s.LastUsedAddr
	}
	return at
}

// secretExpiry says when one secret stops working: to the minute for a
// secret in its grace period, whose end is hours away, else by date.
func secretExpiry(s admin.Secret) string {
	if s.LeakedAt != nil {
		return "LEAKED " + s.LeakedAt.Format(time.DateOnly) + ": " + secretState(s)
	}
	return secretState(s)
}

func secretState(s admin.Secret) string {
	switch {
	case s.Status == string(client.SecretRevoked):
		if s.RevokedAt != nil {
			return "revoked " + s.RevokedAt.Format(time.DateOnly)
		}
		return "revoked"
	case s.ExpiresAt == nil:
		return s.Status + ", never expires"
	case s.Status == string(client.SecretRetiring):
		return "retiring, works until " + s.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")
	}
	return s.Status + ", expires " + s.ExpiresAt.Format(time.DateOnly)
}

// expiresIn says when the client's secret expires, as the list shows it.
func expiresIn(c admin.Client, now time.Time) string {
	t := c.SecretExpiresAt
	switch {
	case c.Type == string(client.Public):
		return "no secret"
	case c.Status == string(client.StatusRevoked):
		return "revoked"
	case t == nil:
		return "Never"
	case !t.After(now):
		return "Expired " + t.Format(time.DateOnly)
	}
	days := client.DaysLeft(*t, now)
	if days == 1 {
		return "Expires in 1 day"
	}
	return fmt.Sprintf("Expires in %d days", days)
}
