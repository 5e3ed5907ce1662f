package main

import (
	"log/slog"
	"math"
	"runtime/debug"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when the
// operator set none: how much memory the runtime may hold before the
// collector works harder to stay under it. With it the server stays within
// 64 MB resident under the benchmark's loads (go run ./bench memory): about
// 21 MB of the binary's own pages, which no Go limit governs, plus this.
// It leaves room for one argon2id working set (19 MiB; internal/argon2id
// runs one at a time) beside the live heap.
//
// Without a limit the heap goal is twice what the last collection found
// live, and a collection that runs while a hash holds its working set
// finds that live: the goal doubles, and the next burst of ordinary
// requests fills it with garbage before the collector runs again (72 MB
// peak in the token burst with none, 66 MB at 48 MiB, 57 MB at 36 MiB; 32
// MiB cost a third of the token throughput for no lower peak). The limit
// caps the goal instead, and makes the scavenger give back what is over it.
//
// A limit close to the heap really live makes the collector run almost
// without pause (the runtime caps it at half the CPU): a deployment that
// holds more, such as the client cache of a large fleet, sets GOMEMLIMIT
// to its own budget, or to "off".
const defaultMemoryLimit = 36 << 20

// limitMemory sets the default soft memory limit unless the operator chose
// one (GOMEMLIMIT, which the runtime itself has read) or something in the
// process already set one, logs the limit in force, and returns a function
// that takes back what it set: a process that runs serve in itself and
// goes on (the end-to-end tests) must not keep the server's budget.
func limitMemory(e env, log *slog.Logger) (restore func()) {
	return limitMemoryWith(e, log, debug.SetMemoryLimit)
}

// limitMemoryWith is limitMemory with the runtime's setter, which reads
// the limit in force when given a negative value.
func limitMemoryWith(e env, log *slog.Logger, set func(int64) int64) (restore func()) {
	current := set(-1)
	switch {
	case e.lookup("GOMEMLIMIT") != "":
		log.Debug("memory limit", "bytes", current, "from", "GOMEMLIMIT")
		return func() {}
	case current != math.MaxInt64:
		log.Debug("memory limit", "bytes", current, "from", "already set in the process")
		return func() {}
	}
	set(defaultMemoryLimit)
	log.Info("memory limit", "bytes", int64(defaultMemoryLimit), "from", "default (set GOMEMLIMIT to change)")
	return func() {
		// Only if it is still ours: another server in the process may
		// have taken over.
		if set(-1) == defaultMemoryLimit {
			set(current)
		}
	}
}
