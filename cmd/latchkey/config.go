package main

import (
	"errors"
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
	// signingAlg is the JWS alg of new signing keys (serve, keys rotate).
	signingAlg string
}

// flags builds a FlagSet whose defaults come from the environment. An
// environment value that does not parse is reported by parseArgs, unless
// the command line sets the flag itself.
type flags struct {
	*flag.FlagSet
	env    env
	envErr map[string]error // flag name → its environment value's error
}

func newFlags(name string, e env, out io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &flags{FlagSet: fs, env: e}
}

func (f *flags) badEnv(name, envName string, err error) {
	if f.envErr == nil {
		f.envErr = map[string]error{}
	}
	f.envErr[name] = usageError{fmt.Sprintf("%s: %v", envName, err)}
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
	if v := f.env.lookup(envName); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		} else {
			f.badEnv(name, envName, fmt.Errorf("%q is not a whole number", v))
		}
	}
	if envName != "" {
		usage += " (env " + envName + ")"
	}
	f.IntVar(p, name, def, usage)
}

// duration registers a flag for a positive duration (Go syntax, or whole
// days as "90d") whose default is $envName when set.
func (f *flags) duration(p *time.Duration, name, envName string, def time.Duration, usage string) {
	f.durationFlag(p, name, envName, def, usage, positiveDuration)
}

// durationOrOff registers a duration flag that can also be switched off
// with 0, "off" or any negative value ("-1", "-1s"); off is stored as -1.
// usage should say what off means, in the words "0, off or negative".
func (f *flags) durationOrOff(p *time.Duration, name, envName string, def time.Duration, usage string) {
	f.durationFlag(p, name, envName, def, usage, durationOrOff)
}

func (f *flags) durationFlag(p *time.Duration, name, envName string, def time.Duration, usage string,
	parse func(string) (time.Duration, error)) {
	if v := f.env.lookup(envName); v != "" {
		if d, err := parse(v); err == nil {
			def = d
		} else {
			f.badEnv(name, envName, err)
		}
	}
	if envName != "" {
		usage += " (env " + envName + ")"
	}
	*p = def
	shown := def.String()
	if def < 0 {
		shown = "off"
	}
	f.Func(name, fmt.Sprintf("%s (default %s)", usage, shown), func(s string) error {
		d, err := parse(s)
		*p = d
		return err
	})
}

// positiveDuration parses a duration that must be more than zero.
func positiveDuration(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be more than zero", s)
	}
	return d, nil
}

// durationOrOff parses a positive duration, or 0, "off" or a negative
// number, with or without a unit, as -1: off.
func durationOrOff(s string) (time.Duration, error) {
	if s == "off" {
		return -1, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 {
			return 0, fmt.Errorf("%q needs a unit, like %ss (or 0, off or a negative value to switch it off)", s, s)
		}
		return -1, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w (or 0, off or a negative value to switch it off)", err)
	}
	if d <= 0 {
		return -1, nil
	}
	return d, nil
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
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()} // a mistake on the command line: exit 2
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, f.envError()
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// envError returns the first (by flag name) environment value that did not
// parse, of flags the command line did not set.
func (f *flags) envError() error {
	if len(f.envErr) == 0 {
		return nil
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var first error
	f.VisitAll(func(fl *flag.Flag) {
		if err := f.envErr[fl.Name]; err != nil && !set[fl.Name] && first == nil {
			first = err
		}
	})
	return first
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
