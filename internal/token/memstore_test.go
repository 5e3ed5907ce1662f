package token

import (
	"context"
	"slices"
	"sync"
	"time"
)

// memStore is an in-memory KeyStore and Store with the semantics the
// interfaces document, for tests that need to reach inside a store (a
// race it loses on purpose, a count of rotations); the rest run on SQLite
// (sqlite_test.go). Several Keys share one to play several instances.
type memStore struct {
	mu     sync.Mutex
	keys   map[string][]SigningKey // by tenant, newest first
	tokens map[string]Record
	revs   map[string]Revocation

	// addHook, when set, runs inside AddSigningKey before the
	// compare-and-swap, with the lock released: tests use it to make
	// another instance win a race.
	addHook    func()
	adds       int // successful AddSigningKey calls
	promotions int // successful PromoteSigningKey calls
}

var (
	_ KeyStore = (*memStore)(nil)
	_ Store    = (*memStore)(nil)
)

func newMemStore() *memStore {
	return &memStore{keys: map[string][]SigningKey{}, tokens: map[string]Record{}, revs: map[string]Revocation{}}
}

// testTenant is the tenant of the keys these tests make.
const testTenant = "ten_test"

func (s *memStore) SigningKeys(ctx context.Context, tenant string) ([]SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SigningKey, len(s.keys[tenant]))
	for i, k := range s.keys[tenant] {
		k.PublicKey = slices.Clone(k.PublicKey)
		k.SealedPrivateKey = slices.Clone(k.SealedPrivateKey)
		out[i] = k
	}
	return out, nil
}

func (s *memStore) AddSigningKey(ctx context.Context, tenant string, k *SigningKey) error {
	s.mu.Lock()
	hook := s.addHook
	s.addHook = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ks := range s.keys {
		for _, old := range ks {
			sameLineage := t == tenant && useOf(old.Use) == useOf(k.Use)
			if old.ID == k.ID || (sameLineage && old.State == k.State && k.State != KeyRetired) {
				return ErrConflict
			}
		}
	}
	s.keys[tenant] = slices.Insert(s.keys[tenant], 0, *k)
	s.adds++
	return nil
}

func (s *memStore) PromoteSigningKey(ctx context.Context, tenant, next, expectCurrent string, at, publishUntil time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.keys[tenant]
	n := slices.IndexFunc(keys, func(k SigningKey) bool { return k.ID == next && k.State == KeyNext })
	if n < 0 {
		return ErrConflict
	}
	cur := slices.IndexFunc(keys, func(k SigningKey) bool {
		return k.State == KeyCurrent && useOf(k.Use) == useOf(keys[n].Use)
	})
	if (cur < 0) != (expectCurrent == "") || (cur >= 0 && keys[cur].ID != expectCurrent) {
		return ErrConflict
	}
	if cur >= 0 {
		keys[cur].State, keys[cur].RetiredAt, keys[cur].PublishUntil = KeyRetired, at, publishUntil
	}
	keys[n].State, keys[n].ActivatedAt = KeyCurrent, at
	s.promotions++
	return nil
}

func (s *memStore) ResealSigningKeys(ctx context.Context, reseal func(SigningKey) ([]byte, error)) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][][]byte{}
	n := 0
	for t, keys := range s.keys {
		for _, k := range keys {
			b, err := reseal(k)
			if err != nil {
				return 0, err
			}
			out[t] = append(out[t], b)
			n++
		}
	}
	for t, keys := range s.keys {
		for i := range keys {
			keys[i].SealedPrivateKey = out[t][i]
		}
	}
	return n, nil
}

func (s *memStore) PruneSigningKeys(ctx context.Context, tenant string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[tenant] = slices.DeleteFunc(s.keys[tenant], func(k SigningKey) bool {
		return !k.RetiredAt.IsZero() && k.PublishUntil.Before(t)
	})
	return nil
}

func (s *memStore) CreateToken(ctx context.Context, r *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[r.Hash]; ok {
		return ErrConflict
	}
	s.tokens[r.Hash] = *r
	return nil
}

func (s *memStore) TokenByHash(ctx context.Context, hash string) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.tokens[hash]
	if !ok {
		return nil, ErrNotFound
	}
	return &r, nil
}

func (s *memStore) Revoke(ctx context.Context, r Revocation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.revs[r.TokenID]; ok {
		r.ExpiresAt = later(r.ExpiresAt, old.ExpiresAt)
		r.IssuedBefore = later(r.IssuedBefore, old.IssuedBefore)
	}
	s.revs[r.TokenID] = r
	for h, t := range s.tokens {
		if t.ID == r.TokenID {
			delete(s.tokens, h)
		}
	}
	return nil
}

func (s *memStore) Revocations(ctx context.Context, t time.Time) ([]Revocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Revocation
	for _, r := range s.revs {
		if r.ExpiresAt.After(t) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *memStore) RevocationsByID(ctx context.Context, ids []string) ([]Revocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Revocation
	for _, id := range ids {
		if r, ok := s.revs[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *memStore) PruneTokens(ctx context.Context, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, r := range s.tokens {
		if r.ExpiresAt.Before(t) {
			delete(s.tokens, h)
		}
	}
	for id, r := range s.revs {
		if r.ExpiresAt.Before(t) {
			delete(s.revs, id)
		}
	}
	return nil
}

// clock is a settable test clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// keyIDs returns the IDs of testTenant's keys of every use, newest first.
func (s *memStore) keyIDs() []string { return s.keyIDsOf("") }

// keyIDsOf returns the IDs of testTenant's keys of one use (every use when
// use is ""), newest first.
func (s *memStore) keyIDsOf(use KeyUse) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, k := range s.keys[testTenant] {
		if use == "" || useOf(k.Use) == use {
			ids = append(ids, k.ID)
		}
	}
	return ids
}
