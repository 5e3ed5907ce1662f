package token

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Keys' zero-valued fields.
const (
	DefaultRotateEvery = 30 * 24 * time.Hour
	// DefaultRetain covers the longest access-token lifetime (48 h) plus a
	// margin for instances that sign with a key a while after it retired.
	DefaultRetain = 48*time.Hour + time.Hour
	// DefaultPublishAhead is twice JWKSMaxAge's five minutes: a resource
	// server that fetched the JWKS just before a next key appeared has
	// refetched it, with room for the poll by which other instances learn
	// of the key, before any instance signs with it.
	DefaultPublishAhead = 10 * time.Minute
)

// Keys manages one lineage of a tenant's signing keys, those of one
// [KeyUse]: it loads them from a KeyStore, rotates them, publishes their
// public halves as a JWKS, and signs and verifies tokens of every kind
// (access tokens, ID tokens). Keys of another use in the same store are
// another lineage, rotated by another Keys on its own; [TenantKeys] joins
// a tenant's lineages into one JWKS.
//
// A key is published before it signs: rotation first makes a next key,
// which appears in the JWKS at once and is promoted to current (the key
// that signs) once it has been published for PublishAhead, so resource
// servers that cache the JWKS for JWKSMaxAge hold it before they meet a
// token signed with it. The first key of a lineage signs at once: there
// is no other to sign meanwhile, and TenantKeys makes a tenant's lineages
// together, so nobody has cached the tenant's JWKS without it. The key it
// replaces is retired and stays published for Retain.
//
// Set the fields, then call Load before anything else; fields must not
// change afterwards. The Sign and Verify methods, JWKS and Current are safe for
// concurrent use and take no lock: they read an immutable key set that
// Load, Rotate and Refresh replace atomically. Many instances (processes)
// may share one KeyStore; the store's compare-and-swap keeps their
// rotations from multiplying keys.
type Keys struct {
	// Tenant is the tenant whose keys these are. Required.
	Tenant string
	// Use is the lineage: Keys loads, rotates, promotes and publishes only
	// the tenant's keys of this use, and makes its new keys with it. The
	// zero value means UseAccess.
	Use KeyUse
	// Store keeps the keys. Required.
	Store KeyStore
	// KEK is the 32-byte key-encryption key that seals private keys at
	// rest. Required.
	KEK []byte
	// Algorithm is the JWS alg of new keys: ES256 (the zero value),
	// EdDSA or RS256. When the current key has another algorithm, Refresh
	// prepares a next key of this one, which takes over after
	// PublishAhead.
	Algorithm string
	// RotateEvery is how long a key signs before Refresh replaces it:
	// Refresh makes the next key PublishAhead earlier. Zero means
	// DefaultRotateEvery.
	RotateEvery time.Duration
	// PublishAhead is how long a next key is published before it signs.
	// It must exceed JWKSMaxAge plus the time instances take to learn of a
	// new key (one change poll, or their Refresh interval). Zero means
	// DefaultPublishAhead.
	PublishAhead time.Duration
	// Retain is how long a retired key stays published. It must be at
	// least the longest access-token lifetime plus the Refresh interval
	// (another instance may sign with a key until it next refreshes).
	// Zero means DefaultRetain.
	Retain time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Random is the entropy source for sealing nonces and Ed25519 keys;
	// nil means crypto/rand.Reader. (ECDSA key generation always uses the
	// system source since Go 1.26.)
	Random io.Reader
	// Logger receives rotation events and Run's errors, never key
	// material. Nil discards them.
	Logger *slog.Logger

	mu     sync.Mutex // serializes Load, Rotate and Refresh in this process
	sealer *Sealer    // made by the first Load; guarded by mu
	set    atomic.Pointer[keySet]
}

// keySet is an immutable snapshot of the published keys.
type keySet struct {
	signer        Signer
	signerHeaders [numKinds]string // base64url JWS headers for signer's key
	activatedAt   time.Time        // when the current key started signing
	next          *SigningKey
	published     []*publishedKey
	jwks          []byte
}

// publishedKey is a key that verifies tokens and appears in the JWKS.
type publishedKey struct {
	*keyMaterial
	headers [numKinds]string // the headers our own tokens carry for this key
}

