package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/keyset"
)

// The list reads a search of three characters or more through the trigram
// index or past it, by how common the substring is (rareSubstringBelow),
// which the conformance suite's few clients never reach. Both ways must
// count and page the same clients, in the same order: LIKE's matches.
func TestSearchBothWays(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	names := []string{"Shipping API", "shipping-worker", "SHIPPING", "Café Crème", "CAFÉ", "100% sync", "a_b",
		"Reporting", "Ship it", "hipster"}
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
		if err := db.read.QueryRowContext(ctx, qs.Count.SQL, qs.Count.Args...).Scan(&count); err != nil {
			t.Fatalf("%s: %v", qs.Count.SQL, err)
		}
		rows, err := db.read.QueryContext(ctx, qs.Page.SQL, qs.Page.Args...)
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
	for _, search := range []string{"shipping", "SHIP", "hip", "ing", "café", "CAF", "0% s", "a_b", "nothing"} {
		for _, sort := range []client.SortField{client.SortCreatedAt, client.SortName} {
			q := client.ListQuery{TenantID: "ten_a", Search: search, Sort: sort, Desc: true}
			if err := q.Normalize(); err != nil {
				t.Fatal(err)
			}
			likeCount, like := run(listDialect, q)
			trigramCount, trigram := run(trigramDialect, q)
			if likeCount != trigramCount || !slices.Equal(like, trigram) {
				t.Errorf("%q by %s: LIKE finds %d %v, the trigram index %d %v", search, sort, likeCount, like, trigramCount, trigram)
			}
		}
	}
}

// An estimate of a filtered total past the cap scales the tenant's count
// by its sample's share of matches; with no filter it is the count.
func TestEstimate(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.SetListCountCap(10)
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	err = db.InTx(ctx, func(tx client.Tx) error {
		for i := range 400 {
			c := &client.Client{ID: fmt.Sprintf("lkc_%03d", i), TenantID: "ten_a", Name: fmt.Sprint("Client ", i),
				Type: client.Confidential, GrantTypes: []client.GrantType{client.GrantClientCredentials},
				Status: client.StatusActive, CreatedAt: t0, UpdatedAt: t0, TokenFormat: client.TokenJWT}
			if i%4 == 0 {
				c.Status = client.StatusInactive
			}
			if err := tx.CreateClient(ctx, c); err != nil {
				return err
			}
		}
		return tx.DeleteClient(ctx, "lkc_399")
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q         client.ListQuery
		from, to  int
		estimated bool
	}{
		{client.ListQuery{}, 399, 399, false},
		{client.ListQuery{Status: client.StatusInactive}, 80, 120, true},
		{client.ListQuery{Status: client.StatusActive}, 260, 340, true},
	} {
		c.q.TenantID = "ten_a"
		p, err := db.ListClients(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if p.Total < c.from || p.Total > c.to || p.TotalEstimated != c.estimated {
			t.Errorf("%+v: total %d, estimated %v; want %d to %d, %v", c.q, p.Total, p.TotalEstimated, c.from, c.to, c.estimated)
		}
	}
}
