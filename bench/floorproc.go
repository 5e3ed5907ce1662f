package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// The floor runs in a process of its own, like Latchkey: a floor sharing
// the load generator's Go runtime gets cheaper hand-offs between goroutines
// than any separate server can, which would flatter it by a third.

// floorEnv carries the floor's configuration to its process.
const floorEnv = "LATCHKEY_BENCH_FLOOR"

type floorConfig struct {
	Issuer         string      `json:"issuer"`
	Client         credentials `json:"client"`
	ResourceServer credentials `json:"resource_server"`
	// The user grants: the application, where it is sent back to, and the
	// signed-in user with the value of their session cookie. Without App
	// the floor serves no user grant.
	App         credentials `json:"app"`
	RedirectURI string      `json:"redirect_uri"`
	UserID      string      `json:"user_id"`
	Session     string      `json:"session"`
}

// startFloor runs this binary again as "floor" and returns the floor's base
// URL and a function that stops it with SIGTERM.
func startFloor(ctx context.Context, cfg floorConfig) (string, func() error, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "floor")
	cmd.Env = append(os.Environ(), floorEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start floor: %w", err)
	}
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			return errors.New("floor did not stop on SIGTERM; killed")
		}
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, out)
	}()
	select {
	case base := <-line:
		if !strings.HasPrefix(base, "http://127.0.0.1:") {
			stop()
			return "", nil, fmt.Errorf("floor printed %q, not its address", base)
		}
		return base, stop, nil
	case <-time.After(readyTimeout):
	case <-ctx.Done():
	}
	stop()
	return "", nil, errors.New("floor did not start")
}

// runFloor is the floor process: it serves until SIGTERM, after printing
// its base URL on standard output.
func runFloor(ctx context.Context, stdout io.Writer) error {
	var cfg floorConfig
	if err := json.Unmarshal([]byte(os.Getenv(floorEnv)), &cfg); err != nil {
		return fmt.Errorf("floor: %s: %w", floorEnv, err)
	}
	fl, err := newFloor(cfg)
	if err != nil {
		return err
	}
	base, shutdown, err := serveFloor(fl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, base)
	<-ctx.Done()
	return shutdown(5 * time.Second)
}
