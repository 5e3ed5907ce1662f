package main

// The harness every browser test uses: a headless Chromium tab, steps
// with their own timeouts, what the pages logged (console errors,
// uncaught exceptions, Content-Security-Policy violations), axe-core's
// accessibility check, screenshots, and the sign-in form.
//
// The pages' CSP allows no script at all, so everything the harness runs
// in a page goes through DevTools (Runtime.evaluate, Runtime.callFunctionOn
// and Page.addScriptToEvaluateOnNewDocument), which the page's CSP does
// not govern; a <script> element added to the page would be refused.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const (
	// browserDeadline bounds a whole tab: every step of a test, however
	// many, ends by then.
	browserDeadline = 5 * time.Minute
	// stepTimeout bounds one step, so that a failed step still leaves
	// time to read what the page shows.
	stepTimeout = 30 * time.Second

	// The two viewports screenshots are taken at.
	desktopWidth = 1280
	phoneWidth   = 390

	// cspWorld is the isolated world the CSP listener runs in: it shares
	// the page's DOM and events but not its globals, so a page never
	// sees the harness.
	cspWorld = "latchkey-harness"
	// cspBinding is the function the listener reports a violation to; a
	// call of it reaches the test as a Runtime.bindingCalled event.
	cspBinding = "latchkeyCSPViolation"

	// a11yDir is the npm project that installs axe-core, relative to the
	// module root; .ci/run installs it with npm ci.
	a11yDir = "internal/console/testdata/a11y"
	// screenshotsEnv, set to 1, makes screenshot write its PNGs under
	// docs/screenshots/ instead of only checking them.
	screenshotsEnv = "LATCHKEY_SCREENSHOTS"
)

// cspListener runs in cspWorld at the start of every document, before
// the page's own markup, and reports each securitypolicyviolation event.
// It listens on the document in the capture phase: the event is fired at
// the offending element or at the document, and bubbles.
const cspListener = `document.addEventListener("securitypolicyviolation", (e) => {
	` + cspBinding + `(JSON.stringify({directive: e.effectiveDirective, blocked: e.blockedURI,
		source: e.sourceFile, line: e.lineNumber, sample: e.sample}));
}, true);`

// unavailable skips t because something a browser test needs is not
// installed, or fails it when CI is set: CI must run every browser test,
// and .ci/run installs what they need, so there a missing tool is a
// broken CI and never a reason to pass. The caller returns after it.
func unavailable(t testing.TB, what, install string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: CI must run this test (.ci/run installs it: %s)", what, install)
		return
	}
	t.Skipf("%s (to run this test: %s)", what, install)
}

// chromiumPath is where Debian's chromium package puts the browser; the
// tests never download one.
const chromiumPath = "/usr/lib/chromium/chromium"

// chromium returns the browser's path, or skips the test (fails it in CI)
// when it is not installed.
func chromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		unavailable(t, fmt.Sprintf("no Chromium at %s (%v)", chromiumPath, err), "apt-get install chromium")
	}
	return chromiumPath
}

// moduleRoot is the directory of the module's go.mod: the tests run in
// their package's directory, and the files the harness reads and writes
// are named from the root.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// chromiumTab is a headless Chromium with one tab, and what the pages in
// that tab logged that a correct page never logs.
type chromiumTab struct {
	// ctx is the tab. It ends at browserDeadline or when the test ends;
	// steps derive their own, shorter contexts from it.
	ctx context.Context

	mu       sync.Mutex
	problems []string
	// documents are the requests of the documents the tab loaded; see
	// note.
	documents map[network.RequestID]bool
}

