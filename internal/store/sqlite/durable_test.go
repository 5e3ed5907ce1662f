package sqlite

import (
	"path/filepath"
	"testing"
)

// Both pools run with synchronous=FULL (2): a commit is on disk before it
// is acknowledged, so a revocation survives a power failure.
func TestDurableCommits(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, pool := range []*struct {
		name string
		q    func() (int, error)
	}{
		{"write", func() (n int, err error) {
			err = db.write.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&n)
			return
		}},
		{"read", func() (n int, err error) {
			err = db.read.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&n)
			return
		}},
	} {
		n, err := pool.q()
		if err != nil || n != 2 {
			t.Errorf("%s pool: synchronous = %d, %v; want 2 (FULL)", pool.name, n, err)
		}
	}
}