// errNoCurrentKey means the store holds no current key.
var errNoCurrentKey = errors.New("token: no current signing key")

func (k *Keys) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

func (k *Keys) use() KeyUse { return useOf(k.Use) }

// useOf reads an empty KeyUse as UseAccess, as stored keys made before
// there were uses have it.
func useOf(u KeyUse) KeyUse {
	if u == "" {
		return UseAccess
	}
	return u
}

func (k *Keys) algorithm() string {
	if k.Algorithm == "" {
		return ES256
	}
	return k.Algorithm
}

func (k *Keys) rotateEvery() time.Duration {
	if k.RotateEvery > 0 {
		return k.RotateEvery
	}
	return DefaultRotateEvery
}

func (k *Keys) publishAhead() time.Duration {
	if k.PublishAhead > 0 {
		return k.PublishAhead
	}
	return DefaultPublishAhead
}

// JWKSMaxAge is how long a JWKS response may be cached: half of
// PublishAhead, so a cache is refreshed at least once while a next key is
// published ahead of use.
func (k *Keys) JWKSMaxAge() time.Duration { return k.publishAhead() / 2 }

func (k *Keys) retain() time.Duration {
	if k.Retain > 0 {
		return k.Retain
	}
	return DefaultRetain
}

func (k *Keys) random() io.Reader {
	if k.Random != nil {
		return k.Random
	}
	return rand.Reader
}

func (k *Keys) logger() *slog.Logger {
	if k.Logger != nil {
		return k.Logger.With("tenant", k.Tenant, "use", string(k.use()))
	}
	return slog.New(slog.DiscardHandler)
}

// init checks the configuration and makes the sealer. Called with mu held.
func (k *Keys) init() error {
	if k.sealer != nil {
		return nil
	}
	if k.Store == nil {
		return errors.New("token: Keys.Store is nil")
	}
	if k.Tenant == "" {
		return errors.New("token: Keys.Tenant is empty")
	}
	if u := k.use(); u != UseAccess && u != UseID {
		return fmt.Errorf("token: unknown key use %q (want %s or %s)", u, UseAccess, UseID)
	}
	if alg := k.algorithm(); !supported(alg) {
		return errUnsupported(alg)
	}
	s, err := NewSealer(k.KEK, k.random())
	if err != nil {
		return err
	}
	k.sealer = s
	return nil
}

// Load reads the keys from the store and makes them live. When the store
// has no current key it creates one, which signs at once; when another
// instance creates one at the same moment, Load uses that instead. Load
// may be called again at any time to pick up other instances' changes.
func (k *Keys) Load(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.init(); err != nil {
		return err
	}
	return k.load(ctx)
}

// load is Load with mu held.
func (k *Keys) load(ctx context.Context) error {
	err := k.reload(ctx)
	if errors.Is(err, errNoCurrentKey) {
		return k.add(ctx, KeyCurrent)
	}
	return err
}

// Rotate prepares the next key: it is published at once and signs from
// PublishAhead later (Next tells when), once a Refresh, here or in
// another instance, promotes it. When a next key exists already, Rotate
// leaves it; when another instance makes one at the same moment, Rotate
// adopts theirs.
func (k *Keys) Rotate(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.init(); err != nil {
		return err
	}
	if err := k.load(ctx); err != nil {
		return err
	}
	if k.set.Load().next != nil {
		return nil
	}
	return k.add(ctx, KeyNext)
}

// RotateNow is the emergency rotation: the next key (made now when there
// is none) signs at once, and the current key retires. Resource servers
// that have not yet fetched the new key meet an unknown kid; well-behaved
// ones refetch the JWKS then, others fail until their cache expires.
func (k *Keys) RotateNow(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.init(); err != nil {
		return err
	}
	if err := k.load(ctx); err != nil {
		return err
	}
	if k.set.Load().next == nil {
		if err := k.add(ctx, KeyNext); err != nil {
			return err
		}
	}
	return k.promote(ctx)
}