// newChromium starts Chromium headless for t, with a new profile and no
// network beyond what the test serves it, and returns its one tab at the
// desktop viewport. The browser closes when t ends; whatever the pages
// logged that the test did not take with pageProblems fails t then.
func newChromium(t testing.TB) *chromiumTab {
	t.Helper()
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserDeadline)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// Chromium's sandbox cannot start as root, which CI runs as.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// The machine reaches no network but the loopback: a browser
		// that phones home only fills the log with refused connections.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc) // waits for the browser to exit, before TempDir's removal
	tctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	c := &chromiumTab{ctx: tctx, documents: map[network.RequestID]bool{}}

	// The first call starts the browser, which lives as long as that
	// call's context: the tab's, not a step's.
	if err := chromedp.Listen(tctx, c.note); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	sctx, cancelStep := context.WithTimeout(tctx, stepTimeout)
	defer cancelStep()
	err := chromedp.Do(sctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, runtime.AddBinding, runtime.AddBindingParams{Name: cspBinding, ExecutionContextName: cspWorld}); err != nil {
				return fmt.Errorf("adding the CSP binding: %w", err)
			}
			_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument,
				cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener, WorldName: cspWorld})
			return err
		}),
		setViewport(viewports[desktopWidth]),
	)
	if err != nil {
		t.Fatalf("setting up the tab: %v", err)
	}
	t.Cleanup(func() {
		// Only what was noted already: the tab may be closing.
		c.mu.Lock()
		left := c.problems
		c.mu.Unlock()
		if len(left) > 0 {
			t.Errorf("the pages logged what no page should:\n%s", strings.Join(left, "\n"))
		}
	})
	return c
}

// note records an event that shows a broken page. It runs on the
// goroutine that reads the browser's messages, so it only appends.
func (c *chromiumTab) note(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		p = "uncaught exception: " + exceptionText(ev.ExceptionDetails)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		p = "console." + string(ev.Type) + ": " + argsText(ev.Args)
	case *network.EventResponseReceived:
		if ev.Type == network.ResourceTypeDocument {
			c.mu.Lock()
			c.documents[ev.RequestID] = true
			c.mu.Unlock()
		}
		return
	case *log.EventEntryAdded:
		// The browser's own errors: resources that failed to load and
		// the CSP's refusals, among others. A document's own error
		// status (a refused sign-in's 400, a 404 page) is the page's
		// answer, which the tests check where it matters; what a page
		// loads must load.
		if ev.Entry == nil || ev.Entry.Level != log.EntryLevelError || faviconMiss(ev.Entry) || c.document(ev.Entry.NetworkRequestID) {
			return
		}
		p = fmt.Sprintf("browser log (%s): %s", ev.Entry.Source, ev.Entry.Text)
		if ev.Entry.URL != "" {
			p += " at " + ev.Entry.URL
		}
	case *runtime.EventBindingCalled:
		if ev.Name != cspBinding {
			return
		}
		p = "CSP violation: " + violationText(ev.Payload)
	default:
		return
	}
	c.mu.Lock()
	c.problems = append(c.problems, p)
	c.mu.Unlock()
}

// document is whether id is the request of a document the tab loaded.
func (c *chromiumTab) document(id network.RequestID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return id != "" && c.documents[id]
}

// faviconMiss is whether a log entry is the browser's own request for
// /favicon.ico failing: the pages name no icon, the browser asks for one
// anyway, and no person sees the miss.
func faviconMiss(e *log.Entry) bool {
	if e.Source != log.EntrySourceNetwork {
		return false
	}
	u, err := url.Parse(e.URL)
	return err == nil && u.Path == "/favicon.ico"
}

// exceptionText says what an uncaught exception was and where.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	if d.URL != "" {
		s += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber+1)
	}
	return s
}

