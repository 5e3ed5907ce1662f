package account

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/errs"
)

// Limits of passkeys.
const (
	// CeremonyLifetime is how long a passkey ceremony may take, from the
	// options sent to the browser to its answer.
	CeremonyLifetime = 5 * time.Minute
	// MaxPasskeys bounds one user's passkeys.
	MaxPasskeys = 20
	// MaxPasskeyName bounds a passkey's name, in characters.
	MaxPasskeyName = 64
	// maxCeremonyResponse bounds the browser's answer worth parsing.
	maxCeremonyResponse = 16 << 10
)

// Purposes of a passkey ceremony.
const (
	ceremonyRegister = "register"
	ceremonySignIn   = "sign_in"
)

// RelyingParty is the WebAuthn relying party a tenant's pages are: its ID
// is the host of the tenant's issuer, its origin the issuer's origin. A
// passkey registered with one works only with that one.
type RelyingParty struct {
	ID     string
	Origin string
	// Name is shown by the browser and the authenticator ("Latchkey"
	// when empty).
	Name string
}

// Ceremony is a passkey ceremony begun: what the browser is given.
type Ceremony struct {
	// Handle finishes the ceremony, once: the browser keeps it (in a
	// cookie); the store keeps only its hash.
	Handle string
	// Options is the JSON of the publicKey options for the browser's
	// navigator.credentials.create or .get.
	Options   []byte
	ExpiresAt time.Time
}

// ceremonyData is what a ceremony keeps server-side.
type ceremonyData struct {
	Session webauthn.SessionData `json:"s"`
	// Name is the name the passkey being registered is to have.
	Name string `json:"n,omitempty"`
}

// party returns the WebAuthn relying party of rp, or
// ErrPasskeysUnavailable when rp cannot be one.
func (m *MFA) party(rp RelyingParty) (*webauthn.WebAuthn, error) {
	if w, ok := m.parties.Load(rp); ok {
		return w.(*webauthn.WebAuthn), nil
	}
	if rp.ID == "" || rp.Origin == "" {
		return nil, fmt.Errorf("%w: no relying party ID or origin", ErrPasskeysUnavailable)
	}
	name := rp.Name
	if name == "" {
		name = "Latchkey"
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID: rp.ID, RPDisplayName: name, RPOrigins: []string{rp.Origin},
		// Passkeys are a second factor here: the password came first, so
		// user verification is welcome but not demanded, and nothing is
		// asked of the authenticator's make.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyLifetime, TimeoutUVD: CeremonyLifetime},
			Registration: webauthn.TimeoutConfig{Timeout: CeremonyLifetime, TimeoutUVD: CeremonyLifetime},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPasskeysUnavailable, err)
	}
	w2, _ := m.parties.LoadOrStore(rp, w)
	return w2.(*webauthn.WebAuthn), nil
}

// PasskeysAvailable reports whether passkeys can be used with rp: WebAuthn
// needs a relying party ID that is a domain, not an IP address.
func (m *MFA) PasskeysAvailable(rp RelyingParty) bool {
	_, err := m.party(rp)
	return err == nil
}

// passkeyUser is a user as the WebAuthn library sees them.
type passkeyUser struct {
	u     *User
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte { return []byte(p.u.ID) }
func (p passkeyUser) WebAuthnName() string {
	return p.u.Email
}
func (p passkeyUser) WebAuthnDisplayName() string {
	if p.u.Name != "" {
		return p.u.Name
	}
	return p.u.Email
}
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

// newPasskeyUser is u with passkeys.
func newPasskeyUser(u *User, passkeys []Passkey) (passkeyUser, error) {
	out := passkeyUser{u: u}
	for _, p := range passkeys {
		c, err := p.credential()
		if err != nil {
			return passkeyUser{}, err
		}
		out.creds = append(out.creds, c)
	}
	return out, nil
}

// credential is p as the WebAuthn library keeps a credential.
func (p *Passkey) credential() (webauthn.Credential, error) {
	id, err := base64.RawURLEncoding.DecodeString(p.ID)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("account: passkey %q has an ID that is not base64url", p.ID)
	}
	transports := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{ID: id, PublicKey: p.PublicKey, AttestationType: p.AttestationType, Transport: transports,
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: p.UserVerified, BackupEligible: p.BackupEligible,
			BackupState: p.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount}}, nil
}

