package main

// The settings pages in a real browser: headless Chromium driven with chromedp, clicking
// through the pages the way an admin does, while the test plays the identity provider over
// SCIM. Every page visited is captured and checked to be non-blank.
//
// The tests need Chromium or Chrome (Debian: apt-get install -y chromium; or set
// TEAMSCIM_BROWSER to its path). Without one they skip, except with CI=true, where they fail.
// With TEAMSCIM_SCREENSHOTS=<dir> the screenshots are kept there; -update-screenshot writes
// the README's screenshot, docs/settings.png.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the README's screenshot of the settings pages to docs/settings.png")

// browserPath finds Chromium or Chrome: TEAMSCIM_BROWSER, else the usual names in PATH.
func browserPath() string {
	if p := os.Getenv("TEAMSCIM_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newChromium starts a headless browser for the test and returns its context; each tab the
// test opens with newTab gets a browser context of its own (no shared cookies).
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := browserPath()
	if path == "" {
		const how = "no Chromium or Chrome found (tried TEAMSCIM_BROWSER, chromium, chromium-browser, google-chrome): " +
			"the settings pages' browser tests need one; on Debian or Ubuntu: apt-get install -y chromium"
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true, and " + how)
		}
		t.Skip(how)
	}
	profile, err := os.MkdirTemp("", "teamscim-chromium-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		// Without these, Chromium's own connections are refused on a closed network, slowly.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx)
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; it lives as long as ctx, so it gets no deadline of
	// its own (each tab has one).
	require.NoError(t, chromedp.Do(ctx), "start %s", path)
	return ctx
}

// tab is one browser tab on the settings pages of one example server.
type tab struct {
	t    *testing.T
	ctx  context.Context
	root string
}

func newTab(t *testing.T, browser context.Context, root string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return &tab{t: t, ctx: ctx, root: root}
}

// open navigates to path and checks that the page loaded.
func (b *tab) open(path string) {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.root+path))
	require.NoError(b.t, err, path)
	require.Equal(b.t, int64(http.StatusOK), resp.Status, path)
}

// submit runs an action that submits a form (a click, or Enter in a field) and waits for the
// page the browser lands on.
func (b *tab) submit(what string, act chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, act)
	require.NoError(b.t, err, what)
	require.Equal(b.t, int64(http.StatusOK), resp.Status, what)
}

// click clicks the element css selects and waits for the page it leads to.
func (b *tab) click(css string) {
	b.t.Helper()
	b.submit(css, chromedp.Click(chromedp.CSS(css)))
}

func (b *tab) fill(css, value string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(css), value)), css)
}

// text returns the visible text of the first element css selects.
func (b *tab) text(css string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	require.NoError(b.t, err, css)
	return strings.Join(strings.Fields(s), " ")
}

// count returns how many elements css selects.
func (b *tab) count(css string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(css)+`).length`))
	require.NoError(b.t, err, css)
	return n
}

func (b *tab) flash() string {
	b.t.Helper()
	return b.text("#flash")
}

func jsString(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

// shot captures the whole page, checks that it is not blank, and keeps it in
// TEAMSCIM_SCREENSHOTS when that is set.
func (b *tab) shot(name string) []byte {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err, name)
	requireNotBlank(b.t, name, buf)
	if dir := os.Getenv("TEAMSCIM_SCREENSHOTS"); dir != "" {
		file := filepath.Join(dir, strings.ReplaceAll(b.t.Name(), "/", "_")+"-"+name+".png")
		require.NoError(b.t, os.WriteFile(file, buf, 0o644))
	}
	return buf
}

// requireNotBlank requires of a PNG screenshot what a rendered page has: contrast and more
// than a few colours.
func requireNotBlank(t *testing.T, name string, buf []byte) {
	t.Helper()
	variance, colors, err := blankness(buf)
	require.NoError(t, err, "%s: not a PNG", name)
	assert.Greater(t, variance, 100.0, "%s: the screenshot is (nearly) uniform", name)
	assert.Greater(t, colors, 20, "%s: the screenshot has too few colours", name)
}

// blankness decodes a PNG and returns the variance of its luminance (0-255) and how many
// colours it has (counted up to 1000), sampling every other pixel.
func blankness(buf []byte) (variance float64, colors int, err error) {
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		return 0, 0, err
	}
	r := img.Bounds()
	var sum, sumSq float64
	seen := map[uint32]bool{}
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			l := (0.2126*float64(cr) + 0.7152*float64(cg) + 0.0722*float64(cb)) / 257
			sum += l
			sumSq += l * l
			n++
			if len(seen) < 1000 {
				seen[cr>>8<<16|cg>>8<<8|cb>>8] = true
			}
		}
	}
	if n == 0 {
		return 0, 0, nil
	}
	mean := sum / float64(n)
	return sumSq/float64(n) - mean*mean, len(seen), nil
}

// The blank-page check refuses a uniform image and accepts one with content.
func TestBlankness(t *testing.T) {
	encode := func(img image.Image) []byte {
		var b bytes.Buffer
		require.NoError(t, png.Encode(&b, img))
		return b.Bytes()
	}
	white := image.NewRGBA(image.Rect(0, 0, 1280, 800))
	draw.Draw(white, white.Bounds(), image.White, image.Point{}, draw.Src)
	v, c, err := blankness(encode(white))
	require.NoError(t, err)
	assert.Zero(t, v)
	assert.Equal(t, 1, c)

	page := image.NewRGBA(image.Rect(0, 0, 1280, 800))
	draw.Draw(page, page.Bounds(), image.White, image.Point{}, draw.Src)
	for y := 0; y < 800; y += 40 { // lines of "text" in 50 shades
		for x := 100; x < 1100; x++ {
			for dy := range 12 {
				page.Set(x, y+dy, color.Gray{Y: uint8(x % 50)})
			}
		}
	}
	v, c, err = blankness(encode(page))
	require.NoError(t, err)
	assert.Greater(t, v, 100.0)
	assert.Greater(t, c, 20)
	_, _, err = blankness([]byte("not a png"))
	assert.Error(t, err)
}

// scimStatus sends a SCIM request with key and returns the status.
func scimStatus(t *testing.T, in instance, method, path, key, body string) int {
	t.Helper()
	code, _, _ := do(t, method, in.base+path, key, body)
	return code
}

// TestBrowser drives the settings pages as an admin would, in headless Chromium.
func TestBrowser(t *testing.T) {
	browser := newChromium(t)

	// Generate a key (keyboard only), use it for POST /Users, see the member with a seat; then
	// revoke it and see 401.
	t.Run("generate and revoke a key", func(t *testing.T) {
		in := start(t)
		b := newTab(t, browser, rootOf(in))
		b.open("/keys")
		require.NoError(t, chromedp.Do(b.ctx, chromedp.KeyEvent(kb.Tab)))
		focused, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.activeElement.textContent`))
		require.NoError(t, err)
		assert.Equal(t, "Skip to content", focused, "the first Tab reaches the skip link")
		b.shot("keys")

		require.NoError(t, chromedp.Do(b.ctx, chromedp.Focus(chromedp.ID("key-name"))))
		b.submit("Enter in the key name", chromedp.KeyEvent("Okta"+kb.Enter))
		secret, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("new-secret")))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(secret, "tscim_"), secret)
		assert.Contains(t, b.text("#new-key-h"), "Okta")
		loc, err := chromedp.Run(b.ctx, chromedp.Location())
		require.NoError(t, err)
		assert.Equal(t, b.root+"/keys/generate", loc, "the secret is in the POST's response, not in a URL")
		visible, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`!document.querySelector("button[data-copy]").hidden`))
		require.NoError(t, err)
		assert.True(t, visible, "the script shows the copy button")
		require.NoError(t, chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("button[data-copy]"))))
		status, err := chromedp.Run(b.ctx, chromedp.Poll[string](`document.getElementById("copy-status").textContent || null`,
			chromedp.WithPollingTimeout(5*time.Second)))
		require.NoError(t, err)
		assert.NotEmpty(t, status)
		b.shot("new-key")

		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com",` +
			`"externalId":"00u-ann","name":{"givenName":"Ann","familyName":"Lee"},"active":true}`
		require.Equal(t, http.StatusCreated, scimStatus(t, in, http.MethodPost, "/Users", secret, body))
		b.open("/members")
		row := `tr[data-email="ann@example.com"]`
		assert.Equal(t, "active", b.text(row+" [data-state]"))
		assert.Equal(t, "seat", b.text(row+" [data-seat]"))
		assert.Equal(t, "SCIM", b.text(row+" [data-managed]"))
		b.fill("#q", "ANN@example.com")
		b.click(`form[role="search"] button`)
		assert.Equal(t, 1, b.count("#members tbody tr"))
		assert.Equal(t, "Members 1–1 of 1", b.text("#members-count"))
		b.shot("members")

		b.open("/keys")
		html, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		require.NoError(t, err)
		assert.NotContains(t, html, secret, "the secret is shown once")
		okta := `tr[data-key-name="Okta"]`
		assert.NotEqual(t, "—", b.text(okta+" td:nth-of-type(4)"), "last used is recorded")
		b.click(okta + ` form[action$="/revoke"] button`)
		assert.Contains(t, b.flash(), "Key revoked")
		assert.Equal(t, "REVOKED", b.text(okta+" [data-status]"))
		assert.Equal(t, http.StatusUnauthorized, scimStatus(t, in, http.MethodGet, "/Users", secret, ""))
		assert.Equal(t, http.StatusOK, scimStatus(t, in, http.MethodGet, "/Users", in.key, ""), "the demo key still works")
		assert.NotContains(t, in.stderr.String(), secret)
	})

	// Turn SCIM off (403), and on again; the last SSO method cannot go while SCIM is on.
	t.Run("SCIM switch and SSO", func(t *testing.T) {
		in := start(t)
		b := newTab(t, browser, rootOf(in))
		b.open("/")
		b.shot("authentication")
		b.click("#scim-toggle")
		assert.Contains(t, b.flash(), "SCIM provisioning is off")
		assert.Equal(t, "off", b.text("#scim-state"))
		assert.Equal(t, http.StatusForbidden, scimStatus(t, in, http.MethodGet, "/Users", in.key, ""))
		b.click("#scim-toggle")
		assert.Equal(t, "on", b.text("#scim-state"))
		assert.Equal(t, http.StatusOK, scimStatus(t, in, http.MethodGet, "/Users", in.key, ""))

		b.click(`tr[data-sso="saml"] button`)
		assert.Equal(t, "Refused: The last SSO method cannot be removed while SCIM provisioning is on.", b.flash())
		role, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("flash").getAttribute("role")`))
		require.NoError(t, err)
		assert.Equal(t, "alert", role, "a refusal is announced")
		assert.Equal(t, 1, b.count(`tr[data-sso="saml"]`), "saml is still configured")
		b.shot("refused")
		assert.Equal(t, http.StatusOK, scimStatus(t, in, http.MethodGet, "/Users", in.key, ""))
	})

	// Deactivate a member over SCIM while the workspace service is down: the hand-over waits on
	// the pending calls page, the audit trail shows the event, and "Retry now" finishes it.
	t.Run("deactivation hand-over and audit", func(t *testing.T) {
		in := start(t)
		b := newTab(t, browser, rootOf(in))
		code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("dana@example.com"))
		require.Equal(t, http.StatusCreated, code, string(body))
		var u struct{ ID string }
		require.NoError(t, json.Unmarshal(body, &u))

		b.open("/calls")
		b.click("#outage")
		assert.Equal(t, "failing", b.text("#outage-state"))
		require.Equal(t, http.StatusOK, scimStatus(t, in, http.MethodPatch, "/Users/"+u.ID, in.key, deactivateBody))
		b.open("/calls")
		job := `#calls tr[data-service="workspaces"][data-action="deactivation"]`
		require.Equal(t, 1, b.count(job))
		assert.Contains(t, b.text(job), "dana@example.com")
		assert.Contains(t, b.text(job), "simulated outage")
		b.shot("calls-pending")

		b.open("/audit")
		assert.Equal(t, 1, b.count(`#audit tr[data-type="scim.user.deprovisioned"]`))
		require.NoError(t, chromedp.Do(b.ctx, chromedp.SetValue(chromedp.ID("type"), "scim.user.deprovisioned")))
		b.click(`form[action="/audit"] button`)
		assert.Equal(t, 1, b.count("#audit tbody tr"), "filtered by type")
		assert.Contains(t, b.text("#audit tbody tr"), "SCIM key “Demo key”")
		assert.Contains(t, b.text("#audit tbody tr"), u.ID)
		b.shot("audit")
		b.click("#audit tbody tr a") // the member the event is about
		assert.Equal(t, "deactivated", b.text(`tr[data-email="dana@example.com"] [data-state]`))
		assert.Equal(t, "none", b.text(`tr[data-email="dana@example.com"] [data-seat]`), "the seat is freed")

		b.open("/calls")
		b.click("#outage")
		assert.Equal(t, "working", b.text("#outage-state"))
		b.click("#retry")
		assert.Equal(t, "Every pending call is done.", b.flash())
		assert.Equal(t, 0, b.count("#calls"))
		assert.Equal(t, 1, b.count(`#applied tr[data-reason="deactivation"]`))
		b.shot("calls-done")
	})

	// With one seat bought and taken, an invitation is refused and the seats card says so.
	t.Run("seat limit", func(t *testing.T) {
		in := start(t, "-seats", "1", "-seat-policy", "limit")
		b := newTab(t, browser, rootOf(in))
		require.Equal(t, http.StatusCreated, scimStatus(t, in, http.MethodPost, "/Users", in.key, userBody("one@example.com")))
		require.Equal(t, http.StatusForbidden, scimStatus(t, in, http.MethodPost, "/Users", in.key, userBody("two@example.com")))
		b.open("/members")
		b.fill("#invite-email", "three@example.com")
		b.click(`form[action="/members/invite"] button`)
		assert.Equal(t, "Refused: No available seats.", b.flash())
		assert.Equal(t, 0, b.count(`tr[data-email="three@example.com"]`))
		b.open("/seats")
		assert.Equal(t, "1", b.text("#seats-bought"))
		assert.Equal(t, "1", b.text("#seats-in-use"))
		assert.Equal(t, "limit(1)", b.text("#seats-policy"))
		assert.Contains(t, b.text("#seats-full"), "Every seat bought is in use")
		b.shot("seats")
	})

	// The README's screenshot: the members page of a team with a member in each state.
	t.Run("members in each state", func(t *testing.T) {
		in := start(t)
		b := newTab(t, browser, rootOf(in))
		ids := map[string]string{}
		for _, name := range []string{"ann.lee", "bo.chen", "cleo.diaz", "dev.patel"} {
			email := name + "@example.com"
			code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody(email))
			require.Equal(t, http.StatusCreated, code, string(body))
			var u struct{ ID string }
			require.NoError(t, json.Unmarshal(body, &u))
			ids[name] = u.ID
		}
		require.Equal(t, http.StatusCreated, scimStatus(t, in, http.MethodPost, "/Users", in.key, userBody("guest@partner.test")))
		group := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":"` +
			ids["ann.lee"] + `"},{"value":"` + ids["bo.chen"] + `"}]}`
		require.Equal(t, http.StatusCreated, scimStatus(t, in, http.MethodPost, "/Groups", in.key, group))
		require.Equal(t, http.StatusOK, scimStatus(t, in, http.MethodPatch, "/Users/"+ids["cleo.diaz"], in.key, deactivateBody))
		b.open("/members")
		b.fill("#add-email", "it.admin@example.com")
		require.NoError(t, chromedp.Do(b.ctx, chromedp.SetValue(chromedp.ID("add-role"), "admin")))
		b.click(`form[action="/members/add"] button`)
		assert.Equal(t, "Member added.", b.flash())
		for email, state := range map[string]string{"ann.lee@example.com": "active", "cleo.diaz@example.com": "deactivated",
			"guest@partner.test": "pending", "it.admin@example.com": "active"} {
			assert.Equal(t, state, b.text(`tr[data-email="`+email+`"] [data-state]`), email)
		}
		assert.Equal(t, "none", b.text(`tr[data-email="it.admin@example.com"] [data-seat]`), "a support user takes no seat")
		b.open("/members") // without the flash
		buf := b.shot("members-states")
		if *updateScreenshot {
			require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "settings.png"), buf, 0o644))
		}
	})
}
