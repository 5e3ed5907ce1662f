package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
	"github.com/latchkey/latchkey/internal/notify/mail"
	"github.com/latchkey/latchkey/internal/notify/webhook"
	"github.com/latchkey/latchkey/internal/store"
)

// mailSettings say how expiry warnings are mailed: serve's and
// "notify run"'s.
type mailSettings struct {
	smtpURL string
	from    string
}

func mailFlags(fs *pflag.FlagSet, m *mailSettings) {
	stringSetting(fs, &m.smtpURL, "smtp-url", "LATCHKEY_SMTP_URL", "",
		"SMTP server of expiry warnings: smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465 (TLS), "+
			"or smtp://localhost:25?starttls=off for a local relay; unset, mails wait in the outbox")
	stringSetting(fs, &m.from, "smtp-from", "LATCHKEY_SMTP_FROM", "",
		`sender of mails, "Name <address>" or an address (default: latchkey@ the issuer's host)`)
}

// notifier is the expiry sweep, the outbox's dispatcher and the service
// the surfaces share, wired to one store.
type notifier struct {
	sweep    *notify.Sweeper
	dispatch *notify.Dispatcher
	service  *notify.Service
	// smtp is the server mail goes to, its password masked; "" for none.
	smtp string
}

// webhookKey derives the key of webhooks' signing secrets from the KEK.
func webhookKey(kek []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, kek, nil, "latchkey webhook secrets", 32)
}

// newNotifier wires notifications. Without an SMTP URL mails stay in the
// outbox; webhooks are always posted.
func newNotifier(issuer string, m mailSettings, st store.Store, kek []byte, clients *client.Service, log *slog.Logger) (*notifier, error) {
	key, err := webhookKey(kek)
	if err != nil {
		return nil, err
	}
	sealer, err := notify.NewSealer(key)
	if err != nil {
		return nil, err
	}
	host := issuerHost(issuer)
	d := &notify.Dispatcher{Store: st, Hooks: webhook.NewPoster(), OpenSecret: sealer.Open, Log: log,
		Link: consoleLink(issuer), MessageHost: host}
	n := &notifier{
		sweep:    &notify.Sweeper{Store: st},
		dispatch: d,
		service:  &notify.Service{Store: st, Roles: st, Clients: clients, Seal: sealer.Seal, Now: time.Now},
	}
	if m.smtpURL != "" {
		cfg, err := mail.ParseURL(m.smtpURL)
		if err != nil {
			return nil, usageError{msg: fmt.Sprintf("the SMTP URL (--smtp-url or LATCHKEY_SMTP_URL): %v", err)}
		}
		sender, err := mail.NewSender(cfg)
		if err != nil {
			return nil, err
		}
		d.Mail, n.smtp = sender, cfg.String()
		d.From = m.from
		if d.From == "" {
			d.From = "Latchkey <latchkey@" + host + ">"
		}
	}
	return n, nil
}

// issuerHost is the issuer's host name, without a port.
func issuerHost(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	return u.Hostname()
}

// consoleLink returns where a mail links to: the client's page in the
// console of its tenant, under the issuer.
func consoleLink(issuer string) func(notify.MailData) string {
	base := strings.TrimRight(issuer, "/")
	return func(d notify.MailData) string {
		b := base
		if !d.TenantDefault && d.TenantSlug != "" {
			b += "/t/" + url.PathEscape(d.TenantSlug)
		}
		return b + "/console/clients/" + url.PathEscape(d.ClientID)
	}
}

// outboxPoll is how often serve tries the outbox's due deliveries: a
// failed one is retried after a minute at the soonest (notify.Backoff).
const outboxPoll = 30 * time.Second

// run sweeps every interval, and delivers what is due every outboxPoll,
// until ctx ends. The first sweep is at once, so a server down over a
// stage's day catches up when it starts.
func (n *notifier) run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	sweep := time.NewTicker(interval)
	defer sweep.Stop()
	deliver := time.NewTicker(min(interval, outboxPoll))
	defer deliver.Stop()
	n.once(ctx, true, log)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			n.once(ctx, true, log)
		case <-deliver.C:
			n.once(ctx, false, log)
		}
	}
}

func (n *notifier) once(ctx context.Context, sweep bool, log *slog.Logger) {
	now := time.Now()
	if sweep {
		rep, err := n.sweep.Run(ctx, now)
		if err != nil && ctx.Err() == nil {
			log.Warn("expiry warning sweep", "err", err)
		}
		if rep.Secrets > 0 {
			log.Info("expiry warnings", "secrets", rep.Secrets, "warned", rep.Warned, "skipped", rep.Skipped,
				"mails", rep.Mails, "no_address", rep.NoAddress, "events", rep.Events)
		}
	}
	if _, err := n.dispatch.Run(ctx, now); err != nil && ctx.Err() == nil {
		log.Warn("deliver the outbox", "err", err)
	}
}

