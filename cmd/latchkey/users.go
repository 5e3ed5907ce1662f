package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/authz"
)

// usersCmd is one run of "latchkey users ...": the tenant it acts in, and
// what it acts through: the database, or a server's admin API.
type usersCmd struct {
	a        *app
	tenant   string
	endpoint string
	json     bool
	ops      userOps
}

func (a *app) usersCmd() *cobra.Command {
	uc := &usersCmd{a: a}
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage the people who sign in",
		Long: `Manage the users of a tenant (the default tenant unless --tenant names
another): the people who sign in to the console and to applications.
A command on one user takes its ID or its email.

A password is read from a file or standard input (--password-file), never
from a flag value, and is never printed.

With --endpoint the commands use a running server's admin API instead of
the database, as the principal "latchkey login" signed in, or the one
LATCHKEY_TOKEN, or LATCHKEY_CLIENT_ID with LATCHKEY_CLIENT_SECRET,
authenticate; the output is the same. The API sets no password:
set-password runs on the database only.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	pf := cmd.PersistentFlags()
	tenantFlag(pf, &uc.tenant, "tenant to act in")
	endpointFlag(pf, &uc.endpoint, endpointHelp)
	pf.BoolVar(&uc.json, "json", false, "print JSON for scripts")
	cmd.AddCommand(uc.createCmd(), uc.updateCmd(), uc.listCmd(), uc.showCmd(), uc.setPasswordCmd(),
		uc.statusCmd("disable", "Stop a user signing in: ends their sessions and revokes their applications' tokens", account.UserDisabled),
		uc.statusCmd("enable", "Let a disabled user sign in again", account.UserActive))
	return cmd
}

// open connects the commands to the tenant named: in the database, as
// the operator, or with --endpoint through the server's admin API. It
// returns a function that closes the connection.
func (uc *usersCmd) open(ctx context.Context) (func(), error) {
	if uc.endpoint != "" {
		r, api, err := uc.a.connect(uc.endpoint, uc.tenant)
		if err != nil {
			return nil, err
		}
		uc.ops = remoteUsers{api: api, r: r}
		return func() {}, nil
	}
	st, err := openExisting(ctx, &uc.a.cfg)
	if err != nil {
		return nil, err
	}
	tenant, err := resolveTenant(ctx, st, uc.tenant)
	if err != nil {
		st.Close()
		return nil, err
	}
	uc.ops = localUsers{svc: &account.Users{Repo: st}, actor: operator(tenant.ID, uc.a.env)}
	return func() { st.Close() }, nil
}

// withUser is the RunE of a command on one user: it opens the
// connection, finds the user the argument names (by ID, or by email), runs fn on it,
// and words a missing user for the person at the terminal.
func (uc *usersCmd) withUser(fn func(ctx context.Context, u userJSON) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		done, err := uc.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		u, err := uc.ops.Find(ctx, args[0])
		if err == nil {
			err = fn(ctx, u)
		}
		return userErr(args[0], err)
	}
}

// userErr words a missing user by the reference the operator gave.
func userErr(ref string, err error) error {
	if p, _ := admin.Classify(err); err != nil && p.Code == "not_found" {
		return fmt.Errorf("no user %q in this tenant (\"latchkey users list\" shows them)", ref)
	}
	return err
}

// passwordFileHelp is the help of --password-file.
const passwordFileHelp = `read the password from this file, or "-" for standard input (asked for twice, without echo, on a terminal)`

// readPassword reads a new password from path ("-" for standard input).
// At a terminal it is asked for twice, so a slip of the fingers does not
// become the password.
func (uc *usersCmd) readPassword(path string) (string, error) {
	const limit = account.MaxPasswordLen + 2 // and a line break
	pw, err := uc.a.readFlagged("--password-file", "password", path, "New password: ", limit)
	if err != nil || path != "-" || !isTerminal(uc.a.stdin) {
		return pw, err
	}
	again, err := uc.a.readFlagged("--password-file", "password", path, "The same password again: ", limit)
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", usageError{msg: "the two passwords typed differ: nothing was changed"}
	}
	return pw, nil
}

func (uc *usersCmd) createCmd() *cobra.Command {
	var p account.NewUser
	var roles stringList
	var passwordFile string
	cmd := &cobra.Command{
		Use:   "create --email EMAIL [flags]",
		Short: "Add a user (with a password from --password-file, or none yet)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if passwordFile != "" {
				pw, err := uc.readPassword(passwordFile)
				if err != nil {
					return err
				}
				p.Password = pw
			}
			done, err := uc.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			p.Roles = roles
			u, err := uc.ops.Create(ctx, p)
			if err != nil {
				return err
			}
			if !u.PasswordSet {
				fmt.Fprintf(uc.a.stderr, "note: %s has no password, so cannot sign in until one is set with: %s\n",
					u.Email, uc.hint("set-password", u.Email))
			}
			return uc.print(u)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&p.Email, "email", "", "email address, unique in the tenant (required)")
	fs.StringVar(&p.Name, "name", "", "display name")
	fs.StringVar(&p.Locale, "locale", "", "language of the user's pages and mail: "+orList(account.Locales)+" (default en)")
	fs.Var(&roles, "role", "role in the console and admin API (repeatable): "+roleNames()+"; default: none")
	fs.StringVar(&p.DivisionID, "division", "", "ID of the division the user belongs to (default home)")
	fs.StringVar(&passwordFile, "password-file", "", passwordFileHelp+`; default: no password until "users set-password"`)
	completeValues(cmd, "locale", account.Locales...)
	completeValues(cmd, "role", authz.RoleNames()...)
	return cmd
}

// roleNames says in the help of --role what a role may be.
func roleNames() string {
	return strings.Join(authz.RoleNames(), ", ") + " or a custom role; ROLE@DIVISION holds it in that division only"
}

func (uc *usersCmd) updateCmd() *cobra.Command {
	var roles stringList
	var division string
	cmd := &cobra.Command{
		Use:   "update USER [--division ID] [--role ROLE]...",
		Short: "Move a user to another division, or replace their roles",
		Args:  oneArg("user ID or email"),
	}
	cmd.RunE = uc.withUser(func(ctx context.Context, u userJSON) error {
		var c account.UserChanges
		fs := cmd.Flags()
		if !fs.Changed("division") && !fs.Changed("role") {
			return usageError{msg: "nothing to change: give --division or --role"}
		}
		if fs.Changed("division") {
			c.DivisionID = &division
		}
		if fs.Changed("role") {
			if slices.Contains(roles, "") {
				if len(roles) > 1 {
					return usageError{msg: `--role "": an empty value takes every role away; give it alone`}
				}
				roles = stringList{}
			}
			c.Roles = (*[]string)(&roles)
		}
		u, err := uc.ops.Update(ctx, u.ID, c)
		if err != nil {
			return err
		}
		return uc.print(u)
	})
	fs := cmd.Flags()
	fs.StringVar(&division, "division", "", "ID of the division to move the user to")
	fs.Var(&roles, "role", `roles, replacing the current ones (repeatable; "" takes them all away): `+roleNames())
	completeValues(cmd, "role", authz.RoleNames()...)
	return cmd
}

// hint is a command line the operator may run next on the tenant this
// command acted in.
func (uc *usersCmd) hint(sub, ref string) string {
	s := "latchkey users " + sub + " " + ref
	if uc.tenant != "" {
		s += " --tenant " + uc.tenant
	}
	return s
}

func (uc *usersCmd) listCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tenant's users, by email",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			done, err := uc.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			rows, err := uc.ops.List(ctx)
			if err != nil {
				return err
			}
			if uc.json {
				return printJSON(uc.a.stdout, struct {
					Users []userJSON `json:"users"`
					Total int        `json:"total"`
				}{rows, len(rows)})
			}
			tw := tabwriter.NewWriter(uc.a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tSTATUS\tROLES\tCREATED")
			for _, u := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, orNone(oneLine(u.Name, 40)), u.Status,
					orNone(strings.Join(u.Roles, ",")), u.CreatedAt.Format(time.DateOnly))
			}
			tw.Flush()
			fmt.Fprintf(uc.a.stdout, "%d user(s)\n", len(rows))
			return nil
		},
	}
}

func (uc *usersCmd) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show USER",
		Short: "Show a user, by ID or email",
		Args:  oneArg("user ID or email"),
		RunE:  uc.withUser(func(_ context.Context, u userJSON) error { return uc.print(u) }),
	}
}

func (uc *usersCmd) setPasswordCmd() *cobra.Command {
	var passwordFile string
	cmd := &cobra.Command{
		Use:   "set-password USER [--password-file PATH]",
		Short: "Set a user's password, and end their sessions",
		Long: `Set the password of a user, named by ID or email, and end their sessions,
so a stolen session does not outlive the change. The password is read
from --password-file, or from standard input: asked for twice, without
echo, on a terminal. It is never taken from a flag value.`,
		Args: oneArg("user ID or email"),
	}
	setPassword := uc.withUser(func(ctx context.Context, u userJSON) error {
		pw, err := uc.readPassword(passwordFile)
		if err != nil {
			return err
		}
		if err := uc.ops.SetPassword(ctx, u.ID, pw); err != nil {
			return err
		}
		if u, err = uc.ops.Find(ctx, u.ID); err != nil {
			return err
		}
		if uc.json {
			return uc.print(u)
		}
		fmt.Fprintf(uc.a.stdout, "Set the password of %s (%s); their sessions ended, so they sign in again.\n", u.Email, u.ID)
		// A password the operator set is not one the user chose
		// (account.Users.SetPassword).
		fmt.Fprintln(uc.a.stdout, "The console asks them to choose their own password when they next sign in to it.")
		if u.Status != string(account.UserActive) {
			fmt.Fprintf(uc.a.stdout, "The user is disabled: they sign in once enabled with: %s\n", uc.hint("enable", u.Email))
		}
		return nil
	})
	// Checked before a password is asked for.
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if uc.endpoint != "" {
			return notRemote("users set-password", errNoPasswordAPI)
		}
		return setPassword(cmd, args)
	}
	cmd.Flags().StringVar(&passwordFile, "password-file", "-", passwordFileHelp)
	return cmd
}

func (uc *usersCmd) statusCmd(name, short string, to account.UserStatus) *cobra.Command {
	return &cobra.Command{
		Use:   name + " USER",
		Short: short,
		Args:  oneArg("user ID or email"),
		RunE: uc.withUser(func(ctx context.Context, u userJSON) error {
			was := account.UserStatus(u.Status)
			u, err := uc.ops.SetStatus(ctx, u.ID, to)
			if err != nil {
				return err
			}
			if uc.json {
				return uc.print(u)
			}
			w := uc.a.stdout
			switch {
			case was == to:
				fmt.Fprintf(w, "%s (%s) is already %s: nothing changed.\n", u.Email, u.ID, to)
			case to == account.UserDisabled:
				fmt.Fprintf(w, "Disabled %s (%s): their sessions ended and their applications' tokens were revoked.\n", u.Email, u.ID)
			default:
				fmt.Fprintf(w, "Enabled %s (%s): they can sign in again.\n", u.Email, u.ID)
				if !u.PasswordSet {
					fmt.Fprintf(w, "They have no password yet; set one with: %s\n", uc.hint("set-password", u.Email))
				}
			}
			return nil
		}),
	}
}

// userJSON is a user as "users ... --json" prints it. The password hash
// is never part of it; password_set says whether there is one. The
// division is left out of a user the admin API gave: its view of a user
// does not say.
type userJSON struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenant_id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	Roles       []string  `json:"roles"`
	DivisionID  string    `json:"division_id,omitempty"`
	Locale      string    `json:"locale"`
	PasswordSet bool      `json:"password_set"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func newUserJSON(u *account.User) userJSON {
	return userJSON{ID: u.ID, TenantID: u.TenantID, Email: u.Email, Name: u.Name, Status: string(userStatus(u)),
		Roles: nonNil(u.Roles), DivisionID: u.Division(), Locale: u.Locale, PasswordSet: u.PasswordHash != "",
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// userStatus is the user's status, an empty one read as active.
func userStatus(u *account.User) account.UserStatus {
	if u.Active() {
		return account.UserActive
	}
	return account.UserDisabled
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// print writes v as JSON with --json, else as a readable summary.
func (uc *usersCmd) print(v userJSON) error {
	if uc.json {
		return printJSON(uc.a.stdout, v)
	}
	tw := tabwriter.NewWriter(uc.a.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("ID", v.ID)
	row("Email", v.Email)
	row("Name", orNone(oneLine(v.Name, 200)))
	row("Status", v.Status)
	row("Roles", orNone(strings.Join(v.Roles, " ")))
	if v.DivisionID != "" {
		row("Division", v.DivisionID)
	}
	row("Locale", v.Locale)
	if v.PasswordSet {
		row("Password", "set")
	} else {
		row("Password", "none: cannot sign in until one is set")
	}
	row("Created", v.CreatedAt.Format(time.RFC3339))
	row("Updated", v.UpdatedAt.Format(time.RFC3339))
	return tw.Flush()
}