// argsText joins a console call's arguments as the console shows them:
// strings as they are, other values as JSON or by their description.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		var s string
		switch {
		case len(a.Value) > 0:
			if err := json.Unmarshal(a.Value, &s); err != nil {
				s = string(a.Value)
			}
		default:
			s = a.Description
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// violationText says which directive a CSP violation broke, what it
// blocked and where, from the listener's report.
func violationText(payload string) string {
	var v struct {
		Directive, Blocked, Source, Sample string
		Line                               int
	}
	if err := json.Unmarshal([]byte(payload), &v); err != nil {
		return payload
	}
	s := v.Directive + " blocked " + v.Blocked
	if v.Source != "" {
		s += fmt.Sprintf(" at %s:%d", v.Source, v.Line)
	}
	if v.Sample != "" {
		s += fmt.Sprintf(" (%q)", v.Sample)
	}
	return s
}

// pageProblems returns what the pages logged since the last call, and
// forgets it. It first lets the page run the tasks it has queued: a CSP
// violation's event is fired from a task of its own, after the violation.
func (c *chromiumTab) pageProblems(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](
		`new Promise((done) => setTimeout(done, 0))`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("waiting for the page's queued tasks: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problems
	c.problems = nil
	return p
}

// expectQuiet fails t when the pages logged anything since the last
// check: a console error, an uncaught exception or a CSP violation is a
// bug of the page (where names it).
func (c *chromiumTab) expectQuiet(t testing.TB, where string) {
	t.Helper()
	if p := c.pageProblems(t); len(p) > 0 {
		t.Errorf("%s logged what no page should:\n%s", where, strings.Join(p, "\n"))
	}
}

// checkScreen runs every check of the screen the tab shows, named name:
// axe-core, and nothing logged that no page should; shots says whether it
// is one of the screens kept under docs/screenshots/, taken at desktop and
// phone width.
func (c *chromiumTab) checkScreen(t testing.TB, name string, shots bool) {
	t.Helper()
	checkA11y(t, c.ctx, name)
	c.expectQuiet(t, name)
	if shots {
		screenshot(t, c.ctx, name, desktopWidth)
		screenshot(t, c.ctx, name, phoneWidth)
	}
}

// step runs actions in the tab within stepTimeout, and fails t with what
// the browser shows when one fails; what says what the step does.
func (c *chromiumTab) step(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	stepValue(t, c, what, chromedp.Steps(actions...))
}

// stepValue is step for an action that returns a value.
func stepValue[T any](t testing.TB, c *chromiumTab, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v; the browser shows %s", what, err, shown(c.ctx))
	}
	return v
}

// shown says where the browser is and what its page says, for a failure's
// message.
func shown(tab context.Context) string {
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return "nothing readable (" + err.Error() + ")"
	}
	return v
}

// focused names the element that has the keyboard focus, as
// tag#id[type].
var focused = chromedp.Evaluate[string](`(() => { const e = document.activeElement;
	return e ? e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.type ? "[" + e.type + "]" : "") : "" })()`)

// tabTo presses Tab and reports an error on t unless the focus moved to
// want (as focused names it).
func tabTo(t testing.TB, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tg); err != nil {
			return err
		}
		got, err := focused(ctx, tg)
		if err == nil && got != want {
			t.Errorf("Tab moved the focus to %q, want %q", got, want)
		}
		return err
	})
}

// loadAfter runs trigger and waits for the next document to load: a form
// submitted, its redirects followed, and the page they end on loaded.
func loadAfter(trigger chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.WaitEvent(cdppage.LoadEventFired, nil, trigger)(ctx, tg)
		return err
	})
}

// signInPage is the sign-in form's password field: the page the sign-in
// helpers start from.
const signInPage = `form[action$="/account/login"] #password`

// signIn signs in on the sign-in page the tab shows (the test opened
// /account/login, or was sent there by an authorization request or the
// console): it fills the email and the password and presses Enter in the
// password field, as a person would, and returns once the page that
// follows has loaded. A refused sign-in fails t with the page's error.
func (c *chromiumTab) signIn(t testing.TB, email, password string) {
	t.Helper()
	c.step(t, "filling the sign-in form",
		chromedp.WaitVisible(chromedp.CSS(signInPage)),
		// The page may have filled the email in (login_hint, or the
		// address a refused sign-in was tried with).
		chromedp.Evaluate[chromedp.Void](`document.getElementById("email").value = ""`),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		loadAfter(chromedp.SendKeys(chromedp.ID("password"), kb.Enter)),
	)
	c.signedIn(t)
}

