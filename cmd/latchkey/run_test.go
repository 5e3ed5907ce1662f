package main

import (
	"context"
	"io"
	"strings"
)

// run executes one command line in-process as an operator at a terminal
// would: standard output is the terminal. ready, when not nil, receives
// the address the server listens on. The tests of the real binary, run
// with pipes, cover the other case.
func run(ctx context.Context, args []string, e env, stdout, stderr io.Writer, ready chan<- string) int {
	a := &app{env: e, stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, ready: ready,
		terminal: func(w any) bool { return w == stdout }}
	return a.run(ctx, args)
}
