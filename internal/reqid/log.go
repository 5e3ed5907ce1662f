package reqid

import (
	"context"
	"log/slog"
)

// The log attributes LogHandler adds.
const (
	LogRequestID = "request_id"
	LogTraceID   = "trace_id"
	LogSpanID    = "span_id"
)

// LogHandler returns h adding, to each record logged with a request's
// context (InfoContext and the like), the request ID, trace ID and span
// ID, so the lines of one request can be found together. A record that
// already names a request_id keeps its own, and is not given a second.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	id, t := From(ctx), TraceFrom(ctx)
	if id == "" && t.ID == "" {
		return l.Handler.Handle(ctx, r)
	}
	named := false
	r.Attrs(func(a slog.Attr) bool {
		named = a.Key == LogRequestID
		return !named
	})
	r = r.Clone()
	if id != "" && !named {
		r.AddAttrs(slog.String(LogRequestID, id))
	}
	if t.ID != "" {
		r.AddAttrs(slog.String(LogTraceID, t.ID), slog.String(LogSpanID, t.Span))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}

func (l logHandler) WithGroup(name string) slog.Handler {
	return logHandler{l.Handler.WithGroup(name)}
}