// signInWithKeyboard signs in as signIn does with the keyboard alone:
// from the top of the page, Tab must reach the email, the password and
// the submit button in that order (t fails when it does not), and Enter
// on the button submits.
func (c *chromiumTab) signInWithKeyboard(t testing.TB, email, password string) {
	t.Helper()
	c.step(t, "signing in with the keyboard",
		chromedp.WaitVisible(chromedp.CSS(signInPage)),
		tabTo(t, "input#email[email]"),
		chromedp.KeyEvent(email),
		tabTo(t, "input#password[password]"),
		chromedp.KeyEvent(password),
		tabTo(t, "button[submit]"),
		loadAfter(chromedp.KeyEvent(kb.Enter)),
	)
	c.signedIn(t)
}

// signedIn fails t when the page a sign-in led to is the sign-in page
// with its error.
func (c *chromiumTab) signedIn(t testing.TB) {
	t.Helper()
	refused := stepValue(t, c, "reading the page after signing in", chromedp.Evaluate[string](
		`(document.getElementById("login-error") || {}).textContent || ""`))
	if refused != "" {
		t.Fatalf("the sign-in was refused: %q", refused)
	}
}

// axeFile is axe-core's script, as npm ci installs it under a11yDir.
func axeFile(t testing.TB) string {
	return filepath.Join(moduleRoot(t), a11yDir, "node_modules", "axe-core", "axe.min.js")
}

// readAxe returns the script at path, or skips t (fails it in CI) when
// it is not installed.
func readAxe(t testing.TB, path string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		unavailable(t, fmt.Sprintf("axe-core is not installed (%v)", err),
			"npm ci --prefix "+a11yDir+" --no-audit --no-fund")
		return ""
	}
	return string(src)
}

// axeViolation is one rule axe-core found broken, with the elements that
// break it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		// Target is the element's CSS selector; inside a shadow root or
		// an iframe, a list of them.
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// serious is whether a violation stops some people using the page: the
// impacts "serious" and "critical"; "moderate" and "minor" are logged
// only.
func (v axeViolation) serious() bool { return v.Impact == "serious" || v.Impact == "critical" }

func (v axeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n\t%v: %s", n.Target, n.HTML)
	}
	return b.String()
}

// axeRun evaluates axe-core's script in the tab's page and runs it on
// the whole document. The script goes in through DevTools, which the
// page's CSP does not govern; axe.version proves it ran.
func axeRun(ctx context.Context, script string) ([]axeViolation, error) {
	version, err := chromedp.Run(ctx, chromedp.Evaluate[string](script+"\n;axe.version"))
	if err != nil {
		return nil, fmt.Errorf("injecting axe-core: %w", err)
	}
	if version == "" {
		return nil, errors.New("injecting axe-core: axe.version is empty")
	}
	return chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](
		`axe.run(document, {resultTypes: ["violations"]}).then((r) => r.violations)`, chromedp.EvalAwaitPromise))
}

// checkA11y runs axe-core on the page the tab shows and fails t listing
// every serious or critical violation, each with the elements that break
// it; lesser ones are logged. name says which screen it is. Without
// axe-core installed, t skips (fails in CI).
func checkA11y(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	script := readAxe(t, axeFile(t))
	actx, cancel := context.WithTimeout(ctx, 2*stepTimeout)
	defer cancel()
	vs, err := axeRun(actx, script)
	if err != nil {
		t.Fatalf("%s: axe-core: %v; the browser shows %s", name, err, shown(ctx))
	}
	var bad, minor []string
	for _, v := range vs {
		if v.serious() {
			bad = append(bad, v.String())
		} else {
			minor = append(minor, v.String())
		}
	}
	if len(minor) > 0 {
		t.Logf("%s: axe-core's lesser findings:\n%s", name, strings.Join(minor, "\n"))
	}
	if len(bad) > 0 {
		t.Errorf("%s: axe-core found %d serious or critical violations:\n%s", name, len(bad), strings.Join(bad, "\n"))
	}
}

// viewport is a screen a screenshot is taken on.
type viewport struct {
	name          string
	width, height int64
	mobile        bool // a phone: the page's meta viewport, touch, overlay scrollbars
}

// viewports are the screens screenshot knows, by width.
var viewports = map[int]viewport{
	desktopWidth: {name: "desktop", width: desktopWidth, height: 800},
	phoneWidth:   {name: "phone", width: phoneWidth, height: 844, mobile: true},
}