// Refresh is the periodic upkeep: it deletes keys whose PublishUntil has
// passed (of every use: each key's own lineage set its PublishUntil) and
// picks up other instances' changes; it makes the next key
// PublishAhead before the current one has signed for RotateEvery (or at
// once when the current key's algorithm is not Algorithm), and promotes
// the next key once it has been published for PublishAhead. Instances
// sharing a store may call it at once; one of them makes or promotes the
// key.
func (k *Keys) Refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.init(); err != nil {
		return err
	}
	now := k.now()
	// A failed prune only leaves rows behind (reload stops publishing
	// them anyway), so carry on and report it at the end.
	var pruneErr error
	if err := k.Store.PruneSigningKeys(ctx, k.Tenant, now); err != nil {
		pruneErr = fmt.Errorf("token: pruning signing keys: %w", err)
	}
	err := k.load(ctx)
	if err == nil {
		set := k.set.Load()
		switch {
		case set.next != nil && !now.Before(set.next.CreatedAt.Add(k.publishAhead())):
			err = k.promote(ctx)
		case set.next != nil:
		case set.signer.Algorithm() != k.algorithm():
			k.logger().Info("token: signing algorithm changed; preparing a key",
				"kid", set.signer.KeyID(), "from", set.signer.Algorithm(), "to", k.algorithm())
			err = k.add(ctx, KeyNext)
		case !now.Before(set.activatedAt.Add(k.rotateEvery() - k.publishAhead())):
			err = k.add(ctx, KeyNext)
		}
	}
	return errors.Join(err, pruneErr)
}

// Run calls Refresh every interval until ctx is done, logging failures.
// An interval of zero or less means one minute.
func (k *Keys) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Refresh(ctx); err != nil && ctx.Err() == nil {
				k.logger().Error("token: refreshing signing keys", "err", err)
			}
		}
	}
}

// Current returns the key ID and algorithm tokens are signed with now,
// or empty strings before Load.
func (k *Keys) Current() (kid, alg string) {
	set := k.set.Load()
	if set == nil {
		return "", ""
	}
	return set.signer.KeyID(), set.signer.Algorithm()
}

// Next returns the ID of the key published ahead of use and when it may
// start signing, or "" when there is none.
func (k *Keys) Next() (kid string, signsFrom time.Time) {
	set := k.set.Load()
	if set == nil || set.next == nil {
		return "", time.Time{}
	}
	return set.next.ID, set.next.CreatedAt.Add(k.publishAhead())
}

// JWKS returns the JSON Web Key Set {"keys":[...]} of every published
// key, current first, then next, then retired, ready to serve. The slice is shared: callers must
// not modify it. Before Load it is an empty set.
func (k *Keys) JWKS() []byte {
	set := k.set.Load()
	if set == nil {
		return []byte(`{"keys":[]}`)
	}
	return set.jwks
}

