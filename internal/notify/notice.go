package notify

import (
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey/internal/notify/event"
)

// Noticed is what the store finds for a notice: the client's and tenant's
// names and the people to tell.
type Noticed struct {
	ClientName     string
	Tenant         TenantInfo
	Owner, Creator Recipient
}

// NoticeDeliveries are the outbox rows of one notice: a mail to the
// client's owner and one to its creator, or one when they are the same
// person, by the recipients rules of the expiry warnings; a recipient
// without a valid address is recorded as skipped, saying why.
func NoticeDeliveries(n event.Notice, found Noticed, newID func() string) []Delivery {
	if newID == nil {
		newID = NewDeliveryID
	}
	d := Due{Owner: found.Owner, Creator: found.Creator}
	var out []Delivery
	for _, r := range recipients(&d) {
		data := MailData{RecipientName: r.Name, ClientID: n.ClientID, ClientName: found.ClientName,
			TenantName: found.Tenant.Name, TenantSlug: found.Tenant.Slug, TenantDefault: found.Tenant.Default,
			Facts: n.Facts}
		body, _ := json.Marshal(data) // strings, times and a map of strings always marshal
		dl := Delivery{ID: newID(), TenantID: n.TenantID, ClientID: n.ClientID, SecretID: n.SecretID, Stage: -1,
			Channel: ChannelEmail, Event: n.Type, Recipient: r.Email, UserID: r.UserID, Locale: r.Locale,
			Payload: body, Status: Pending, NextAttemptAt: n.At, CreatedAt: n.At}
		if why := r.unreachable(); why != "" {
			dl.Recipient, dl.Status, dl.LastError, dl.NextAttemptAt = "", Skipped, why, time.Time{}
		}
		out = append(out, dl)
	}
	return out
}