// setViewport makes the tab's page the size of vp.
func setViewport(vp viewport) chromedp.Action[chromedp.Void] {
	opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if vp.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	if vp.width > vp.height {
		opts[0] = chromedp.EmulateLandscape
	}
	return chromedp.EmulateViewport(vp.width, vp.height, opts...)
}

// capturePage takes the whole page at vp as a PNG, however long it is
// (at least the screen's height), and says whether the page is wider
// than the screen: on a phone, a page that scrolls sideways is broken.
func capturePage(vp viewport) chromedp.Action[[]byte] {
	return func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		if _, err := setViewport(vp)(ctx, tg); err != nil {
			return nil, err
		}
		m, err := cdp.Call(ctx, tg, cdppage.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		if m.CSSContentSize == nil {
			return nil, errors.New("the page has no content size")
		}
		if w := math.Ceil(m.CSSContentSize.Width); w > float64(vp.width) {
			return nil, fmt.Errorf("the page is %.0f px wide on a %d px screen", w, vp.width)
		}
		h := max(math.Ceil(m.CSSContentSize.Height), float64(vp.height))
		shot, err := cdp.Call(ctx, tg, cdppage.CaptureScreenshot, cdppage.CaptureScreenshotParams{
			Format:                cdppage.CaptureScreenshotFormatPng,
			CaptureBeyondViewport: ptrTo(true),
			FromSurface:           ptrTo(true),
			Clip:                  &cdppage.Viewport{Width: float64(vp.width), Height: h, Scale: 1},
		})
		if err != nil {
			return nil, err
		}
		return shot.Data, nil
	}
}

func ptrTo[T any](v T) *T { return &v }

// checkScreenshot returns why data is not a screenshot of a page at vp:
// not a PNG, not the screen's width, shorter than the screen, or one
// colour all over (a page that drew nothing).
func checkScreenshot(data []byte, vp viewport) error {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not a PNG: %w", err)
	}
	b := img.Bounds()
	if b.Dx() != int(vp.width) || b.Dy() < int(vp.height) {
		return fmt.Errorf("%d×%d px, want %d px wide and at least %d px high", b.Dx(), b.Dy(), vp.width, vp.height)
	}
	first := img.At(b.Min.X, b.Min.Y)
	r0, g0, b0, a0 := first.RGBA()
	// Every 4th pixel of every 4th row finds the text of any page.
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			if r, g, bl, a := img.At(x, y).RGBA(); r != r0 || g != g0 || bl != b0 || a != a0 {
				return nil
			}
		}
	}
	return errors.New("the image is one colour all over: the page drew nothing")
}

// screenshot takes the whole page the tab shows at width (desktopWidth
// or phoneWidth) and checks the PNG; with LATCHKEY_SCREENSHOTS=1 it also
// writes it to docs/screenshots/<name>-<desktop|phone>.png. The tab is
// back at the desktop viewport afterwards.
func screenshot(t testing.TB, ctx context.Context, name string, width int) {
	t.Helper()
	vp, ok := viewports[width]
	if !ok {
		t.Fatalf("screenshot %s: no viewport %d px wide (use desktopWidth or phoneWidth)", name, width)
	}
	file := name + "-" + vp.name + ".png"
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	data, err := chromedp.Run(sctx, capturePage(vp))
	if err == nil {
		err = checkScreenshot(data, vp)
	}
	if _, rerr := chromedp.Run(sctx, setViewport(viewports[desktopWidth])); rerr != nil && err == nil {
		err = fmt.Errorf("back to the desktop viewport: %w", rerr)
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", file, err)
		return
	}
	if os.Getenv(screenshotsEnv) != "1" {
		return
	}
	dir := filepath.Join(moduleRoot(t), "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote docs/screenshots/%s", file)
}