// checkPasskeyName returns the name a passkey is to have, "Passkey" when
// none is given, or a field error.
func checkPasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "Passkey", nil
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "", errs.Invalid("name", "must be valid UTF-8 without control characters")
	case utf8.RuneCountInString(name) > MaxPasskeyName:
		return "", errs.Invalid("name", fmt.Sprintf("must be at most %d characters", MaxPasskeyName))
	}
	return name, nil
}

// BeginPasskey begins registering a passkey named name for u with rp: it
// returns the options for the browser and keeps the challenge, replacing
// any registration of u's begun and not finished. Passkeys u has are
// excluded, so one authenticator is not registered twice.
func (m *MFA) BeginPasskey(ctx context.Context, rp RelyingParty, u *User, name string) (*Ceremony, error) {
	w, err := m.party(rp)
	if err != nil {
		return nil, err
	}
	if name, err = checkPasskeyName(name); err != nil {
		return nil, err
	}
	passkeys, err := m.Repo.Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(passkeys) >= MaxPasskeys {
		return nil, errs.Invalid("name", fmt.Sprintf("you have %d passkeys, the most an account may have: remove one first", MaxPasskeys))
	}
	pu, err := newPasskeyUser(u, passkeys)
	if err != nil {
		return nil, err
	}
	creation, session, err := w.BeginRegistration(pu,
		webauthn.WithExclusions(webauthn.Credentials(pu.creds).CredentialDescriptors()))
	if err != nil {
		return nil, fmt.Errorf("account: beginning a passkey registration: %w", err)
	}
	return m.keepCeremony(ctx, u, ceremonyRegister, ceremonyData{Session: *session, Name: name}, creation.Response)
}

// keepCeremony stores a ceremony under a new handle and returns it with
// the browser's options.
func (m *MFA) keepCeremony(ctx context.Context, u *User, purpose string, d ceremonyData, options any) (*Ceremony, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var raw [32]byte
	if _, err := io.ReadFull(m.random(), raw[:]); err != nil {
		return nil, err
	}
	handle := base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.now()
	c := &PasskeyCeremony{Hash: ceremonyHash(handle), UserID: u.ID, TenantID: u.TenantID, Purpose: purpose, Data: data,
		ExpiresAt: now.Add(CeremonyLifetime)}
	if err := m.Repo.InAccountTx(ctx, func(tx Tx) error { return tx.PutPasskeyCeremony(ctx, c, now) }); err != nil {
		return nil, err
	}
	return &Ceremony{Handle: handle, Options: opts, ExpiresAt: c.ExpiresAt}, nil
}

