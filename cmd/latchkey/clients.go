package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/client"
)

// clientsCmd is one run of "latchkey clients ...": the shared flags, the
// opened store and the service acting as the system in one tenant.
type clientsCmd struct {
	cfg    config
	tenant string
	json   bool
	in     io.Reader // for --secret-file -
	out    io.Writer
	svc    *client.Service
	actor  client.Actor
}

const clientsUsage = `usage: latchkey clients <command> [flags]

  create          register a client; prints its secret once
  list            list clients (--search, --status, --sort, --limit)
  show ID         show a client and its secrets' metadata
  update ID       change a client's fields
  activate ID     let an inactive client obtain tokens again
  deactivate ID   stop a client obtaining tokens until reactivated
  rotate-secret ID  issue a new secret (--grace keeps the old one working)
  revoke ID       end a client for good (it stays listed)
  delete ID       remove a client
`

func clients(ctx context.Context, args []string, e env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, clientsUsage)
		if len(args) == 0 {
			return usageError{"a command is required"}
		}
		return nil
	}
	cmd, args := args[0], args[1:]
	cc := &clientsCmd{in: os.Stdin, out: stdout}
	f := newFlags("clients "+cmd, e, stdout)
	f.common(&cc.cfg)
	f.str(&cc.tenant, "tenant", "LATCHKEY_TENANT", "", "tenant to act in, by ID or slug (default: the default tenant)")
	f.BoolVar(&cc.json, "json", false, "print JSON for scripts")

	switch cmd {
	case "create":
		return cc.create(ctx, f, args)
	case "list":
		return cc.list(ctx, f, args)
	case "show":
		return cc.show(ctx, f, args)
	case "update":
		return cc.update(ctx, f, args)
	case "activate", "deactivate", "revoke":
		return cc.setStatus(ctx, f, args, cmd)
	case "rotate-secret":
		return cc.rotate(ctx, f, args)
	case "delete":
		return cc.delete(ctx, f, args)
	}
	fmt.Fprint(stdout, clientsUsage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// open parses the command line, opens the store and sets up the service.
// It returns the positional arguments and a function that closes the store.
func (cc *clientsCmd) open(ctx context.Context, f *flags, args []string, npos int) ([]string, func(), error) {
	pos, err := f.parseArgs(args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != npos {
		if npos == 1 {
			return nil, nil, usageError{"expects one client ID"}
		}
		return nil, nil, usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	if err := cc.cfg.check(); err != nil {
		return nil, nil, err
	}
	st, err := openExisting(ctx, &cc.cfg)
	if err != nil {
		return nil, nil, err
	}
	tenant, err := resolveTenant(ctx, st, cc.tenant)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	cc.svc = &client.Service{Repo: st}
	cc.actor = operator(tenant.ID, f.env)
	return pos, func() { st.Close() }, nil
}

// clientFields registers the flags create and update share. Set reports
// which were given, so update changes only those.
type clientFields struct {
	name, description, owner, format string
	grants, scopes, redirects, roles stringList
	accessTTL, refreshTTL            time.Duration
	consent                          bool
}

func (cf *clientFields) register(f *flags) {
	f.StringVar(&cf.name, "name", "", "display name (required on create)")
	f.StringVar(&cf.description, "description", "", "what the client is for")
	f.Var(&cf.grants, "grant-type", "grant type: client_credentials, authorization_code, refresh_token (repeatable)")
	f.Var(&cf.scopes, "scope", "scope the client may request (repeatable)")
	f.Var(&cf.redirects, "redirect-uri", "redirect URI (repeatable)")
	f.Var(&cf.roles, "role", "role for client_credentials: super_admin, oauth_admin, viewer, resource_server (repeatable)")
	f.StringVar(&cf.owner, "owner", "", "user ID the client acts for")
	f.StringVar(&cf.format, "token-format", "", "access token format: jwt or opaque")
	f.Func("access-token-ttl", "access token lifetime, 300s to 48h (default 1h)", func(s string) error {
		d, err := parseDuration(s)
		cf.accessTTL = d
		return err
	})
	f.Func("refresh-token-ttl", "refresh token lifetime (default 30d)", func(s string) error {
		d, err := parseDuration(s)
		cf.refreshTTL = d
		return err
	})
	f.BoolVar(&cf.consent, "require-consent", false, "ask the end user before issuing tokens")
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

func (sf *secretFlags) register(f *flags) {
	f.StringVar(&sf.expires, "secret-expires", "", `secret lifetime, like 90d, or "never" (default 180d)`)
	f.StringVar(&sf.file, "secret-file", "", `read an admin-chosen secret (at least 32 characters) from this file, or "-" for standard input; default: generate one`)
}

// resolve returns the secret's lifetime and the admin-chosen secret, if any.
func (sf *secretFlags) resolve(stdin io.Reader) (time.Duration, string, error) {
	lifetime, err := parseSecretExpiry(sf.expires)
	if err != nil {
		return 0, "", err
	}
	supplied, err := readSecretFile(sf.file, stdin)
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
		return 0, usageError{fmt.Sprintf("--secret-expires %q: use a lifetime like 90d, or \"never\"", s)}
	}
	return d, nil
}

// readSecretFile reads an admin-chosen secret from a file ("-" for standard
// input), so it never appears in the process list or shell history.
func readSecretFile(path string, stdin io.Reader) (string, error) {
	if path == "" {
		return "", nil
	}
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("--secret-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, client.MaxSuppliedSecretLen+2))
	if err != nil {
		return "", fmt.Errorf("--secret-file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (cc *clientsCmd) create(ctx context.Context, f *flags, args []string) error {
	var cf clientFields
	cf.register(f)
	var id string
	var public, inactive bool
	var sf secretFlags
	f.StringVar(&id, "client-id", "", "client ID to use instead of a generated lkc_… one")
	f.BoolVar(&public, "public", false, "a public client: no secret, PKCE required")
	f.BoolVar(&inactive, "inactive", false, "create the client inactive")
	sf.register(f)
	_, done, err := cc.open(ctx, f, args, 0)
	if err != nil {
		return err
	}
	defer done()
	lifetime, supplied, err := sf.resolve(cc.in)
	if err != nil {
		return err
	}
	p := client.CreateParams{
		ClientID: id, Name: cf.name, Description: cf.description, GrantTypes: grantTypes(cf.grants),
		RedirectURIs: cf.redirects, Scopes: cf.scopes, Roles: cf.roles, OwnerUserID: cf.owner,
		AccessTokenTTL: cf.accessTTL, RefreshTokenTTL: cf.refreshTTL, TokenFormat: client.TokenFormat(cf.format),
		RequireConsent: cf.consent, SecretLifetime: lifetime, Secret: supplied,
	}
	if public {
		p.Type = client.Public
	}
	if inactive {
		p.Status = client.StatusInactive
	}
	c, sec, err := cc.svc.Create(ctx, cc.actor, p)
	if err != nil {
		return err
	}
	var secrets []client.Secret
	if sec != nil {
		secrets = []client.Secret{sec.Secret}
	}
	return cc.print(admin.NewClient(c, secrets).WithSecret(sec))
}

func (cc *clientsCmd) list(ctx context.Context, f *flags, args []string) error {
	var q client.ListQuery
	var status, sort, owner string
	var all bool
	f.StringVar(&q.Search, "search", "", "substring of the name or client ID")
	f.StringVar(&status, "status", "", "active, inactive or revoked")
	f.StringVar(&sort, "sort", "created_at", "name, client_id, created_at, last_used_at, secret_expires_at or status; prefix - for descending")
	f.IntVar(&q.Limit, "limit", client.DefaultListLimit, "clients per page (1–1000)")
	f.StringVar(&q.After, "after", "", "continue after this cursor (printed at the end of a page)")
	f.StringVar(&owner, "owner", "", "only clients owned by this user ID")
	f.BoolVar(&all, "all", false, "print every page")
	_, done, err := cc.open(ctx, f, args, 0)
	if err != nil {
		return err
	}
	defer done()
	q.Status, q.OwnerUserID = client.Status(status), owner
	if s, ok := strings.CutPrefix(sort, "-"); ok {
		q.Sort, q.Desc = client.SortField(s), true
	} else {
		q.Sort = client.SortField(sort)
	}
	var rows []admin.Client
	var page *client.ListPage
	for {
		if page, err = cc.svc.List(ctx, cc.actor, q); err != nil {
			return err
		}
		for _, c := range page.Clients {
			rows = append(rows, admin.NewClient(c, nil))
		}
		if !all || page.Next == "" {
			break
		}
		q.After = page.Next
	}
	if cc.json {
		next := page.Next
		if all {
			next = ""
		}
		return cc.print(struct {
			Clients     []admin.Client `json:"clients"`
			Total       int            `json:"total"`
			TotalCapped bool           `json:"total_capped,omitempty"`
			Next        string         `json:"next,omitempty"`
		}{nonNilRows(rows), page.Total, page.TotalCapped, next})
	}
	now := time.Now()
	tw := tabwriter.NewWriter(cc.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCLIENT ID\tSTATUS\tCREATED\tLAST USED\tEXPIRES")
	for _, c := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(c.Name, 40), c.ClientID, c.Status,
			c.CreatedAt.Format(time.DateOnly), lastUsed(c.LastUsedAt), expiresIn(c.SecretExpiresAt, c.Type, now))
	}
	tw.Flush()
	total := strconv.Itoa(page.Total)
	if page.TotalCapped {
		total += "+"
	}
	fmt.Fprintf(cc.out, "%d of %s client(s)", len(rows), total)
	if page.Next != "" && !all {
		fmt.Fprintf(cc.out, "; next page: --after %s", page.Next)
	}
	fmt.Fprintln(cc.out)
	return nil
}

func nonNilRows(r []admin.Client) []admin.Client {
	if r == nil {
		return []admin.Client{}
	}
	return r
}

func (cc *clientsCmd) show(ctx context.Context, f *flags, args []string) error {
	pos, done, err := cc.open(ctx, f, args, 1)
	if err != nil {
		return err
	}
	defer done()
	c, secrets, err := cc.svc.Get(ctx, cc.actor, pos[0])
	if err != nil {
		return clientErr(pos[0], err)
	}
	return cc.print(admin.NewClient(c, secrets))
}

func (cc *clientsCmd) update(ctx context.Context, f *flags, args []string) error {
	var cf clientFields
	cf.register(f)
	var confirm bool
	f.BoolVar(&confirm, "confirm", false, "confirm changing a protected client")
	pos, done, err := cc.open(ctx, f, args, 1)
	if err != nil {
		return err
	}
	defer done()
	p := client.UpdateParams{Confirm: confirm}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if given["name"] {
		p.Name = &cf.name
	}
	if given["description"] {
		p.Description = &cf.description
	}
	if given["grant-type"] {
		g := grantTypes(cf.grants)
		p.GrantTypes = &g
	}
	if given["scope"] {
		p.Scopes = (*[]string)(&cf.scopes)
	}
	if given["redirect-uri"] {
		p.RedirectURIs = (*[]string)(&cf.redirects)
	}
	if given["role"] {
		p.Roles = (*[]string)(&cf.roles)
	}
	if given["owner"] {
		p.OwnerUserID = &cf.owner
	}
	if given["token-format"] {
		tf := client.TokenFormat(cf.format)
		p.TokenFormat = &tf
	}
	if given["access-token-ttl"] {
		p.AccessTokenTTL = &cf.accessTTL
	}
	if given["refresh-token-ttl"] {
		p.RefreshTokenTTL = &cf.refreshTTL
	}
	if given["require-consent"] {
		p.RequireConsent = &cf.consent
	}
	c, err := cc.svc.Update(ctx, cc.actor, pos[0], p)
	if err != nil {
		return clientErr(pos[0], err)
	}
	return cc.print(admin.NewClient(c, nil))
}

func (cc *clientsCmd) setStatus(ctx context.Context, f *flags, args []string, cmd string) error {
	var confirm bool
	if cmd != "revoke" {
		f.BoolVar(&confirm, "confirm", false, "confirm changing a protected client")
	}
	pos, done, err := cc.open(ctx, f, args, 1)
	if err != nil {
		return err
	}
	defer done()
	st := map[string]client.Status{"activate": client.StatusActive, "deactivate": client.StatusInactive, "revoke": client.StatusRevoked}[cmd]
	c, err := cc.svc.SetStatus(ctx, cc.actor, pos[0], st, confirm)
	if err != nil {
		return clientErr(pos[0], err)
	}
	return cc.print(admin.NewClient(c, nil))
}

func (cc *clientsCmd) rotate(ctx context.Context, f *flags, args []string) error {
	var grace time.Duration
	var confirm bool
	var sf secretFlags
	f.Func("grace", "keep the old secret working this long (e.g. 24h); default: stop it at once", func(s string) error {
		d, err := parseDuration(s)
		grace = d
		return err
	})
	f.BoolVar(&confirm, "confirm", false, "confirm rotating a protected client's secret")
	sf.register(f)
	pos, done, err := cc.open(ctx, f, args, 1)
	if err != nil {
		return err
	}
	defer done()
	lifetime, supplied, err := sf.resolve(cc.in)
	if err != nil {
		return err
	}
	sec, err := cc.svc.RotateSecret(ctx, cc.actor, pos[0], client.RotateParams{Grace: grace, Lifetime: lifetime, Confirm: confirm, Secret: supplied})
	if err != nil {
		return clientErr(pos[0], err)
	}
	c, secrets, err := cc.svc.Get(ctx, cc.actor, pos[0])
	if err != nil {
		return err
	}
	return cc.print(admin.NewClient(c, secrets).WithSecret(sec))
}

func (cc *clientsCmd) delete(ctx context.Context, f *flags, args []string) error {
	pos, done, err := cc.open(ctx, f, args, 1)
	if err != nil {
		return err
	}
	defer done()
	if err := cc.svc.Delete(ctx, cc.actor, pos[0]); err != nil {
		return clientErr(pos[0], err)
	}
	if cc.json {
		return cc.print(map[string]any{"client_id": pos[0], "deleted": true})
	}
	fmt.Fprintf(cc.out, "Deleted client %s.\n", pos[0])
	return nil
}

// clientErr words domain errors about one client for a person at a
// terminal, by the code admin.Classify gives them.
func clientErr(id string, err error) error {
	switch p, _ := admin.Classify(err); p.Code {
	case "not_found":
		return fmt.Errorf("no client %q in this tenant", id)
	case "protected":
		return fmt.Errorf("%w (pass --confirm where allowed)", err)
	}
	return err
}

// print writes v as JSON with --json, else as a readable summary.
func (cc *clientsCmd) print(v any) error {
	if cc.json {
		enc := json.NewEncoder(cc.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	c, ok := v.(admin.Client)
	if !ok {
		return fmt.Errorf("nothing to print")
	}
	now := time.Now()
	tw := tabwriter.NewWriter(cc.out, 0, 0, 2, ' ', 0)
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
	if len(c.Roles) > 0 {
		row("Roles", strings.Join(c.Roles, " "))
	}
	if c.OwnerUserID != "" {
		row("Owner", c.OwnerUserID)
	}
	row("Access token TTL", fmt.Sprintf("%ds (%s)", c.AccessTokenTTL, c.TokenFormat))
	if c.Protected {
		row("Protected", "yes")
	}
	row("Created", c.CreatedAt.Format(time.RFC3339)+" by "+c.CreatedBy)
	row("Last used", lastUsed(c.LastUsedAt))
	row("Secret expires", expiresIn(c.SecretExpiresAt, c.Type, now))
	for _, s := range c.Secrets {
		exp := "never expires"
		if s.ExpiresAt != nil {
			exp = "expires " + s.ExpiresAt.Format(time.DateOnly)
		}
		row("Secret "+s.ID, fmt.Sprintf("…%s %s, %s", s.Hint, s.Status, exp))
	}
	if c.ClientSecret != "" {
		row("Client secret", c.ClientSecret)
	}
	tw.Flush()
	if c.ClientSecret != "" {
		fmt.Fprintln(cc.out, admin.SecretNotice)
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

func expiresIn(t *time.Time, typ string, now time.Time) string {
	switch {
	case typ == string(client.Public):
		return "no secret"
	case t == nil:
		return "Never"
	case !t.After(now):
		return "Expired " + t.Format(time.DateOnly)
	}
	// Round up, so a fresh 180-day secret reads "Expires in 180 days".
	days := int((t.Sub(now) + 24*time.Hour - 1) / (24 * time.Hour))
	if days == 1 {
		return "Expires in 1 day"
	}
	return fmt.Sprintf("Expires in %d days", days)
}
