package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
)

var _ notify.Tx = (*tx)(nil)

// InNotifyTx runs fn in one write transaction; like every write here, it
// runs alone, so sweeps never take the same secret.
func (db *DB) InNotifyTx(ctx context.Context, fn func(notify.Tx) error) error {
	return db.writeTx(ctx, func(t *sql.Tx) error { return fn(&tx{t}) })
}

// warnAt is the warn_at of a secret as stored: when its first warning is
// due, for an active secret that expires; NULL otherwise.
func warnAt(s *client.Secret) any {
	if s.Status != client.SecretActive {
		return nil
	}
	if at, ok := notify.FirstDue(s.CreatedAt, s.ExpiresAt); ok {
		return at.UnixMicro()
	}
	return nil
}

// DueSecrets reads the secrets whose warn_at has come, with their clients,
// tenants and the users to tell.
func (t *tx) DueSecrets(ctx context.Context, now time.Time, limit int) ([]notify.Due, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT s.id, s.client_id, c.tenant_id, s.status, c.status, c.name,
		tn.name, COALESCE(tn.slug, ''), tn.is_default, s.created_at, s.expires_at,
		(SELECT group_concat(w.stage) FROM secret_warnings w WHERE w.secret_id = s.id),
		c.owner_user_id, o.id IS NOT NULL, COALESCE(o.status, ''), COALESCE(o.email, ''), COALESCE(o.name, ''), COALESCE(o.locale, ''),
		c.created_by, cr.id IS NOT NULL, COALESCE(cr.status, ''), COALESCE(cr.email, ''), COALESCE(cr.name, ''), COALESCE(cr.locale, '')
		FROM client_secrets s
		JOIN clients c ON c.id = s.client_id
		JOIN tenants tn ON tn.id = c.tenant_id
		LEFT JOIN users o ON o.id = c.owner_user_id AND o.tenant_id = c.tenant_id
		LEFT JOIN users cr ON cr.id = c.created_by AND cr.tenant_id = c.tenant_id
		WHERE s.warn_at <= ?
		ORDER BY s.warn_at
		LIMIT ?`, now.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due secrets: %w", err)
	}
	defer rows.Close()
	var out []notify.Due
	for rows.Next() {
		var (
			d                     notify.Due
			created               int64
			expires               sql.NullInt64
			stages                sql.NullString
			ownerStatus, crStatus string
		)
		if err := rows.Scan(&d.SecretID, &d.ClientID, &d.TenantID, &d.SecretStatus, &d.ClientStatus, &d.ClientName,
			&d.Tenant.Name, &d.Tenant.Slug, &d.Tenant.Default, &created, &expires, &stages,
			&d.Owner.UserID, &d.Owner.Found, &ownerStatus, &d.Owner.Email, &d.Owner.Name, &d.Owner.Locale,
			&d.Creator.UserID, &d.Creator.Found, &crStatus, &d.Creator.Email, &d.Creator.Name, &d.Creator.Locale); err != nil {
			return nil, fmt.Errorf("sqlite: due secrets: %w", err)
		}
		d.CreatedAt, d.ExpiresAt = fromMicros(created), nullTime(expires)
		d.Owner.Active, d.Creator.Active = ownerStatus == "active", crStatus == "active"
		if stages.Valid {
			for _, f := range strings.Split(stages.String, ",") {
				n, err := strconv.Atoi(f)
				if err != nil {
					return nil, fmt.Errorf("sqlite: due secrets: stage %q: %w", f, err)
				}
				d.Recorded = append(d.Recorded, notify.Stage(n))
			}
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due secrets: %w", err)
	}
	return out, nil
}

// RecordWarnings stores recorded stages.
func (t *tx) RecordWarnings(ctx context.Context, ws []notify.Warning) error {
	if len(ws) == 0 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO secret_warnings (secret_id, stage, client_id, tenant_id, sent, reason, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: record warnings: %w", err)
	}
	defer st.Close()
	for _, w := range ws {
		_, err := st.ExecContext(ctx, w.SecretID, int(w.Stage), w.ClientID, w.TenantID, boolInt(w.Sent), w.Reason, w.At.UnixMicro())
		switch {
		case isUnique(err):
			return fmt.Errorf("sqlite: record warning %s/%d: %w", w.SecretID, w.Stage, notify.ErrConflict)
		case err != nil:
			return fmt.Errorf("sqlite: record warnings: %w", err)
		}
	}
	return nil
}

// AddDeliveries adds outbox rows.
func (t *tx) AddDeliveries(ctx context.Context, ds []notify.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO outbox (id, tenant_id, client_id, secret_id, stage, channel, event,
		recipient, user_id, locale, payload, status, attempts, next_attempt_at, last_error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: add deliveries: %w", err)
	}
	defer st.Close()
	for _, d := range ds {
		_, err := st.ExecContext(ctx, d.ID, d.TenantID, d.ClientID, d.SecretID, int(d.Stage), string(d.Channel), string(d.Event),
			d.Recipient, d.UserID, d.Locale, d.Payload, string(d.Status), d.Attempts, timeOrNull(d.NextAttemptAt), d.LastError,
			d.CreatedAt.UnixMicro())
		switch {
		case isUnique(err):
			return fmt.Errorf("sqlite: add delivery %q: %w", d.ID, notify.ErrConflict)
		case err != nil:
			return fmt.Errorf("sqlite: add deliveries: %w", err)
		}
	}
	return nil
}

// AppendEvents fans each event out to the webhooks of its tenant that
// subscribe to its type. A delivery is named after its event and
// webhook, so the same event is never queued twice to one.
func (t *tx) AppendEvents(ctx context.Context, events []event.Event) error {
	for _, e := range events {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO outbox (id, tenant_id, client_id, secret_id, stage, channel, event,
			recipient, user_id, locale, payload, status, attempts, next_attempt_at, last_error, created_at)
			SELECT ?1 || '.' || w.id, ?2, ?3, ?4, -1, 'webhook', ?5, w.id, '', '', ?6, 'pending', 0, ?7, '', ?7
			FROM webhooks w WHERE w.tenant_id = ?2 AND EXISTS (SELECT 1 FROM json_each(w.events) j WHERE j.value = ?5)`,
			e.ID, e.TenantID, e.ClientID, e.SecretID, string(e.Type), e.Body, e.At.UnixMicro())
		if err != nil {
			return fmt.Errorf("sqlite: append events: %w", err)
		}
	}
	return nil
}

