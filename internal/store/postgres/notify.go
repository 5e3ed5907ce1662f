package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
)

var _ notify.Tx = (*tx)(nil)

// InNotifyTx runs fn in one READ COMMITTED transaction.
func (db *DB) InNotifyTx(ctx context.Context, fn func(notify.Tx) error) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error { return fn(&tx{t}) })
}

// warnAt is the warn_at of a secret as stored: when its first warning is
// due, for an active secret that expires; NULL otherwise.
func warnAt(s *client.Secret) any {
	if s.Status != client.SecretActive {
		return nil
	}
	if at, ok := notify.FirstDue(s.CreatedAt, s.ExpiresAt); ok {
		return ts(at)
	}
	return nil
}

// DueSecretsQuery is the query of DueSecrets: $1 the sweep's time, $2 the
// batch size. Exported so the benchmark explains the very query the sweep
// runs.
const DueSecretsQuery = `SELECT s.id, s.client_id, c.tenant_id, s.status, c.status, c.name,
		tn.name, COALESCE(tn.slug, ''), tn.is_default, s.created_at, s.expires_at,
		ARRAY(SELECT w.stage FROM secret_warnings w WHERE w.secret_id = s.id),
		c.owner_user_id, o.id IS NOT NULL, COALESCE(o.status, ''), COALESCE(o.email, ''), COALESCE(o.name, ''), COALESCE(o.locale, ''),
		c.created_by, cr.id IS NOT NULL, COALESCE(cr.status, ''), COALESCE(cr.email, ''), COALESCE(cr.name, ''), COALESCE(cr.locale, '')
		FROM client_secrets s
		JOIN clients c ON c.id = s.client_id
		JOIN tenants tn ON tn.id = c.tenant_id
		LEFT JOIN users o ON o.id = c.owner_user_id AND o.tenant_id = c.tenant_id
		LEFT JOIN users cr ON cr.id = c.created_by AND cr.tenant_id = c.tenant_id
		WHERE s.warn_at <= $1
		ORDER BY s.warn_at
		LIMIT $2
		FOR UPDATE OF s SKIP LOCKED`

// DueSecrets reads the secrets whose warn_at has come, with their clients,
// tenants and the users to tell, locking the secrets' rows: SKIP LOCKED
// leaves those another sweep holds to it, so concurrent sweeps share the
// work and never take the same secret.
func (t *tx) DueSecrets(ctx context.Context, now time.Time, limit int) ([]notify.Due, error) {
	rows, err := t.tx.Query(ctx, DueSecretsQuery, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: due secrets: %w", err)
	}
	defer rows.Close()
	var out []notify.Due
	for rows.Next() {
		var (
			d                     notify.Due
			created               time.Time
			expires               *time.Time
			stages                []int32
			ownerStatus, crStatus string
		)
		if err := rows.Scan(&d.SecretID, &d.ClientID, &d.TenantID, &d.SecretStatus, &d.ClientStatus, &d.ClientName,
			&d.Tenant.Name, &d.Tenant.Slug, &d.Tenant.Default, &created, &expires, &stages,
			&d.Owner.UserID, &d.Owner.Found, &ownerStatus, &d.Owner.Email, &d.Owner.Name, &d.Owner.Locale,
			&d.Creator.UserID, &d.Creator.Found, &crStatus, &d.Creator.Email, &d.Creator.Name, &d.Creator.Locale); err != nil {
			return nil, fmt.Errorf("postgres: due secrets: %w", err)
		}
		d.CreatedAt, d.ExpiresAt = utc(created), nullTime(expires)
		d.Owner.Active, d.Creator.Active = ownerStatus == "active", crStatus == "active"
		for _, s := range stages {
			d.Recorded = append(d.Recorded, notify.Stage(s))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: due secrets: %w", err)
	}
	return out, nil
}

// RecordWarnings stores recorded stages in one statement.
func (t *tx) RecordWarnings(ctx context.Context, ws []notify.Warning) error {
	if len(ws) == 0 {
		return nil
	}
	n := len(ws)
	secret, cl, tenant, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	stage, sent, at := make([]int32, n), make([]bool, n), make([]time.Time, n)
	for i, w := range ws {
		secret[i], cl[i], tenant[i], reason[i] = w.SecretID, w.ClientID, w.TenantID, w.Reason
		stage[i], sent[i], at[i] = int32(w.Stage), w.Sent, ts(w.At)
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO secret_warnings (secret_id, stage, client_id, tenant_id, sent, reason, at)
		SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::timestamptz[])`,
		secret, stage, cl, tenant, sent, reason, at)
	switch {
	case isUnique(err):
		return fmt.Errorf("postgres: record warnings: %w", notify.ErrConflict)
	case err != nil:
		return fmt.Errorf("postgres: record warnings: %w", err)
	}
	return nil
}

// AddDeliveries adds outbox rows in one statement.
func (t *tx) AddDeliveries(ctx context.Context, ds []notify.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	var (
		id, tenant, cl, secret, channel, ev, recipient, user, locale, status, lastErr = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		stage, attempts = make([]int32, n), make([]int32, n)
		payload         = make([][]byte, n)
		next, created   = make([]*time.Time, n), make([]time.Time, n)
	)
	for i, d := range ds {
		id[i], tenant[i], cl[i], secret[i] = d.ID, d.TenantID, d.ClientID, d.SecretID
		channel[i], ev[i], recipient[i], user[i], locale[i] = string(d.Channel), string(d.Event), d.Recipient, d.UserID, d.Locale
		status[i], lastErr[i], stage[i], attempts[i], payload[i] = string(d.Status), d.LastError, int32(d.Stage), int32(d.Attempts), d.Payload
		created[i] = ts(d.CreatedAt)
		if !d.NextAttemptAt.IsZero() {
			at := ts(d.NextAttemptAt)
			next[i] = &at
		}
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO outbox (id, tenant_id, client_id, secret_id, stage, channel, event, recipient,
		user_id, locale, payload, status, attempts, next_attempt_at, last_error, created_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::bytea[], $12::text[], $13::int[], $14::timestamptz[], $15::text[], $16::timestamptz[])`,
		id, tenant, cl, secret, stage, channel, ev, recipient, user, locale, payload, status, attempts, next, lastErr, created)
	switch {
	case isUnique(err):
		return fmt.Errorf("postgres: add deliveries: %w", notify.ErrConflict)
	case err != nil:
		return fmt.Errorf("postgres: add deliveries: %w", err)
	}
	return nil
}

