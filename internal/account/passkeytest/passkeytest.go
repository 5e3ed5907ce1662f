// Package passkeytest is a software WebAuthn authenticator and browser in
// one, for tests: it answers the options a relying party sends with the
// JSON a browser's PublicKeyCredential would be (attestation "none",
// ES256), so the ceremonies can be tested without a browser. Its fields
// can be set to answer wrongly: another origin, another challenge, a
// counter that goes back.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator holds one credential, made by Create.
type Authenticator struct {
	// Origin is what the client data says the page's origin is.
	Origin string
	// Challenge, when set, is answered in place of the one asked.
	Challenge string
	// Count is the signature counter the next answer carries; each answer
	// adds one first, unless Frozen.
	Count  uint32
	Frozen bool
	// ID is the credential ID, and UserHandle the user ID it was made
	// for; both set by Create.
	ID         []byte
	UserHandle []byte
	key        *ecdsa.PrivateKey
	rpID       string
}

// New returns an authenticator for pages at origin.
func New(origin string) *Authenticator { return &Authenticator{Origin: origin} }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// creationOptions is what Create reads of the options.
type creationOptions struct {
	RP        struct{ ID string } `json:"rp"`
	User      struct{ ID string } `json:"user"`
	Challenge string              `json:"challenge"`
}

// requestOptions is what Get reads of the options.
type requestOptions struct {
	RPID      string `json:"rpId"`
	Challenge string `json:"challenge"`
	Allow     []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

// Flags of the authenticator data.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// Create makes a new credential for the publicKey creation options
// (their JSON) and returns the registration answer's JSON.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	if o.RP.ID == "" || o.Challenge == "" {
		return nil, errors.New("passkeytest: the options name no relying party or challenge")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	a.key, a.rpID, a.ID = key, o.RP.ID, make([]byte, 16)
	if _, err := rand.Read(a.ID); err != nil {
		return nil, err
	}
	if a.UserHandle, err = base64.RawURLEncoding.DecodeString(o.User.ID); err != nil {
		return nil, fmt.Errorf("passkeytest: user ID: %w", err)
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	raw := pub.Bytes() // 0x04 | x | y
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:]})
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 0, 18+len(a.ID)+len(cose))
	attested = append(attested, make([]byte, 16)...) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.ID)))
	attested = append(append(attested, a.ID...), cose...)
	authData := append(a.authData(flagUP|flagUV|flagAT), attested...)
	object, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	clientData, err := a.clientData("webauthn.create", o.Challenge)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64(a.ID), "rawId": b64(a.ID), "type": "public-key", "authenticatorAttachment": "platform",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{"attestationObject": b64(object), "clientDataJSON": b64(clientData),
			"transports": []string{"internal"}},
	})
}

// Get signs in with the credential for the publicKey request options
// (their JSON) and returns the assertion answer's JSON.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	if a.key == nil {
		return nil, errors.New("passkeytest: no credential: Create first")
	}
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	allowed := len(o.Allow) == 0
	for _, c := range o.Allow {
		allowed = allowed || c.ID == b64(a.ID)
	}
	if !allowed || o.RPID != a.rpID {
		return nil, errors.New("passkeytest: the options do not ask for this credential")
	}
	authData := a.authData(flagUP | flagUV)
	clientData, err := a.clientData("webauthn.get", o.Challenge)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64(a.ID), "rawId": b64(a.ID), "type": "public-key", "authenticatorAttachment": "platform",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{"authenticatorData": b64(authData), "clientDataJSON": b64(clientData),
			"signature": b64(sig), "userHandle": b64(a.UserHandle)},
	})
}

// authData is the authenticator data's fixed part with flags.
func (a *Authenticator) authData(flags byte) []byte {
	if !a.Frozen {
		a.Count++
	}
	h := sha256.Sum256([]byte(a.rpID))
	out := append(h[:], flags)
	return binary.BigEndian.AppendUint32(out, a.Count)
}

// clientData is the client data JSON of a ceremony of type typ.
func (a *Authenticator) clientData(typ, challenge string) ([]byte, error) {
	if a.Challenge != "" {
		challenge = a.Challenge
	}
	return json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
}
