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
)

// Keys manages the signing keys: it loads them from a KeyStore, rotates
// them, publishes their public halves as a JWKS, and signs and verifies
// tokens of every kind (access tokens, ID tokens).
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
	// Store keeps the keys. Required.
	Store KeyStore
	// KEK is the 32-byte key-encryption key that seals private keys at
	// rest. Required.
	KEK []byte
	// Algorithm is the JWS alg of new keys: ES256 (the zero value),
	// EdDSA or RS256. At Load, a current key of another algorithm is
	// rotated out.
	Algorithm string
	// RotateEvery is the age at which Refresh replaces the current key.
	// Zero means DefaultRotateEvery.
	RotateEvery time.Duration
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
	createdAt     time.Time        // when the current key was made
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
		return k.Logger.With("tenant", k.Tenant)
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
// has no current key it creates one; when another instance creates one
// at the same moment, Load uses that instead. When the current key's
// algorithm is not Algorithm, Load rotates to a key that is. Load may be
// called again at any time to pick up other instances' changes.
func (k *Keys) Load(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.init(); err != nil {
		return err
	}
	err := k.reload(ctx)
	if errors.Is(err, errNoCurrentKey) {
		return k.rotate(ctx, "")
	}
	if err != nil {
		return err
	}
	if cur := k.set.Load().signer; cur.Algorithm() != k.algorithm() {
		k.logger().Info("token: signing algorithm changed; rotating",
			"kid", cur.KeyID(), "from", cur.Algorithm(), "to", k.algorithm())
		return k.rotate(ctx, cur.KeyID())
	}
	return nil
}

// Rotate makes a new current key now and retires the current one, which
// stays published for Retain. If another instance rotated since this one
// last loaded, Rotate makes no key and adopts theirs instead.
func (k *Keys) Rotate(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.init(); err != nil {
		return err
	}
	return k.rotate(ctx, k.currentID())
}

// Refresh is the periodic upkeep: it deletes keys whose PublishUntil has
// passed, picks up other instances' changes, and rotates when the current
// key is older than RotateEvery. Instances sharing a store may call it
// at once; exactly one of them rotates.
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
	err := k.reload(ctx)
	switch {
	case errors.Is(err, errNoCurrentKey):
		err = k.rotate(ctx, "")
	case err != nil:
	case now.Sub(k.set.Load().createdAt) >= k.rotateEvery():
		err = k.rotate(ctx, k.currentID())
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

// JWKS returns the JSON Web Key Set {"keys":[...]} of every published
// key, current first, ready to serve. The slice is shared: callers must
// not modify it. Before Load it is an empty set.
func (k *Keys) JWKS() []byte {
	set := k.set.Load()
	if set == nil {
		return []byte(`{"keys":[]}`)
	}
	return set.jwks
}

func (k *Keys) currentID() string {
	if set := k.set.Load(); set != nil {
		return set.signer.KeyID()
	}
	return ""
}

// rotate stores a new key, expecting expectCurrent to be current, then
// reloads. A conflict means another instance won the race: its key is
// adopted by the reload. Called with mu held.
func (k *Keys) rotate(ctx context.Context, expectCurrent string) error {
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
		PublicKey:        pubDER,
		SealedPrivateKey: sealed,
		CreatedAt:        now,
	}
	err = k.Store.RotateSigningKey(ctx, k.Tenant, sk, expectCurrent, now.Add(k.retain()))
	switch {
	case errors.Is(err, ErrConflict):
		k.logger().Debug("token: another instance rotated the signing key first", "expected", expectCurrent)
	case err != nil:
		return fmt.Errorf("token: storing signing key: %w", err)
	default:
		k.logger().Info("token: rotated signing key", "kid", m.id, "alg", alg, "retired", expectCurrent)
	}
	return k.reload(ctx)
}

// reload reads the store and swaps in a new key set. It returns
// errNoCurrentKey, leaving the live set alone, when no key is current.
// Called with mu held.
func (k *Keys) reload(ctx context.Context) error {
	stored, err := k.Store.SigningKeys(ctx, k.Tenant)
	if err != nil {
		return fmt.Errorf("token: reading signing keys: %w", err)
	}
	now := k.now()
	var cur *SigningKey
	var retired []*SigningKey
	for i := range stored {
		sk := &stored[i]
		switch {
		case sk.RetiredAt.IsZero() && cur == nil: // newest first: the first is current
			cur = sk
		case sk.RetiredAt.IsZero():
			return fmt.Errorf("token: keys %s and %s are both current", cur.ID, sk.ID)
		case now.Before(sk.PublishUntil):
			retired = append(retired, sk)
		}
	}
	if cur == nil {
		return errNoCurrentKey
	}

	set := &keySet{createdAt: cur.CreatedAt}
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
	for _, sk := range retired {
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
