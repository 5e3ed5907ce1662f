package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// config is what every command shares: where the data lives, and how to
// log. Each field has a flag and a LATCHKEY_* variable.
type config struct {
	database  string
	issuer    string
	logLevel  string
	logFormat string
}

// flags builds a FlagSet whose defaults come from the environment.
type flags struct {
	*flag.FlagSet
	env env
}

func newFlags(name string, e env, out io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &flags{fs, e}
}

// str registers a string flag whose default is $envName when set.
func (f *flags) str(p *string, name, envName, def, usage string) {
	if v := f.env.lookup(envName); v != "" {
		def = v
	}
	if envName != "" {
		usage += " (env " + envName + ")"
	}
	f.StringVar(p, name, def, usage)
}

// integer registers an int flag whose default is $envName when set.
func (f *flags) integer(p *int, name, envName string, def int, usage string) {
	if v, err := strconv.Atoi(f.env.lookup(envName)); err == nil {
		def = v
	}
	if envName != "" {
		usage += " (env " + envName + ")"
	}
	f.IntVar(p, name, def, usage)
}

// duration registers a duration flag (Go syntax, or whole days as "90d")
// whose default is $envName when set.
func (f *flags) duration(p *time.Duration, name, envName string, def time.Duration, usage string) {
	if v := f.env.lookup(envName); v != "" {
		if d, err := parseDuration(v); err == nil {
			def = d
		}
	}
	if envName != "" {
		usage += " (env " + envName + ")"
	}
	*p = def
	f.Func(name, fmt.Sprintf("%s (default %s)", usage, def), func(s string) error {
		d, err := parseDuration(s)
		*p = d
		return err
	})
}

func (f *flags) common(c *config) {
	f.str(&c.database, "database", "LATCHKEY_DATABASE_URL", "latchkey.db", "SQLite file path, or a postgres:// URL")
	f.str(&c.issuer, "issuer", "LATCHKEY_ISSUER", "http://localhost:8080", "public base URL of this server, the tokens' iss")
	f.str(&c.logLevel, "log-level", "LATCHKEY_LOG_LEVEL", "info", "debug, info, warn or error")
	f.str(&c.logFormat, "log-format", "LATCHKEY_LOG_FORMAT", "text", "text or json")
}

// parseArgs parses flags that may come before or after positional
// arguments ("clients show ID --json") and returns the positionals.
func (f *flags) parseArgs(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, err
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *config) check() error {
	u, err := url.Parse(c.issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return usageError{fmt.Sprintf("--issuer %q must be an absolute URL without query or fragment", c.issuer)}
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return usageError{fmt.Sprintf("--issuer %q must use https (http only on localhost)", c.issuer)}
	}
	c.issuer = strings.TrimSuffix(c.issuer, "/")
	return nil
}

// setup checks the shared settings and returns a logger writing to w.
func (c *config) setup(w io.Writer) (*slog.Logger, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.logger(w)
}

func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: use debug, info, warn or error", c.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: use text or json", c.logFormat)}
}

// parseDuration accepts Go durations ("36h") and whole days ("90d").
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 24h or 90d)", s)
	}
	return d, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// parsePrefixes reads a comma-separated list of IPs and CIDRs.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		} else {
			return nil, usageError{fmt.Sprintf("--trusted-proxies: %q is not an IP address or CIDR", f)}
		}
	}
	return out, nil
}