// SetNextDue sets secrets' warn_at.
func (t *tx) SetNextDue(ctx context.Context, next []notify.NextDue) error {
	if len(next) == 0 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, `UPDATE client_secrets SET warn_at = ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("sqlite: set next warning: %w", err)
	}
	defer st.Close()
	for _, n := range next {
		if _, err := st.ExecContext(ctx, timeOrNull(n.At), n.SecretID); err != nil {
			return fmt.Errorf("sqlite: set next warning: %w", err)
		}
	}
	return nil
}

const webhookColumns = `id, tenant_id, url, events, sealed_secret, created_at, created_by`

func scanWebhook(row interface{ Scan(...any) error }) (*notify.Webhook, error) {
	var (
		w       notify.Webhook
		events  string
		created int64
	)
	if err := row.Scan(&w.ID, &w.TenantID, &w.URL, &events, &w.SealedSecret, &created, &w.CreatedBy); err != nil {
		return nil, err
	}
	w.CreatedAt = fromMicros(created)
	var err error
	if w.Events, err = parseList[event.Type](events); err != nil {
		return nil, err
	}
	return &w, nil
}

func webhooks(ctx context.Context, q querier, tenantID string) ([]notify.Webhook, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", err)
	}
	defer rows.Close()
	var out []notify.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: webhooks: %w", err)
		}
		out = append(out, *w)
	}
	return out, rows.Err()
}

// Webhooks returns a tenant's webhooks, oldest first.
func (db *DB) Webhooks(ctx context.Context, tenantID string) ([]notify.Webhook, error) {
	return webhooks(ctx, db.read, tenantID)
}

// Webhooks returns a tenant's webhooks in the transaction.
func (t *tx) Webhooks(ctx context.Context, tenantID string) ([]notify.Webhook, error) {
	return webhooks(ctx, t.tx, tenantID)
}

// Webhook returns one webhook.
func (db *DB) Webhook(ctx context.Context, id string) (*notify.Webhook, error) {
	w, err := scanWebhook(db.read.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: webhook %q: %w", id, notify.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook: %w", err)
	}
	return w, nil
}

// CreateWebhook stores a webhook.
func (t *tx) CreateWebhook(ctx context.Context, w *notify.Webhook) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.TenantID, w.URL, jsonList(w.Events), w.SealedSecret, w.CreatedAt.UnixMicro(), w.CreatedBy)
	switch {
	case isUnique(err):
		return fmt.Errorf("sqlite: create webhook %q: %w", w.ID, notify.ErrConflict)
	case err != nil:
		return fmt.Errorf("sqlite: create webhook: %w", err)
	}
	return nil
}

// DeleteWebhook removes a webhook.
func (t *tx) DeleteWebhook(ctx context.Context, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err == nil {
		err = affected(res, notify.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook: %w", err)
	}
	return nil
}

// Warnings returns the recorded stages of a client's secrets, newest
// first.
func (db *DB) Warnings(ctx context.Context, clientID string) ([]notify.Warning, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT secret_id, client_id, tenant_id, stage, sent, reason, at
		FROM secret_warnings WHERE client_id = ? ORDER BY at DESC, stage`, clientID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: warnings: %w", err)
	}
	defer rows.Close()
	var out []notify.Warning
	for rows.Next() {
		var (
			w     notify.Warning
			stage int
			at    int64
		)
		if err := rows.Scan(&w.SecretID, &w.ClientID, &w.TenantID, &stage, &w.Sent, &w.Reason, &at); err != nil {
			return nil, fmt.Errorf("sqlite: warnings: %w", err)
		}
		w.Stage, w.At = notify.Stage(stage), fromMicros(at)
		out = append(out, w)
	}
	return out, rows.Err()
}