// ceremonyHash is the stored form of a ceremony's handle.
func ceremonyHash(handle string) string {
	sum := sha256.Sum256([]byte("latchkey passkey ceremony v1\x00" + handle))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// takeCeremony takes, once, the ceremony of handle for u and purpose:
// it is gone from the store whatever follows. One that is unknown, used,
// expired, or of another user or purpose is ErrPasskeyRefused.
func (m *MFA) takeCeremony(ctx context.Context, u *User, purpose, handle string) (*ceremonyData, error) {
	if handle == "" || len(handle) > 64 {
		return nil, fmt.Errorf("%w: no ceremony", ErrPasskeyRefused)
	}
	var c *PasskeyCeremony
	err := m.Repo.InAccountTx(ctx, func(tx Tx) error {
		var err error
		c, err = tx.TakePasskeyCeremony(ctx, ceremonyHash(handle))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: the ceremony is unknown or was used", ErrPasskeyRefused)
	}
	if err != nil {
		return nil, err
	}
	if c.UserID != u.ID || c.TenantID != u.TenantID || c.Purpose != purpose || !m.now().Before(c.ExpiresAt) {
		return nil, fmt.Errorf("%w: the ceremony is expired or not this one", ErrPasskeyRefused)
	}
	var d ceremonyData
	if err := json.Unmarshal(c.Data, &d); err != nil {
		return nil, fmt.Errorf("account: a stored passkey ceremony: %w", err)
	}
	return &d, nil
}

// FinishPasskey finishes the registration handle names with the browser's
// answer (the JSON of its PublicKeyCredential) and stores the passkey. It
// returns the passkey and, when it is u's first second factor, new
// recovery codes to be shown once. A ceremony that fails in any way is
// ErrPasskeyRefused; the ceremony cannot be tried again.
func (m *MFA) FinishPasskey(ctx context.Context, rp RelyingParty, u *User, handle string, response []byte, addr string) (*Passkey, []string, error) {
	w, err := m.party(rp)
	if err != nil {
		return nil, nil, err
	}
	d, err := m.takeCeremony(ctx, u, ceremonyRegister, handle)
	if err != nil {
		return nil, nil, err
	}
	if len(response) > maxCeremonyResponse {
		return nil, nil, fmt.Errorf("%w: the answer is too large", ErrPasskeyRefused)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrPasskeyRefused, err)
	}
	cred, err := w.CreateCredential(passkeyUser{u: u}, d.Session, parsed)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrPasskeyRefused, err)
	}
	now := m.now()
	p := &Passkey{ID: base64.RawURLEncoding.EncodeToString(cred.ID), UserID: u.ID, TenantID: u.TenantID, Name: d.Name,
		PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount, AAGUID: cred.Authenticator.AAGUID,
		AttestationType: cred.AttestationType, UserVerified: cred.Flags.UserVerified,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, CreatedAt: now}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	var codes []string
	err = m.Repo.InAccountTx(ctx, func(tx Tx) error {
		codes = nil
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		f, err := readFactors(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if len(f.Passkeys) >= MaxPasskeys {
			return errs.Invalid("name", fmt.Sprintf("you have %d passkeys, the most an account may have: remove one first", MaxPasskeys))
		}
		if err := tx.CreatePasskey(ctx, p); err != nil {
			return err
		}
		e := audit.New(userActor(ctx, u, addr), now, ActionMFAEnrolled, audit.TargetUser, u.ID)
		e.Details = map[string]string{detailMethod: methodPasskey, "passkey_id": p.ID, "name": p.Name}
		if codes, err = m.afterEnrolment(ctx, tx, u, f.Any(), now, e); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, e)
	})
	if errors.Is(err, ErrConflict) {
		return nil, nil, fmt.Errorf("%w: this passkey is registered already", ErrPasskeyRefused)
	}
	if err != nil {
		return nil, nil, err
	}
	return p, codes, nil
}

// RemovePasskey removes u's passkey with credential ID id; one u does
// not have is ErrNotFound. When it was u's last second factor, their
// recovery codes go with it.
func (m *MFA) RemovePasskey(ctx context.Context, u *User, id, addr string) error {
	now := m.now()
	return m.Repo.InAccountTx(ctx, func(tx Tx) error {
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		passkeys, err := tx.Passkeys(ctx, u.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(passkeys, func(p Passkey) bool { return p.ID == id })
		if i < 0 {
			return fmt.Errorf("passkey %q: %w", id, ErrNotFound)
		}
		if err := tx.DeletePasskey(ctx, u.ID, id); err != nil {
			return err
		}
		e := audit.New(userActor(ctx, u, addr), now, ActionMFARemoved, audit.TargetUser, u.ID)
		e.Details = map[string]string{detailMethod: methodPasskey, "passkey_id": id, "name": passkeys[i].Name}
		if err := afterRemoval(ctx, tx, u, now, e); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, e)
	})
}

