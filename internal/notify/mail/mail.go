// Package mail renders secret-expiry warnings in the recipient's language
// and sends them over SMTP.
//
// The wording lives in message catalogues, one JSON file per language in
// catalog/, each with every key of the English one and the same
// placeholders ({client}, {tenant}, {date}, {days}, {name}); a test holds
// them to that. A mail has a plain-text and an HTML part saying the same.
package mail

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Warning is what one expiry warning says.
type Warning struct {
	// Locale is the recipient's BCP 47 locale ("nb-NO", "fr"); it picks the
	// catalogue, English when none matches.
	Locale        string
	RecipientName string // may be empty: then the greeting names nobody
	ClientID      string
	ClientName    string
	TenantName    string
	ExpiresAt     time.Time
	// DaysLeft is the whole days until expiry; 0 (or less) on the expiry
	// day, when the mail says the secret has expired.
	DaysLeft int
	// ConsoleURL is the client's page in the console.
	ConsoleURL string
}

// Message is a rendered warning.
type Message struct {
	// Lang is the catalogue's language, for Content-Language.
	Lang    string
	Subject string
	Text    string
	HTML    string
}

//go:embed catalog/*.json
var catalogFS embed.FS

// catalogs are the message catalogues by language.
var catalogs = mustLoad(catalogFS)

func mustLoad(fsys fs.FS) map[string]map[string]string {
	c, err := loadCatalogs(fsys)
	if err != nil {
		panic(err) // the catalogues are embedded: a test catches this first
	}
	return c
}

func loadCatalogs(fsys fs.FS) (map[string]map[string]string, error) {
	files, err := fs.Glob(fsys, "catalog/*.json")
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("mail: catalogue %s: %w", f, err)
		}
		out[strings.TrimSuffix(path.Base(f), ".json")] = m
	}
	if out["en"] == nil {
		return nil, fmt.Errorf("mail: no English catalogue")
	}
	return out, nil
}

// Languages returns the catalogues' languages, sorted.
func Languages() []string {
	out := make([]string, 0, len(catalogs))
	for l := range catalogs {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// language picks the catalogue for a locale: its primary language
// subtag, with Norwegian ("no", Nynorsk "nn") read as Bokmål; English
// when no catalogue has it.
func language(locale string) string {
	base, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(locale, "_", "-")), "-")
	switch base {
	case "no", "nn":
		base = "nb"
	}
	if catalogs[base] != nil {
		return base
	}
	return "en"
}

// Render words w in its recipient's language.
func Render(w Warning) (Message, error) {
	lang := language(w.Locale)
	c := catalogs[lang]
	date := formatDate(c, w.ExpiresAt.UTC())
	days := strconv.Itoa(w.DaysLeft)
	fill := func(key string, escape bool) string {
		args := map[string]string{"client": w.ClientName, "tenant": w.TenantName, "date": date, "days": days,
			"name": w.RecipientName}
		if escape {
			for k, v := range args {
				args[k] = template.HTMLEscapeString(v)
			}
		}
		return expand(c[key], args)
	}
	status, state := "expiring", days
	switch {
	case w.DaysLeft <= 0:
		status, state = "expired", c["days_expired"]
	case w.DaysLeft == 1:
		status = "expiring_one"
	}
	greeting := "greeting"
	if w.RecipientName != "" {
		greeting = "greeting_named"
	}
	v := view{Lang: lang, Subject: c["subject"], Link: w.ConsoleURL, LinkLabel: c["link_label"],
		Action: c["action"], Footer: c["footer"],
		Facts: []fact{
			{c["client_label"], w.ClientName}, {c["client_id_label"], w.ClientID}, {c["tenant_label"], w.TenantName},
			{c["expires_label"], date + " " + w.ExpiresAt.UTC().Format("15:04") + " UTC"}, {c["days_label"], state},
		}}
	var text strings.Builder
	fmt.Fprintf(&text, "%s\n\n%s\n\n", fill(greeting, false), fill(status, false))
	for _, f := range v.Facts {
		fmt.Fprintf(&text, "%s: %s\n", f.Label, f.Value)
	}
	fmt.Fprintf(&text, "\n%s\n\n%s:\n%s\n\n-- \n%s\n", v.Action, v.LinkLabel, v.Link, v.Footer)

	v.Greeting = template.HTML(fill(greeting, true))
	v.Lead = template.HTML(fill(status, true))
	var html bytes.Buffer
	if err := htmlMail.Execute(&html, v); err != nil {
		return Message{}, fmt.Errorf("mail: render: %w", err)
	}
	return Message{Lang: lang, Subject: v.Subject, Text: text.String(), HTML: html.String()}, nil
}

// expand replaces each {name} in s with args[name].
func expand(s string, args map[string]string) string {
	pairs := make([]string, 0, 2*len(args))
	for k, v := range args {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// formatDate writes t's date by the catalogue's pattern and month names.
func formatDate(c map[string]string, t time.Time) string {
	return expand(c["date"], map[string]string{"d": strconv.Itoa(t.Day()),
		"month": c["month_"+strconv.Itoa(int(t.Month()))], "y": strconv.Itoa(t.Year())})
}

type fact struct{ Label, Value string }

// view is what the HTML part shows. Greeting and Lead are catalogue text
// with their arguments escaped already.
type view struct {
	Lang, Subject, Link, LinkLabel, Action, Footer string
	Greeting, Lead                                 template.HTML
	Facts                                          []fact
}

var htmlMail = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2328;">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border:1px solid #d0d7de;border-radius:8px;padding:24px;">
<h1 style="font-size:20px;margin:0 0 16px;">{{.Subject}}</h1>
<p>{{.Greeting}}</p>
<p>{{.Lead}}</p>
<table style="border-collapse:collapse;margin:16px 0;">
{{- range .Facts}}
<tr><th style="text-align:left;padding:4px 16px 4px 0;font-weight:600;">{{.Label}}</th><td style="padding:4px 0;">{{.Value}}</td></tr>
{{- end}}
</table>
<p>{{.Action}}</p>
<p style="margin:24px 0;"><a href="{{.Link}}" style="background:#0969da;color:#ffffff;text-decoration:none;padding:10px 16px;border-radius:6px;display:inline-block;">{{.LinkLabel}}</a></p>
<p style="font-size:13px;color:#57606a;">{{.Link}}</p>
<hr style="border:none;border-top:1px solid #d0d7de;margin:24px 0 12px;">
<p style="font-size:13px;color:#57606a;">{{.Footer}}</p>
</div>
</body>
</html>
`))