func (a *app) notifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Expiry warnings and the outbox: run a sweep, read what was sent",
		Long: `Secret expiry warnings go out 30, 14, 7 and 1 days before a client secret
expires and on its expiry day, each stage only if the secret lives longer
than it, to the client's owner and its creator, in their language. The
server sweeps for due stages every --notify-interval; "notify run" sweeps
once. Mails and webhook deliveries wait in the outbox until delivered;
with no SMTP server configured, the outbox is the mailbox.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(a.notifyRunCmd(), a.notifyOutboxCmd(), a.notifyShowCmd())
	return cmd
}

func (a *app) notifyRunCmd() *cobra.Command {
	var (
		m      mailSettings
		at     string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "run [--now TIME]",
		Short: "Sweep for due expiry warnings once, and deliver the outbox",
		Long: `Record every warning stage that has come due, queue its mails and webhook
events, and make one delivery pass over the outbox. Each (secret, stage) is
sent at most once, however often this runs and whatever else sweeps the
same database. A stage missed while nothing swept is not sent late when a
more urgent one is due: only the most urgent goes out.

--now sweeps as if it were that time (an RFC 3339 time or a date), to see
what a schedule will do; stages it records are recorded for good.`,
		Example: `  latchkey notify run
  latchkey notify run --now 2027-03-01T09:00:00Z --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			if at != "" {
				var err error
				if now, err = parseMoment("--now", at); err != nil {
					return err
				}
			}
			return a.notifyRun(cmd.Context(), m, now, asJSON)
		},
	}
	fs := cmd.Flags()
	mailFlags(fs, &m)
	fs.StringVar(&at, "now", "", "sweep as of this time (RFC 3339 or a date) instead of now")
	fs.BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return cmd
}

// parseMoment reads an RFC 3339 time or a date (midnight UTC).
func parseMoment(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{msg: fmt.Sprintf("%s %q: use an RFC 3339 time (2027-03-01T09:00:00Z) or a date (2027-03-01)", flag, s)}
}

func (a *app) openNotifier(ctx context.Context, m mailSettings) (store.Store, *notifier, error) {
	st, err := openExisting(ctx, &a.cfg)
	if err != nil {
		return nil, nil, err
	}
	fresh, err := nothingSealed(ctx, st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	kek, err := loadKEK(&a.cfg, a.env, a.log, fresh)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	n, err := newNotifier(a.cfg.issuer, m, st, kek, &client.Service{Repo: st}, a.log)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, n, nil
}

// nothingSealed reports whether the database holds nothing the
// key-encryption key sealed (no signing key, no webhook secret), so a key
// file may be made for it: a migrated database the server has not yet
// started on.
func nothingSealed(ctx context.Context, st store.Store) (bool, error) {
	def, err := st.DefaultTenant(ctx)
	if err != nil {
		return false, fmt.Errorf("default tenant: %w", err)
	}
	keys, err := st.SigningKeys(ctx, def.ID)
	if err != nil {
		return false, err
	}
	hooks, err := st.Webhooks(ctx, def.ID)
	if err != nil {
		return false, err
	}
	return len(keys) == 0 && len(hooks) == 0, nil
}

func (a *app) notifyRun(ctx context.Context, m mailSettings, now time.Time, asJSON bool) error {
	st, n, err := a.openNotifier(ctx, m)
	if err != nil {
		return err
	}
	defer st.Close()
	sw, err := n.sweep.Run(ctx, now)
	if err != nil {
		return err
	}
	dr, err := n.dispatch.Run(ctx, now)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, struct {
			Sweep    notify.SweepReport    `json:"sweep"`
			Delivery notify.DispatchReport `json:"delivery"`
			SMTP     bool                  `json:"smtp_configured"`
		}{sw, dr, n.smtp != ""})
	}
	fmt.Fprintf(a.stdout, "Swept as of %s: %d secrets due, %d warnings sent, %d stages skipped.\n",
		now.UTC().Format(time.RFC3339), sw.Secrets, sw.Warned, sw.Skipped)
	fmt.Fprintf(a.stdout, "Queued %d mails (%d recipients without a valid address) and %d webhook events.\n",
		sw.Mails, sw.NoAddress, sw.Events)
	fmt.Fprintf(a.stdout, "Delivered %d, will retry %d, gave up %d.\n", dr.Sent, dr.Retried, dr.Failed)
	if n.smtp == "" {
		fmt.Fprintln(a.stdout, `No SMTP server is configured (--smtp-url or LATCHKEY_SMTP_URL): mails wait in the outbox; see "latchkey notify outbox".`)
	}
	return nil
}