// add stores a new key in state (KeyNext, or KeyCurrent for the first
// key), then reloads. A conflict means another instance won the race: its
// key is adopted by the reload. Called with mu held.
func (k *Keys) add(ctx context.Context, state KeyState) error {
	alg := k.algorithm()
	priv, err := generateKey(alg, k.random())
	if err != nil {
		return err
	}
	m, err := newKeyMaterial(alg, "", priv.Public())
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(m.pub)
	if err != nil {
		return err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	sealed, err := k.sealer.Seal(m.id, privDER)
	clear(privDER)
	if err != nil {
		return err
	}
	now := k.now()
	sk := &SigningKey{
		ID:               m.id,
		Algorithm:        alg,
		Use:              k.use(),
		PublicKey:        pubDER,
		SealedPrivateKey: sealed,
		State:            state,
		CreatedAt:        now,
	}
	if state == KeyCurrent {
		sk.ActivatedAt = now
	}
	err = k.Store.AddSigningKey(ctx, k.Tenant, sk)
	switch {
	case errors.Is(err, ErrConflict):
		k.logger().Debug("token: another instance made the signing key first", "state", state)
	case err != nil:
		return fmt.Errorf("token: storing signing key: %w", err)
	case state == KeyNext:
		k.logger().Info("token: published the next signing key", "kid", m.id, "alg", alg,
			"signs_from", now.Add(k.publishAhead()))
	default:
		k.logger().Info("token: made the first signing key", "kid", m.id, "alg", alg)
	}
	return k.reload(ctx)
}

// promote makes the next key current and retires the current one, then
// reloads. A conflict means another instance promoted first. Called with
// mu held and a next key loaded.
func (k *Keys) promote(ctx context.Context) error {
	set := k.set.Load()
	next, cur := set.next.ID, set.signer.KeyID()
	now := k.now()
	err := k.Store.PromoteSigningKey(ctx, k.Tenant, next, cur, now, now.Add(k.retain()))
	switch {
	case errors.Is(err, ErrConflict):
		k.logger().Debug("token: another instance promoted the signing key first", "kid", next)
	case err != nil:
		return fmt.Errorf("token: promoting signing key: %w", err)
	default:
		k.logger().Info("token: rotated signing key", "kid", next, "retired", cur)
	}
	return k.reload(ctx)
}

// reload reads the store and swaps in a new key set of k's use. It
// returns errNoCurrentKey, leaving the live set alone, when no key of the
// use is current. Called with mu held.
func (k *Keys) reload(ctx context.Context) error {
	stored, err := k.Store.SigningKeys(ctx, k.Tenant)
	if err != nil {
		return fmt.Errorf("token: reading signing keys: %w", err)
	}
	now := k.now()
	use := k.use()
	var cur, next *SigningKey
	var retired []*SigningKey
	for i := range stored {
		sk := &stored[i]
		if useOf(sk.Use) != use {
			continue // another lineage's
		}
		switch sk.State {
		case KeyCurrent:
			if cur != nil {
				return fmt.Errorf("token: keys %s and %s are both current", cur.ID, sk.ID)
			}
			cur = sk
		case KeyNext:
			if next != nil {
				return fmt.Errorf("token: keys %s and %s are both next", next.ID, sk.ID)
			}
			next = sk
		case KeyRetired:
			if now.Before(sk.PublishUntil) {
				retired = append(retired, sk)
			}
		default:
			return fmt.Errorf("token: key %s has unknown state %q", sk.ID, sk.State)
		}
	}
	if cur == nil {
		return errNoCurrentKey
	}

	set := &keySet{activatedAt: cur.ActivatedAt}
	if next != nil {
		n := *next
		n.SealedPrivateKey = nil // not needed until promoted
		set.next = &n
	}
	m, err := parsePublicKey(cur)
	if err != nil {
		return err
	}
	if old := k.set.Load(); old != nil && old.signer.KeyID() == cur.ID {
		// Unchanged current key: keep it rather than unseal another copy.
		set.signer, set.signerHeaders = old.signer, old.signerHeaders
	} else if set.signer, err = k.unseal(cur, m.pub); err != nil {
		return err
	} else if set.signerHeaders, err = headers(cur.Algorithm, cur.ID); err != nil {
		return err
	}
	if err := set.publish(m); err != nil {
		return err
	}
	others := retired
	if next != nil {
		others = append([]*SigningKey{next}, retired...)
	}
	for _, sk := range others {
		m, err := parsePublicKey(sk)
		if err != nil {
			return err
		}
		if err := set.publish(m); err != nil {
			return err
		}
	}
	set.jwks = append(set.jwks, `{"keys":[`...)
	for i, p := range set.published {
		if i > 0 {
			set.jwks = append(set.jwks, ',')
		}
		set.jwks = append(set.jwks, p.jwk...)
	}
	set.jwks = append(set.jwks, "]}"...)
	k.set.Store(set)
	return nil
}

func (s *keySet) publish(m *keyMaterial) error {
	h, err := headers(m.alg, m.id)
	if err != nil {
		return err
	}
	s.published = append(s.published, &publishedKey{keyMaterial: m, headers: h})
	return nil
}

// unseal decrypts sk's private key and checks it against its public key.
func (k *Keys) unseal(sk *SigningKey, pub crypto.PublicKey) (Signer, error) {
	der, err := k.sealer.Open(sk.ID, sk.SealedPrivateKey)
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("token: key %s: parsing private key: %w", sk.ID, err)
	}
	cs, ok := priv.(crypto.Signer)
	if ok {
		eq, canCompare := cs.Public().(interface{ Equal(crypto.PublicKey) bool })
		ok = canCompare && eq.Equal(pub)
	}
	if !ok {
		return nil, fmt.Errorf("token: key %s: private key does not match its public key", sk.ID)
	}
	return newSigner(sk.Algorithm, sk.ID, priv)
}
