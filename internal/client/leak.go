package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/notify/event"
)

// ActionSecretLeaked is the audit action of a credible leak report.
const ActionSecretLeaked = "client.secret_leaked"

// LeakReport is one credential a secret-scanning service says it found
// published. Token is the credential; URL and Source say where.
type LeakReport struct {
	Token  string
	Type   string
	URL    string
	Source string
}

// leakEvent is the data of a secret-leaked event.
type leakEvent struct {
	clientEvent
	SecretID string     `json:"secret_id"`
	Action   LeakAction `json:"action"`
	URL      string     `json:"url,omitempty"`
	Source   string     `json:"source,omitempty"`
}

// Leaked is what a leak report did to a secret.
type Leaked struct {
	ClientID, SecretID string
	Action             LeakAction
}

// ReportLeak acts on one leak report: a generated secret with a valid
// checksum that the store holds, still working and not reported before,
// is revoked at once or flagged, as its tenant's policy says
// (Policy.Leak), in one transaction with its audit event, its
// secret-leaked webhook event and the mails to the client's owner and
// creator. The client's other secrets keep working. Anything else
// (junk, a wrong checksum, a secret this server never issued, one
// revoked or reported already) does nothing and returns nil, nil; what
// is not a well-formed secret costs no lookup. The report's caller is not
// an actor of any tenant: the change is the system's, in the client's
// tenant.
func (s *Service) ReportLeak(ctx context.Context, r LeakReport) (*Leaked, error) {
	if !IsGeneratedSecret(r.Token) {
		return nil, nil
	}
	d := sha256.Sum256([]byte(r.Token))
	hash := "sha256:" + base64.RawStdEncoding.EncodeToString(d[:])
	found, err := s.Repo.SecretByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out *Leaked
	err = s.Repo.InTx(ctx, func(tx Tx) error {
		out = nil
		c, err := tx.LockClient(ctx, found.ClientID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		secrets, err := tx.Secrets(ctx, c.ID)
		if err != nil {
			return err
		}
		var sec *Secret
		for i := range secrets {
			if secrets[i].ID == found.ID && secrets[i].Hash == hash {
				sec = &secrets[i]
			}
		}
		// Reported twice acts once: a secret revoked, or flagged before,
		// is left as it is.
		if sec == nil || sec.Status == SecretRevoked || !sec.LeakedAt.IsZero() {
			return nil
		}
		pol, err := txPolicy(ctx, tx, c.TenantID)
		if err != nil {
			return err
		}
		action := pol.LeakActionOrDefault()
		sec.LeakedAt = now
		if action == LeakRevoke {
			sec.Status, sec.RevokedAt = SecretRevoked, now
		}
		if err := tx.UpdateSecret(ctx, sec); err != nil {
			return err
		}
		c.SecretExpiresAt, c.UpdatedAt = newestExpiry(secrets, now), now
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		// Where it was found may quote the secret: it is cut out.
		url := truncate(strings.ReplaceAll(r.URL, r.Token, "[secret]"), 2000)
		source := truncate(strings.ReplaceAll(r.Source, r.Token, "[secret]"), 200)
		details := map[string]string{"secret_id": sec.ID, "action": string(action), "url": url, "source": source}
		if err := record(ctx, tx, SystemActor(c.TenantID), now, ActionSecretLeaked, c.ID, nil, details); err != nil {
			return err
		}
		ev := leakEvent{clientEvent: clientEvent{ClientID: c.ID, ClientName: c.Name, At: now},
			SecretID: sec.ID, Action: action, URL: url, Source: source}
		if err := appendEvent(ctx, tx, event.SecretLeaked, c, sec.ID, now, ev); err != nil {
			return err
		}
		if err := tx.AppendNotices(ctx, []event.Notice{{Type: event.SecretLeaked, TenantID: c.TenantID,
			ClientID: c.ID, SecretID: sec.ID, At: now, Facts: map[string]string{
				"action": string(action), "secret_id": sec.ID, "secret_hint": sec.Hint, "url": url, "source": source,
				"reported_at": now.Format(time.RFC3339)}}}); err != nil {
			return err
		}
		out = &Leaked{ClientID: c.ID, SecretID: sec.ID, Action: action}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out != nil {
		s.changed(out.ClientID)
	}
	return out, nil
}
