// Command server runs a teamscim SCIM 2.0 endpoint, on the in-memory store or on PostgreSQL,
// for trying the library with an identity provider or a SCIM test suite.
//
// It creates one demo team ("Demo team", enterprise plan) with SAML SSO configured and SCIM
// enabled, generates a SCIM API key for it, prints the SCIM base URL and the key on standard
// output, and serves until it receives SIGINT or SIGTERM. Logs go to standard error, the audit
// trail (key and provisioning events) included. With the default -store memory everything
// lives in memory: a restart starts from an empty team with a new key (unless -api-key is
// given). With -store postgres://... the server migrates the database's schema at start and
// keeps the team and its members there; a restart with the same -api-key serves the team that
// key belongs to again, with its users and groups (without -api-key every start creates
// another demo team with a new key). The workspace and account services stay in memory.
//
// The team has no members until an identity provider provisions them: the demo acts as an
// Organization Manager ("org:examples/server"), which the library lets administer a team
// without being a member. The key-administration flags below call the same team-admin API a
// host's settings page calls (GenerateKey, RegenerateKey, RevokeKey); the log says which.
//
// Usage:
//
//	go run ./examples/server [flags]
//
// Flags:
//
//	-addr host:port        listen address (default 127.0.0.1:8080; port 0 picks a free port,
//	                       and the address actually bound is printed)
//	-api-key secret        use this secret for the demo key instead of a random one
//	                       (at least 16 characters, no spaces)
//	-base-url url          public SCIM base URL (for example https://scim.example.com/scim/v2),
//	                       used in Location headers and meta.location when the server runs
//	                       behind a TLS tunnel or reverse proxy; default: derived from each request
//	-require-email bool    userName must be an email address (default true); false lets generic
//	                       SCIM suites use userNames such as "bjensen"
//	-seats N               seats the demo team has bought, 0 = unlimited (default 0)
//	-seat-policy p         what happens beyond -seats: limit (refuse with 403), autoflex or
//	                       trueup (admit and record the overage) (default limit)
//	-rate-limit r          off or postman (default off); postman limits the demo team to
//	                       Postman's 180 writes and 300 reads per minute (429 with Retry-After
//	                       beyond them)
//	-key-ttl d             the demo key (and every rotated one) expires d after it is
//	                       generated, for example 1h; 0 = never (default 0)
//	-rotate-key d          regenerate the demo key every d (for example 10m) and print the new
//	                       one as another "SCIM API key:" line; the previous key is revoked at
//	                       once (its next request answers 401); 0 = never (default 0)
//	-keep-previous-key     with -rotate-key, keep the previous key active until the next
//	                       rotation, so that an identity provider can switch over
//	-store s               memory (default), or a postgres:// or postgresql:// connection URL
//	                       to keep the data in PostgreSQL (package pgstore)
//	-ui bool               serve the team settings pages at / and the /debug endpoints
//	                       (default true); false serves SCIM only
//	-ui-password p         the password the pages and /debug ask for (at least 12 characters)
//	-metrics               serve the library's OpenTelemetry metrics in Prometheus's text format
//	                       at GET /metrics (default off)
//	-log-level l           debug, info (default) or warn: info logs every failed SCIM request
//	                       (4xx, 5xx) with its operation, status, scimType, detail, team, key ID
//	                       and trace ID; debug also logs the successful ones
//
// Settings pages (ui.go, ui_pages.go): the demo team's "Team Settings" at /, a reference for
// wiring the team-admin API to a UI: authentication (plan, SSO, the SCIM switch, domains,
// JIT, domain capture), SCIM API keys, members, seats, the audit trail and the pending host
// calls. Every action goes through the library's API as an Actor and shows the library's
// refusal text. Without a password they (and /debug) answer only requests made directly to a
// loopback address; with -ui-password, or a random password printed at start when -addr or
// -base-url is not loopback, they ask for it (/debug takes it as HTTP Basic authentication).
//
// Workspaces: the server keeps an in-memory workspace service (package memworkspace). Every
// member provisioned gets a personal workspace and an internal one of their own, so the
// workspace rules show: deactivating the member makes the team the admin of their internal
// workspace, reactivating them gives it back. Two read-only endpoints, guarded like the
// settings pages, show the demo team's state as JSON:
//
//	GET /debug/workspaces  the workspaces and the latest plans applied to them
//	GET /debug/seats       the seat report (bought, in use, overage seats with dates)
//
// Accounts: the server keeps an in-memory account service (package memaccounts) and the demo
// team has verified example.com, so Postman's three outcomes of a create show with curl:
// a userName nobody has an account for gets one and is active at once (most userNames);
// known@example.com has an account on the verified domain and joins at once;
// guest@partner.test has an account on an unverified domain and is invited (pending until
// POST /debug/accept?email=guest@partner.test); busy@elsewhere.test belongs to another team on
// an unverified domain and answers 409.
//
//	GET  /debug/accounts          the accounts, their teams, and the latest account calls
//	POST /debug/accept?email=...  the invited person accepts
//
// Metrics: with -metrics, GET /metrics serves the library's instruments through
// OpenTelemetry's Prometheus exporter (scim_server_request_duration_seconds,
// teamscim_provisioning_outcomes_total, teamscim_auth_failures_total, teamscim_seats_in_use,
// teamscim_jobs_pending, ...; the README's Observability section lists them), with the seat
// gauges for the demo team.
//
// Audit events are logged on standard error, and the settings pages show the latest.
//
// Try it:
//
//	go run ./examples/server
//	curl -H "Authorization: Bearer <key>" 'http://127.0.0.1:8080/scim/v2/Users?startIndex=1&count=2'
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/metric"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memaccounts"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/memworkspace"
	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
)

