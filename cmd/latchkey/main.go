// Command latchkey is the Latchkey OAuth 2.0 authorization server and its
// command-line administration tool, in one binary. "latchkey --help" lists
// the commands; every setting is a flag, a LATCHKEY_* variable and a key
// of the configuration file.
//
// Exit status: 0 success, 1 the operation failed, 2 a usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/latchkey/latchkey/internal/admin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{env: env{os.Getenv}, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, terminal: isTerminal}
	os.Exit(a.run(ctx, os.Args[1:]))
}

// env reads the process environment; tests substitute their own.
type env struct{ get func(string) string }

func (e env) lookup(k string) string {
	if e.get == nil {
		return ""
	}
	return e.get(k)
}

// isTerminal reports whether f is an interactive terminal.
func isTerminal(f any) bool {
	o, ok := f.(*os.File)
	return ok && term.IsTerminal(int(o.Fd()))
}

// app is one run of the command line: where it reads and writes, and the
// settings its commands share.
type app struct {
	env    env
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// terminal reports whether a stream is an interactive terminal:
	// credentials generated at first start are printed only to one.
	terminal func(any) bool
	// ready, when not nil, receives the address the server listens on.
	ready chan<- string

	cfg        config
	configPath string
	file       *configFile
	// issuerDefaulted is set when no --issuer was given anywhere, so serve
	// may derive it from the address it listens on.
	issuerDefaulted bool
	log             *slog.Logger
}

// run executes one command line and returns the exit status: 0 success,
// 1 the operation failed, 2 a usage error.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.root()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	name := "latchkey"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(a.stderr, "%s: %v\n", name, err)
		if u.help != "" {
			fmt.Fprint(a.stderr, "\n"+u.help)
		} else {
			fmt.Fprintf(a.stderr, "Run \"%s --help\" for usage.\n", name)
		}
		return 2
	}
	fmt.Fprintf(a.stderr, "%s: %s\n", name, describe(err))
	return 1
}

// describe words a failed command's error through the management surfaces'
// one table: invalid input lists each field on a line of its own.
func describe(err error) string {
	p, ok := admin.Classify(err)
	if !ok || p.Code != "invalid_input" {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(p.Message)
	for _, f := range p.Fields {
		name := f.Field
		base, _, _ := strings.Cut(name, "[")
		if fl, ok := fieldFlags[base]; ok {
			name += " (" + fl + ")"
		}
		fmt.Fprintf(&b, "\n  %s: %s", name, f.Message)
	}
	return b.String()
}

// fieldFlags names the flag that sets each field the domain may refuse, so
// a refusal at the terminal points at what to change.
var fieldFlags = map[string]string{
	"client_id": "--client-id", "name": "--name", "description": "--description",
	"grant_types": "--grant-type", "scopes": "--scope", "redirect_uris": "--redirect-uri",
	"roles": "--role", "owner_user_id": "--owner", "token_format": "--token-format",
	"access_token_ttl": "--access-token-ttl", "refresh_token_ttl": "--refresh-token-ttl",
	"client_secret": "--secret-file", "secret_expires": "--secret-expires", "grace": "--grace", "search": "--search", "type": "--public",
	"status": "--status", "sort": "--sort", "after": "--after", "limit": "--limit", "slug": "--slug",
	"token_endpoint_auth_method": "--token-endpoint-auth-method", "id_token_signed_response_alg": "--id-token-alg",
	"post_logout_redirect_uris": "--post-logout-redirect-uri", "last_grant": "--last-grant", "authorized_by": "--authorized-by",
	"email": "--email", "password": "--password-file", "locale": "--locale", "division": "--division",
}

// usageError is a mistake on the command line (exit status 2). help, when
// set, is printed after it instead of the pointer to --help.
type usageError struct {
	msg  string
	help string
}

func (u usageError) Error() string { return u.msg }

const rootLong = `Latchkey: an OAuth 2.0 authorization server, and the tool that manages
it, in one binary.

Settings come from flags, then LATCHKEY_* variables, then the configuration
file (--config), then the defaults shown.

Exit status: 0 success, 1 the operation failed, 2 a usage error.`

// root builds the command tree.
func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "latchkey",
		Short:         "An OAuth 2.0 authorization server",
		Long:          rootLong,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRun,
		CompletionOptions: cobra.CompletionOptions{
			HiddenDefaultCmd: false,
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	// A command group runs only to refuse a missing or unknown command:
	// its usage shows the commands, not a line of its own.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}",
		"{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	pf := root.PersistentFlags()
	stringSetting(pf, &a.configPath, "config", "LATCHKEY_CONFIG", "", "TOML file of settings, keys named like the flags")
	globalSettings(pf, &a.cfg)
	completeValues(root, "log-level", "debug", "info", "warn", "error")
	completeValues(root, "log-format", "text", "json")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{msg: err.Error()}
	})
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return a.prepare(root, cmd) }
	root.AddGroup(&cobra.Group{ID: "server", Title: "Running the server:"},
		&cobra.Group{ID: "manage", Title: "Managing it:"})
	for _, c := range []*cobra.Command{a.serveCmd(), a.migrateCmd(), a.healthCmd()} {
		c.GroupID = "server"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.clientsCmd(), a.usersCmd(), a.tenantsCmd(), a.keysCmd(), a.auditCmd(),
		a.notifyCmd(), a.webhooksCmd(), a.loginCmd(), a.logoutCmd(), a.policyCmd(), a.complianceCmd(), a.bulkCmd()} {
		c.GroupID = "manage"
		root.AddCommand(c)
	}
	root.AddCommand(versionCmd())
	root.SetHelpCommandGroupID("")
	root.SetHelpCommand(helpCmd())
	root.InitDefaultCompletionCmd()
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		// An unknown shell is a usage error, not a help page.
		c.Args, c.RunE = cobra.ArbitraryArgs, groupRun
		c.PersistentPreRunE = func(*cobra.Command, []string) error { return nil }
	}
	argsAreUsage(root)
	return root
}

