package console

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/client"
)

// pageForm returns the values the form with id would send as rendered in
// body, as a browser submits it: hidden and text inputs, ticked (and
// enabled) checkboxes, textareas, and each select's selected option (its
// first when none is). The CSRF field is left out: the test browser adds
// its own.
func pageForm(t *testing.T, body, id string) url.Values {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	out := url.Values{}
	inForm, found := false, false
	var textarea, selectName string
	var text strings.Builder
	selected, first := "", ""
	hasSelected, hasFirst := false, false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parsing the page: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			a := map[string]string{}
			has := map[string]bool{}
			for _, at := range tok.Attr {
				a[strings.ToLower(at.Name.Local)] = at.Value
				has[strings.ToLower(at.Name.Local)] = true
			}
			name := strings.ToLower(tok.Name.Local)
			if name == "form" && a["id"] == id {
				inForm, found = true, true
			}
			if !inForm || a["name"] == "" && name != "option" {
				continue
			}
			switch name {
			case "input":
				switch {
				case has["disabled"]:
				case a["type"] == "checkbox":
					if has["checked"] {
						v := a["value"]
						if !has["value"] {
							v = "on"
						}
						out.Add(a["name"], v)
					}
				default:
					out.Add(a["name"], a["value"])
				}
			case "textarea":
				textarea = a["name"]
				text.Reset()
			case "select":
				selectName, hasSelected, hasFirst = a["name"], false, false
			case "option":
				if !hasFirst {
					first, hasFirst = a["value"], true
				}
				if has["selected"] {
					selected, hasSelected = a["value"], true
				}
			}
		case xml.CharData:
			if textarea != "" {
				text.Write(tok)
			}
		case xml.EndElement:
			switch strings.ToLower(tok.Name.Local) {
			case "form":
				inForm = false
			case "textarea":
				if textarea != "" {
					out.Add(textarea, strings.TrimPrefix(text.String(), "\n"))
					textarea = ""
				}
			case "select":
				if selectName != "" {
					if hasSelected {
						out.Add(selectName, selected)
					} else if hasFirst {
						out.Add(selectName, first)
					}
					selectName = ""
				}
			}
		}
	}
	if !found {
		t.Fatalf("no form %q in the page:\n%s", id, body)
	}
	out.Del(csrfField)
	return out
}

// shownSecret returns the secret a secret display shows.
func shownSecret(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`<code id="secret-value">([^<]+)</code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret shown:\n%s", body)
	}
	return m[1]
}

// shownClientID returns the client ID a secret display shows.
func shownClientID(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`<code id="client-id-value">([^<]+)</code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no client ID shown:\n%s", body)
	}
	return m[1]
}

// newClientForm opens the create form of a template as b and returns
// what it would send, with the name filled in.
func newClientForm(t *testing.T, b *browser, template, name string) url.Values {
	t.Helper()
	r := b.get("/console/clients/new?template=" + template)
	wantStatus(t, r, 200)
	f := pageForm(t, r.Body, "client-form")
	f.Set("name", name)
	return f
}

// authenticates reports whether secret authenticates client id now.
func (cf *consoleFixture) authenticates(id, secret string) bool {
	cf.t.Helper()
	a := &client.Authenticator{Repo: cf.db, Now: func() time.Time { return cf.now }, TTL: -1}
	_, _, err := a.Authenticate(context.Background(), id, secret, false)
	return err == nil
}

// client reads a client of ten_a as the system, with its secrets.
func (cf *consoleFixture) client(id string) (*client.Client, []client.Secret) {
	cf.t.Helper()
	c, secrets, err := cf.admin.Clients.Get(context.Background(), system, id)
	if err != nil {
		cf.t.Fatalf("reading client %s: %v", id, err)
	}
	return c, secrets
}

// wantAbsent fails when the page holds any of parts.
func wantAbsent(t *testing.T, r *response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(r.Body, p) {
			t.Errorf("body holds %q:\n%s", p, r.Body)
		}
	}
}

// serviceParams is a confidential client_credentials client to arrange.
func serviceParams(name string) client.CreateParams {
	return client.CreateParams{Name: name, GrantTypes: []client.GrantType{client.GrantClientCredentials}}
}

// clientAuditDown is an audit log whose store is down.
type clientAuditDown struct{}

func (clientAuditDown) ListAudit(context.Context, audit.Query) (*audit.Page, error) {
	return nil, errors.New("audit store down")
}

// checkClientPage is checkAccessible for a console page: the layout's
// main element takes focus from the skip link (tabindex="-1", out of the
// tab order), the layout's one tabindex and not a page's, so it is left
// out of the check.
func checkClientPage(t *testing.T, body string) {
	t.Helper()
	checkAccessible(t, strings.Replace(body, `<main id="main" tabindex="-1">`, `<main id="main">`, 1))
}
