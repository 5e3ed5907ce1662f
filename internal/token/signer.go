package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
)

// Algorithms Latchkey signs with; the values are JWS "alg" names.
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256, the default
	EdDSA = "EdDSA" // Ed25519
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, which every OpenID Connect client must accept
)

// RSA key sizes. New keys have RSAKeyBits; a stored or published key of
// fewer than MinRSAKeyBits is refused.
//
// 2048 rather than 3072. RSA signs a tenant's ID tokens by default (their
// own lineage), and its access tokens too when an operator picks RS256
// for them, which puts the key size on the token endpoint's hot path and
// on every introspection. Measured here (Go 1.26, BenchmarkSignAccess and
// BenchmarkVerifyAccess with RS256): 2048-bit keys sign in about 1.3 ms
// and verify in 31 µs; 3072-bit keys take 2.9 ms and 213 µs, since Go's
// RSA arithmetic has a fast path for 2048-bit moduli. 2048 bits (112-bit
// strength) is what NIST SP 800-57 accepts for new signatures until 2030,
// and a signature here needs to hold only as long as its token lives (at
// most 48 hours) under a key that rotates monthly; raising RSAKeyBits then
// takes effect at each tenant's next rotation.
const (
	RSAKeyBits    = 2048
	MinRSAKeyBits = 2048
)

// algorithms lists what Keys can sign with.
var algorithms = [...]string{ES256, EdDSA, RS256}

func supported(alg string) bool { return slices.Contains(algorithms[:], alg) }

func errUnsupported(alg string) error {
	return fmt.Errorf("token: unsupported signing algorithm %q (want %s, %s or %s)", alg, ES256, EdDSA, RS256)
}

// Signer produces JWS signatures with one key. Keys uses an in-process
// implementation; the interface keeps signing swappable (an HSM or a KMS,
// say) without touching token encoding.
type Signer interface {
	// KeyID is the key's JWS "kid".
	KeyID() string
	// Algorithm is the key's JWS "alg".
	Algorithm() string
	// Sign returns the JWS signature over signingInput (the ASCII
	// "header.payload"), in JWS form: for ES256 the 64-byte r||s.
	Sign(signingInput []byte) ([]byte, error)
}

// es256Signer signs with an in-memory P-256 key.
type es256Signer struct {
	kid  string
	priv *ecdsa.PrivateKey
}

func (s *es256Signer) KeyID() string     { return s.kid }
func (s *es256Signer) Algorithm() string { return ES256 }

func (s *es256Signer) Sign(signingInput []byte) ([]byte, error) {
	digest := sha256.Sum256(signingInput)
	// crypto/ecdsa only hands out ASN.1 DER; JWS wants fixed-width r||s
	// (RFC 7518 §3.4). The random source is the system's, always.
	der, err := ecdsa.SignASN1(nil, s.priv, digest[:])
	if err != nil {
		return nil, err
	}
	return derToRS(der, 32)
}

// ed25519Signer signs with an in-memory Ed25519 key.
type ed25519Signer struct {
	kid  string
	priv ed25519.PrivateKey
}

func (s *ed25519Signer) KeyID() string     { return s.kid }
func (s *ed25519Signer) Algorithm() string { return EdDSA }

func (s *ed25519Signer) Sign(signingInput []byte) ([]byte, error) {
	return ed25519.Sign(s.priv, signingInput), nil
}

// rs256Signer signs with an in-memory RSA key.
type rs256Signer struct {
	kid  string
	priv *rsa.PrivateKey
}

func (s *rs256Signer) KeyID() string     { return s.kid }
func (s *rs256Signer) Algorithm() string { return RS256 }

func (s *rs256Signer) Sign(signingInput []byte) ([]byte, error) {
	digest := sha256.Sum256(signingInput)
	// PKCS #1 v1.5 signing is deterministic: no random source is read.
	return rsa.SignPKCS1v15(nil, s.priv, crypto.SHA256, digest[:])
}

var (
	_ Signer = (*es256Signer)(nil)
	_ Signer = (*ed25519Signer)(nil)
	_ Signer = (*rs256Signer)(nil)
)

// verifyES256 reports whether sig is a valid JWS ES256 signature (r||s) by
// pub over signingInput. It does not allocate on the heap.
func verifyES256(pub *ecdsa.PublicKey, signingInput, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	digest := sha256.Sum256(signingInput)
	var buf [72]byte
	der := rsToDER(buf[:0], sig[:32], sig[32:])
	return ecdsa.VerifyASN1(pub, digest[:], der)
}

// rsToDER appends the DER SEQUENCE { INTEGER r, INTEGER s } for the
// unsigned big-endian r and s (each at most 32 bytes) to b.
func rsToDER(b, r, s []byte) []byte {
	r, s = trimZeros(r), trimZeros(s)
	rl, sl := intLen(r), intLen(s)
	b = append(b, 0x30, byte(2+rl+2+sl))
	b = appendInt(b, r, rl)
	return appendInt(b, s, sl)
}

func trimZeros(x []byte) []byte {
	for len(x) > 1 && x[0] == 0 {
		x = x[1:]
	}
	return x
}

// intLen is the length of x's DER INTEGER content: a leading zero byte is
// needed when the high bit is set, or the value would read as negative.
func intLen(x []byte) int {
	if x[0]&0x80 != 0 {
		return len(x) + 1
	}
	return len(x)
}

func appendInt(b, x []byte, n int) []byte {
	b = append(b, 0x02, byte(n))
	if n > len(x) {
		b = append(b, 0)
	}
	return append(b, x...)
}