// helpCmd is "latchkey help [COMMAND...]": the help of that command, on
// standard output; an unknown command is a usage error.
func helpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		// Help needs no settings, database or configuration file.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			target, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range target.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageError{msg: fmt.Sprintf("no help for %q: no such command", strings.Join(args, " "))}
			}
			return target.Help()
		},
	}
}

// argsAreUsage makes every refusal of positional arguments a usage error,
// the library's own commands' (help, completion) included.
func argsAreUsage(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			if err != nil && !errors.As(err, new(usageError)) {
				return usageError{msg: err.Error()}
			}
			return err
		}
	}
	for _, sub := range c.Commands() {
		argsAreUsage(sub)
	}
}

// prepare applies the settings of the command about to run: the
// configuration file, the environment, the issuer's default; and checks
// the shared ones.
func (a *app) prepare(root, cmd *cobra.Command) error {
	if cmd.Name() == cobra.ShellCompRequestCmd || cmd.Name() == cobra.ShellCompNoDescRequestCmd {
		return nil
	}
	if !cmd.Flags().Changed("config") {
		a.configPath = a.env.lookup("LATCHKEY_CONFIG")
	}
	file, err := loadConfigFile(a.configPath, settingNames(root))
	if err != nil {
		return err
	}
	a.file = file
	if err := applySettings(cmd, a.env, file); err != nil {
		return err
	}
	if a.cfg.issuer == "" {
		addr := a.env.lookup("LATCHKEY_ADDR")
		if addr == "" {
			addr = file.values["addr"]
		}
		if addr == "" {
			addr = defaultAddr
		}
		a.cfg.issuer, a.issuerDefaulted = defaultIssuer(addr), true
	}
	if err := a.cfg.check(); err != nil {
		return err
	}
	log, err := a.cfg.logger(a.stderr)
	if err != nil {
		return err
	}
	a.log = log
	return nil
}

// groupRun runs when a command group is named without one of its
// commands, or with one it does not have: a group takes any arguments
// (cobra.ArbitraryArgs) so that an unknown command reaches groupRun and is
// a usage error, not a help page.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageError{msg: "a command is required", help: cmd.UsageString()}
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	cmd.SuggestionsMinimumDistance = 2
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usageError{msg: msg}
}

// noArgs refuses positional arguments on a command that takes none.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{msg: fmt.Sprintf("unexpected argument %q: %q takes none", args[0], cmd.CommandPath())}
	}
	return nil
}

// oneArg requires exactly one positional argument, described by what.
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageError{msg: "expects one " + what}
		case len(args) > 1:
			return usageError{msg: fmt.Sprintf("expects one %s; unexpected argument %q", what, args[1])}
		}
		return nil
	}
}
