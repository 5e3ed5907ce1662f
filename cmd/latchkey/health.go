package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// healthCmd asks a running server on this machine whether it is ready:
// the check a container's HEALTHCHECK runs, since the image has no shell
// or HTTP client of its own.
func (a *app) healthCmd() *cobra.Command {
	var addr, target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that the server on this machine is ready (exit 0) or not (exit 1)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				var err error
				if target, err = readyURL(addr); err != nil {
					return err
				}
			} else if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageError{msg: fmt.Sprintf("--url %q: give an absolute http(s) URL", target)}
			}
			return checkReady(cmd.Context(), target, timeout, a)
		},
	}
	fs := cmd.Flags()
	stringSetting(fs, &addr, "addr", "LATCHKEY_ADDR", defaultAddr, "address the server listens on")
	fs.StringVar(&target, "url", "", "readiness URL to ask (default: /readyz on 127.0.0.1 and the --addr port)")
	durationVar(fs, &timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// readyURL is the readiness endpoint of a server listening on addr, asked
// over loopback.
func readyURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", usageError{msg: fmt.Sprintf("--addr %q (or LATCHKEY_ADDR) is not host:port", addr)}
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

func checkReady(ctx context.Context, target string, timeout time.Duration, a *app) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError{msg: fmt.Sprintf("%q is not a URL to ask: %v", target, err)}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %s", target, res.Status)
	}
	fmt.Fprintf(a.stdout, "ready: %s\n", target)
	return nil
}
