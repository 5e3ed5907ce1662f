package console

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/account/passkeytest"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// addPasskey adds a's passkey for the signed-in browser through the
// security page and returns the page that answered.
func addPasskey(t *testing.T, b *browser, a *passkeytest.Authenticator, name string) *response {
	t.Helper()
	r := b.submit(SecurityPath, url.Values{"action": {"passkey-begin"}, "name": {name}})
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, `data-passkey="create"`, `<script src="/account/static/passkey.js" defer></script>`)
	checkAccessible(t, r.Body)
	answer, err := a.Create(optionsOf(t, r.Body))
	if err != nil {
		t.Fatal(err)
	}
	return b.submit(SecurityPath, url.Values{"action": {"passkey-finish"}, "credential": {string(answer)}})
}

func TestPasskeyPages(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	a := passkeytest.New("http://id.test")
	r := addPasskey(t, b, a, "Work <laptop>")
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "Your recovery codes", "Your passkey was added.")
	if s := f.storedSession(b); !slices.Equal(s.Methods, []string{"pwd", "hwk", "mfa"}) {
		t.Errorf("methods after adding a passkey: %v", s.Methods)
	}
	if r.cookie(PasskeyCookie("ten_a", false)).MaxAge >= 0 {
		t.Error("the ceremony cookie was kept")
	}
	r = b.get(SecurityPath)
	wantBody(t, r, "<h3>Work &lt;laptop&gt;</h3>", "Never used", `aria-label="Remove the passkey Work &lt;laptop&gt;"`)
	checkAccessible(t, r.Body)
	// A second passkey gives no new codes.
	f.now = f.now.Add(time.Second)
	wantRedirect(t, addPasskey(t, b, passkeytest.New("http://id.test"), "Phone"), f.issuer+SecurityPath+"?done=passkey")

	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	r = b.get(MFAPath)
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, `data-passkey="get"`, `>Use your passkey</button>`, `<script src="/account/static/passkey.js" defer></script>`)
	checkAccessible(t, r.Body)
	if strings.Contains(r.Body, `value="totp"`) {
		t.Error("an authenticator app is offered to a user without one")
	}
	answer, err := a.Get(optionsOf(t, r.Body))
	if err != nil {
		t.Fatal(err)
	}
	r = b.submit(MFAPath, url.Values{"method": {"passkey"}, "credential": {string(answer)}})
	wantRedirect(t, r, f.issuer+authreq.AppsPath)
	if s := f.storedSession(b); s == nil || !slices.Equal(s.Methods, []string{"pwd", "hwk", "mfa"}) {
		t.Fatalf("session %+v", s)
	}
	ps, _ := f.db.Passkeys(ctx, anaID)
	if len(ps) != 2 || ps[0].LastUsedAt.IsZero() {
		t.Fatalf("passkeys %+v", ps)
	}
	wantBody(t, b.get(SecurityPath), "Last used</dt><dd><time")

	// Removing both takes the recovery codes with them.
	for _, p := range ps {
		wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"passkey-remove"}, "id": {p.ID}}),
			f.issuer+SecurityPath+"?done=passkey-removed")
	}
	wantBody(t, b.get(SecurityPath+"?done=passkey-removed"), "You have no passkeys.", "The passkey was removed.")
	if n, _ := f.db.RecoveryCodesLeft(ctx, anaID); n != 0 {
		t.Errorf("%d recovery codes left without a factor", n)
	}
}