const deliveryColumns = `id, tenant_id, client_id, secret_id, stage, channel, event, recipient, user_id, locale,
	payload, status, attempts, next_attempt_at, last_error, created_at, sent_at`

func scanDelivery(row interface{ Scan(...any) error }) (*notify.Delivery, error) {
	var (
		d          notify.Delivery
		stage      int
		next, sent sql.NullInt64
		created    int64
	)
	if err := row.Scan(&d.ID, &d.TenantID, &d.ClientID, &d.SecretID, &stage, &d.Channel, &d.Event, &d.Recipient,
		&d.UserID, &d.Locale, &d.Payload, &d.Status, &d.Attempts, &next, &d.LastError, &created, &sent); err != nil {
		return nil, err
	}
	d.Stage = notify.Stage(stage)
	d.NextAttemptAt, d.CreatedAt, d.SentAt = nullTime(next), fromMicros(created), nullTime(sent)
	return &d, nil
}

func scanDeliveries(rows *sql.Rows) ([]notify.Delivery, error) {
	defer rows.Close()
	var out []notify.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// Deliveries returns outbox rows, newest first.
func (db *DB) Deliveries(ctx context.Context, q notify.DeliveryQuery) ([]notify.Delivery, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM outbox
		WHERE (?1 = '' OR tenant_id = ?1) AND (?2 = '' OR client_id = ?2) AND (?3 = '' OR secret_id = ?3)
		AND (?4 = '' OR channel = ?4) AND (?5 = '' OR status = ?5)
		AND (?6 = '' OR seq < (SELECT seq FROM outbox WHERE id = ?6))
		ORDER BY seq DESC LIMIT ?7`,
		q.TenantID, q.ClientID, q.SecretID, string(q.Channel), string(q.Status), q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	return out, nil
}

// Delivery returns one outbox row with its attempts, oldest first.
func (db *DB) Delivery(ctx context.Context, id string) (*notify.Delivery, []notify.Attempt, error) {
	d, err := scanDelivery(db.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("sqlite: delivery %q: %w", id, notify.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: delivery: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT at, ok, detail FROM outbox_attempts WHERE delivery_id = ? ORDER BY n`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: attempts: %w", err)
	}
	defer rows.Close()
	var as []notify.Attempt
	for rows.Next() {
		a := notify.Attempt{DeliveryID: id}
		var at int64
		if err := rows.Scan(&at, &a.OK, &a.Detail); err != nil {
			return nil, nil, fmt.Errorf("sqlite: attempts: %w", err)
		}
		a.At = fromMicros(at)
		as = append(as, a)
	}
	return d, as, rows.Err()
}

