package main

import (
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/pgtest"
	"github.com/teamscim/teamscim/memaccounts"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/memworkspace"
	"github.com/teamscim/teamscim/store"
)

// browser is a cookie-keeping HTTP client that fills in the forms' CSRF token from the last
// page it read, as a browser without JavaScript would submit the pages' forms.
type browser struct {
	t      *testing.T
	root   string // http://127.0.0.1:<port>
	c      *http.Client
	csrf   string
	origin string // sent as Origin on POST; "" sends none
	header http.Header
}

func newBrowser(t *testing.T, root string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, root: root, origin: root, header: http.Header{},
		c: &http.Client{Jar: jar, Timeout: waitFor, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the tests look at each redirect
		}}}
}

// page is a response of the settings server.
type page struct {
	code   int
	header http.Header
	body   string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	for k, v := range b.header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	if m := csrfField.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return page{code: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.root+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

// post submits a form with the current CSRF token (unless form sets "csrf") and follows one
// redirect, as a browser does after a POST.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.root+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	p := b.do(req)
	if p.code == http.StatusSeeOther {
		loc := p.header.Get("Location")
		require.True(b.t, strings.HasPrefix(loc, "/"), "redirect to %q leaves the server", loc)
		return b.get(loc)
	}
	return p
}

// flashText returns the page's flash message, if any.
func flashText(body string) string {
	m := regexp.MustCompile(`(?s)<div id="flash"[^>]*>(.*?)</div>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], "")), " "))
}

// rootOf is the root of the settings pages of in.
func rootOf(in instance) string {
	if in.pages != "" {
		return in.pages
	}
	return strings.TrimSuffix(in.base, "/scim/v2")
}

var pagePaths = []string{"/", "/keys", "/members", "/seats", "/audit", "/calls"}

// Every page answers with the security headers, and has no inline script or style for the
// Content-Security-Policy to refuse.
func TestUIPagesAndHeaders(t *testing.T) {
	in := start(t)
	b := newBrowser(t, rootOf(in))
	for _, p := range append(pagePaths, "/static/app.js", "/static/style.css") {
		res := b.get(p)
		require.Equal(t, http.StatusOK, res.code, "%s: %s", p, res.body)
		csp := res.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			assert.Contains(t, csp, want, p)
		}
		assert.Equal(t, "DENY", res.header.Get("X-Frame-Options"), p)
		assert.Equal(t, "no-store", res.header.Get("Cache-Control"), p)
		assert.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"), p)
		assert.Equal(t, "no-referrer", res.header.Get("Referrer-Policy"), p)
		if strings.HasPrefix(p, "/static/") {
			continue
		}
		assert.Contains(t, res.body, "<main id=\"main\"", p)
		for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(res.body, -1) {
			assert.Contains(t, m, ` src="/static/`, "%s: inline script %s", p, m)
		}
		assert.NotRegexp(t, `\son[a-z]+=`, res.body, "%s: inline event handler", p)
		assert.NotContains(t, res.body, "style=", "%s: inline style", p)
		assert.NotContains(t, res.body, "http://", "%s: an external resource", p)
		assert.NotContains(t, res.body, "https://", "%s: an external resource", p)
		// Every input has a label.
		for _, id := range regexp.MustCompile(`<(?:input|select)[^>]*\sid="([^"]+)"`).FindAllStringSubmatch(res.body, -1) {
			assert.Contains(t, res.body, `for="`+id[1]+`"`, "%s: #%s has no label", p, id[1])
		}
		for _, tag := range regexp.MustCompile(`<(?:input|select)\s[^>]*>`).FindAllString(res.body, -1) {
			if !strings.Contains(tag, `type="hidden"`) && !strings.Contains(tag, `type="checkbox"`) {
				assert.Contains(t, tag, ` id="`, "%s: %s cannot be labelled", p, tag)
			}
		}
	}
	assert.Equal(t, http.StatusMethodNotAllowed, b.get("/keys/generate").code, "actions are POST only")
	assert.Equal(t, http.StatusNotFound, b.get("/nothing-here").code)
}

// A state-changing form needs the session's CSRF token and must come from the same origin;
// a refused form changes nothing.
func TestUIFormsNeedTokenAndOrigin(t *testing.T) {
	in := start(t)
	b := newBrowser(t, rootOf(in))
	b.get("/")
	scimOff := url.Values{"on": {"false"}}

	for name, send := range map[string]func() page{
		"no token":    func() page { return b.post("/scim", url.Values{"on": {"false"}, "csrf": {""}}) },
		"wrong token": func() page { return b.post("/scim", url.Values{"on": {"false"}, "csrf": {"forged-token"}}) },
		"other origin": func() page {
			b.origin = "http://evil.example"
			defer func() { b.origin = b.root }()
			return b.post("/scim", url.Values{"on": {"false"}})
		},
		"cross-site fetch": func() page {
			b.header.Set("Sec-Fetch-Site", "cross-site")
			defer b.header.Del("Sec-Fetch-Site")
			return b.post("/scim", url.Values{"on": {"false"}})
		},
		"no session": func() page {
			other := newBrowser(t, b.root)
			return other.post("/scim", url.Values{"on": {"false"}, "csrf": {b.csrf}})
		},
	} {
		res := send()
		assert.Equal(t, http.StatusForbidden, res.code, "%s: %s", name, res.body)
		assert.Equal(t, http.StatusOK, status(t, in, in.key), "%s: SCIM must still be on", name)
	}

	res := b.post("/scim", scimOff)
	require.Equal(t, http.StatusOK, res.code, res.body)
	assert.Contains(t, flashText(res.body), "SCIM provisioning is off")
	assert.Equal(t, http.StatusForbidden, status(t, in, in.key))
	res = b.post("/scim", url.Values{"on": {"true"}})
	assert.Contains(t, flashText(res.body), "SCIM provisioning is on")
	assert.Equal(t, http.StatusOK, status(t, in, in.key))

	// A request without Origin and Sec-Fetch-Site (not a browser's) still needs the token.
	b.origin = ""
	res = b.post("/jit", url.Values{"on": {"true"}})
	assert.Contains(t, flashText(res.body), "Just-in-time provisioning updated")
	assert.Contains(t, res.body, `id="jit-state" class="badge good">on<`)
}

// Without a password, the pages and /debug answer only requests made to a loopback address
// directly: not another host name (DNS rebinding, a tunnel keeping the public name) and not
// through a proxy. SCIM is not affected.
func TestUILoopbackOnly(t *testing.T) {
	in := start(t)
	root := rootOf(in)
	for _, c := range []struct {
		name   string
		host   string
		header string
	}{{"rebinding", "attacker.example", ""}, {"tunnel host", "demo.trycloudflare.com", ""},
		{"proxy", "", "X-Forwarded-For"}, {"cloudflared", "", "Cf-Connecting-Ip"}, {"forwarded", "", "Forwarded"}} {
		for _, p := range []string{"/", "/keys", "/debug/seats", "/debug/accounts", "/static/app.js"} {
			req, err := http.NewRequest(http.MethodGet, root+p, nil)
			require.NoError(t, err)
			if c.host != "" {
				req.Host = c.host
			}
			if c.header != "" {
				req.Header.Set(c.header, "203.0.113.7")
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s: %s", c.name, p, body)
			assert.Contains(t, string(body), "-ui-password", "%s %s: says how to reach the pages", c.name, p)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, in.base+"/Users", nil)
	req.Host = "demo.trycloudflare.com"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("Authorization", "Bearer "+in.key)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "SCIM through a tunnel works")

	// localhost and [::1] are loopback names too.
	for _, host := range []string{"localhost", "LOCALHOST:80", "[::1]:8080", "127.0.0.1"} {
		req, _ := http.NewRequest(http.MethodGet, root+"/seats", nil)
		req.Host = host
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, host)
	}
}

// POST /debug/accept changes state: a cross-site form cannot call it.
func TestDebugAcceptNeedsSameOrigin(t *testing.T) {
	in := start(t)
	root := rootOf(in)
	code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("guest@partner.test"))
	require.Equal(t, http.StatusCreated, code, string(body))
	req, _ := http.NewRequest(http.MethodPost, root+"/debug/accept?email=guest@partner.test", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	code, _, _ = do(t, http.MethodPost, root+"/debug/accept?email=guest@partner.test", "", "")
	assert.Equal(t, http.StatusOK, code, "curl (no Origin) may")
}

// -ui=false serves SCIM only.
func TestUIOff(t *testing.T) {
	in := start(t, "-ui=false")
	root := rootOf(in)
	for _, p := range []string{"/", "/keys", "/static/app.js", "/debug/seats", "/debug/accounts", "/login"} {
		code, _, _ := do(t, http.MethodGet, root+p, "", "")
		assert.Equal(t, http.StatusNotFound, code, p)
	}
	code, _, _ := do(t, http.MethodPost, root+"/debug/accept?email=x@example.com", "", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, http.StatusOK, status(t, in, in.key))
}

// With -ui-password the pages need it (from anywhere, a tunnel included), /debug takes it as
// HTTP Basic authentication, and signing in replaces the session.
func TestUIPassword(t *testing.T) {
	const password = "correct horse battery staple"
	in := start(t, "-ui-password", password)
	assert.Empty(t, in.password, "a password given on the command line is not printed")
	root := rootOf(in)
	b := newBrowser(t, root)
	b.header.Set("X-Forwarded-For", "203.0.113.7") // through a tunnel: allowed with a password

	for _, p := range pagePaths {
		res := b.get(p)
		assert.Equal(t, http.StatusSeeOther, res.code, p)
		assert.Equal(t, "/login", res.header.Get("Location"), p)
	}
	res := b.get("/debug/seats")
	assert.Equal(t, http.StatusUnauthorized, res.code)
	assert.Contains(t, res.header.Get("WWW-Authenticate"), "Basic")
	code, _, _ := do(t, http.MethodPost, root+"/debug/accept?email=x@example.com", "", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Equal(t, http.StatusOK, b.get("/static/style.css").code, "the sign-in page's assets are open")

	login := b.get("/login")
	require.Equal(t, http.StatusOK, login.code)
	assert.Contains(t, login.body, `type="password"`)
	assert.NotContains(t, login.body, "Authentication</a>", "no navigation before sign-in")
	res = b.post("/login", url.Values{"password": {"wrong password, but long"}})
	assert.Contains(t, flashText(res.body), "Wrong password")
	assert.Equal(t, http.StatusSeeOther, b.get("/").code)
	res = b.post("/scim", url.Values{"on": {"false"}})
	assert.Equal(t, http.StatusForbidden, res.code, "no action before sign-in")

	before := b.c.Jar.Cookies(mustURL(t, root))
	res = b.post("/login", url.Values{"password": {password}})
	require.Equal(t, http.StatusOK, res.code, res.body)
	assert.Contains(t, res.body, "<h1>Authentication</h1>")
	after := b.c.Jar.Cookies(mustURL(t, root))
	require.Len(t, after, 1)
	require.Len(t, before, 1)
	assert.NotEqual(t, before[0].Value, after[0].Value, "signing in starts a new session")
	for _, p := range append(pagePaths, "/debug/seats") {
		assert.Equal(t, http.StatusOK, b.get(p).code, p)
	}

	req, _ := http.NewRequest(http.MethodGet, root+"/debug/seats", nil)
	req.SetBasicAuth("", password)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "curl -u :password")

	res = b.post("/logout", url.Values{})
	assert.Contains(t, res.body, `type="password"`)
	assert.Equal(t, http.StatusSeeOther, b.get("/keys").code)
	assert.NotContains(t, in.stderr.String(), password)
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// A server that can be reached from elsewhere (-addr not loopback, or -base-url naming
// another host) gets a generated password, printed at start.
func TestSettingsPassword(t *testing.T) {
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	all := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	pw, gen := settingsPassword(options{}, loop)
	assert.Empty(t, pw)
	assert.False(t, gen)
	pw, gen = settingsPassword(options{}, all)
	assert.True(t, gen)
	assert.GreaterOrEqual(t, len(pw), 20)
	pw2, _ := settingsPassword(options{}, all)
	assert.NotEqual(t, pw, pw2)
	_, gen = settingsPassword(options{baseURL: "https://scim.example.com/scim/v2"}, loop)
	assert.True(t, gen)
	_, gen = settingsPassword(options{baseURL: "http://localhost:8080/scim/v2"}, loop)
	assert.False(t, gen)
	pw, gen = settingsPassword(options{uiPassword: "given-password-123"}, all)
	assert.Equal(t, "given-password-123", pw)
	assert.False(t, gen)

	in := start(t, "-base-url", "https://demo.trycloudflare.com/scim/v2")
	require.NotEmpty(t, in.password, "the generated password is printed")
	assert.NotContains(t, in.stderr.String(), in.password, "and never logged")
	b := newBrowser(t, rootOf(in))
	assert.Equal(t, http.StatusSeeOther, b.get("/").code)
	b.get("/login")
	res := b.post("/login", url.Values{"password": {in.password}})
	assert.Contains(t, res.body, "<h1>Authentication</h1>")
	// Behind the tunnel the browser's Origin is the public one.
	b.origin = "https://demo.trycloudflare.com"
	res = b.post("/jit", url.Values{"on": {"true"}})
	assert.Contains(t, flashText(res.body), "Just-in-time provisioning updated")
}

func TestUIPasswordFlags(t *testing.T) {
	for _, args := range [][]string{{"-ui-password", "short"}, {"-ui=false", "-ui-password", "long-enough-password"}} {
		var stderr syncBuffer
		_, err := parseFlags(args, &stderr)
		var ue usageError
		assert.True(t, errors.As(err, &ue), "%v: %v", args, err)
	}
}

// The new key's secret is in the response to the POST only: not in a URL, a redirect, a
// later page or the log. The response is not stored.
func TestUIKeySecretShownOnce(t *testing.T) {
	in := start(t)
	b := newBrowser(t, rootOf(in))
	b.get("/keys")
	req, _ := http.NewRequest(http.MethodPost, b.root+"/keys/generate",
		strings.NewReader(url.Values{"name": {"Okta"}, "ttl": {"720h"}, "csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := b.do(req)
	require.Equal(t, http.StatusOK, res.code, "rendered directly, no redirect")
	assert.Empty(t, res.header.Get("Location"))
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	m := regexp.MustCompile(`id="new-secret" class="mono" value="([^"]+)"`).FindStringSubmatch(res.body)
	require.NotNil(t, m, res.body)
	secret := m[1]
	assert.True(t, strings.HasPrefix(secret, "tscim_"))
	assert.Equal(t, http.StatusOK, status(t, in, secret), "the key works")
	assert.Contains(t, res.body, `data-key-name="Okta"`)

	later := b.get("/keys")
	assert.NotContains(t, later.body, secret)
	assert.NotContains(t, later.body, "new-secret")
	assert.NotContains(t, b.get("/audit").body, secret)
	assert.NotContains(t, in.stderr.String(), secret)
	assert.NotContains(t, in.stderr.String(), in.key)

	// Regenerating shows the new secret the same way; keep-previous leaves the old key working.
	id := regexp.MustCompile(`data-key="([^"]+)" data-key-name="Okta"`).FindStringSubmatch(later.body)
	require.NotNil(t, id)
	req, _ = http.NewRequest(http.MethodPost, b.root+"/keys/"+id[1]+"/regenerate",
		strings.NewReader(url.Values{"keep_previous": {"on"}, "csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res = b.do(req)
	m = regexp.MustCompile(`id="new-secret" class="mono" value="([^"]+)"`).FindStringSubmatch(res.body)
	require.NotNil(t, m, res.body)
	assert.NotEqual(t, secret, m[1])
	assert.Equal(t, http.StatusOK, status(t, in, m[1]))
	assert.Equal(t, http.StatusOK, status(t, in, secret), "kept")
	assert.NotContains(t, in.stderr.String(), m[1])

	// Revoke, activate and delete the first Okta key.
	res = b.post("/keys/"+id[1]+"/revoke", url.Values{})
	assert.Contains(t, flashText(res.body), "Key revoked")
	assert.Equal(t, http.StatusUnauthorized, status(t, in, secret))
	res = b.post("/keys/"+id[1]+"/activate", url.Values{})
	assert.Equal(t, "Key activated.", flashText(res.body))
	assert.Equal(t, http.StatusOK, status(t, in, secret))
	res = b.post("/keys/"+id[1]+"/delete", url.Values{})
	assert.Equal(t, "Key deleted.", flashText(res.body))
	assert.NotContains(t, res.body, `data-key="`+id[1]+`"`)
	assert.Equal(t, http.StatusUnauthorized, status(t, in, secret))
	res = b.post("/keys/"+id[1]+"/delete", url.Values{})
	assert.Equal(t, "Refused: Not found: it may have been removed meanwhile.", flashText(res.body))
}

// The library's refusal text reaches the page; an admin's actions go through as the actor
// chosen on the page, and the library refuses a member who is not an admin.
func TestUIRefusalsAndActor(t *testing.T) {
	in := start(t)
	b := newBrowser(t, rootOf(in))
	b.get("/")
	res := b.post("/sso/remove", url.Values{"method": {"saml"}})
	assert.Equal(t, "Refused: The last SSO method cannot be removed while SCIM provisioning is on.", flashText(res.body))
	assert.Contains(t, res.body, `data-sso="saml"`)
	res = b.post("/domain-capture", url.Values{"on": {"true"}})
	assert.Contains(t, flashText(res.body), "Domain capture updated")
	res = b.post("/keys/generate", url.Values{"name": {"  "}})
	assert.Equal(t, "Refused: Invalid argument: key name is empty.", flashText(res.body))
	res = b.post("/keys/generate", url.Values{"name": {"x"}, "ttl": {"soon"}})
	assert.Contains(t, flashText(res.body), "The expiry must be a duration")

	res = b.post("/members/add", url.Values{"email": {"dev@example.com"}, "role": {"developer"}})
	assert.Equal(t, "Member added.", flashText(res.body))
	dev := regexp.MustCompile(`data-email="dev@example.com" data-id="([^"]+)"`).FindStringSubmatch(res.body)
	require.NotNil(t, dev)
	res = b.post("/act-as", url.Values{"member_id": {dev[1]}, "email": {"dev@example.com"}, "back": {"/keys"}})
	assert.Contains(t, res.body, "Acting as <strong>dev@example.com</strong>")
	assert.Contains(t, res.body, "Refused:</strong> Only an Admin, a Super Admin or an Organization Manager may do this (member "+dev[1]+").")
	res = b.post("/scim", url.Values{"on": {"false"}})
	assert.Contains(t, flashText(res.body), "Only an Admin")
	assert.Equal(t, http.StatusOK, status(t, in, in.key), "the refused action changed nothing")
	res = b.post("/act-as", url.Values{"member_id": {""}, "back": {"https://evil.example/"}})
	assert.Contains(t, res.body, "<h1>Authentication</h1>", "an outside back link goes home")
	assert.Contains(t, res.body, "Acting as <strong>Organization Manager</strong>")

	// Remove a member: the workspaces go to an admin.
	b.post("/members/add", url.Values{"email": {"boss@example.com"}, "role": {"admin"}})
	res = b.post("/members/"+dev[1]+"/remove", url.Values{"transfer_to": {"nobody@example.com"}, "back": {"/members"}})
	assert.Contains(t, flashText(res.body), `Nobody on the team has the email "nobody@example.com"`)
	res = b.post("/members/"+dev[1]+"/remove", url.Values{"transfer_to": {"dev@example.com"}, "back": {"/members"}})
	assert.Contains(t, flashText(res.body), "Workspaces can be transferred only to another active admin of the team")
	res = b.post("/members/"+dev[1]+"/remove", url.Values{"transfer_to": {"BOSS@example.com"}, "back": {"/members"}})
	assert.Equal(t, "Member removed from the team.", flashText(res.body))
	assert.NotContains(t, res.body, `data-email="dev@example.com"`)

	// Invite, accept, and cancel an invitation.
	res = b.post("/members/invite", url.Values{"email": {"new@example.com"}})
	assert.Contains(t, flashText(res.body), "Invitation recorded")
	assert.Regexp(t, `data-email="new@example.com"[^>]*>(?s:.*?)data-state>pending<`, res.body)
	res = b.post("/members/accept", url.Values{"email": {"new@example.com"}, "back": {"/members"}})
	assert.Contains(t, flashText(res.body), "Invitation accepted")
	res = b.post("/members/cancel-invite", url.Values{"email": {"new@example.com"}, "back": {"/members"}})
	assert.Equal(t, "Refused: No pending invitation for this email.", flashText(res.body))
}

func TestRefusalText(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("teamscim: remove SSO from team t1: %w", teamscim.ErrLastSSOMethod), "The last SSO method cannot be removed while SCIM provisioning is on."},
		{fmt.Errorf("%w: key name is empty", teamscim.ErrInvalidArgument), "Invalid argument: key name is empty."},
		{fmt.Errorf("teamscim: x: %w", fmt.Errorf("%w (member m1)", teamscim.ErrNotAdmin)), "Only an Admin, a Super Admin or an Organization Manager may do this (member m1)."},
		{fmt.Errorf("teamscim: invite: %w", fmt.Errorf("%w: %w", errors.New("no available seats"), teamscim.ErrNoSeat)), "No available seats."},
		{fmt.Errorf("teamscim: revoke key k: %w", store.ErrNotFound), "Not found: it may have been removed meanwhile."},
	} {
		assert.Equal(t, c.want, refusal(c.err), "%v", c.err)
	}
}

// A team of 10,000 members: the page shows 50 at a time with a total, and the search box
// finds a member by email, ID or externalId from the library's index lookups.
func TestUIMembersAtScale(t *testing.T) {
	ctx := t.Context()
	srv, err := teamscim.New(teamscim.Config{Store: memstore.New()})
	require.NoError(t, err)
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Big team", Plan: teamscim.PlanEnterprise})
	require.NoError(t, err)
	const n = 10_000
	var ids []string
	for i := range n {
		u, err := srv.AddMember(ctx, team.ID, teamscim.Actor{MemberID: "org-manager", OrgManager: true}, teamscim.Member{Email: fmt.Sprintf("m%05d@example.com", i)})
		require.NoError(t, err)
		ids = append(ids, u.ID)
	}
	pages, err := newUI(uiConfig{srv: srv, teamID: team.ID, workspaces: memworkspace.New(), accounts: memaccounts.New(),
		audit: newAuditLog(auditKeep), log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	mux := http.NewServeMux()
	pages.register(mux)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	b := newBrowser(t, hs.URL)

	res := b.get("/members")
	require.Equal(t, http.StatusOK, res.code)
	assert.Contains(t, res.body, "Members 1–50 of 10000")
	assert.Equal(t, 50, strings.Count(res.body, "<tr data-email="))
	assert.Less(t, len(res.body), 200_000, "a page's size follows the page, not the team")
	next := regexp.MustCompile(`href="(/members\?offset=50)" rel="next"`).FindStringSubmatch(res.body)
	require.NotNil(t, next, "a link to the next page")
	res = b.get(next[1])
	assert.Contains(t, res.body, "Members 51–100 of 10000")
	assert.Contains(t, res.body, `data-email="m00050@example.com"`)
	res = b.get("/members?offset=9990")
	assert.Contains(t, res.body, "Members 9991–10000 of 10000")
	assert.NotContains(t, res.body, `rel="next"`)
	assert.Contains(t, res.body, `rel="prev"`)

	for _, q := range []string{"M05000@EXAMPLE.com", ids[5000]} {
		res = b.get("/members?q=" + url.QueryEscape(q))
		assert.Contains(t, res.body, "Members 1–1 of 1", q)
		assert.Contains(t, res.body, `data-email="m05000@example.com"`, q)
	}
	res = b.get("/members?q=nobody@example.com")
	assert.Contains(t, res.body, "No member matches")
	res = b.get("/members?state=deactivated")
	assert.Contains(t, res.body, "No member matches (0 in all)")
}

// On PostgreSQL (-store), the pages read and change the team the same way.
func TestUIPostgresSmoke(t *testing.T) {
	dsn := pgtest.URL(t, pgtest.Schema(t)) // skips without TEAMSCIM_PG_DSN (fails with CI=true)
	in := start(t, "-store", dsn, "-seats", "2")
	b := newBrowser(t, rootOf(in))
	for _, p := range pagePaths {
		require.Equal(t, http.StatusOK, b.get(p).code, p)
	}
	code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("ann@example.com"))
	require.Equal(t, http.StatusCreated, code, string(body))
	res := b.post("/members/invite", url.Values{"email": {"inv@example.com"}})
	assert.Contains(t, flashText(res.body), "Invitation recorded")
	res = b.post("/members/invite", url.Values{"email": {"third@example.com"}})
	assert.Equal(t, "Refused: No available seats.", flashText(res.body))
	res = b.get("/members?q=ANN@example.com")
	assert.Contains(t, res.body, "Members 1–1 of 1")
	assert.Contains(t, b.get("/seats").body, `id="seats-in-use">2<`)
	res = b.post("/keys/generate", url.Values{"name": {"Entra"}})
	m := regexp.MustCompile(`id="new-secret" class="mono" value="([^"]+)"`).FindStringSubmatch(res.body)
	require.NotNil(t, m, res.body)
	assert.Equal(t, http.StatusOK, status(t, in, m[1]))
	assert.Contains(t, b.get("/audit").body, "scim.key.created")
}

// The audit trail keeps the latest events of each team, newest first, filterable by type.
func TestAuditLog(t *testing.T) {
	l := newAuditLog(3)
	ev := func(team string, typ teamscim.EventType, target string) teamscim.Event {
		return teamscim.Event{TeamID: team, Type: typ, Target: target}
	}
	for _, e := range []teamscim.Event{ev("t", teamscim.EventKeyCreated, "1"), ev("t", teamscim.EventUserProvisioned, "2"),
		ev("other", teamscim.EventUserProvisioned, "3"), ev("t", teamscim.EventUserDeprovisioned, "4"), ev("t", teamscim.EventUserProvisioned, "5")} {
		l.Event(t.Context(), e)
	}
	targets := func(es []teamscim.Event) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.Target)
		}
		return out
	}
	got, types := l.latest("t", "", 10)
	assert.Equal(t, []string{"5", "4"}, targets(got), "the oldest fell out; another team's is not shown")
	assert.Equal(t, []teamscim.EventType{teamscim.EventUserDeprovisioned, teamscim.EventUserProvisioned}, types)
	got, _ = l.latest("t", teamscim.EventUserProvisioned, 10)
	assert.Equal(t, []string{"5"}, targets(got))
	got, _ = l.latest("t", "", 1)
	assert.Equal(t, []string{"5"}, targets(got))
}