// TestPasskeyFinishRefusals: the finishing handlers refuse an answer to
// another challenge, from another origin, or to a ceremony already
// used, and each refusal uses the ceremony up.
func TestPasskeyFinishRefusals(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	a := passkeytest.New("http://id.test")
	wantCode(t, addPasskey(t, b, a, "Key"), http.StatusOK)

	// Registration from another origin.
	evil := passkeytest.New("https://evil.example")
	r := addPasskey(t, b, evil, "Evil")
	wantCode(t, r, http.StatusBadRequest)
	wantBody(t, r, "The passkey could not be added.")
	// Registration without a ceremony (its cookie gone).
	r = b.submit(SecurityPath, url.Values{"action": {"passkey-begin"}, "name": {"x"}})
	answer, _ := passkeytest.New("http://id.test").Create(optionsOf(t, r.Body))
	delete(b.jar, PasskeyCookie("ten_a", false))
	wantCode(t, b.submit(SecurityPath, url.Values{"action": {"passkey-finish"}, "credential": {string(answer)}}), http.StatusBadRequest)
	if ps, _ := f.db.Passkeys(context.Background(), anaID); len(ps) != 1 {
		t.Fatalf("%d passkeys after refused registrations", len(ps))
	}

	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	first := optionsOf(t, b.get(MFAPath).Body)
	try := func(name string, answer []byte) *response {
		t.Helper()
		r := b.submit(MFAPath, url.Values{"method": {"passkey"}, "credential": {string(answer)}})
		wantCode(t, r, http.StatusBadRequest)
		wantBody(t, r, msgPasskeyFailed)
		if f.storedSession(b) != nil {
			t.Fatalf("%s signed in", name)
		}
		return r
	}
	// Wrong origin: the ceremony is used up, and the page offers a new one.
	a.Origin = "https://evil.example"
	wrongOrigin, _ := a.Get(first)
	a.Origin = "http://id.test"
	r = try("wrong origin", wrongOrigin)
	second := optionsOf(t, r.Body)
	// The right answer to the first (used) challenge is refused now:
	// against the second, it answers the wrong challenge.
	stale, _ := a.Get(first)
	r = try("wrong challenge", stale)
	third := optionsOf(t, r.Body)
	if string(second) == string(third) {
		t.Fatal("a refused ceremony was offered again")
	}
	good, _ := a.Get(third)
	// Without its cookie the answer has no ceremony.
	delete(b.jar, PasskeyCookie("ten_a", false))
	r = try("no ceremony", good)
	fourth := optionsOf(t, r.Body)
	good, _ = a.Get(fourth)
	wantRedirect(t, b.submit(MFAPath, url.Values{"method": {"passkey"}, "credential": {string(good)}}), f.issuer+authreq.AppsPath)

	// A replayed answer, in a new sign-in, is refused.
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	b.get(MFAPath)
	try("replayed ceremony", good)
	es, _ := f.db.AuditEvents(context.Background(), "ten_a", 0, 200)
	failed := 0
	for _, e := range es {
		if e.Action == account.ActionMFAFailed && e.Details["method"] == "passkey" {
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d passkey failures audited, want 4", failed)
	}
}

func TestPasskeysNeedADomain(t *testing.T) {
	f := newMFAFixture(t, "http://127.0.0.1:8080")
	b := f.browser()
	b.signIn(anaEmail)
	r := b.get(SecurityPath)
	wantBody(t, r, "Passkeys work only when this server is reached by a domain name")
	if strings.Contains(r.Body, "passkey-begin") {
		t.Error("a passkey is offered where none can work")
	}
	wantCode(t, b.submit(SecurityPath, url.Values{"action": {"passkey-begin"}, "name": {"x"}}), http.StatusBadRequest)
}

func TestSecurityPageForms(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	wantRedirect(t, b.get(SecurityPath), f.issuer+authreq.LoginPath+"?next=%2Faccount%2Fsecurity")
	b.signIn(anaEmail)
	for _, form := range []url.Values{
		{"action": {"nonsense"}},
		{"action": {"passkey-remove"}},
		{"action": {"passkey-remove"}, "id": {strings.Repeat("x", 2000)}},
	} {
		wantCode(t, b.submit(SecurityPath, form), http.StatusBadRequest)
	}
	// New codes need a factor first.
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"codes-regenerate"}}), f.issuer+SecurityPath)
	r := b.submit(SecurityPath, url.Values{"action": {"passkey-begin"}, "name": {strings.Repeat("n", 65)}})
	wantCode(t, r, http.StatusBadRequest)
	wantBody(t, r, "The name must be at most 64 characters.", `aria-describedby="security-error"`)
	checkAccessible(t, r.Body)
	// A forged done= shows only the notices the page knows.
	wantCode(t, b.get(SecurityPath+"?done=%3Cscript%3E"), http.StatusOK)
	if strings.Contains(b.get(SecurityPath+"?done=%3Cscript%3E").Body, "script&gt;") {
		t.Error("a link chose the notice")
	}
	_, codes := f.enrolTOTP(b)
	r = b.submit(SecurityPath, url.Values{"action": {"codes-regenerate"}})
	wantCode(t, r, http.StatusOK)
	fresh := codeRE.FindAllStringSubmatch(r.Body, -1)
	if len(fresh) != 10 || slices.Contains(codes, fresh[0][1]) {
		t.Fatalf("regenerated codes %v", fresh)
	}
	// Cancel a setup, then remove an enrolled app: each audited or not
	// as the domain decides, and the page says what happened.
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-remove"}}), f.issuer+SecurityPath+"?done=totp-removed")
	wantBody(t, b.get(SecurityPath+"?done=totp-removed"), "Your authenticator app was removed.")
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-begin"}}), f.issuer+SecurityPath)
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-remove"}}), f.issuer+SecurityPath+"?done=totp-removed")
	if strings.Contains(b.get(SecurityPath).Body, `class="secret"`) {
		t.Error("a cancelled setup is still shown")
	}
	// A confirmation with no setup waiting goes back to the page.
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-confirm"}, "code": {"123456"}}), f.issuer+SecurityPath)
}

