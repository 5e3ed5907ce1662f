// Command latchkey is the Latchkey OAuth 2.0 authorization server and its
// command-line administration tool, in one binary.
//
//	latchkey serve                 run the server (the default)
//	latchkey migrate               apply database migrations and exit
//	latchkey clients <command>     manage OAuth clients
//	latchkey keys rotate|rewrap    rotate signing keys; re-seal them under a new key
//	latchkey tenants <command>     add and list tenants
//
// Every flag has a LATCHKEY_* environment equivalent; flags win.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/latchkey/latchkey/internal/admin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{os.Getenv}, os.Stdout, os.Stderr, nil))
}

// env reads the process environment; tests substitute their own.
type env struct{ get func(string) string }

func (e env) lookup(k string) string {
	if e.get == nil {
		return ""
	}
	return e.get(k)
}

// run executes one command line and returns the exit status: 0 success, 1
// failure, 2 usage error. ready, when not nil, receives the address the
// server listens on.
func run(ctx context.Context, args []string, e env, stdout, stderr io.Writer, ready chan<- string) int {
	cmd, rest := "serve", args
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, rest, e, stdout, stderr, ready)
	case "migrate":
		err = migrate(ctx, rest, e, stdout)
	case "clients":
		err = clients(ctx, rest, e, stdout, stderr)
	case "keys":
		err = keys(ctx, rest, e, stdout, stderr)
	case "tenants":
		err = tenants(ctx, rest, e, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "latchkey: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "latchkey %s: %v\n", cmd, err)
		return 2
	}
	fmt.Fprintf(stderr, "latchkey %s: %s\n", cmd, describe(err))
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
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
	}
	return b.String()
}

const usage = `Latchkey: an OAuth 2.0 authorization server.

Usage:
  latchkey [serve] [flags]          run the server
  latchkey migrate [flags]          apply database migrations
  latchkey clients <command>        manage OAuth clients:
      create | list | show | update | activate | deactivate |
      rotate-secret | revoke | delete
  latchkey keys rotate [--now]      publish the next signing key (--now: sign with it at once)
  latchkey keys rewrap              re-seal the signing keys under a new LATCHKEY_SECRET_KEY
  latchkey tenants create|list      add a tenant (served at {issuer}/t/{slug}), list them

Run "latchkey <command> -h" for a command's flags.
`

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }
