package main

// The team settings pages (a reference for wiring the team-admin API to a UI) and what keeps
// them safe: who may reach them (loopback only, or a password), sessions, CSRF tokens, the
// same-origin check, and the security headers. The pages themselves are in ui_pages.go.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memaccounts"
	"github.com/teamscim/teamscim/memworkspace"
	"github.com/teamscim/teamscim/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// uiConfig is what the settings pages need.
type uiConfig struct {
	srv        *teamscim.Server
	teamID     string
	workspaces *memworkspace.Service
	accounts   *memaccounts.Service
	audit      *auditLog
	log        *slog.Logger
	// password, when set, must be entered before any page or /debug endpoint answers.
	// Without it they answer only requests made to a loopback host name, not through a proxy.
	password string
	// trustedOrigin is the origin of -base-url, whose forms are same-origin behind a proxy.
	trustedOrigin string
	// port distinguishes the session cookies of servers on different ports of one host.
	port int
}

// ui serves the settings pages.
type ui struct {
	uiConfig
	pages    map[string]*template.Template
	sessions *sessions
	logins   *rate.Limiter // password attempts, for the whole server
	outage   atomic.Bool   // the demo's host services fail (to show pending calls)
}

// Limits of the pages.
const (
	maxFormBytes = 64 << 10
	maxSessions  = 1000
	sessionIdle  = 12 * time.Hour
)

func newUI(cfg uiConfig) (*ui, error) {
	u := &ui{uiConfig: cfg, pages: map[string]*template.Template{}, sessions: &sessions{m: map[string]*session{}},
		logins: rate.NewLimiter(rate.Every(2*time.Second), 5)}
	for _, name := range []string{"authentication", "keys", "members", "seats", "audit", "calls", "login"} {
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		u.pages[name] = t
	}
	fail := func() error {
		if u.outage.Load() {
			return errSimulatedOutage
		}
		return nil
	}
	cfg.workspaces.FailWith(func(teamscim.WorkspacePlan, int) error { return fail() })
	cfg.accounts.FailWith(func(string, teamscim.AccountRequest) error { return fail() })
	return u, nil
}

// errSimulatedOutage is what the demo's host services answer while the outage is on.
var errSimulatedOutage = errors.New("service unavailable (simulated outage)")

// register adds the pages, their actions and the static assets to mux.
func (u *ui) register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", u.guard(http.StripPrefix("/static/", files), needOpen))
	mux.Handle("GET /login", u.guard(http.HandlerFunc(u.loginPage), needOpen))
	mux.Handle("POST /login", u.guard(http.HandlerFunc(u.login), needOpen))
	mux.Handle("POST /logout", u.guard(u.form(func(w http.ResponseWriter, r *request) {
		u.sessions.remove(r.sess.id)
		http.Redirect(w, r.Request, "/login", http.StatusSeeOther)
	}), needPage))
	u.registerPages(mux)
}

// Who may use a guarded handler, in password mode.
const (
	needOpen    = iota // anyone: the assets and the sign-in form
	needPage           // a signed-in session; a GET without one is sent to the sign-in form
	needMachine        // a signed-in session or the password in HTTP Basic authentication (curl)
)

// guard applies the security headers and the access rule to h: with a password, what need
// says; without one, the request must be made to a loopback host name and not through a
// proxy. State-changing requests must come from the same origin.
func (u *ui) guard(h http.Handler, need int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		if u.password == "" {
			if why := localOnly(r); why != "" {
				http.Error(w, "Forbidden: "+why+". Without -ui-password the settings pages and /debug answer only on "+
					"the loopback address: restart the server with -ui-password to reach them through a tunnel or a "+
					"proxy, or with -ui=false to turn them off.", http.StatusForbidden)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !u.sameOrigin(r) {
			http.Error(w, "Forbidden: the form was not sent from this server's pages.", http.StatusForbidden)
			return
		}
		if need != needOpen && u.password != "" && !u.signedIn(r) {
			switch {
			case need == needMachine:
				hd.Set("WWW-Authenticate", `Basic realm="teamscim example server", charset="UTF-8"`)
				http.Error(w, "Unauthorized: sign in on the settings pages, or send the settings password (curl -u :<password>).", http.StatusUnauthorized)
			case r.Method == http.MethodGet || r.Method == http.MethodHead:
				http.Redirect(w, r, "/login", http.StatusSeeOther)
			default:
				http.Error(w, "Forbidden: sign in first.", http.StatusForbidden)
			}
			return
		}
		h.ServeHTTP(w, r)
	})
}

// settingsPassword returns the password the pages ask for: -ui-password; else, when the
// server can be reached from elsewhere (it listens on an address that is not loopback, or
// -base-url names another host: a proxy or a tunnel), a random one (generated is true);
// else "": the pages answer only requests made to a loopback address.
func settingsPassword(o options, bound net.Addr) (password string, generated bool) {
	if o.uiPassword != "" {
		return o.uiPassword, false
	}
	exposed := true
	if tcp, ok := bound.(*net.TCPAddr); ok {
		exposed = !tcp.IP.IsLoopback()
	}
	if b, err := url.Parse(o.baseURL); err == nil && o.baseURL != "" && !isLoopbackHost(b.Hostname()) {
		exposed = true
	}
	if !exposed {
		return "", false
	}
	return rand.Text(), true
}

// origin returns the origin (scheme://host[:port]) of the URL u, or "".
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || u == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// proxyHeaders are set by tunnels and reverse proxies.
var proxyHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip", "Cf-Connecting-Ip", "True-Client-Ip"}

// localOnly returns why r is not a request made directly to a loopback address, or "".
// Checking the Host header also defeats DNS rebinding (a hostile page whose name resolves
// to 127.0.0.1 sends its own name).
func localOnly(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if !isLoopbackHost(host) {
		return "the request names the host " + fmt.Sprintf("%q", host) + ", not a loopback address"
	}
	for _, h := range proxyHeaders {
		if r.Header.Get(h) != "" {
			return "the request came through a proxy (" + h + ")"
		}
	}
	return ""
}

// isLoopbackHost reports whether host (without a port) names the loopback interface.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether a state-changing request may come from where it came: a
// browser says so in Sec-Fetch-Site, or else in Origin. A request with neither is not a
// browser's (curl): the forms' CSRF token still protects the pages.
func (u *ui) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return u.trustedOrigin != "" && origin == u.trustedOrigin
	}
	if origin == "" {
		return true
	}
	o, err := url.Parse(origin)
	return err == nil && (o.Host == r.Host || (u.trustedOrigin != "" && origin == u.trustedOrigin))
}

// signedIn reports whether r has a signed-in session, or (for curl on /debug) the password
// as HTTP Basic authentication.
func (u *ui) signedIn(r *http.Request) bool {
	if s, ok := u.session(r); ok && s.authed {
		return true
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return u.passwordMatches(pw)
	}
	return false
}

func (u *ui) passwordMatches(pw string) bool {
	got, want := sha256.Sum256([]byte(pw)), sha256.Sum256([]byte(u.password))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// session is one browser's state.
type session struct {
	id     string
	csrf   string // the token every form carries
	authed bool   // the password was entered (password mode)
	// actorID and actorEmail are the member the pages act as; empty: the demo's
	// Organization Manager.
	actorID, actorEmail string
	flash               *flash // shown once, by the next page
	seen                time.Time
}

// flash is the outcome of an action, shown by the page it redirects to.
type flash struct {
	Refused bool
	Text    string
}

// sessions keeps sessions in memory, at most maxSessions, each until it is idle for
// sessionIdle.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func randomToken() string { return rand.Text() }

// get returns a copy of session id, if it exists and is not idle for too long.
func (s *sessions) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok || time.Since(v.seen) > sessionIdle {
		delete(s.m, id)
		return session{}, false
	}
	v.seen = time.Now()
	return *v, true
}

// create adds a session, dropping idle ones and, when full, the least recently seen.
func (s *sessions) create(base session) session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest *session
	for id, v := range s.m {
		if time.Since(v.seen) > sessionIdle {
			delete(s.m, id)
		} else if oldest == nil || v.seen.Before(oldest.seen) {
			oldest = v
		}
	}
	if len(s.m) >= maxSessions && oldest != nil {
		delete(s.m, oldest.id)
	}
	base.id, base.csrf, base.seen = randomToken(), randomToken(), time.Now()
	v := base
	s.m[v.id] = &v
	return v
}

// update changes session id, if it exists.
func (s *sessions) update(id string, change func(*session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[id]; ok {
		change(v)
	}
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// cookieName is the session cookie's name; it names the port, since cookies are shared by
// every port of a host.
func (u *ui) cookieName() string { return fmt.Sprintf("teamscim_settings_%d", u.port) }

// session returns r's session.
func (u *ui) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(u.cookieName())
	if err != nil {
		return session{}, false
	}
	return u.sessions.get(c.Value)
}

// startSession makes a new session from base and sets its cookie.
func (u *ui) startSession(w http.ResponseWriter, r *http.Request, base session) session {
	s := u.sessions.create(base)
	http.SetCookie(w, &http.Cookie{Name: u.cookieName(), Value: s.id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return s
}

// request is a page request with its session and the actor it acts as.
type request struct {
	*http.Request
	sess  session
	actor teamscim.Actor
}

// actorFor returns the actor a session acts as.
func actorFor(s session) teamscim.Actor {
	if s.actorID == "" {
		return admin
	}
	return teamscim.Actor{MemberID: s.actorID}
}

// form runs a state-changing handler once the form's CSRF token matches the session's.
func (u *ui) form(h func(w http.ResponseWriter, r *request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		s, ok := u.session(r)
		if !ok || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
			http.Error(w, "Forbidden: the form has expired or did not come from this page. Reload the page and try again.", http.StatusForbidden)
			return
		}
		h(w, &request{Request: r, sess: s, actor: actorFor(s)})
	})
}

// view is what the layout shows around a page.
type view struct {
	Title    string
	Nav      []navItem
	Team     store.Team
	CSRF     string
	Flash    *flash
	Acting   string // the member acted as; empty: the Organization Manager
	Password bool   // the pages need a password: show "Sign out"
	Data     any
}

type navItem struct {
	Path, Label string
	Current     bool
}

// nav is the pages, in the order of the navigation.
var nav = []navItem{{"/", "Authentication", false}, {"/keys", "SCIM API keys", false}, {"/members", "Members", false},
	{"/seats", "Seats", false}, {"/audit", "Audit trail", false}, {"/calls", "Pending host calls", false}}

// render writes page name with data, for session s.
func (u *ui) render(w http.ResponseWriter, r *http.Request, s session, name, path string, data any) {
	v := view{CSRF: s.csrf, Flash: s.flash, Acting: s.actorEmail, Password: u.password != "", Data: data}
	if s.flash != nil {
		u.sessions.update(s.id, func(s *session) { s.flash = nil })
	}
	if name == "login" {
		v.Title, v.Team = "Sign in", store.Team{Name: "Team settings"}
	} else {
		for _, n := range nav {
			n.Current = n.Path == path
			if n.Current {
				v.Title = n.Label
			}
			v.Nav = append(v.Nav, n)
		}
		t, err := u.srv.Team(r.Context(), u.teamID)
		if err != nil {
			u.fail(w, err)
			return
		}
		v.Team = t
	}
	var b strings.Builder
	if err := u.pages[name].ExecuteTemplate(&b, "layout", v); err != nil {
		u.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

// pageSession returns r's session, starting one if it has none.
func (u *ui) pageSession(w http.ResponseWriter, r *http.Request) session {
	s, ok := u.session(r)
	if !ok {
		s = u.startSession(w, r, session{})
	}
	return s
}

// fail answers an unexpected error; the details go to the log only.
func (u *ui) fail(w http.ResponseWriter, err error) {
	u.log.Error("settings page", "error", err)
	http.Error(w, "Internal error: see the server's log.", http.StatusInternalServerError)
}

// done records the outcome of an action in the session and sends the browser back to the
// page (Post/Redirect/Get): a reload does not repeat the action.
func (u *ui) done(w http.ResponseWriter, r *request, back, ok string, err error) {
	f := &flash{Text: ok}
	if err != nil {
		f = &flash{Refused: true, Text: refusal(err)}
	}
	u.log.Info("settings action", "action", r.Pattern, "actor", r.actor.String(), "refused", f.Refused)
	u.sessions.update(r.sess.id, func(s *session) { s.flash = f })
	http.Redirect(w, r.Request, localPath(back), http.StatusSeeOther)
}

// localPath returns p if it is a path on this server, else "/": redirects never leave it.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

// refusal is the text a page shows for an action's error: the library's refusal without the
// context the library wraps around it ("teamscim: <operation> of team <id>: ").
func refusal(err error) string {
	switch {
	case errors.Is(err, teamscim.ErrNoSeat):
		err = teamscim.ErrNoSeat
	case errors.Is(err, store.ErrNotFound):
		return "Not found: it may have been removed meanwhile."
	case errors.Is(err, store.ErrConflict):
		return "Conflict: someone on the team has this email already."
	}
	for {
		// The library names its package once, in front: "teamscim: <context>: <inner>".
		inner := errors.Unwrap(err)
		if inner == nil || !strings.HasSuffix(err.Error(), strings.TrimPrefix(inner.Error(), "teamscim: ")) {
			break
		}
		err = inner // err only adds context in front of inner
	}
	msg := strings.TrimPrefix(err.Error(), "teamscim: ")
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// loginPage shows the password form (password mode only).
func (u *ui) loginPage(w http.ResponseWriter, r *http.Request) {
	if u.password == "" || u.signedIn(r) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u.render(w, r, u.pageSession(w, r), "login", "/login", nil)
}

// login checks the password and, when it matches, replaces the session with a signed-in one
// (a new ID, so that a session planted before sign-in is worth nothing).
func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	if u.password == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u.form(func(w http.ResponseWriter, r *request) {
		if !u.logins.Allow() {
			u.log.Warn("settings sign-in refused: too many attempts")
			http.Error(w, "Too many attempts: wait a few seconds.", http.StatusTooManyRequests)
			return
		}
		if !u.passwordMatches(r.PostFormValue("password")) {
			u.log.Warn("settings sign-in failed: wrong password")
			u.sessions.update(r.sess.id, func(s *session) { s.flash = &flash{Refused: true, Text: "Wrong password."} })
			http.Redirect(w, r.Request, "/login", http.StatusSeeOther)
			return
		}
		u.sessions.remove(r.sess.id)
		u.startSession(w, r.Request, session{authed: true})
		http.Redirect(w, r.Request, "/", http.StatusSeeOther)
	}).ServeHTTP(w, r)
}

// debug guards a /debug endpoint like the pages: with a password, a signed-in session or
// HTTP Basic authentication with the password (curl -u :password).
func (u *ui) debug(h http.HandlerFunc) http.Handler { return u.guard(h, needMachine) }

// templateFuncs are the pages' helpers.
var templateFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"actorName": func(a string) string {
		if a == admin.String() {
			return "Organization Manager (demo)"
		}
		return a
	},
	"add": func(a, b int) int { return a + b },
	// memberEvent reports whether an event's target is a member.
	"memberEvent": func(t teamscim.EventType) bool {
		s := string(t)
		return strings.HasPrefix(s, "scim.user.") || strings.HasPrefix(s, "team.") || strings.HasPrefix(s, "scim.group.member")
	},
	// without returns the items of a that are not in b.
	"without": func(a, b []string) []string {
		var out []string
		for _, s := range a {
			if !slices.Contains(b, s) {
				out = append(out, s)
			}
		}
		return out
	},
}
