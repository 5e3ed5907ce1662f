package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ts truncates t to the microseconds PostgreSQL keeps (it would round).
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// tsOrNull is ts, or NULL for the zero time.
func tsOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// utc reads a NOT NULL timestamptz; pgx returns local time.
func utc(t time.Time) time.Time { return t.UTC() }

// nullTime reads a column written by tsOrNull.
func nullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// textArray converts a list for a text[] column, which is NOT NULL: nil
// becomes an empty array.
func textArray[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// fromArray reads a text[] column; an empty array reads as nil.
func fromArray[T ~string](xs []string) []T {
	if len(xs) == 0 {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = T(x)
	}
	return out
}

// SQLSTATEs this package translates.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgCode(err) == uniqueViolation }
func isForeignKey(err error) bool { return pgCode(err) == foreignKeyViolation }
func isNoRows(err error) bool     { return errors.Is(err, pgx.ErrNoRows) }

// affected returns notFound when tag says no row changed.
func affected(tag pgconn.CommandTag, notFound error) error {
	if tag.RowsAffected() == 0 {
		return notFound
	}
	return nil
}