func TestSecurityStoreFailures(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	f.failing("tx")
	for _, form := range []url.Values{{"action": {"totp-begin"}}, {"action": {"passkey-begin"}, "name": {"x"}}} {
		wantCode(t, b.submit(SecurityPath, form), http.StatusInternalServerError)
	}
	if strings.Contains(f.logs.String(), errStore.Error()) == false {
		t.Error("the store's failure was not logged")
	}
}

// TestQRCode: the SVG draws exactly the modules of the QR code, and
// nothing of the text it encodes.
func TestQRCode(t *testing.T) {
	const uri = "otpauth://totp/Latchkey:ana@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Latchkey&x=<b>"
	svg, err := qrSVG(uri)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(svg), "JBSWY3DP") || strings.Contains(string(svg), "<b>") {
		t.Fatal("the SVG carries the text it encodes")
	}
	q, err := qrcode.New(uri, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Bitmap()
	got := make([][]bool, len(want))
	for i := range got {
		got[i] = make([]bool, len(want))
	}
	var doc struct {
		ViewBox string `xml:"viewBox,attr"`
		Rects   []struct {
			X      int    `xml:"x,attr"`
			Y      int    `xml:"y,attr"`
			Width  int    `xml:"width,attr"`
			Height int    `xml:"height,attr"`
			Fill   string `xml:"fill,attr"`
		} `xml:"rect"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("the SVG does not parse: %v", err)
	}
	for _, r := range doc.Rects[1:] {
		for x := r.X; x < r.X+r.Width; x++ {
			got[r.Y][x] = true
		}
	}
	for y := range want {
		if !slices.Equal(got[y], want[y]) {
			t.Fatalf("row %d differs", y)
		}
	}
	if doc.Rects[0].Fill != "#ffffff" || doc.Rects[0].Width != len(want) {
		t.Errorf("background %+v", doc.Rects[0])
	}
	if _, err := qrSVG(strings.Repeat("x", 8000)); err == nil {
		t.Error("a text too long for a QR code was drawn")
	}
}

func TestPasskeyScript(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	for _, path := range []string{"/account/static/passkey.js", "/t/beta/account/static/passkey.js"} {
		r := b.get(path)
		wantCode(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		wantBody(t, r, "navigator.credentials.create", "navigator.credentials.get")
		wantSecurityHeaders(t, path, &response{Header: r.Header})
	}
	r := b.do(http.MethodPost, "/account/static/passkey.js", url.Values{})
	wantCode(t, r, http.StatusMethodNotAllowed)
	if r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
}