// shutdownTimeout bounds how long in-flight requests may take to finish after a signal.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return
	case errors.As(err, &ue):
		stop()
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "server:", err)
		stop()
		os.Exit(1)
	}
}

// usageError is a bad command line; main exits with status 2 for it.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// options are the parsed command-line flags.
type options struct {
	addr         string
	apiKey       string
	baseURL      string
	requireEmail bool
	seats        int
	seatPolicy   string
	rateLimit    string
	keyTTL       time.Duration
	rotateKey    time.Duration
	keepPrevious bool
	store        string
	ui           bool
	uiPassword   string
	metrics      bool
	logLevel     string
}

var (
	seatPolicies = []string{"limit", "autoflex", "trueup"}
	rateLimits   = []string{"off", "postman"}
	logLevels    = []string{"debug", "info", "warn"}
)

// parseFlags parses args. On a bad command line it writes the problem and the usage to
// stderr and returns a usageError; for -h it returns flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen `address` (host:port; port 0 picks a free port)")
	fs.StringVar(&o.apiKey, "api-key", "", "use this `secret` for the demo team's SCIM API key instead of a random one (at least 16 characters, no spaces)")
	fs.StringVar(&o.baseURL, "base-url", "", "public SCIM base `URL` used in Location headers and meta.location, e.g. https://scim.example.com/scim/v2 behind a TLS proxy (default: derived from each request)")
	fs.BoolVar(&o.requireEmail, "require-email", true, "userName must be an email address; false accepts any non-empty userName (for generic SCIM test suites)")
	fs.IntVar(&o.seats, "seats", 0, "seats `N` the demo team has bought, 0 = unlimited")
	fs.StringVar(&o.seatPolicy, "seat-policy", "limit", "what happens beyond -seats: `policy` limit (refuse), autoflex or trueup (admit and record the overage)")
	fs.StringVar(&o.rateLimit, "rate-limit", "off", "per-team rate `limits`: off, or postman for Postman's 180 writes and 300 reads per minute (429 with Retry-After beyond them)")
	fs.DurationVar(&o.keyTTL, "key-ttl", 0, "the demo key (and each rotated one) expires this `duration` after it is generated, e.g. 1h; 0 = never")
	fs.DurationVar(&o.rotateKey, "rotate-key", 0, "regenerate the demo key every `duration` (e.g. 10m) and print the new one; the previous key is revoked at once unless -keep-previous-key; 0 = never")
	fs.BoolVar(&o.keepPrevious, "keep-previous-key", false, "with -rotate-key, keep the previous key active until the next rotation")
	fs.StringVar(&o.store, "store", "memory", "where the data lives: memory, or a postgres:// `URL` of a PostgreSQL database (its schema is migrated at start)")
	fs.BoolVar(&o.ui, "ui", true, "serve the team settings pages at / and the /debug endpoints; false serves SCIM only")
	fs.StringVar(&o.uiPassword, "ui-password", "", "the `password` the settings pages and /debug ask for (at least 12 characters); without it they answer only on loopback, unless -addr or -base-url is not loopback, when a generated password is printed")
	fs.BoolVar(&o.metrics, "metrics", false, "serve the library's OpenTelemetry metrics in Prometheus's text format at GET /metrics")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug (every request), info (failed requests, audit events) or warn")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: server [flags]\n\n"+
			"Serves SCIM 2.0 at /scim/v2 for one demo team (in memory, or in PostgreSQL with -store) and prints the base URL and API key.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err.Error()} // fs.Parse has printed the problem and the usage
	}
	bad := func(format string, args ...any) (options, error) {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintln(stderr, msg)
		fs.Usage()
		return o, usageError{msg}
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case o.seats < 0:
		return bad("invalid value %d for flag -seats: must be 0 (unlimited) or more", o.seats)
	case !oneOf(o.seatPolicy, seatPolicies):
		return bad("invalid value %q for flag -seat-policy: must be one of %s", o.seatPolicy, strings.Join(seatPolicies, ", "))
	case !oneOf(o.rateLimit, rateLimits):
		return bad("invalid value %q for flag -rate-limit: must be one of %s", o.rateLimit, strings.Join(rateLimits, ", "))
	case !oneOf(o.logLevel, logLevels):
		return bad("invalid value %q for flag -log-level: must be one of %s", o.logLevel, strings.Join(logLevels, ", "))
	case o.keyTTL < 0:
		return bad("invalid value %v for flag -key-ttl: must be 0 (never) or more", o.keyTTL)
	case o.rotateKey < 0:
		return bad("invalid value %v for flag -rotate-key: must be 0 (never) or more", o.rotateKey)
	case o.keepPrevious && o.rotateKey == 0:
		return bad("flag -keep-previous-key needs -rotate-key")
	case o.apiKey != "" && (len(o.apiKey) < 16 || strings.ContainsAny(o.apiKey, " \t\r\n")):
		return bad("invalid value for flag -api-key: the secret needs at least 16 characters and no spaces")
	case o.uiPassword != "" && !o.ui:
		return bad("flag -ui-password needs the settings pages (-ui)")
	case o.uiPassword != "" && len(o.uiPassword) < 12:
		return bad("invalid value for flag -ui-password: the password needs at least 12 characters")
	}
	if o.store != "memory" {
		u, err := url.Parse(o.store)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return bad("invalid value for flag -store: must be memory or a postgres:// URL")
		}
	}
	if o.baseURL != "" {
		u, err := url.Parse(o.baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("invalid value %q for flag -base-url: must be an absolute http(s) URL", o.baseURL)
		}
	}
	return o, nil
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// run starts the example server with the command-line arguments args (without the program
// name), prints the SCIM base URL and API key to stdout, and serves until ctx is cancelled;
// it then shuts the server down gracefully and returns nil. A bad command line returns a
// usageError (or flag.ErrHelp for -h).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level // the names of logLevels are slog's
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var limits teamscim.RateLimits
	if o.rateLimit == "postman" {
		limits = teamscim.PostmanRateLimits
	}

	var st store.Store = memstore.New()
	storeKind := "memory"
	if o.store != "memory" {
		pool, err := openPostgres(ctx, o.store)
		if err != nil {
			return err
		}
		defer pool.Close()
		st, storeKind = pgstore.New(pool), "postgres"
	}

	var meters metric.MeterProvider // nil: no metrics
	var metricsHandler http.Handler
	if o.metrics {
		var shutdown func()
		if meters, metricsHandler, shutdown, err = prometheusMetrics(); err != nil {
			return fmt.Errorf("-metrics: %w", err)
		}
		defer shutdown()
	}

	workspaces := memworkspace.New()
	accounts := demoAccounts()
	audit := newAuditLog(auditKeep)
	srv, err := teamscim.New(teamscim.Config{
		MeterProvider:          meters,
		SeatMetrics:            teamscim.SeatMetrics{AllTeams: true}, // the demo team
		Accounts:               accounts,
		Store:                  st,
		Logger:                 log,
		BaseURL:                o.baseURL,
		AllowNonEmailUserNames: !o.requireEmail,
		Seats:                  seatPolicy(o),
		Workspaces:             workspaces,
		Events: teamscim.EventSinkFunc(func(ctx context.Context, e teamscim.Event) {
			log.Info("audit", "event", string(e.Type), "actor", e.Actor, "target", e.Target, "group", e.Group)
			audit.Event(ctx, e)
			if e.Type == teamscim.EventUserProvisioned {
				demoWorkspaces(workspaces, e.TeamID, e.Target)
			}
		}),
		RateLimit: limits,
	})
	if err != nil {
		return err
	}
	team, key, err := demoTeam(ctx, srv, st, o)
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	if o.ui {
		password, generated := settingsPassword(o, ln.Addr())
		pages, err := newUI(uiConfig{srv: srv, teamID: team.ID, workspaces: workspaces, accounts: accounts, audit: audit,
			log: log, password: password, trustedOrigin: origin(o.baseURL), port: ln.Addr().(*net.TCPAddr).Port})
		if err != nil {
			ln.Close()
			return err
		}
		pages.register(mux)
		fmt.Fprintf(stdout, "Settings pages: http://%s/\n", displayAddr(ln.Addr()))
		if generated {
			fmt.Fprintf(stdout, "Settings password: %s\n", password)
		}
		// The /debug endpoints are guarded like the pages.
		mux.Handle("GET /debug/workspaces", pages.debug(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"workspaces": workspaces.Workspaces(team.ID), "applied": workspaces.Applied()})
		}))
		mux.Handle("GET /debug/accounts", pages.debug(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"accounts": accounts.Accounts(), "calls": accounts.Calls()})
		}))
		mux.Handle("POST /debug/accept", pages.debug(func(w http.ResponseWriter, r *http.Request) {
			u, err := srv.AcceptInvite(r.Context(), team.ID, r.URL.Query().Get("email"))
			if err != nil {
				http.Error(w, "no pending invitation for this email", http.StatusNotFound)
				return
			}
			writeJSON(w, map[string]any{"id": u.ID, "userName": u.UserName, "pending": u.Pending})
		}))
		mux.Handle("GET /debug/seats", pages.debug(func(w http.ResponseWriter, r *http.Request) {
			rep, err := srv.SeatReport(r.Context(), team.ID)
			if err != nil {
				http.Error(w, "seat report unavailable", http.StatusInternalServerError)
				return
			}
			writeJSON(w, rep)
		}))
	}
	if metricsHandler != nil {
		mux.Handle("GET /metrics", metricsHandler)
	}
	// Hand-overs whose call failed are retried by the member's next SCIM write, and here.
	go func() {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if n, err := srv.RetryPending(ctx); err != nil || n > 0 {
					log.Warn("workspace hand-overs pending", "pending", n, "error", err)
				}
			}
		}
	}()

	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	base := o.baseURL
	if base == "" {
		base = "http://" + displayAddr(ln.Addr()) + "/scim/v2"
	}
	log.Info("serving SCIM", "addr", ln.Addr().String(), "team", team.ID, "store", storeKind, "require-email", o.requireEmail,
		"rate-limit", o.rateLimit, "metrics", o.metrics, "log-level", o.logLevel)
	logKey(log, key.Key, o)
	fmt.Fprintf(stdout, "SCIM base URL: %s\nSCIM API key: %s\n", base, key.Secret)

	rctx, stopRotation := context.WithCancel(ctx)
	rotated := make(chan struct{})
	go func() {
		defer close(rotated)
		if o.rotateKey > 0 {
			t := time.NewTicker(o.rotateKey)
			defer t.Stop()
			rotate(rctx, srv, team.ID, key.Key.ID, o, t.C, stdout, log)
		}
	}()
	defer func() { stopRotation(); <-rotated }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// openPostgres opens a pool on the database at connURL and migrates its schema. Errors
