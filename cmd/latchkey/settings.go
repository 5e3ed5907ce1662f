package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/reqid"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A setting is a flag an operator may also give as a LATCHKEY_* variable or
// as a key of the configuration file, named like the flag. The precedence
// is flag > environment > file > default; the help shows the built-in
// defaults, whatever the environment says.

// envAnnotation marks a flag as a setting and names its variable.
const envAnnotation = "latchkey_env"

// config is what every command shares: where the data lives, and how to
// log.
type config struct {
	database  string
	issuer    string
	logLevel  string
	logFormat string
	// signingAlg is the JWS alg of new signing keys (serve, keys rotate).
	signingAlg string
	// idTokenAlg is the JWS alg of new ID-token signing keys.
	idTokenAlg string
}

// setting marks the flag name of fs as a setting read from envName.
func setting(fs *pflag.FlagSet, name, envName string) {
	fl := fs.Lookup(name)
	if fl == nil {
		panic("setting: no flag " + name)
	}
	fl.Usage += " (env " + envName + ")"
	if fl.Annotations == nil {
		fl.Annotations = map[string][]string{}
	}
	fl.Annotations[envAnnotation] = []string{envName}
}

// stringSetting registers a string flag that is also a setting.
func stringSetting(fs *pflag.FlagSet, p *string, name, envName, def, usage string) {
	fs.StringVar(p, name, def, usage)
	setting(fs, name, envName)
}

// applySettings gives each setting of cmd that the command line left
// unset its value from the environment or, failing that, from the
// configuration file. A value that does not parse is a usage error
// naming where it came from.
func applySettings(cmd *cobra.Command, e env, file *configFile) error {
	var first error
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		envName := fl.Annotations[envAnnotation]
		if first != nil || len(envName) == 0 || fl.Changed {
			return
		}
		if v := e.lookup(envName[0]); v != "" {
			if err := cmd.Flags().Set(fl.Name, v); err != nil {
				first = usageError{msg: fmt.Sprintf("%s=%q: %v", envName[0], v, cause(err))}
			}
			return
		}
		if v, ok := file.values[fl.Name]; ok {
			if err := cmd.Flags().Set(fl.Name, v); err != nil {
				first = usageError{msg: fmt.Sprintf("%s: %s = %q: %v", file.path, fl.Name, v, cause(err))}
			}
		}
	})
	return first
}

// cause strips pflag's wrapping ("invalid argument … for … flag: ") from
// a value's own error.
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// visitSettings calls fn with each setting of every command under root,
// and the variable it is read from.
func visitSettings(root *cobra.Command, fn func(fl *pflag.Flag, envName string)) {
	for _, fs := range []*pflag.FlagSet{root.LocalFlags(), root.PersistentFlags()} {
		fs.VisitAll(func(fl *pflag.Flag) {
			if e := fl.Annotations[envAnnotation]; len(e) > 0 {
				fn(fl, e[0])
			}
		})
	}
	for _, c := range root.Commands() {
		visitSettings(c, fn)
	}
}

// settingNames lists every setting of every command under root, by flag
// name: the keys a configuration file may hold ("config" is not one).
func settingNames(root *cobra.Command) []string {
	var names []string
	visitSettings(root, func(fl *pflag.Flag, _ string) {
		if fl.Name != "config" && !slices.Contains(names, fl.Name) {
			names = append(names, fl.Name)
		}
	})
	slices.Sort(names)
	return names
}

// configFile is a parsed configuration file: setting name → value.
type configFile struct {
	path   string
	values map[string]string
}

// loadConfigFile reads a TOML file of settings. Keys are the flags' names
// ("database", "addr", "log-format"); a key that is no setting of any
// command is refused, so a typo cannot pass for a default. known never
// holds "config": a file cannot name another.
func loadConfigFile(path string, known []string) (*configFile, error) {
	cf := &configFile{path: path, values: map[string]string{}}
	if path == "" {
		return cf, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return nil, usageError{msg: fmt.Sprintf("%s: %v", path, err)}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return nil, usageError{msg: fmt.Sprintf("%s: %q is not a setting; the settings are: %s", path, k, strings.Join(known, ", "))}
		}
		v, err := settingValue(raw[k])
		if err != nil {
			return nil, usageError{msg: fmt.Sprintf("%s: %s: %v", path, k, err)}
		}
		cf.values[k] = v
	}
	return cf, nil
}

// settingValue writes a TOML value as the flag would read it.
func settingValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("a list may hold only strings")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("use a string, a whole number, true or false, or a list of strings")
}

// durationValue is a flag holding a duration in Go syntax ("36h") or
// whole days ("90d"), checked by parse.
type durationValue struct {
	p     *time.Duration
	parse func(string) (time.Duration, error)
}

func (d durationValue) String() string {
	if d.p == nil || *d.p == 0 {
		return "" // an optional duration: no default to show
	}
	if *d.p < 0 {
		return "off"
	}
	return d.p.String()
}
func (d durationValue) Set(s string) error {
	v, err := d.parse(s)
	if err != nil {
		return err
	}
	*d.p = v
	return nil
}
func (durationValue) Type() string { return "duration" }