// pagesCSP is the policy the account and console pages send; the
// harness's own test pages send it too, unless they test a breach.
const pagesCSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// harnessPages serves the pages the harness's own tests drive: a quiet
// one, one that breaks its CSP and logs errors, one that breaks
// accessibility rules, and one too wide for a phone.
func harnessPages(t *testing.T) *httptest.Server {
	t.Helper()
	pages := map[string]struct{ csp, typ, body string }{
		"/quiet": {pagesCSP, "text/html", `<!DOCTYPE html><html lang="en"><head><title>Quiet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/site.css"></head><body><main><h1>Quiet</h1><p id="ready">Nothing to see.</p></main></body></html>`},
		"/noisy": {"default-src 'none'; script-src 'self'", "text/html", `<!DOCTYPE html><html lang="en"><head><title>Noisy</title>
<style>p { color: red }</style></head><body><main><h1>Noisy</h1><p id="ready" style="color: red">Breaks its policy.</p>
<script>document.title = "inline"</script><script src="/noisy.js"></script></main></body></html>`},
		"/noisy.js": {"default-src 'none'", "text/javascript", `console.error("noisy page", 42); throw new Error("noisy boom");`},
		"/inaccessible": {pagesCSP, "text/html", `<!DOCTYPE html><html lang="en"><head><title>Inaccessible</title>
<link rel="stylesheet" href="/site.css"></head><body><main><h1>Inaccessible</h1><img src="/pixel.png">
<form><input type="text" name="q"></form><p class="faint" id="ready">Hard to read.</p></main></body></html>`},
		"/wide": {pagesCSP, "text/html", `<!DOCTYPE html><html lang="en"><head><title>Wide</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/site.css"></head><body><main><h1>Wide</h1><p class="wide" id="ready">Too wide.</p></main></body></html>`},
		"/broken": {pagesCSP, "text/html", `<!DOCTYPE html><html lang="en"><head><title>Broken</title>
<link rel="stylesheet" href="/missing.css"></head><body><main><h1>Broken</h1><p id="ready">Its stylesheet is missing.</p></main></body></html>`},
		"/site.css": {pagesCSP, "text/css", `body { font-family: sans-serif; margin: 2rem; } .faint { color: #d8d8d8; } .wide { width: 2000px; }`},
	}
	// A 1×1 PNG, for the image with no text alternative.
	var pixel bytes.Buffer
	if err := png.Encode(&pixel, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pixel.png" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(pixel.Bytes())
			return
		}
		p, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", p.csp)
		w.Header().Set("Content-Type", p.typ+"; charset=utf-8")
		w.Write([]byte(p.body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestHarnessReportsPageProblems proves the harness sees what a broken
// page logs: each CSP violation (inline style element, style attribute,
// inline script), console.error, an uncaught exception and a stylesheet
// that does not load; that taking them forgets them; and that a correct
// page, or a document answered with an error status, logs nothing.
func TestHarnessReportsPageProblems(t *testing.T) {
	c := newChromium(t)
	srv := harnessPages(t)
	c.step(t, "opening the noisy page", chromedp.Navigate(srv.URL+"/noisy"), chromedp.WaitVisible(chromedp.ID("ready")))
	got := strings.Join(c.pageProblems(t), "\n")
	for _, want := range []string{
		"CSP violation: style-src-elem blocked inline",
		"CSP violation: style-src-attr blocked inline",
		"CSP violation: script-src-elem blocked inline",
		"console.error: noisy page 42",
		"uncaught exception: ",
		"noisy boom",
		srv.URL + "/noisy.js",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the noisy page's problems do not include %q:\n%s", want, got)
		}
	}
	if again := c.pageProblems(t); len(again) > 0 {
		t.Errorf("pageProblems did not forget what it returned: %q", again)
	}
	c.step(t, "opening the broken page", chromedp.Navigate(srv.URL+"/broken"), chromedp.WaitVisible(chromedp.ID("ready")))
	if got := strings.Join(c.pageProblems(t), "\n"); !strings.Contains(got, srv.URL+"/missing.css") {
		t.Errorf("the missing stylesheet was not reported:\n%s", got)
	}
	c.step(t, "opening a page that is not there", chromedp.Navigate(srv.URL+"/nowhere"))
	c.step(t, "opening the quiet page", chromedp.Navigate(srv.URL+"/quiet"), chromedp.WaitVisible(chromedp.ID("ready")))
	if p := c.pageProblems(t); len(p) > 0 {
		t.Errorf("a 404 document and the quiet page logged:\n%s", strings.Join(p, "\n"))
	}
}

// TestHarnessScreenshots takes a page at both widths, and refuses a page
// a phone must scroll sideways and images that are no page's screenshot.
func TestHarnessScreenshots(t *testing.T) {
	cases := []struct {
		name string
		img  image.Image
		want string // in the error; "" for none
	}{
		{"a page", stripes(desktopWidth, 900), ""},
		{"too narrow", stripes(800, 900), "want 1280 px wide"},
		{"too short", stripes(desktopWidth, 600), "at least 800 px high"},
		{"blank", image.NewGray(image.Rect(0, 0, desktopWidth, 800)), "one colour"},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		if err := png.Encode(&buf, tc.img); err != nil {
			t.Fatal(err)
		}
		err := checkScreenshot(buf.Bytes(), viewports[desktopWidth])
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: checkScreenshot: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := checkScreenshot([]byte("not a png"), viewports[desktopWidth]); err == nil || !strings.Contains(err.Error(), "not a PNG") {
		t.Errorf("checkScreenshot of text: %v", err)
	}

	// The harness's own pages are never kept under docs/screenshots/.
	t.Setenv(screenshotsEnv, "")
	c := newChromium(t)
	srv := harnessPages(t)
	c.step(t, "opening the quiet page", chromedp.Navigate(srv.URL+"/quiet"), chromedp.WaitVisible(chromedp.ID("ready")))
	screenshot(t, c.ctx, "quiet", desktopWidth)
	screenshot(t, c.ctx, "quiet", phoneWidth)
	if w := stepValue(t, c, "reading the width", chromedp.Evaluate[int](`window.innerWidth`)); w != desktopWidth {
		t.Errorf("after the screenshots the page is %d px wide, want the desktop's %d", w, desktopWidth)
	}
	c.step(t, "opening the wide page", chromedp.Navigate(srv.URL+"/wide"), chromedp.WaitVisible(chromedp.ID("ready")))
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, capturePage(viewports[phoneWidth])); err == nil || !strings.Contains(err.Error(), "px wide on a 390 px screen") {
		t.Errorf("a page wider than the phone: %v", err)
	}
	c.expectQuiet(t, "the harness's pages")
}

// stripes is a w×h image of grey and white bands, as a page of text is.
func stripes(w, h int) image.Image {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if y/8%2 == 0 {
				img.Pix[y*img.Stride+x] = 0xff
			}
		}
	}
	return img
}