// never repeat the URL, which may hold a password.
func openPostgres(ctx context.Context, connURL string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, connURL)
	if err != nil {
		return nil, errors.New("-store: the PostgreSQL connection URL cannot be parsed")
	}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pgstore.Migrate(mctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("-store: %w", err)
	}
	return pool, nil
}

// demoTeam returns the demo team and its key. With a fixed -api-key whose key is already
// stored (a restart on PostgreSQL), it serves that key's team again; otherwise it creates a
// team ready for SCIM (SAML SSO, example.com verified) and generates the key.
func demoTeam(ctx context.Context, srv *teamscim.Server, st store.Store, o options) (store.Team, teamscim.NewKey, error) {
	if o.apiKey != "" {
		k, err := st.LookupKey(ctx, sha256.Sum256([]byte(o.apiKey)))
		switch {
		case err == nil && k.Status == store.KeyActive:
			team, err := srv.Team(ctx, k.TeamID)
			if err != nil {
				return store.Team{}, teamscim.NewKey{}, err
			}
			keys, err := srv.ListKeys(ctx, team.ID, admin)
			if err != nil {
				return store.Team{}, teamscim.NewKey{}, err
			}
			for _, mk := range keys {
				if mk.ID == k.ID {
					return team, teamscim.NewKey{Key: mk, Secret: o.apiKey}, nil
				}
			}
			return store.Team{}, teamscim.NewKey{}, errors.New("the -api-key secret's key is not among its team's keys")
		case err == nil:
			return store.Team{}, teamscim.NewKey{}, errors.New("the -api-key secret belongs to a stored key that is no longer active")
		case !errors.Is(err, store.ErrNotFound):
			return store.Team{}, teamscim.NewKey{}, err
		}
	}
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Demo team", Plan: teamscim.PlanEnterprise})
	if err != nil {
		return store.Team{}, teamscim.NewKey{}, err
	}
	if err := srv.ConfigureSSO(ctx, team.ID, admin, "saml"); err != nil {
		return store.Team{}, teamscim.NewKey{}, err
	}
	if err := srv.VerifyDomain(ctx, team.ID, admin, demoDomain); err != nil {
		return store.Team{}, teamscim.NewKey{}, err
	}
	if err := srv.EnableSCIM(ctx, team.ID, admin); err != nil {
		return store.Team{}, teamscim.NewKey{}, err
	}
	key, err := srv.GenerateKey(ctx, team.ID, admin, teamscim.KeyOptions{Name: "Demo key", TTL: o.keyTTL, Secret: o.apiKey})
	if err != nil {
		return store.Team{}, teamscim.NewKey{}, err
	}
	return team, key, nil
}

