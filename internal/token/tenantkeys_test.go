package token

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// newTenantKeys returns TenantKeys over st whose access keys are ES256 and
// whose ID keys have idAlg; an idAlg of "-" means no ID lineage.
func newTenantKeys(st KeyStore, clk *clock, idAlg string) *TenantKeys {
	tk := &TenantKeys{New: func(tenant string) *Keys {
		return &Keys{Tenant: tenant, Store: st, KEK: testKEK(7), Retain: 49 * time.Hour, Now: clk.Now}
	}}
	if idAlg != "-" {
		tk.NewID = func(tenant string) *Keys {
			return &Keys{Tenant: tenant, Use: UseID, Algorithm: idAlg, Store: st, KEK: testKEK(7), Retain: 49 * time.Hour, Now: clk.Now}
		}
	}
	return tk
}

// lineagesOf returns a tenant's access and ID keys.
func lineagesOf(t testing.TB, tk *TenantKeys, tenant string) (access, id *Keys) {
	t.Helper()
	access, err := tk.Get(context.Background(), tenant)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if id, err = tk.ID(context.Background(), tenant); err != nil {
		t.Fatalf("ID: %v", err)
	}
	return access, id
}

// jwksOf returns a tenant's JWKS, parsed.
func jwksOf(t testing.TB, tk *TenantKeys, tenant string) jwksDoc {
	t.Helper()
	b, err := tk.JWKS(context.Background(), tenant)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var doc jwksDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, b)
	}
	return doc
}

func (d jwksDoc) kids() []string {
	var ids []string
	for _, k := range d.Keys {
		ids = append(ids, k["kid"])
	}
	return ids
}

func TestTenantKeysHasTwoLineages(t *testing.T) {
	st, clk := newMemStore(), newClock()
	tk := newTenantKeys(st, clk, RS256)
	access, id := lineagesOf(t, tk, testTenant)
	if access == id || access.use() != UseAccess || id.use() != UseID {
		t.Fatalf("Get and ID returned %p (%s) and %p (%s); want one Keys of each use", access, access.use(), id, id.use())
	}
	akid, aalg := access.Current()
	ikid, ialg := id.Current()
	if aalg != ES256 || ialg != RS256 || akid == ikid {
		t.Fatalf("access signs with %s (%s), ID with %s (%s)", akid, aalg, ikid, ialg)
	}
	if got := st.keyIDsOf(UseAccess); !slices.Equal(got, []string{akid}) {
		t.Errorf("stored access keys %v, want [%s]", got, akid)
	}
	if got := st.keyIDsOf(UseID); !slices.Equal(got, []string{ikid}) {
		t.Errorf("stored ID keys %v, want [%s]", got, ikid)
	}
	for _, sk := range st.keys[testTenant] {
		if want := map[string]KeyUse{akid: UseAccess, ikid: UseID}[sk.ID]; sk.Use != want {
			t.Errorf("key %s stored with use %q, want %q", sk.ID, sk.Use, want)
		}
	}
	if a2, i2 := lineagesOf(t, tk, testTenant); a2 != access || i2 != id || tk.Len() != 1 {
		t.Error("a second use made new Keys")
	}

	// The JWKS publishes both: the access key (EC) first, then the RSA key.
	doc := jwksOf(t, tk, testTenant)
	if got := doc.kids(); !slices.Equal(got, []string{akid, ikid}) {
		t.Fatalf("JWKS kids %v, want [%s %s]", got, akid, ikid)
	}
	if doc.Keys[0]["kty"] != "EC" || doc.Keys[1]["kty"] != "RSA" || doc.Keys[1]["alg"] != RS256 {
		t.Errorf("JWKS keys %v, want an EC key then an RS256 key", doc.Keys)
	}
}

