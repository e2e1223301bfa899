// Command server runs a teamscim SCIM 2.0 endpoint on the in-memory store, for trying the
// library with an identity provider or a SCIM test suite.
//
// It creates one demo team ("Demo team") with SAML SSO configured and SCIM enabled, generates
// a SCIM API key for it, prints the SCIM base URL and the key on standard output, and serves
// until it receives SIGINT or SIGTERM. Logs go to standard error. Everything lives in memory:
// a restart starts from an empty team with a new key (unless -api-key is given).
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
//	-seats N               seat limit of the demo team, 0 = unlimited (default 0)
//	-seat-policy p         limit, autoflex or trueup (default limit)
//	-rate-limit r          off or postman (default off); postman limits the demo team to
//	                       Postman's 180 writes and 300 reads per minute (429 with Retry-After
//	                       beyond them)
//
// Seat policies are not implemented in this version: -seats and -seat-policy are validated,
// and a value other than the default only prints a warning; the server then runs with
// unlimited seats.
//
// Try it:
//
//	go run ./examples/server
//	curl -H "Authorization: Bearer <key>" 'http://127.0.0.1:8080/scim/v2/Users?startIndex=1&count=2'
package main

import (
	"context"
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

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
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
}

var (
	seatPolicies = []string{"limit", "autoflex", "trueup"}
	rateLimits   = []string{"off", "postman"}
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
	fs.IntVar(&o.seats, "seats", 0, "seat limit `N` of the demo team, 0 = unlimited (NOT IMPLEMENTED YET: validated, a non-zero value only prints a warning)")
	fs.StringVar(&o.seatPolicy, "seat-policy", "limit", "seat `policy`: limit, autoflex or trueup (NOT IMPLEMENTED YET: validated, another value than limit only prints a warning)")
	fs.StringVar(&o.rateLimit, "rate-limit", "off", "per-team rate `limits`: off, or postman for Postman's 180 writes and 300 reads per minute (429 with Retry-After beyond them)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: server [flags]\n\n"+
			"Serves SCIM 2.0 at /scim/v2 for one in-memory demo team and prints the base URL and API key.\n\nFlags:\n")
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
	case o.apiKey != "" && (len(o.apiKey) < 16 || strings.ContainsAny(o.apiKey, " \t\r\n")):
		return bad("invalid value for flag -api-key: the secret needs at least 16 characters and no spaces")
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
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if o.seats != 0 || o.seatPolicy != "limit" {
		log.Warn("seat policies are not implemented in this version yet: -seats and -seat-policy are ignored and seats are unlimited",
			"seats", o.seats, "seat-policy", o.seatPolicy)
	}
	var limits teamscim.RateLimits
	if o.rateLimit == "postman" {
		limits = teamscim.PostmanRateLimits
	}

	srv, err := teamscim.New(teamscim.Config{
		Store:                  memstore.New(),
		Logger:                 log,
		BaseURL:                o.baseURL,
		AllowNonEmailUserNames: !o.requireEmail,
		RateLimit:              limits,
	})
	if err != nil {
		return err
	}
	team, err := srv.CreateTeam(ctx, "Demo team")
	if err != nil {
		return err
	}
	if err := srv.ConfigureSSO(ctx, team.ID, "saml"); err != nil {
		return err
	}
	if err := srv.EnableSCIM(ctx, team.ID); err != nil {
		return err
	}
	key, err := srv.GenerateKey(ctx, team.ID, teamscim.KeyOptions{
		Name: "Demo key", CreatedBy: "examples/server", Secret: o.apiKey,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
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
	log.Info("serving SCIM", "addr", ln.Addr().String(), "team", team.ID, "require-email", o.requireEmail, "rate-limit", o.rateLimit)
	fmt.Fprintf(stdout, "SCIM base URL: %s\nSCIM API key: %s\n", base, key.Secret)

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
