package mail

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
)

// Leak is what a leaked-secret notice says.
type Leak struct {
	// Locale is the recipient's; the notice is worded in English for
	// every locale until the catalogues carry it.
	Locale        string
	RecipientName string
	ClientID      string
	ClientName    string
	TenantName    string
	// Facts are the report's: "action" (revoke or flag), "secret_hint",
	// "secret_id", "url", "source", "reported_at".
	Facts map[string]string
	// ConsoleURL is the client's page in the console.
	ConsoleURL string
}

// RenderLeak words a leaked-secret notice.
func RenderLeak(l Leak) (Message, error) {
	subject := "An OAuth client secret was reported leaked"
	lead := fmt.Sprintf("A secret of the OAuth client %s in %s was found published, and reported to this server.", l.ClientName, l.TenantName)
	action := "The secret was revoked at once: applications that still use it can no longer authenticate. Give them another secret of the client (rotate it in the console) and remove the leaked one from where it was found."
	if l.Facts["action"] == "flag" {
		action = "The tenant's policy flags leaked secrets instead of revoking them: the secret still works. Rotate it now and revoke the leaked one, then remove it from where it was found."
	}
	facts := []fact{{"Client", l.ClientName}, {"Client ID", l.ClientID}, {"Tenant", l.TenantName},
		{"Secret", "…" + l.Facts["secret_hint"]}, {"Reported", l.Facts["reported_at"]}}
	if u := l.Facts["url"]; u != "" {
		facts = append(facts, fact{"Found at", u})
	}
	if s := l.Facts["source"]; s != "" {
		facts = append(facts, fact{"Source", s})
	}
	greeting := "Hello,"
	if l.RecipientName != "" {
		greeting = "Hello " + l.RecipientName + ","
	}
	footer := "You receive this automatic message because you own or created this OAuth client."
	var text strings.Builder
	fmt.Fprintf(&text, "%s\n\n%s\n\n", greeting, lead)
	for _, f := range facts {
		fmt.Fprintf(&text, "%s: %s\n", f.Label, f.Value)
	}
	fmt.Fprintf(&text, "\n%s\n\nManage OAuth client:\n%s\n\n-- \n%s\n", action, l.ConsoleURL, footer)
	v := view{Lang: "en", Subject: subject, Link: l.ConsoleURL, LinkLabel: "Manage OAuth client", Action: action,
		Footer: footer, Greeting: template.HTML(template.HTMLEscapeString(greeting)),
		Lead: template.HTML(template.HTMLEscapeString(lead)), Facts: facts}
	var html bytes.Buffer
	if err := htmlMail.Execute(&html, v); err != nil {
		return Message{}, fmt.Errorf("mail: render: %w", err)
	}
	return Message{Lang: "en", Subject: subject, Text: text.String(), HTML: html.String()}, nil
}