// AppendEvents fans each event out to the webhooks of its tenant that
// subscribe to its type, in one statement. A delivery is named after its
// event and webhook, so the same event is never queued twice to one.
func (t *tx) AppendEvents(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	id, typ, tenant, cl, secret := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at, body := make([]time.Time, n), make([][]byte, n)
	for i, e := range events {
		id[i], typ[i], tenant[i], cl[i], secret[i], at[i], body[i] = e.ID, string(e.Type), e.TenantID, e.ClientID, e.SecretID, ts(e.At), e.Body
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO outbox (id, tenant_id, client_id, secret_id, stage, channel, event, recipient,
		user_id, locale, payload, status, attempts, next_attempt_at, last_error, created_at)
		SELECT e.id || '.' || w.id, e.tenant, e.client, e.secret, -1, 'webhook', e.typ, w.id, '', '', e.body, 'pending', 0, e.at, '', e.at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::bytea[])
			AS e (id, typ, tenant, client, secret, at, body)
		JOIN webhooks w ON w.tenant_id = e.tenant AND e.typ = ANY (w.events)`,
		id, typ, tenant, cl, secret, at, body)
	if err != nil {
		return fmt.Errorf("postgres: append events: %w", err)
	}
	return nil
}

// SetNextDue sets secrets' warn_at in one statement.
func (t *tx) SetNextDue(ctx context.Context, next []notify.NextDue) error {
	if len(next) == 0 {
		return nil
	}
	ids, ats := make([]string, len(next)), make([]*time.Time, len(next))
	for i, n := range next {
		ids[i] = n.SecretID
		if !n.At.IsZero() {
			at := ts(n.At)
			ats[i] = &at
		}
	}
	_, err := t.tx.Exec(ctx, `UPDATE client_secrets s SET warn_at = n.at
		FROM unnest($1::text[], $2::timestamptz[]) AS n (id, at) WHERE s.id = n.id`, ids, ats)
	if err != nil {
		return fmt.Errorf("postgres: set next warning: %w", err)
	}
	return nil
}

const webhookColumns = `id, tenant_id, url, events, sealed_secret, created_at, created_by`

func scanWebhook(row pgx.Row) (*notify.Webhook, error) {
	var (
		w       notify.Webhook
		events  []string
		created time.Time
	)
	if err := row.Scan(&w.ID, &w.TenantID, &w.URL, &events, &w.SealedSecret, &created, &w.CreatedBy); err != nil {
		return nil, err
	}
	w.CreatedAt = utc(created)
	for _, e := range events {
		w.Events = append(w.Events, event.Type(e))
	}
	return &w, nil
}

func webhooks(ctx context.Context, q querier, tenantID string) ([]notify.Webhook, error) {
	rows, err := q.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: webhooks: %w", err)
	}
	defer rows.Close()
	var out []notify.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: webhooks: %w", err)
		}
		out = append(out, *w)
	}
	return out, rows.Err()
}

// Webhooks returns a tenant's webhooks, oldest first.
func (db *DB) Webhooks(ctx context.Context, tenantID string) ([]notify.Webhook, error) {
	return webhooks(ctx, db.pool, tenantID)
}

// Webhooks returns a tenant's webhooks in the transaction.
func (t *tx) Webhooks(ctx context.Context, tenantID string) ([]notify.Webhook, error) {
	return webhooks(ctx, t.tx, tenantID)
}

// Webhook returns one webhook.
func (db *DB) Webhook(ctx context.Context, id string) (*notify.Webhook, error) {
	w, err := scanWebhook(db.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: webhook %q: %w", id, notify.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: webhook: %w", err)
	}
	return w, nil
}

// CreateWebhook stores a webhook.
func (t *tx) CreateWebhook(ctx context.Context, w *notify.Webhook) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		w.ID, w.TenantID, w.URL, textArray(w.Events), w.SealedSecret, ts(w.CreatedAt), w.CreatedBy)
	switch {
	case isUnique(err):
		return fmt.Errorf("postgres: create webhook %q: %w", w.ID, notify.ErrConflict)
	case err != nil:
		return fmt.Errorf("postgres: create webhook: %w", err)
	}
	return nil
}

// DeleteWebhook removes a webhook.
func (t *tx) DeleteWebhook(ctx context.Context, id string) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err == nil {
		err = affected(tag, notify.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: delete webhook: %w", err)
	}
	return nil
}

// Warnings returns the recorded stages of a client's secrets, newest
// first.
func (db *DB) Warnings(ctx context.Context, clientID string) ([]notify.Warning, error) {
	rows, err := db.pool.Query(ctx, `SELECT secret_id, client_id, tenant_id, stage, sent, reason, at
		FROM secret_warnings WHERE client_id = $1 ORDER BY at DESC, stage`, clientID)
	if err != nil {
		return nil, fmt.Errorf("postgres: warnings: %w", err)
	}
	defer rows.Close()
	var out []notify.Warning
	for rows.Next() {
		var (
			w     notify.Warning
			stage int32
			at    time.Time
		)
		if err := rows.Scan(&w.SecretID, &w.ClientID, &w.TenantID, &stage, &w.Sent, &w.Reason, &at); err != nil {
			return nil, fmt.Errorf("postgres: warnings: %w", err)
		}
		w.Stage, w.At = notify.Stage(stage), utc(at)
		out = append(out, w)
	}
	return out, rows.Err()
}

const deliveryColumns = `id, tenant_id, client_id, secret_id, stage, channel, event, recipient, user_id, locale,
	payload, status, attempts, next_attempt_at, last_error, created_at, sent_at`

func scanDelivery(row pgx.Row) (*notify.Delivery, error) {
	var (
		d               notify.Delivery
		stage, attempts int32
		next, sent      *time.Time
		created         time.Time
	)
	if err := row.Scan(&d.ID, &d.TenantID, &d.ClientID, &d.SecretID, &stage, &d.Channel, &d.Event, &d.Recipient,
		&d.UserID, &d.Locale, &d.Payload, &d.Status, &attempts, &next, &d.LastError, &created, &sent); err != nil {
		return nil, err
	}
	d.Stage, d.Attempts = notify.Stage(stage), int(attempts)
	d.NextAttemptAt, d.CreatedAt, d.SentAt = nullTime(next), utc(created), nullTime(sent)
	return &d, nil
}

// Deliveries returns outbox rows, newest first.
func (db *DB) Deliveries(ctx context.Context, q notify.DeliveryQuery) ([]notify.Delivery, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM outbox
		WHERE ($1 = '' OR tenant_id = $1) AND ($2 = '' OR client_id = $2) AND ($3 = '' OR secret_id = $3)
		AND ($4 = '' OR channel = $4) AND ($5 = '' OR status = $5)
		AND ($6 = '' OR seq < (SELECT seq FROM outbox WHERE id = $6))
		ORDER BY seq DESC LIMIT $7`,
		q.TenantID, q.ClientID, q.SecretID, string(q.Channel), string(q.Status), q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: deliveries: %w", err)
	}
	defer rows.Close()
	var out []notify.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: deliveries: %w", err)
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// Delivery returns one outbox row with its attempts, oldest first.
func (db *DB) Delivery(ctx context.Context, id string) (*notify.Delivery, []notify.Attempt, error) {
	d, err := scanDelivery(db.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM outbox WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("postgres: delivery %q: %w", id, notify.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: delivery: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT at, ok, detail FROM outbox_attempts WHERE delivery_id = $1 ORDER BY n`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: attempts: %w", err)
	}
	defer rows.Close()
	var as []notify.Attempt
	for rows.Next() {
		a := notify.Attempt{DeliveryID: id}
		var at time.Time
		if err := rows.Scan(&at, &a.OK, &a.Detail); err != nil {
			return nil, nil, fmt.Errorf("postgres: attempts: %w", err)
		}
		a.At = utc(at)
		as = append(as, a)
	}
	return d, as, rows.Err()
}

// ClaimDeliveries takes due pending deliveries of a channel, counting an
// attempt and leasing each; rows another dispatcher is claiming are
// skipped.
func (db *DB) ClaimDeliveries(ctx context.Context, ch notify.Channel, now, leaseUntil time.Time, limit int) ([]notify.Delivery, error) {
	rows, err := db.pool.Query(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $3
		WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND channel = $1 AND next_attempt_at <= $2
			ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING `+deliveryColumns, string(ch), ts(now), ts(leaseUntil), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	defer rows.Close()
	var out []notify.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// FinishDelivery records an attempt and the delivery's new state.
func (db *DB) FinishDelivery(ctx context.Context, a notify.Attempt, st notify.Status, next time.Time) error {
	err := db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error {
		var sentAt any
		if st == notify.Sent {
			sentAt = ts(a.At)
		}
		lastErr := ""
		if !a.OK {
			lastErr = a.Detail
		}
		tag, err := t.Exec(ctx, `UPDATE outbox SET status = $2, next_attempt_at = $3, last_error = $4,
			sent_at = COALESCE($5, sent_at) WHERE id = $1`, a.DeliveryID, string(st), tsOrNull(next), lastErr, sentAt)
		if err == nil {
			err = affected(tag, notify.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = t.Exec(ctx, `INSERT INTO outbox_attempts (delivery_id, n, at, ok, detail)
			SELECT $1, COALESCE(MAX(n), 0) + 1, $2, $3, $4 FROM outbox_attempts WHERE delivery_id = $1`,
			a.DeliveryID, ts(a.At), a.OK, a.Detail)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: finish delivery: %w", err)
	}
	return nil
}

// PendingDeliveries counts the pending deliveries by channel, from the
// outbox's index of pending rows.
func (db *DB) PendingDeliveries(ctx context.Context) (map[notify.Channel]int, error) {
	rows, err := db.pool.Query(ctx, `SELECT channel, count(*) FROM outbox WHERE status = 'pending' GROUP BY channel`)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending deliveries: %w", err)
	}
	defer rows.Close()
	out := map[notify.Channel]int{}
	for rows.Next() {
		var ch string
		var n int
		if err := rows.Scan(&ch, &n); err != nil {
			return nil, fmt.Errorf("postgres: pending deliveries: %w", err)
		}
		out[notify.Channel(ch)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: pending deliveries: %w", err)
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
		err := t.tx.QueryRow(ctx, `SELECT c.name, tn.name, COALESCE(tn.slug, ''), tn.is_default,
			c.owner_user_id, o.id IS NOT NULL, COALESCE(o.status, ''), COALESCE(o.email, ''), COALESCE(o.name, ''), COALESCE(o.locale, ''),
			c.created_by, cr.id IS NOT NULL, COALESCE(cr.status, ''), COALESCE(cr.email, ''), COALESCE(cr.name, ''), COALESCE(cr.locale, '')
			FROM clients c
			JOIN tenants tn ON tn.id = c.tenant_id
			LEFT JOIN users o ON o.id = c.owner_user_id AND o.tenant_id = c.tenant_id
			LEFT JOIN users cr ON cr.id = c.created_by AND cr.tenant_id = c.tenant_id
			WHERE c.id = $1`, n.ClientID).Scan(&f.ClientName, &f.Tenant.Name, &f.Tenant.Slug, &f.Tenant.Default,
			&f.Owner.UserID, &f.Owner.Found, &ownerStatus, &f.Owner.Email, &f.Owner.Name, &f.Owner.Locale,
			&f.Creator.UserID, &f.Creator.Found, &crStatus, &f.Creator.Email, &f.Creator.Name, &f.Creator.Locale)
		if isNoRows(err) {
			return fmt.Errorf("postgres: notice of client %q: %w", n.ClientID, notify.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: append notices: %w", err)
		}
		f.Owner.Active, f.Creator.Active = ownerStatus == "active", crStatus == "active"
		if err := t.AddDeliveries(ctx, notify.NoticeDeliveries(n, f, nil)); err != nil {
			return err
		}
	}
	return nil
}
