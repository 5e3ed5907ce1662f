package postgres

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/keyset"
	"github.com/latchkey/latchkey/internal/testpg"
)

// The list reads a search through the trigram indexes or past them, by
// how many matches the planner expects (commonSubstringFrom), which the
// conformance suite's few clients never reach. Both ways must count and
// page the same clients, in the same order.
func TestSearchBothWays(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, testpg.Database(t, "latchkey_list_"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	names := []string{"Shipping API", "shipping-worker", "SHIPPING", "Café Crème", "CAFÉ", "100% sync", "a_b",
		"Reporting", "Ship it", "hipster", `back\slash`}
	err = db.InTx(ctx, func(tx client.Tx) error {
		for i, n := range names {
			for _, tenant := range []string{"ten_a", "ten_b"} {
				c := &client.Client{ID: fmt.Sprintf("lkc_%s_%02d", tenant, i), TenantID: tenant, Name: n,
					Type: client.Confidential, GrantTypes: []client.GrantType{client.GrantClientCredentials},
					Status: client.StatusActive, CreatedAt: t0.Add(time.Duration(i%4) * time.Hour), UpdatedAt: t0,
					TokenFormat: client.TokenJWT, AccessTokenTTL: time.Hour, RefreshTokenTTL: time.Hour}
				if err := tx.CreateClient(ctx, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func(d *keyset.Dialect, q client.ListQuery) (count int, ids []string) {
		t.Helper()
		qs, err := keyset.Build(d, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.pool.QueryRow(ctx, qs.Count.SQL, qs.Count.Args...).Scan(&count); err != nil {
			t.Fatalf("%s: %v", qs.Count.SQL, err)
		}
		rows, err := db.pool.Query(ctx, qs.Page.SQL, qs.Page.Args...)
		if err != nil {
			t.Fatalf("%s: %v", qs.Page.SQL, err)
		}
		defer rows.Close()
		for rows.Next() {
			var key any
			c, err := scanClient(rows, &key)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		return count, ids
	}
	for _, search := range []string{"shipping", "SHIP", "hip", "ing", "café", "CAF", "CAFÉ", "0% s", "a_b", `k\s`, "s", "nothing"} {
		for _, sort := range []client.SortField{client.SortCreatedAt, client.SortName} {
			q := client.ListQuery{TenantID: "ten_a", Search: search, Sort: sort, Desc: true}
			if err := q.Normalize(); err != nil {
				t.Fatal(err)
			}
			listCount, list := run(listDialect, q)
			scanCount, scan := run(scanDialect, q)
			if listCount != scanCount || !slices.Equal(list, scan) || (search != "nothing" && listCount == 0) {
				t.Errorf("%q by %s: the trigram form finds %d %v, the scan form %d %v", search, sort, listCount, list, scanCount, scan)
			}
		}
	}
	// The planner's estimate is what chooses; a tiny table is no common
	// substring.
	err = db.inTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		_, planned, err := db.listQueries(ctx, tx, client.ListQuery{TenantID: "ten_a", Search: "ship", Sort: client.SortName, Limit: 5})
		if err == nil && (planned < 0 || planned >= commonSubstringFrom) {
			err = fmt.Errorf("planned %d", planned)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