// demoDomain is the email domain the demo team has verified.
const demoDomain = "example.com"

// demoAccounts is the in-memory account service with three people who have accounts already,
// one for each outcome of a create that is not "new account".
func demoAccounts() *memaccounts.Service {
	a := memaccounts.New()
	a.Add(teamscim.Account{Email: "known@" + demoDomain})                             // verified domain: joins at once
	a.Add(teamscim.Account{Email: "guest@partner.test"})                              // unverified domain: invited
	a.Add(teamscim.Account{Email: "busy@elsewhere.test", Teams: []string{"another"}}) // another team's: 409
	return a
}

// seatPolicy is the demo team's seat policy from -seats and -seat-policy.
func seatPolicy(o options) teamscim.SeatPolicy {
	switch {
	case o.seats == 0:
		return teamscim.Unlimited
	case o.seatPolicy == "autoflex":
		return teamscim.AutoFlex(o.seats)
	case o.seatPolicy == "trueup":
		return teamscim.TrueUp(o.seats)
	}
	return teamscim.SeatLimit(o.seats)
}

// demoWorkspaces gives a newly provisioned member a personal workspace and an internal one of
// their own (a member provisioned again keeps theirs).
func demoWorkspaces(svc *memworkspace.Service, teamID, userID string) {
	own := []teamscim.WorkspaceMember{{UserID: userID, Role: teamscim.WorkspaceAdmin}}
	for _, w := range []teamscim.Workspace{
		{ID: userID + "/personal", Kind: teamscim.WorkspacePersonal, Owner: userID, Members: own},
		{ID: userID + "/internal", Kind: teamscim.WorkspaceInternal, Owner: userID, Members: own},
	} {
		_ = svc.Create(teamID, w) // memworkspace.ErrDuplicate: they have it already
	}
}