// durationVar registers a flag for a positive duration.
func durationVar(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var(durationValue{p, positiveDuration}, name, usage)
}

// durationOrOffVar registers a duration flag that can also be switched
// off with 0, "off" or any negative value ("-1", "-1s"); off is stored as
// -1. usage should say what off means, in the words "0, off or negative".
func durationOrOffVar(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var(durationValue{p, durationOrOff}, name, usage)
}

// durationSetting registers a positive duration that is also a setting.
func durationSetting(fs *pflag.FlagSet, p *time.Duration, name, envName string, def time.Duration, usage string) {
	durationVar(fs, p, name, def, usage)
	setting(fs, name, envName)
}

// durationOrOffSetting registers a duration or off that is also a setting.
func durationOrOffSetting(fs *pflag.FlagSet, p *time.Duration, name, envName string, def time.Duration, usage string) {
	durationOrOffVar(fs, p, name, def, usage)
	setting(fs, name, envName)
}

// optionalDurationVar registers a duration flag with no default: zero
// until set, and any duration, or a number of days, when set.
func optionalDurationVar(fs *pflag.FlagSet, p *time.Duration, name, usage string) {
	fs.Var(durationValue{p, parseDuration}, name, usage)
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

// parseDuration accepts Go durations ("36h") and whole days ("90d").
func parseDuration(s string) (time.Duration, error) { return admin.ParseSpan(s) }

// choiceValue is a string flag that takes one of a few values.
type choiceValue struct {
	p       *string
	choices []string
}

func (c choiceValue) String() string {
	if c.p == nil {
		return ""
	}
	return *c.p
}
func (c choiceValue) Set(s string) error {
	if !slices.Contains(c.choices, s) {
		return fmt.Errorf("use %s", orList(c.choices))
	}
	*c.p = s
	return nil
}
func (choiceValue) Type() string { return "string" }

// choiceSetting registers a setting that takes one of choices.
func choiceSetting(fs *pflag.FlagSet, p *string, name, envName, def, usage string, choices ...string) {
	*p = def
	fs.Var(choiceValue{p, choices}, name, usage)
	setting(fs, name, envName)
}

// orList words a list of choices: "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
func (l *stringList) Type() string       { return "string" }

// globalSettings registers the flags every command shares, on root, so
// they work before or after the command's name.
func globalSettings(fs *pflag.FlagSet, c *config) {
	stringSetting(fs, &c.database, "database", "LATCHKEY_DATABASE_URL", defaultDatabase, "SQLite file path, or a postgres:// URL")
	stringSetting(fs, &c.issuer, "issuer", "LATCHKEY_ISSUER", "", "public base URL of this server, the tokens' iss (default: http://localhost and the listen port)")
	choiceSetting(fs, &c.logLevel, "log-level", "LATCHKEY_LOG_LEVEL", "info", "debug, info, warn or error", "debug", "info", "warn", "error")
	choiceSetting(fs, &c.logFormat, "log-format", "LATCHKEY_LOG_FORMAT", "text", "text or json", "text", "json")
}

// defaultAddr is where serve listens unless told otherwise, and
// defaultDatabase the embedded database it keeps its data in.
const (
	defaultAddr     = ":8080"
	defaultDatabase = "latchkey.db"
)

// defaultIssuer is the issuer of a server listening on addr that was not
// told its public URL: the loopback host it listens on, or localhost, with
// its port.
func defaultIssuer(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		host, port = "", "8080"
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return "http://" + net.JoinHostPort(ip.String(), port)
	}
	return "http://localhost:" + port
}

// issuerPort is the port clients of issuer connect to.
func issuerPort(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

func (c *config) check() error {
	u, err := url.Parse(c.issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return usageError{msg: fmt.Sprintf("the issuer %q (--issuer, LATCHKEY_ISSUER or the file's issuer) must be an absolute URL without query or fragment", c.issuer)}
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return usageError{msg: fmt.Sprintf("the issuer %q (--issuer, LATCHKEY_ISSUER or the file's issuer) must use https (http only on localhost)", c.issuer)}
	}
	c.issuer = strings.TrimSuffix(c.issuer, "/")
	return nil
}

func (c *config) logger(w interface{ Write([]byte) (int, error) }) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError{msg: fmt.Sprintf("--log-level %q: use debug, info, warn or error", c.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.logFormat {
	case "text":
		return slog.New(reqid.LogHandler(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(reqid.LogHandler(slog.NewJSONHandler(w, opts))), nil
	}
	return nil, usageError{msg: fmt.Sprintf("--log-format %q: use text or json", c.logFormat)}
}

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
			return nil, usageError{msg: fmt.Sprintf("trusted proxies (--trusted-proxies or LATCHKEY_TRUSTED_PROXIES): %q is not an IP address or CIDR", f)}
		}
	}
	return out, nil
}