func TestTenantKeysConcurrentFirstUseMakesOneKeyPerLineage(t *testing.T) {
	st, clk := newMemStore(), newClock()
	tk := newTenantKeys(st, clk, EdDSA)
	calls := []func(ctx context.Context) error{
		func(ctx context.Context) error { _, err := tk.Get(ctx, testTenant); return err },
		func(ctx context.Context) error { _, err := tk.ID(ctx, testTenant); return err },
		func(ctx context.Context) error { _, err := tk.JWKS(ctx, testTenant); return err },
		func(ctx context.Context) error { _, err := tk.IDAlgorithms(ctx, testTenant); return err },
	}
	for i, err := range together(8, func(i int) error { return calls[i%len(calls)](context.Background()) }) {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if st.adds != 2 || tk.Len() != 1 {
		t.Fatalf("%d keys made, %d tenants loaded; want 2 and 1", st.adds, tk.Len())
	}
}

func TestTenantKeysLineagesRotateIndependently(t *testing.T) {
	st, clk := newMemStore(), newClock()
	tk := newTenantKeys(st, clk, EdDSA)
	ctx := context.Background()
	access, id := lineagesOf(t, tk, testTenant)
	a0, _ := access.Current()
	i0, _ := id.Current()

	clk.Advance(time.Minute)
	if err := id.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	i1, _ := id.Next()
	if next, _ := access.Next(); next != "" || i1 == "" {
		t.Fatalf("rotating the ID lineage: ID next %q, access next %q", i1, next)
	}
	if got := jwksOf(t, tk, testTenant).kids(); !slices.Equal(got, []string{a0, i0, i1}) {
		t.Fatalf("JWKS kids %v, want [%s %s %s]", got, a0, i0, i1)
	}
	// The access lineage rotates too, without meeting the ID next key.
	if err := access.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	a1, _ := access.Current()
	if cur, _ := id.Current(); cur != i0 || a1 == a0 {
		t.Fatalf("after the access rotation: access %s (was %s), ID %s (want %s)", a1, a0, cur, i0)
	}
	if err := tk.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if next, _ := id.Next(); next != i1 {
		t.Fatalf("the access promotion took the ID next key: ID next %q", next)
	}
	if got := jwksOf(t, tk, testTenant).kids(); !slices.Equal(got, []string{a1, a0, i0, i1}) {
		t.Fatalf("JWKS kids %v, want [%s %s %s %s]", got, a1, a0, i0, i1)
	}
	// Each Keys publishes its own lineage only.
	if got := jwksKIDs(t, id); !slices.Equal(got, []string{i0, i1}) {
		t.Errorf("ID Keys publish %v, want [%s %s]", got, i0, i1)
	}
	// The ID next key signs once published long enough; the access
	// lineage's retired key stays until its own Retain.
	clk.Advance(DefaultPublishAhead)
	if err := tk.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, _ := id.Current(); cur != i1 {
		t.Fatalf("after PublishAhead the ID lineage signs with %s, want %s", cur, i1)
	}
	if cur, _ := access.Current(); cur != a1 {
		t.Fatalf("the ID promotion changed the access key to %s", cur)
	}
	if got := jwksOf(t, tk, testTenant).kids(); !slices.Equal(got, []string{a1, a0, i1, i0}) {
		t.Fatalf("JWKS kids %v, want [%s %s %s %s]", got, a1, a0, i1, i0)
	}
}

// A key stored before keys had uses has an empty Use: it is an access
// key, and the ID lineage makes one of its own.
func TestKeyWithoutUseIsAnAccessKey(t *testing.T) {
	st, clk := newMemStore(), newClock()
	old := newKeys(t, st, clk, "")
	kid, _ := old.Current()
	st.keys[testTenant][0].Use = ""
	access, id := lineagesOf(t, newTenantKeys(st, clk, EdDSA), testTenant)
	if cur, _ := access.Current(); cur != kid {
		t.Errorf("access keys sign with %s, want the stored key %s", cur, kid)
	}
	if cur, _ := id.Current(); cur == kid || cur == "" {
		t.Errorf("ID keys sign with %q; want a key of their own", cur)
	}
}

func TestTenantKeysJWKSIsCached(t *testing.T) {
	st, clk := newMemStore(), newClock()
	tk := newTenantKeys(st, clk, EdDSA)
	ctx := context.Background()
	first, err := tk.JWKS(ctx, testTenant)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := tk.JWKS(ctx, testTenant)
	if &first[0] != &again[0] {
		t.Error("an unchanged JWKS was made again")
	}
	if n := testing.AllocsPerRun(100, func() { tk.JWKS(ctx, testTenant) }); n != 0 {
		t.Errorf("JWKS allocates %v times per call", n)
	}
	_, id := lineagesOf(t, tk, testTenant)
	if err := id.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	next, _ := id.Next()
	after, _ := tk.JWKS(ctx, testTenant)
	if !bytes.Contains(after, []byte(next)) || bytes.Contains(first, []byte(next)) {
		t.Errorf("the JWKS did not follow the ID lineage's rotation:\nbefore %s\nafter %s", first, after)
	}
}

func TestMergeJWKSPublishesEachKeyOnce(t *testing.T) {
	clk := newClock()
	a := newKeys(t, newMemStore(), clk, ES256).set.Load()
	b := newKeys(t, newMemStore(), clk, EdDSA).set.Load()
	var doc jwksDoc
	if err := json.Unmarshal(mergeJWKS(a, nil, b, a), &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{a.signer.KeyID(), b.signer.KeyID()}
	if got := doc.kids(); !slices.Equal(got, want) {
		t.Errorf("merged kids %v, want %v", got, want)
	}
	if got := string(mergeJWKS()); got != `{"keys":[]}` {
		t.Errorf("merge of nothing = %s", got)
	}
}

func TestTenantKeysSignIDPicksLineageByAlg(t *testing.T) {
	st, clk := newMemStore(), newClock()
	now := clk.Now()
	rsa := newTenantKeys(st, clk, RS256)
	access, id := lineagesOf(t, rsa, testTenant)
	akid, _ := access.Current()
	ikid, _ := id.Current()
	// A tenant whose ID lineage has the access lineage's algorithm.
	esID := newTenantKeys(newMemStore(), clk, ES256)
	_, esIDKeys := lineagesOf(t, esID, testTenant)
	esIDKid, _ := esIDKeys.Current()
	// A tenant without an ID lineage.
	noID := newTenantKeys(newMemStore(), clk, "-")
	noIDAccess, _ := lineagesOf(t, noID, testTenant)
	noIDKid, _ := noIDAccess.Current()

	tests := []struct {
		name    string
		tk      *TenantKeys
		alg     string
		wantKID string
		wantAlg string
	}{
		{"empty alg: the ID lineage", rsa, "", ikid, RS256},
		{"RS256: the ID lineage", rsa, RS256, ikid, RS256},
		{"ES256: the access lineage", rsa, ES256, akid, ES256},
		{"EdDSA, which neither has: the ID lineage", rsa, EdDSA, ikid, RS256},
		{"both ES256: the ID lineage first", esID, ES256, esIDKid, ES256},
		{"no ID lineage: the access keys", noID, RS256, noIDKid, ES256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := testIDClaims(now)
			tok, err := tt.tk.SignID(context.Background(), testTenant, tt.alg, in)
			if err != nil {
				t.Fatal(err)
			}
			if kid := tokenKID(t, tok); kid != tt.wantKID {
				t.Fatalf("signed with %s, want %s", kid, tt.wantKID)
			}
			got, err := tt.tk.VerifyID(context.Background(), testTenant, tok, now, idExpect)
			if err != nil || got.Subject != in.Subject || got.Nonce != in.Nonce {
				t.Fatalf("VerifyID = %+v, %v", got, err)
			}

			// A relying party verifies it against the tenant's JWKS.
			b, err := tt.tk.JWKS(context.Background(), testTenant)
			if err != nil {
				t.Fatal(err)
			}
			var jwks jose.JSONWebKeySet
			if err := json.Unmarshal(b, &jwks); err != nil {
				t.Fatal(err)
			}
			parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tt.wantAlg)})
			if err != nil {
				t.Fatalf("not a %s token: %v", tt.wantAlg, err)
			}
			var std josejwt.Claims
			if err := parsed.Claims(jwks, &std); err != nil {
				t.Fatalf("go-jose verification: %v", err)
			}
			if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: in.Issuer, AnyAudience: josejwt.Audience{in.Audience},
				Subject: in.Subject, Time: now}, 0); err != nil {
				t.Errorf("go-jose claims: %v", err)
			}
		})
	}

	bad := testIDClaims(now)
	bad.Subject = ""
	if tok, err := rsa.SignID(context.Background(), testTenant, "", bad); err == nil {
		t.Errorf("SignID without a subject succeeded: %s", tok)
	}
}