// fakeTB records what unavailable asks of a test instead of ending it.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

// TestUnavailableSkipsOutsideCI proves a fresh clone without Chromium or
// axe-core skips the browser tests with the command that installs what
// is missing, and that CI fails them instead.
func TestUnavailableSkipsOutsideCI(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "axe.min.js")
	t.Setenv("CI", "")
	f := &fakeTB{TB: t}
	if src := readAxe(f, missing); src != "" || f.failed != "" ||
		!strings.Contains(f.skipped, "axe-core is not installed") || !strings.Contains(f.skipped, "npm ci --prefix "+a11yDir) {
		t.Errorf("outside CI, a missing axe-core: skipped %q, failed %q", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	f = &fakeTB{TB: t}
	readAxe(f, missing)
	if f.skipped != "" || !strings.Contains(f.failed, "CI must run this test") || !strings.Contains(f.failed, "npm ci") {
		t.Errorf("in CI, a missing axe-core: skipped %q, failed %q", f.skipped, f.failed)
	}
	f = &fakeTB{TB: t}
	unavailable(f, "no Chromium at /nowhere", "apt-get install chromium")
	if !strings.Contains(f.failed, "no Chromium at /nowhere") || !strings.Contains(f.failed, "apt-get install chromium") {
		t.Errorf("in CI, a missing Chromium: skipped %q, failed %q", f.skipped, f.failed)
	}
}