func (a *app) notifyOutboxCmd() *cobra.Command {
	var (
		tenant, status, channel, clientID string
		limit                             int
		asJSON                            bool
	)
	cmd := &cobra.Command{
		Use:   "outbox [--status pending|sent|failed|skipped] [--channel email|webhook] [--client ID]",
		Short: "List the outbox: every mail and webhook delivery, newest first",
		Long: `List a tenant's outbox, newest first: each mail to one person and each event
to one webhook, with its status (pending, sent, failed, or skipped when the
recipient has no valid address), attempts and last error. With no SMTP
server configured, mails stay pending here: the outbox is the mailbox, and
"notify show ID" prints one as it would be sent.`,
		Example: `  latchkey notify outbox
  latchkey notify outbox --status failed --channel webhook --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.notifyOutbox(cmd.Context(), tenant, notify.DeliveryQuery{Status: notify.Status(status),
				Channel: notify.Channel(channel), ClientID: clientID, Limit: limit}, asJSON)
		},
	}
	fs := cmd.Flags()
	tenantFlag(fs, &tenant, "tenant whose outbox to list")
	fs.StringVar(&status, "status", "", "only deliveries of this status")
	fs.StringVar(&channel, "channel", "", "only email or only webhook deliveries")
	fs.StringVar(&clientID, "client", "", "only deliveries about this client")
	fs.IntVar(&limit, "limit", 50, "how many to list (1 to 1000)")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	completeValues(cmd, "status", "pending", "sent", "failed", "skipped")
	completeValues(cmd, "channel", "email", "webhook")
	return cmd
}

func (a *app) notifyOutbox(ctx context.Context, tenant string, q notify.DeliveryQuery, asJSON bool) error {
	st, n, err := a.openNotifier(ctx, mailSettings{})
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := resolveTenant(ctx, st, tenant)
	if err != nil {
		return err
	}
	ds, err := n.service.Outbox(ctx, operator(t.ID, a.env), q)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]admin.Delivery, len(ds))
		for i := range ds {
			out[i] = admin.NewDelivery(&ds[i])
		}
		return printJSON(a.stdout, out)
	}
	if len(ds) == 0 {
		fmt.Fprintln(a.stdout, "The outbox is empty.")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tCHANNEL\tEVENT\tCLIENT\tTO\tSTATUS\tATTEMPTS\tLAST ERROR")
	for _, d := range ds {
		to := d.Recipient
		if to == "" {
			to = d.UserID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.CreatedAt.UTC().Format(time.RFC3339), d.Channel,
			eventLabel(&d), d.ClientID, to, d.Status, d.Attempts, d.LastError)
	}
	return tw.Flush()
}

// eventLabel names what a delivery is of: "30 days", "expired", or the
// event.
func eventLabel(d *notify.Delivery) string {
	switch {
	case d.Stage == 0:
		return "expired"
	case d.Stage > 0:
		return strconv.Itoa(int(d.Stage)) + " days"
	}
	return string(d.Event)
}

func (a *app) notifyShowCmd() *cobra.Command {
	var (
		tenant string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show DELIVERY-ID",
		Short: "Print one delivery: the mail as it is sent, or the webhook body, with every attempt",
		Args:  oneArg("delivery ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.notifyShow(cmd.Context(), tenant, args[0], asJSON)
		},
	}
	tenantFlag(cmd.Flags(), &tenant, "tenant of the delivery")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) notifyShow(ctx context.Context, tenant, id string, asJSON bool) error {
	st, n, err := a.openNotifier(ctx, mailSettings{})
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := resolveTenant(ctx, st, tenant)
	if err != nil {
		return err
	}
	d, attempts, err := n.service.Delivery(ctx, operator(t.ID, a.env), id)
	if err != nil {
		return err
	}
	detail, err := admin.NewDeliveryDetail(d, attempts, n.dispatch.Link)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, detail)
	}
	w := a.stdout
	fmt.Fprintf(w, "Delivery %s: %s %s, %s after %d attempts\n", d.ID, d.Channel, eventLabel(d), d.Status, d.Attempts)
	if d.Status == notify.Skipped {
		fmt.Fprintf(w, "Not sent to %s: %s\n", d.UserID, d.LastError)
	}
	for _, at := range attempts {
		result := "failed"
		if at.OK {
			result = "ok"
		}
		fmt.Fprintf(w, "  %s  %s  %s\n", at.At.UTC().Format(time.RFC3339), result, at.Detail)
	}
	fmt.Fprintln(w)
	if d.Channel == notify.ChannelWebhook {
		fmt.Fprintf(w, "To webhook %s:\n%s\n", d.Recipient, d.Payload)
		return nil
	}
	msg := detail.Message
	fmt.Fprintf(w, "To: %s\nSubject: %s\nContent-Language: %s\n\n%s\n", d.Recipient, msg.Subject, msg.Language, msg.Text)
	return nil
}

func (a *app) webhooksCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "Add, list and remove a tenant's webhooks",
		Long: `A webhook is told of a tenant's client events: secret-expiring (a warning
stage), secret-expired (the expiry day), client-revoked, secret-rotated and
retiring-secret-in-use (an old secret still used in the last hour of its grace) and
secret-leaked (a leak report revoked or flagged a secret).
Each delivery is a JSON POST signed in the manner of the Standard Webhooks
specification (headers webhook-id, webhook-timestamp, webhook-signature:
HMAC-SHA256 with the webhook's secret), retried with backoff for a day.
The endpoint must be https (plain http only to a loopback address).`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	tenantFlag(cmd.PersistentFlags(), &tenant, "tenant whose webhooks to manage")
	cmd.AddCommand(a.webhooksAddCmd(&tenant), a.webhooksListCmd(&tenant), a.webhooksRemoveCmd(&tenant))
	return cmd
}

func (a *app) webhooksAddCmd(tenant *string) *cobra.Command {
	var (
		events []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "add URL --events EVENT[,EVENT...]",
		Short: "Add a webhook; its signing secret is printed this once",
		Example: `  latchkey webhooks add https://hooks.example.com/latchkey --events secret-expiring,secret-expired
  latchkey webhooks add https://hooks.example.com/all --events secret-expiring,secret-expired,client-revoked,secret-rotated,secret-leaked`,
		Args: oneArg("URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.webhooksAdd(cmd.Context(), *tenant, args[0], events, asJSON)
		},
	}
	cmd.Flags().StringSliceVar(&events, "events", nil, "events to send: secret-expiring, secret-expired, client-revoked, secret-rotated, retiring-secret-in-use, secret-leaked")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) webhooksAdd(ctx context.Context, tenant, rawURL string, events []string, asJSON bool) error {
	st, n, err := a.openNotifier(ctx, mailSettings{})
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := resolveTenant(ctx, st, tenant)
	if err != nil {
		return err
	}
	types := make([]event.Type, len(events))
	for i, e := range events {
		types[i] = event.Type(strings.TrimSpace(e))
	}
	w, secret, err := n.service.CreateWebhook(ctx, operator(t.ID, a.env), rawURL, types)
	if err != nil {
		return err
	}
	if asJSON {
		j := admin.NewWebhook(w)
		j.Secret = secret
		return printJSON(a.stdout, j)
	}
	fmt.Fprintf(a.stdout, "Added webhook %s for %s.\nSigning secret (shown only this once): %s\n", w.ID, joinTypes(w.Events), secret)
	return nil
}