// ClaimDeliveries takes due pending deliveries of a channel, counting an
// attempt and leasing each.
func (db *DB) ClaimDeliveries(ctx context.Context, ch notify.Channel, now, leaseUntil time.Time, limit int) ([]notify.Delivery, error) {
	var out []notify.Delivery
	err := db.writeTx(ctx, func(t *sql.Tx) error {
		rows, err := t.QueryContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?3
			WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND channel = ?1 AND next_attempt_at <= ?2
				ORDER BY next_attempt_at LIMIT ?4)
			RETURNING `+deliveryColumns, string(ch), now.UnixMicro(), leaseUntil.UnixMicro(), limit)
		if err != nil {
			return err
		}
		out, err = scanDeliveries(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	return out, nil
}

// FinishDelivery records an attempt and the delivery's new state.
func (db *DB) FinishDelivery(ctx context.Context, a notify.Attempt, st notify.Status, next time.Time) error {
	err := db.writeTx(ctx, func(t *sql.Tx) error {
		var sentAt any
		if st == notify.Sent {
			sentAt = a.At.UnixMicro()
		}
		lastErr := ""
		if !a.OK {
			lastErr = a.Detail
		}
		res, err := t.ExecContext(ctx, `UPDATE outbox SET status = ?, next_attempt_at = ?, last_error = ?,
			sent_at = COALESCE(?, sent_at) WHERE id = ?`, string(st), timeOrNull(next), lastErr, sentAt, a.DeliveryID)
		if err == nil {
			err = affected(res, notify.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, `INSERT INTO outbox_attempts (delivery_id, n, at, ok, detail)
			SELECT ?1, COALESCE(MAX(n), 0) + 1, ?2, ?3, ?4 FROM outbox_attempts WHERE delivery_id = ?1`,
			a.DeliveryID, a.At.UnixMicro(), boolInt(a.OK), a.Detail)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: finish delivery: %w", err)
	}
	return nil
}

// PendingDeliveries counts the pending deliveries by channel, from the
// outbox's index of pending rows.
func (db *DB) PendingDeliveries(ctx context.Context) (map[notify.Channel]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT channel, count(*) FROM outbox WHERE status = 'pending' GROUP BY channel`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending deliveries: %w", err)
	}
	defer rows.Close()
	out := map[notify.Channel]int{}
	for rows.Next() {
		var ch string
		var n int
		if err := rows.Scan(&ch, &n); err != nil {
			return nil, fmt.Errorf("sqlite: pending deliveries: %w", err)
		}
		out[notify.Channel(ch)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending deliveries: %w", err)
	}
	return out, nil
}

// AppendNotices queues the mails of each notice to its client's owner and
// creator, read with the client and its tenant in the transaction.
func (t *tx) AppendNotices(ctx context.Context, notices []event.Notice) error {
	for _, n := range notices {
		var (
			f                     notify.Noticed
			ownerStatus, crStatus string
		)
		err := t.tx.QueryRowContext(ctx, `SELECT c.name, tn.name, COALESCE(tn.slug, ''), tn.is_default,
			c.owner_user_id, o.id IS NOT NULL, COALESCE(o.status, ''), COALESCE(o.email, ''), COALESCE(o.name, ''), COALESCE(o.locale, ''),
			c.created_by, cr.id IS NOT NULL, COALESCE(cr.status, ''), COALESCE(cr.email, ''), COALESCE(cr.name, ''), COALESCE(cr.locale, '')
			FROM clients c
			JOIN tenants tn ON tn.id = c.tenant_id
			LEFT JOIN users o ON o.id = c.owner_user_id AND o.tenant_id = c.tenant_id
			LEFT JOIN users cr ON cr.id = c.created_by AND cr.tenant_id = c.tenant_id
			WHERE c.id = ?`, n.ClientID).Scan(&f.ClientName, &f.Tenant.Name, &f.Tenant.Slug, &f.Tenant.Default,
			&f.Owner.UserID, &f.Owner.Found, &ownerStatus, &f.Owner.Email, &f.Owner.Name, &f.Owner.Locale,
			&f.Creator.UserID, &f.Creator.Found, &crStatus, &f.Creator.Email, &f.Creator.Name, &f.Creator.Locale)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: notice of client %q: %w", n.ClientID, notify.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: append notices: %w", err)
		}
		f.Owner.Active, f.Creator.Active = ownerStatus == "active", crStatus == "active"
		if err := t.AddDeliveries(ctx, notify.NoticeDeliveries(n, f, nil)); err != nil {
			return err
		}
	}
	return nil
}