func TestTenantKeysVerifyID(t *testing.T) {
	st, clk := newMemStore(), newClock()
	ctx := context.Background()
	now := clk.Now()
	tk := newTenantKeys(st, clk, EdDSA)
	access, id := lineagesOf(t, tk, testTenant)
	byAccess, err := access.SignID(testIDClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	byID, err := id.SignID(testIDClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	other := newTenantKeys(newMemStore(), clk, EdDSA)
	foreign, err := other.SignID(ctx, testTenant, "", testIDClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Hour) // the tokens above live five minutes
	tests := []struct {
		name string
		tok  string
		at   time.Time
		hint bool
		want error // nil: accepted
	}{
		{"signed by the ID lineage", byID, now, false, nil},
		{"signed by the access lineage", byAccess, now, false, nil},
		{"another store's key", foreign, now, false, ErrUnknownKey},
		{"an access token", signTest(t, access, now), now, false, errBadType},
		{"expired", byID, later, false, ErrTokenExpired},
		{"expired access-lineage token", byAccess, later, false, ErrTokenExpired},
		{"expired hint", byID, later, true, nil},
		{"expired hint of the access lineage", byAccess, later, true, nil},
		{"hint from the future", byID, now.Add(-IatLeeway - time.Second), true, errFuture},
		{"hint by another store's key", foreign, later, true, ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verify := tk.VerifyID
			if tt.hint {
				verify = tk.VerifyIDHint
			}
			c, err := verify(ctx, testTenant, tt.tok, tt.at, idExpect)
			switch {
			case tt.want == nil && (err != nil || c == nil || c.Subject != "usr_42"):
				t.Fatalf("= %+v, %v; want the claims", c, err)
			case tt.want != nil && (!errors.Is(err, tt.want) || c != nil):
				t.Fatalf("= %+v, %v; want %v", c, err, tt.want)
			}
		})
	}
	// The hint is held to the same issuer and audience.
	if _, err := tk.VerifyIDHint(ctx, testTenant, byID, later, Expect{Issuer: idExpect.Issuer, Audience: []string{"lkc_other"}}); !errors.Is(err, errAudience) {
		t.Errorf("hint for another client: %v, want errAudience", err)
	}
	if _, err := tk.VerifyIDHint(ctx, testTenant, byID, later, Expect{}); err == nil || errors.Is(err, ErrInvalidToken) {
		t.Errorf("hint with no expectations: %v, want a server-side error", err)
	}

	// Once its key is pruned, even a hint is refused.
	if err := id.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(id.Retain + time.Minute)
	if err := tk.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.VerifyIDHint(ctx, testTenant, byID, clk.Now(), idExpect); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("hint signed by a pruned key: %v, want ErrUnknownKey", err)
	}
}