func joinTypes(ts []event.Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func (a *app) webhooksListCmd(tenant *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tenant's webhooks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, n, err := a.openNotifier(cmd.Context(), mailSettings{})
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := resolveTenant(cmd.Context(), st, *tenant)
			if err != nil {
				return err
			}
			ws, err := n.service.Webhooks(cmd.Context(), operator(t.ID, a.env))
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]admin.Webhook, len(ws))
				for i := range ws {
					out[i] = admin.NewWebhook(&ws[i])
				}
				return printJSON(a.stdout, out)
			}
			if len(ws) == 0 {
				fmt.Fprintln(a.stdout, `No webhooks. Add one with "latchkey webhooks add URL --events ...".`)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED")
			for _, w := range ws {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.ID, w.URL, joinTypes(w.Events), w.CreatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) webhooksRemoveCmd(tenant *string) *cobra.Command {
	return &cobra.Command{
		Use:   "remove WEBHOOK-ID",
		Short: "Remove a webhook; deliveries not yet made to it are given up",
		Args:  oneArg("webhook ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, n, err := a.openNotifier(cmd.Context(), mailSettings{})
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := resolveTenant(cmd.Context(), st, *tenant)
			if err != nil {
				return err
			}
			if err := n.service.DeleteWebhook(cmd.Context(), operator(t.ID, a.env), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Removed webhook %s.\n", args[0])
			return nil
		},
	}
}