// BeginPasskeySignIn begins a sign-in of u with one of their passkeys,
// as the second factor: the options list only u's passkeys. u without
// one is ErrNoFactor.
func (m *MFA) BeginPasskeySignIn(ctx context.Context, rp RelyingParty, u *User) (*Ceremony, error) {
	w, err := m.party(rp)
	if err != nil {
		return nil, err
	}
	passkeys, err := m.Repo.Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(passkeys) == 0 {
		return nil, ErrNoFactor
	}
	pu, err := newPasskeyUser(u, passkeys)
	if err != nil {
		return nil, err
	}
	assertion, session, err := w.BeginLogin(pu)
	if err != nil {
		return nil, fmt.Errorf("account: beginning a passkey sign-in: %w", err)
	}
	return m.keepCeremony(ctx, u, ceremonySignIn, ceremonyData{Session: *session}, assertion.Response)
}

// FinishPasskeySignIn accepts the browser's answer (the JSON of its
// PublicKeyCredential) to the sign-in handle names as u's second factor:
// the challenge must be the one sent, unused and unexpired, the origin
// rp's, the signature one of u's passkeys', and the authenticator's
// counter ahead of the last one seen (a counter that goes back is a
// cloned authenticator, refused as the WebAuthn library advises). The
// passkey's counter, flags and last use are then updated. Any failure is
// ErrPasskeyRefused; every check is audited.
func (m *MFA) FinishPasskeySignIn(ctx context.Context, rp RelyingParty, u *User, handle string, response []byte, addr string) error {
	w, err := m.party(rp)
	if err != nil {
		return err
	}
	fail := func(reason string, cause error) error {
		if err := AppendAudit(ctx, m.Repo, []*audit.Event{failureEvent(ctx, u, addr, m.now(), methodPasskey, reason)}); err != nil {
			return err
		}
		return cause
	}
	d, err := m.takeCeremony(ctx, u, ceremonySignIn, handle)
	if errors.Is(err, ErrPasskeyRefused) {
		return fail(reasonCeremony, err)
	}
	if err != nil {
		return err
	}
	if len(response) > maxCeremonyResponse {
		return fail(reasonAssertion, fmt.Errorf("%w: the answer is too large", ErrPasskeyRefused))
	}
	passkeys, err := m.Repo.Passkeys(ctx, u.ID)
	if err != nil {
		return err
	}
	pu, err := newPasskeyUser(u, passkeys)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return fail(reasonAssertion, fmt.Errorf("%w: %v", ErrPasskeyRefused, err))
	}
	cred, err := w.ValidateLogin(pu, d.Session, parsed)
	if err != nil {
		return fail(reasonAssertion, fmt.Errorf("%w: %v", ErrPasskeyRefused, err))
	}
	if cred.Authenticator.CloneWarning {
		return fail(reasonCounter, fmt.Errorf("%w: the authenticator's counter went back", ErrPasskeyRefused))
	}
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	now := m.now()
	var refused error
	err = m.Repo.InAccountTx(ctx, func(tx Tx) error {
		refused = nil
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		held, err := tx.Passkeys(ctx, u.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(held, func(p Passkey) bool { return p.ID == id })
		if i < 0 {
			refused = fmt.Errorf("%w: the passkey was removed", ErrPasskeyRefused)
			return tx.AppendAudit(ctx, failureEvent(ctx, u, addr, now, methodPasskey, reasonAssertion))
		}
		p := held[i]
		// Checked again on the row held: two sign-ins with one counter
		// value, racing, are one too many.
		if next := cred.Authenticator.SignCount; next <= p.SignCount && (next != 0 || p.SignCount != 0) {
			refused = fmt.Errorf("%w: the authenticator's counter went back", ErrPasskeyRefused)
			return tx.AppendAudit(ctx, failureEvent(ctx, u, addr, now, methodPasskey, reasonCounter))
		}
		p.SignCount, p.LastUsedAt = cred.Authenticator.SignCount, now
		p.UserVerified, p.BackupEligible, p.BackupState = cred.Flags.UserVerified, cred.Flags.BackupEligible, cred.Flags.BackupState
		if err := tx.UpdatePasskey(ctx, &p); err != nil {
			return err
		}
		e := verifiedEvent(ctx, u, addr, now, methodPasskey)
		e.Details["passkey_id"] = p.ID
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return err
	}
	return refused
}