// derToRS converts an ASN.1 DER ECDSA signature, as crypto/ecdsa makes
// it, into the fixed-width r||s form with each half size bytes.
func derToRS(der []byte, size int) ([]byte, error) {
	bad := errors.New("token: malformed ECDSA signature")
	// SEQUENCE { INTEGER r, INTEGER s }; for P-256 every length fits the
	// short form.
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return nil, bad
	}
	rest := der[2:]
	out := make([]byte, 2*size)
	for i := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1]) > len(rest)-2 {
			return nil, bad
		}
		n := trimZeros(rest[2 : 2+int(rest[1])])
		if len(n) > size {
			return nil, bad
		}
		copy(out[(i+1)*size-len(n):], n)
		rest = rest[2+int(rest[1]):]
	}
	if len(rest) != 0 {
		return nil, bad
	}
	return out, nil
}

// keyMaterial is one key's public half in every form Keys needs.
type keyMaterial struct {
	id, alg string
	pub     crypto.PublicKey
	// jwk is the key's JSON Web Key (RFC 7517), ready to embed in a JWKS.
	jwk []byte
}

// generateKey makes a new private key for alg. Since Go 1.26, ECDSA key
// generation ignores random and always uses the system's secure source.
func generateKey(alg string, random io.Reader) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), random)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(random)
		return priv, err
	case RS256:
		return rsa.GenerateKey(random, RSAKeyBits)
	}
	return nil, errUnsupported(alg)
}

// newSigner wraps priv, which must suit alg, as a Signer with key ID kid.
func newSigner(alg, kid string, priv crypto.PrivateKey) (Signer, error) {
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		if alg == ES256 && p.Curve == elliptic.P256() {
			return &es256Signer{kid: kid, priv: p}, nil
		}
	case ed25519.PrivateKey:
		if alg == EdDSA {
			return &ed25519Signer{kid: kid, priv: p}, nil
		}
	case *rsa.PrivateKey:
		if alg == RS256 && p.N.BitLen() >= MinRSAKeyBits {
			return &rs256Signer{kid: kid, priv: p}, nil
		}
	}
	return nil, fmt.Errorf("token: key %s: private key of type %T does not match algorithm %q", kid, priv, alg)
}

// newKeyMaterial checks that pub suits alg and computes its JWK and RFC
// 7638 thumbprint. When kid is empty the thumbprint becomes the key ID.
func newKeyMaterial(alg, kid string, pub crypto.PublicKey) (*keyMaterial, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var thumb []byte // the RFC 7638 members, in lexicographic order
	var jwk map[string]string
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if alg != ES256 || p.Curve != elliptic.P256() {
			break
		}
		raw, err := p.Bytes() // 0x04 || X || Y
		if err != nil {
			return nil, err
		}
		x, y := b64(raw[1:33]), b64(raw[33:65])
		thumb = fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, x, y)
		jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y}
	case ed25519.PublicKey:
		if alg != EdDSA || len(p) != ed25519.PublicKeySize {
			break
		}
		x := b64(p)
		thumb = fmt.Appendf(nil, `{"crv":"Ed25519","kty":"OKP","x":"%s"}`, x)
		jwk = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": x}
	case *rsa.PublicKey:
		if alg != RS256 || p.N.BitLen() < MinRSAKeyBits || p.E < 3 || p.E%2 == 0 {
			break
		}
		// RFC 7518 §6.3.1: n and e are unsigned big-endian, without
		// leading zeros.
		n, e := b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
		thumb = fmt.Appendf(nil, `{"e":"%s","kty":"RSA","n":"%s"}`, e, n)
		jwk = map[string]string{"kty": "RSA", "n": n, "e": e}
	}
	if jwk == nil {
		return nil, fmt.Errorf("token: key %s: public key of type %T does not match algorithm %q", kid, pub, alg)
	}
	if kid == "" {
		sum := sha256.Sum256(thumb)
		kid = b64(sum[:])
	}
	jwk["kid"], jwk["alg"], jwk["use"] = kid, alg, "sig"
	enc, err := json.Marshal(jwk) // map keys come out sorted: stable output
	if err != nil {
		return nil, err
	}
	return &keyMaterial{id: kid, alg: alg, pub: pub, jwk: enc}, nil
}

// verify reports whether sig is m's valid signature over signingInput.
func (m *keyMaterial) verify(signingInput, sig []byte) bool {
	switch p := m.pub.(type) {
	case *ecdsa.PublicKey:
		return verifyES256(p, signingInput, sig)
	case ed25519.PublicKey:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(p, signingInput, sig)
	case *rsa.PublicKey:
		digest := sha256.Sum256(signingInput)
		return rsa.VerifyPKCS1v15(p, crypto.SHA256, digest[:], sig) == nil
	}
	return false
}

// sigSize is the length of a valid signature by m.
func (m *keyMaterial) sigSize() int {
	switch p := m.pub.(type) {
	case *ecdsa.PublicKey:
		return 64
	case ed25519.PublicKey:
		return ed25519.SignatureSize
	case *rsa.PublicKey:
		return p.Size()
	}
	return 0
}

// parsePublicKey decodes a stored PKIX public key.
func parsePublicKey(k *SigningKey) (*keyMaterial, error) {
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("token: key %s: parsing public key: %w", k.ID, err)
	}
	return newKeyMaterial(k.Algorithm, k.ID, pub)
}
