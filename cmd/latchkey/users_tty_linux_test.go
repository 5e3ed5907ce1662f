package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY returns the two ends of a new pseudo-terminal, or skips the
// test where the system has none to give.
func openPTY(t *testing.T) (primary, terminal *os.File) {
	t.Helper()
	p, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock int32
	var n uint32
	if err := ioctl(p, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		p.Close()
		t.Skipf("no pseudo-terminal: unlock: %v", err)
	}
	if err := ioctl(p, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		p.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		p.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	return p, tty
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// echoOff waits until the terminal no longer echoes what is typed: the
// command has turned echo off to read a password. It polls the terminal's
// own state, the one thing that says so, within a deadline.
func echoOff(t *testing.T, tty *os.File) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var tio syscall.Termios
		if err := ioctl(tty, syscall.TCGETS, unsafe.Pointer(&tio)); err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&syscall.ECHO == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the command did not turn echo off to read the password")
		}
		time.Sleep(time.Millisecond)
	}
}

// typed is one run of a command at a terminal: each line is typed after
// its prompt appears, once echo is off.
func typed(t *testing.T, s *sandbox, lines []string, prompts []string, args ...string) (out, errOut, screen string, code int) {
	t.Helper()
	primary, tty := openPTY(t)
	defer primary.Close()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir, cmd.Env, cmd.Stdin = s.dir, s.env, tty
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(stderr)
	var seen strings.Builder
	for i, line := range lines {
		for !strings.HasSuffix(seen.String(), prompts[i]) {
			b, err := rd.ReadByte()
			if err != nil {
				cmd.Wait()
				t.Fatalf("no prompt %q; stderr: %s", prompts[i], seen.String())
			}
			seen.WriteByte(b)
		}
		echoOff(t, tty)
		if _, err := io.WriteString(primary, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	rest, _ := io.ReadAll(rd)
	seen.Write(rest)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	// With every handle on the terminal closed, reading its other end
	// returns what it showed, then fails.
	tty.Close()
	shown, _ := io.ReadAll(primary)
	return stdout.String(), seen.String(), string(shown), code
}

// At a terminal, set-password asks twice without echo; two different
// answers change nothing.
func TestBinarySetPasswordAtATerminal(t *testing.T) {
	s, _ := migrated(t)
	const pw = "typed at a real terminal"
	before := userOut(t, s, "", "users", "show", "admin@localhost")
	prompts := []string{"New password: ", "The same password again: "}

	out, errOut, screen, code := typed(t, s, []string{pw, pw + "!"}, prompts, "users", "set-password", "admin@localhost")
	if code != 2 || !strings.Contains(errOut, "the two passwords typed differ: nothing was changed") {
		t.Errorf("two different passwords: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if u := userOut(t, s, "", "users", "show", "admin@localhost"); !u.UpdatedAt.Equal(before.UpdatedAt) {
		t.Error("two different passwords changed the user")
	}
	if strings.Contains(screen+out+errOut, pw) {
		t.Errorf("the password was echoed: %q", screen)
	}

	out, errOut, screen, code = typed(t, s, []string{pw, pw}, prompts, "users", "set-password", "admin@localhost")
	if code != 0 || !strings.Contains(out, "Set the password of admin@localhost") {
		t.Errorf("the same password twice: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if strings.Contains(screen+out+errOut, pw) {
		t.Errorf("the password was echoed: %q", screen)
	}
	if u := userOut(t, s, "", "users", "show", "admin@localhost"); !u.UpdatedAt.After(before.UpdatedAt) {
		t.Error("the password was not set")
	}
}
