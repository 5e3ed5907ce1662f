package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// TraceHeader is the W3C Trace Context header
// (https://www.w3.org/TR/trace-context/) a caller names its trace in, and
// the response header that names this server's span in it. Its companion
// tracestate is neither read nor returned: it carries tracing vendors'
// data for the services a request calls on, and this server calls none
// while answering one.
const TraceHeader = "Traceparent"

// Trace is a request's place in a W3C trace: the trace it belongs to and
// the span this server gives it. It correlates log lines with a caller's
// traces and is never an identity: a caller may name any trace it likes.
type Trace struct {
	ID      string // 32 lowercase hex digits, not all zeros
	Span    string // 16 lowercase hex digits, not all zeros: this server's span
	Sampled bool   // the caller's sampled flag, passed on unchanged
}

// String returns t as a version 00 traceparent value, "" for the zero Trace.
func (t Trace) String() string {
	if t.ID == "" {
		return ""
	}
	flags := "00"
	if t.Sampled {
		flags = "01"
	}
	return "00-" + t.ID + "-" + t.Span + "-" + flags
}

type traceKey struct{}

// TraceFrom returns the trace of ctx, the zero Trace outside a request.
func TraceFrom(ctx context.Context) Trace {
	t, _ := ctx.Value(traceKey{}).(Trace)
	return t
}

// WithTrace returns ctx carrying t.
func WithTrace(ctx context.Context, t Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// traceOf continues the trace a request's traceparent names, with a fresh
// span for this server. Without exactly one valid traceparent it starts a
// new trace: two headers may name two traces, and neither can be told to
// be the caller's. A new trace is not marked sampled: this server records
// no trace data, so it makes no sampling decision for others to follow.
func traceOf(h http.Header) Trace {
	t := Trace{Span: randomHex(8)}
	if vs := h.Values(TraceHeader); len(vs) == 1 {
		if id, sampled, ok := parseTraceparent(vs[0]); ok {
			t.ID, t.Sampled = id, sampled
			return t
		}
	}
	t.ID = randomHex(16)
	return t
}

// traceparentLen is the length of a version 00 traceparent:
// "00-" + 32 + "-" + 16 + "-" + 2.
const traceparentLen = 55

// parseTraceparent reads a version 00 traceparent, returning its trace ID
// and sampled flag. Only version 00 is read: a later version may change
// what follows, and a trace restarted here loses only the correlation.
// Everything is checked against the specification's grammar, so what is
// kept is 32 lowercase hex digits and nothing a caller smuggled in.
func parseTraceparent(s string) (traceID string, sampled bool, ok bool) {
	if len(s) != traceparentLen || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return "", false, false
	}
	version, traceID, parentID, flags := s[:2], s[3:35], s[36:52], s[53:]
	if version != "00" || !lowerHex(traceID) || !lowerHex(parentID) || !lowerHex(flags) ||
		allZeros(traceID) || allZeros(parentID) {
		return "", false, false
	}
	f, _ := hex.DecodeString(flags)
	return traceID, f[0]&0x01 != 0, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allZeros(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// randomHex returns n random bytes in hex, never all zeros (the
// specification's invalid ID).
func randomHex(n int) string {
	b := make([]byte, n)
	for {
		rand.Read(b)
		if s := hex.EncodeToString(b); !allZeros(s) {
			return s
		}
	}
}