// writeJSON writes a /debug answer: v as JSON, with every object key in lower camel case
// ("teamId", "inUse"), the one key style of these endpoints, whatever the Go field names.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	raw, err := json.Marshal(v)
	var doc any
	if err == nil {
		err = json.Unmarshal(raw, &doc)
	}
	if err != nil {
		http.Error(w, "debug view unavailable", http.StatusInternalServerError)
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(camelKeys(doc))
}

// camelKeys returns a decoded JSON document with its object keys in lower camel case.
func camelKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[lowerCamel(k)] = camelKeys(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = camelKeys(e)
		}
	}
	return v
}

// lowerCamel turns a Go field name into lower camel case: "ID" → "id", "TeamID" → "teamId",
// "InUse" → "inUse"; a name already in lower camel case is unchanged.
func lowerCamel(k string) string {
	r := []rune(k)
	for i := 0; i+1 < len(r); i++ { // "ID" inside or at the end of a name is one word
		if r[i] == 'I' && r[i+1] == 'D' && i > 0 && (i+2 == len(r) || unicode.IsUpper(r[i+2])) {
			r[i+1] = 'd'
		}
	}
	n := 0
	for n < len(r) && unicode.IsUpper(r[n]) {
		n++
	}
	switch {
	case n == len(r): // an initialism: "ID"
		n = len(r)
	case n > 1: // "URLPath": the last capital starts the next word
		n--
	}
	for i := 0; i < n; i++ {
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

// admin is who the demo acts as: an Organization Manager, so that the demo team has no
// members until an identity provider provisions them.
var admin = teamscim.Actor{MemberID: "examples/server", OrgManager: true}

// logKey logs the demo key's metadata (never its secret) and how to rotate or revoke it.
func logKey(log *slog.Logger, k teamscim.Key, o options) {
	expires := "never"
	if !k.Expires.IsZero() {
		expires = k.Expires.Format(time.RFC3339)
	}
	log.Info("demo SCIM API key", "key", k.ID, "name", k.Name, "created_by", k.CreatedBy, "expires", expires)
	if o.rotateKey == 0 {
		log.Info("key administration: start with -rotate-key 10m to regenerate the demo key every 10 minutes " +
			"and print each new key (the previous one is revoked at once, or with -keep-previous-key at the next rotation), " +
			"and with -key-ttl 1h to make keys expire; a host does the same with GenerateKey, RegenerateKey, RevokeKey, " +
			"ActivateKey, DeleteKey and ListKeys")
		return
	}
	log.Info("key administration: the demo key is regenerated periodically; each new key is printed as a \"SCIM API key:\" line",
		"every", o.rotateKey, "keep-previous-key", o.keepPrevious)
}

// rotate regenerates the demo key keyID on every tick until ctx is done, printing each new
// secret. With o.keepPrevious the previous key stays active until the next rotation, when it
// is revoked, so that at most two keys work at any time.
func rotate(ctx context.Context, srv *teamscim.Server, teamID, keyID string, o options, tick <-chan time.Time, stdout io.Writer, log *slog.Logger) {
	previous := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		if previous != "" {
			if err := srv.RevokeKey(ctx, teamID, admin, previous); err != nil {
				log.Error("revoke the previous demo key", "key", previous, "error", err)
			}
		}
		next, err := srv.RegenerateKey(ctx, teamID, admin, keyID, teamscim.RegenerateOptions{KeepPrevious: o.keepPrevious, TTL: o.keyTTL})
		if err != nil {
			if ctx.Err() == nil {
				log.Error("regenerate the demo key", "key", keyID, "error", err)
			}
			continue
		}
		if o.keepPrevious {
			previous = keyID
		}
		log.Info("regenerated the demo SCIM API key", "previous", keyID, "key", next.Key.ID, "previous-active", o.keepPrevious)
		fmt.Fprintf(stdout, "SCIM API key: %s\n", next.Secret)
		keyID = next.Key.ID
	}
}

// displayAddr is the bound address as a client dials it: an unspecified host (":8080",
// "0.0.0.0:8080") is shown as 127.0.0.1.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}