func TestTenantKeysIDAlgorithms(t *testing.T) {
	tests := []struct {
		idAlg string
		want  []string
	}{
		{RS256, []string{RS256, ES256}},
		{EdDSA, []string{EdDSA, ES256}},
		{ES256, []string{ES256}},
		{"-", []string{ES256}},
	}
	for _, tt := range tests {
		t.Run(tt.idAlg, func(t *testing.T) {
			got, err := newTenantKeys(newMemStore(), newClock(), tt.idAlg).IDAlgorithms(context.Background(), testTenant)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("IDAlgorithms = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestTenantKeysJWKSMaxAge(t *testing.T) {
	st, clk := newMemStore(), newClock()
	tk := newTenantKeys(st, clk, EdDSA)
	if got := tk.JWKSMaxAge(); got != 0 {
		t.Errorf("JWKSMaxAge before any tenant is loaded = %v, want 0", got)
	}
	newID := tk.NewID
	tk.NewID = func(tenant string) *Keys {
		k := newID(tenant)
		k.PublishAhead = 4 * time.Minute
		return k
	}
	if _, err := tk.JWKS(context.Background(), testTenant); err != nil {
		t.Fatal(err)
	}
	if got := tk.JWKSMaxAge(); got != 2*time.Minute {
		t.Errorf("JWKSMaxAge = %v, want the ID lineage's 2m, the smaller", got)
	}
	noID := newTenantKeys(st, clk, "-")
	if _, err := noID.Get(context.Background(), "ten_other"); err != nil {
		t.Fatal(err)
	}
	if got := noID.JWKSMaxAge(); got != DefaultPublishAhead/2 {
		t.Errorf("JWKSMaxAge without an ID lineage = %v, want %v", got, DefaultPublishAhead/2)
	}
}

func TestTenantKeysWithoutIDLineage(t *testing.T) {
	tk := newTenantKeys(newMemStore(), newClock(), "-")
	access, id := lineagesOf(t, tk, testTenant)
	if access != id {
		t.Fatal("without NewID, ID returned other keys than Get")
	}
	b, err := tk.JWKS(context.Background(), testTenant)
	if err != nil || !bytes.Equal(b, access.JWKS()) {
		t.Errorf("JWKS = %s, %v; want the access keys' %s", b, err, access.JWKS())
	}
}

func TestTenantKeysConfigErrors(t *testing.T) {
	st, clk := newMemStore(), newClock()
	good := newTenantKeys(st, clk, EdDSA)
	tests := []struct {
		name string
		tk   *TenantKeys
	}{
		{"no New", &TenantKeys{NewID: good.NewID}},
		{"New makes ID keys", &TenantKeys{New: good.NewID, NewID: good.NewID}},
		{"NewID makes access keys", &TenantKeys{New: good.New, NewID: good.New}},
		{"NewID makes another tenant's keys", &TenantKeys{New: good.New, NewID: func(string) *Keys { return good.NewID("ten_other") }}},
		{"NewID makes nothing", &TenantKeys{New: good.New, NewID: func(string) *Keys { return nil }}},
		{"the ID keys do not load", &TenantKeys{New: good.New, NewID: func(tenant string) *Keys {
			k := good.NewID(tenant)
			k.Algorithm = "HS256"
			return k
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := tt.tk.Get(ctx, testTenant); err == nil {
				t.Error("Get succeeded")
			}
			if _, err := tt.tk.ID(ctx, testTenant); err == nil {
				t.Error("ID succeeded")
			}
			if _, err := tt.tk.JWKS(ctx, testTenant); err == nil {
				t.Error("JWKS succeeded")
			}
			if _, err := tt.tk.SignID(ctx, testTenant, "", testIDClaims(clk.Now())); err == nil {
				t.Error("SignID succeeded")
			}
			if _, err := tt.tk.VerifyID(ctx, testTenant, "a.b.c", clk.Now(), idExpect); err == nil {
				t.Error("VerifyID succeeded")
			}
			if _, err := tt.tk.IDAlgorithms(ctx, testTenant); err == nil {
				t.Error("IDAlgorithms succeeded")
			}
			if tt.tk.Len() != 0 {
				t.Error("a failed load was kept")
			}
		})
	}
}

func TestTenantKeysReloadCoversBothLineages(t *testing.T) {
	st, clk := newMemStore(), newClock()
	ctx := context.Background()
	tk := newTenantKeys(st, clk, EdDSA)
	access, id := lineagesOf(t, tk, testTenant)
	// Another instance rotates both lineages.
	otherAccess, otherID := lineagesOf(t, newTenantKeys(st, clk, EdDSA), testTenant)
	for _, k := range []*Keys{otherAccess, otherID} {
		if err := k.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := tk.Reload(ctx, "ten_not_loaded"); err != nil || tk.Len() != 1 {
		t.Fatalf("Reload of a tenant not loaded: %v, %d loaded", err, tk.Len())
	}
	if err := tk.Reload(ctx, testTenant); err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]*Keys{"access": {access, otherAccess}, "ID": {id, otherID}} {
		got, _ := pair[0].Next()
		want, _ := pair[1].Next()
		if got == "" || got != want {
			t.Errorf("after Reload, the %s next key is %q, want %q", name, got, want)
		}
	}
	// An outage of one lineage's store is reported with its tenant and use.
	id.Store = downStore{} // fields must not change after Load; a test may cheat
	for name, err := range map[string]error{"Reload": tk.Reload(ctx, testTenant), "Load": tk.Load(ctx), "Refresh": tk.Refresh(ctx)} {
		if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "tenant "+testTenant+", id keys") {
			t.Errorf("%s = %v; want the store's error, naming the tenant and the ID lineage", name, err)
		}
	}
}

func TestTenantKeysRunRefreshesBothLineages(t *testing.T) {
	st, clk := newMemStore(), newClock()
	var mu sync.Mutex
	var logged strings.Builder
	var once sync.Once
	both := make(chan struct{})
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		logged.Write(p)
		s := logged.String()
		if strings.Contains(s, "use=access") && strings.Contains(s, "use=id") && strings.Count(s, "published the next signing key") == 2 {
			once.Do(func() { close(both) })
		}
		return len(p), nil
	}), nil))
	tk := newTenantKeys(st, clk, EdDSA)
	for _, f := range []*func(string) *Keys{&tk.New, &tk.NewID} {
		newKeys := *f
		*f = func(tenant string) *Keys { k := newKeys(tenant); k.Logger = logger; return k }
	}
	if _, err := tk.Get(context.Background(), testTenant); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultRotateEvery)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tk.Run(ctx, time.Millisecond); close(done) }()
	<-both
	cancel()
	<-done
}
