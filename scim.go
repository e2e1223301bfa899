package teamscim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/teamscim/teamscim/store"
)

// Defaults for Config fields left zero.
const (
	// DefaultMaxBodyBytes is the request body limit (1 MiB).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxResults is the default and largest page size of a list.
	DefaultMaxResults = 100
	// DefaultMaxMemberChanges is the default Config.MaxMemberChanges.
	DefaultMaxMemberChanges = 10_000
	// DefaultMaxFilterScan is the default Config.MaxFilterScan.
	DefaultMaxFilterScan = 100_000
)

// Config configures a Server. Only Store is required.
type Config struct {
	// Store persists teams, keys, users and groups. Required.
	Store store.Store
	// Logger receives request errors and internal failures. Every request that fails is
	// logged, at Info (4xx, but for the 404 of a GET of one resource, an identity provider's
	// existence check) or Warn (5xx), with its operation, status, scimType, detail, team, key
	// ID, authentication failure reason and trace ID; other requests at Debug. Secrets (keys,
	// passwords, Authorization headers) and request bodies are never logged. Default: discard.
	Logger *slog.Logger
	// MeterProvider receives the Server's metrics (requests, provisioning outcomes,
	// authentication failures, rate limiting, jobs and hook calls, seats; the README's
	// Observability section lists them). Default: none, no metrics (the global provider is not
	// used: pass otel.GetMeterProvider() for it).
	MeterProvider metric.MeterProvider
	// TracerProvider receives a span per SCIM request, named by operation ("users.create"),
	// with child spans for the store's View and Update, every call to Workspaces and Accounts,
	// jobs, and RetryPending. Spans carry no secret, request body or email address. Default:
	// none, no spans (the global provider is not used).
	TracerProvider trace.TracerProvider
	// Propagator reads the trace context of a request whose context carries no span yet (a
	// host middleware that starts spans puts one there, and the request's span is its child).
	// It also gives untraced requests' failure logs a trace ID. Default: W3C Trace Context
	// (traceparent); the global propagator is not used.
	Propagator propagation.TextMapPropagator
	// MetricTeamIDs adds the team's ID (teamscim.team.id) to the data points of the request,
	// outcome, authentication, rate-limit, job and hook metrics. Off by default: each team
	// multiplies the number of series. Spans always carry it.
	MetricTeamIDs bool
	// SeatMetrics chooses the teams the seat gauges (teamscim.seats.in_use,
	// teamscim.seats.licensed) report; needs MeterProvider. Default: none.
	SeatMetrics SeatMetrics
	// BaseURL is the absolute URL of the SCIM root as clients see it, for example
	// "https://api.example.com/scim/v2". It is used for Location headers and meta.location.
	// Default: derived from each request (scheme, Host and the prefix the host stripped).
	BaseURL string
	// AllowNonEmailUserNames accepts any non-empty userName instead of requiring an email
	// address, for generic SCIM clients.
	AllowNonEmailUserNames bool
	// MaxBodyBytes limits request bodies; larger requests answer 413 and change nothing.
	// Default: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxResults is the default and largest count of a list page. Default: DefaultMaxResults.
	MaxResults int
	// Seats decides whether a team may take one more seat (see SeatPolicy). Default:
	// Unlimited.
	Seats SeatPolicy
	// Workspaces is the host's workspace service, told what happens to a member's
	// workspaces when they are deactivated, reactivated or removed. Default: none (no
	// workspace hand-over).
	Workspaces WorkspaceReassigner
	// WorkspaceTimeout bounds each call to Workspaces. Default: DefaultWorkspaceTimeout.
	WorkspaceTimeout time.Duration
	// Accounts is the host's account service: with it, a create finds out whether the person
	// has an account and the member is active at once or invited, and the host's accounts
	// hear of every join, leave and email change (see Accounts). Default: none (every new
	// member is active at once).
	Accounts Accounts
	// AccountsTimeout bounds each call to Accounts. Default: DefaultAccountsTimeout.
	AccountsTimeout time.Duration
	// MaxMemberChanges caps the group members one request may name (a POST or PUT member
	// list, or the values of a PATCH's member operations); beyond it the request answers 400
	// tooMany and changes nothing. Default: DefaultMaxMemberChanges.
	MaxMemberChanges int
	// SCIMPlans names the plans (store.Team.Plan, compared case-insensitively) that include
	// SCIM: a team on another plan cannot enable SCIM or generate keys, and its SCIM requests
	// answer 403. Default: PlanEnterprise only.
	SCIMPlans []string
	// Events receives the audit trail (keys, SCIM switch, provisioning, groups). Default:
	// discard.
	Events EventSink
	// RateLimit sets per-team request budgets (429 with Retry-After beyond them). The zero
	// value, the default, limits nothing; PostmanRateLimits is Postman's documented budget.
	RateLimit RateLimits
	// UserExtensions are schema extensions of the host's own for users, beside the
	// enterprise extension (RFC 7643 §4.3) the Server always has; GroupExtensions are for
	// groups. Each is listed in /Schemas and /ResourceTypes, validated, kept, returned,
	// patchable and filterable (see Extension). Default: none.
	UserExtensions  []Extension
	GroupExtensions []Extension
	// MaxFilterScan bounds the filters no index answers (anything but userName, externalId,
	// id and emails.value eq on users, displayName and id eq on groups, active eq): such a
	// filter examines every user (or group) of the team, and a team with more than
	// MaxFilterScan of them gets 400 tooMany instead, so that one team's filters cannot take
	// the server from the others. Default: DefaultMaxFilterScan.
	MaxFilterScan int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Server is the SCIM endpoint and the team-admin API. It is an http.Handler; mount it under
// any prefix with http.StripPrefix. A Server is safe for concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store store.Store
	jobs  store.JobUpdater // the store's, if it has one (see updateJobs); else nil
	now   func() time.Time

	keyTouches sync.Map // key ID → time.Time this Server last recorded the key's use

	users, groups     *resourceDef    // the resource types' schemas: validation, PATCH, filters, output
	userPatchSchemas  []schema.Schema // core User + externalId, then the user extensions (ApplyPatch)
	groupPatchSchemas []schema.Schema // core Group + externalId, then the group extensions
	args              scim.ServerArgs
	resources         map[string]scim.ResourceType // by endpoint without the slash ("Users")
	elimityLog        scim.Logger
	limiter           *rateLimiter // nil: no rate limits
	tel               *telemetry   // metrics, spans and request logs (telemetry.go)
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("teamscim: Config.Store is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = DefaultMaxResults
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SCIMPlans == nil {
		cfg.SCIMPlans = []string{PlanEnterprise}
	}
	if cfg.Events == nil {
		cfg.Events = EventSinkFunc(func(context.Context, Event) {})
	}
	if cfg.Seats == nil {
		cfg.Seats = Unlimited
	}
	if cfg.WorkspaceTimeout <= 0 {
		cfg.WorkspaceTimeout = DefaultWorkspaceTimeout
	}
	if cfg.AccountsTimeout <= 0 {
		cfg.AccountsTimeout = DefaultAccountsTimeout
	}
	if cfg.MaxMemberChanges <= 0 {
		cfg.MaxMemberChanges = DefaultMaxMemberChanges
	}
	if cfg.MaxFilterScan <= 0 {
		cfg.MaxFilterScan = DefaultMaxFilterScan
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	s := &Server{cfg: cfg, log: cfg.Logger, store: cfg.Store, now: cfg.Now}
	s.jobs, _ = cfg.Store.(store.JobUpdater)
	if err := s.setUpTelemetry(); err != nil {
		return nil, wrapErr(err, "telemetry")
	}
	s.elimityLog = elimityLogger{s.log}
	if cfg.RateLimit.enabled() {
		s.limiter = newRateLimiter(cfg.RateLimit)
	}

	userSchema, groupSchema := clip(schema.CoreUserSchema()), clip(schema.CoreGroupSchema())
	userExts := []scim.SchemaExtension{{Schema: clip(schema.ExtensionEnterpriseUser())}}
	userExts, err := extensions(userExts, cfg.UserExtensions, userSchema.ID, "UserExtensions")
	if err != nil {
		return nil, err
	}
	groupExts, err := extensions(nil, cfg.GroupExtensions, groupSchema.ID, "GroupExtensions")
	if err != nil {
		return nil, err
	}
	s.users, s.userPatchSchemas = resourceOf("User", withExternalID(userSchema), userExts)
	s.users.dropped = []string{"password"}
	s.groups, s.groupPatchSchemas = resourceOf("Group", withExternalID(groupSchema), groupExts)
	s.args = scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString("https://github.com/teamscim/teamscim"),
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type:        scim.AuthenticationTypeOauthBearerToken,
				Name:        "OAuth Bearer Token",
				Description: "Authentication with a SCIM API key of the team, sent as a bearer token.",
				SpecURI:     optional.NewString("https://www.rfc-editor.org/info/rfc6750"),
				Primary:     true,
			}},
			MaxResults:       cfg.MaxResults,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []scim.ResourceType{{
			ID:               optional.NewString("User"),
			Name:             "User",
			Endpoint:         "/Users",
			Description:      optional.NewString("User Account"),
			Schema:           userSchema,
			SchemaExtensions: userExts,
			// The Server serves every request of Users and Groups itself; the wrapped
			// library serves /Schemas, /ResourceTypes and /Me from these definitions.
		}, {
			ID:               optional.NewString("Group"),
			Name:             "Group",
			Endpoint:         "/Groups",
			Description:      optional.NewString("Group"),
			Schema:           groupSchema,
			SchemaExtensions: groupExts,
		}},
	}
	if _, err := scim.NewServer(&s.args); err != nil {
		return nil, wrapErr(err, "build the SCIM server")
	}
	s.resources = map[string]scim.ResourceType{}
	for _, rt := range s.args.ResourceTypes {
		s.resources[strings.TrimPrefix(rt.Endpoint, "/")] = rt
	}
	return s, nil
}

// clip drops spare capacity so that appends by the wrapped library never share our array.
func clip(sc schema.Schema) schema.Schema {
	sc.Attributes = sc.Attributes[:len(sc.Attributes):len(sc.Attributes)]
	return sc
}

// extensions appends the host's extensions (Config.<field>) to exts, checked and converted.
func extensions(exts []scim.SchemaExtension, host []Extension, core, field string) ([]scim.SchemaExtension, error) {
	reserved := []string{core}
	for _, e := range exts {
		reserved = append(reserved, e.Schema.ID)
	}
	for i, e := range host {
		sc, err := buildExtension(e, reserved)
		if err != nil {
			return nil, wrapErr(err, "Config.%s[%d]", field, i)
		}
		reserved = append(reserved, sc.ID)
		exts = append(exts, scim.SchemaExtension{Schema: sc, Required: e.Required})
	}
	return exts, nil
}

// resourceOf returns a resource type's schemas as the Server uses them, and as ApplyPatch
// takes them (the core schema first).
func resourceOf(name string, core schema.Schema, exts []scim.SchemaExtension) (*resourceDef, []schema.Schema) {
	scs := []schema.Schema{core}
	required := make([]bool, len(exts))
	for i, e := range exts {
		scs = append(scs, e.Schema)
		required[i] = e.Required
	}
	return newResourceDef(name, core, scs[1:], required), scs
}

func withExternalID(sc schema.Schema) schema.Schema {
	attrs := make(schema.Attributes, 0, len(sc.Attributes)+1)
	attrs = append(attrs, sc.Attributes...)
	sc.Attributes = append(attrs, schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
		CaseExact: true,
		Name:      schema.CommonAttributeExternalID,
	})))
	return sc
}

// request is what the Server learns about a request before the resource handlers run.
type request struct {
	teamID  string
	keyID   string // the API key that authenticated the request
	baseURL string // absolute SCIM root, no trailing slash
	groups  []groupRef
	write   bool // the request spends its team's write budget (see rateLimit)

	// digest is the SHA-256 of the request's API key. Until authed is set, the request is
	// not authenticated: its first read does it (see view). authErr is why it could not be.
	digest  [32]byte
	key     store.APIKey
	authed  bool
	authErr error
	// w is the request's response writer, where telemetry records the team and key.
	w http.ResponseWriter
}

// actor is the Actor of the events the request causes.
func (rq *request) actor() string { return keyActor(rq.keyID) }

// ServeHTTP serves one SCIM request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w}
	start := s.now()
	r = s.tel.beginRequest(r, rw)
	defer s.endRequest(r, rw, start) // metrics, span and the request's log line
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("teamscim: panic serving request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rw.wroteHeader {
				writeError(rw, errInternal)
			}
		}
	}()
	s.serve(rw, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rt, ok := route(r.Method, r.URL.Path)
	s.tel.routed(w, r.Method, rt, ok)
	if !ok {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotFound, Detail: "Specified endpoint does not exist."})
		return
	}
	if rt.allow != "" {
		w.Header().Set("Allow", rt.allow)
		writeError(w, scimerrors.ScimError{Status: http.StatusMethodNotAllowed, Detail: "Method not allowed on this endpoint."})
		return
	}

	secret, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		s.fail(r.Context(), w, nil, refuse(authMissing, store.APIKey{}))
		return
	}
	rq := &request{baseURL: s.baseURL(r), write: isWrite(r.Method), digest: keyDigest(secret), w: w}
	if rt.kind != routeGet && rt.kind != routeList {
		// A GET is authenticated by its first read, in the same transaction (see view);
		// anything else before its body is read.
		if err := s.authenticate(r.Context(), rq); err != nil {
			s.fail(r.Context(), w, rq, err)
			return
		}
	}
	var body []byte
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		var serr *scimerrors.ScimError
		if body, serr = s.readBody(w, r); serr != nil {
			writeError(w, *serr)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}

	r.URL.Path = rt.path
	r.URL.RawPath = ""

	switch rt.kind {
	case routeList:
		s.serveList(w, r, rq, rt, listParamsFromQuery(r))
	case routeSearch:
		s.serveSearch(w, r, rq, rt)
	case routeGet:
		s.serveGet(w, r, rq, rt)
	case routeCreate, routeReplace, routePatch, routeDelete:
		s.serveWrite(w, r, rq, rt, body)
	case routeConfig:
		body, err := s.serviceProviderConfig(rq.baseURL)
		if err != nil {
			writeError(w, s.scimError(err))
			return
		}
		writeJSON(w, http.StatusOK, body)
	default:
		srv, err := scim.NewServer(&s.args, scim.WithBaseURL(rq.baseURL), scim.WithLogger(s.elimityLog))
		if err != nil {
			writeError(w, s.scimError(err))
			return
		}
		srv.ServeHTTP(w, r)
	}
}

// readBody reads the whole body within the configured limit and checks its content type.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *scimerrors.ScimError) {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/scim+json" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/scim+json" && mt != "application/json") {
			return nil, &scimerrors.ScimError{Status: http.StatusUnsupportedMediaType,
				Detail: "Content-Type must be application/scim+json or application/json."}
		}
	}
	tooLarge := func() *scimerrors.ScimError {
		return &scimerrors.ScimError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The request body exceeds the limit of %d bytes.", s.cfg.MaxBodyBytes)}
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
			Detail: "The request body could not be read."}
	}
	return body, nil
}

// readAll is io.ReadAll with a first buffer of the declared length (at most the body limit,
// which the caller has checked), so a body arrives in one allocation.
func readAll(r io.Reader, length int64) ([]byte, error) {
	if length <= 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, length+1) // +1: the read that sees EOF needs room
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than declared: grow as io.ReadAll does
		}
	}
}

// baseURL returns the absolute SCIM root for r: Config.BaseURL, or the request's scheme and
// host followed by the prefix the host stripped before handing r to the Server.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	full := r.RequestURI
	if i := strings.IndexAny(full, "?#"); i >= 0 {
		full = full[:i]
	}
	if strings.HasPrefix(full, "http://") || strings.HasPrefix(full, "https://") {
		// Absolute-form request target: keep only its path.
		if i := strings.Index(full[strings.Index(full, "//")+2:], "/"); i >= 0 {
			full = full[strings.Index(full, "//")+2+i:]
		} else {
			full = "/"
		}
	}
	prefix := ""
	if p := r.URL.EscapedPath(); strings.HasSuffix(full, p) {
		prefix = strings.TrimSuffix(full, p)
	}
	if p := r.URL.Path; len(p) >= 3 && strings.EqualFold(p[:3], "/v2") {
		prefix += p[:3]
	}
	return scheme + "://" + r.Host + strings.TrimRight(prefix, "/")
}

// keyDigest is the SHA-256 digest of an API key's secret, under which the store finds the key.
func keyDigest(secret string) [32]byte {
	var buf [128]byte // keeps the secret's bytes off the heap
	return sha256.Sum256(append(buf[:0], secret...))
}

// authenticate authenticates rq on its own, for a request whose first use of the store is
// not a read (see view).
func (s *Server) authenticate(ctx context.Context, rq *request) error {
	return s.view(ctx, rq, func(context.Context, store.Tx) error { return nil })
}

// view runs fn in a View of the request's team. The first one of a request authenticates it:
// the store reads the key, its team and its creator in fn's transaction (one round trip with
// fn's first read on pgstore), and checkKey decides before fn sees anything. Once
// authenticated, the use of the key is recorded (see touchKey).
func (s *Server) view(ctx context.Context, rq *request, fn func(ctx context.Context, tx store.Tx) error) error {
	if rq.authed {
		return s.store.View(ctx, rq.teamID, fn)
	}
	var fnErr error
	err := s.store.ViewByKey(ctx, rq.digest, s.checkKey(ctx, rq), func(ctx context.Context, tx store.Tx) error {
		fnErr = fn(ctx, tx)
		return fnErr
	})
	if !rq.authed {
		switch {
		case errors.Is(err, store.ErrNotFound): // no key has the digest
			err = refuse(authUnknown, store.APIKey{})
		case err == nil:
			err = errors.New("teamscim: the store did not check the key")
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			err = wrapErr(err, "authenticate")
		}
		rq.authErr = err
		return err
	}
	s.tel.authenticated(rq.w, rq.teamID, rq.keyID)
	s.touchKey(ctx, rq.key)
	if err != nil && fnErr == nil {
		return wrapErr(err, "read team")
	}
	return err
}

// checkKey returns the check of the request's key, which applies the rules of a key on every
// request (nothing is cached, so a change takes effect on the next request): unknown, revoked
// or expired → 401; SCIM off, a plan without SCIM, or a key whose creator is no longer an
// active admin of the team → 403. An accepted key authenticates rq and spends its token of
// the team's budget (429 when there is none).
func (s *Server) checkKey(ctx context.Context, rq *request) func(store.Access) error {
	return func(a store.Access) error {
		k := a.Key
		rq.authed = false
		if reason := keyRefusal(k, rq.digest, s.now()); reason != "" {
			if reason == authUnknown { // another key's digest: show nothing of it
				k = store.APIKey{}
			}
			return refuse(reason, k)
		}
		switch {
		case !a.Team.SCIMEnabled:
			return refuse(authSCIMOff, k)
		case !s.planIncludesSCIM(a.Team.Plan):
			return refuse(authPlan, k)
		case !creatorAllows(k, a.Creator, a.CreatorFound):
			return refuse(authCreatorLeft, k)
		}
		if rq.key.ID == "" { // check may run more than once: spend one token
			if err := s.rateLimit(ctx, k.TeamID, rq.write); err != nil {
				s.tel.authenticated(rq.w, k.TeamID, k.ID) // the key is good: a 429 is the team's
				return err
			}
		}
		rq.teamID, rq.keyID, rq.key, rq.authed = k.TeamID, k.ID, k, true
		return nil
	}
}

// fail answers a request with err. A request that is not authenticated yet is authenticated
// first, and a bad key answers 401 (or 403, or 429) whatever else is wrong with the request.
// rq is nil when the request has no usable key at all.
func (s *Server) fail(ctx context.Context, w http.ResponseWriter, rq *request, err error) {
	if rq != nil && !rq.authed {
		if rq.authErr == nil {
			_ = s.authenticate(ctx, rq)
		}
		if rq.authErr != nil {
			err = rq.authErr
		}
	}
	if rq == nil || !rq.authed {
		s.tel.authFailed(w, ctx, err)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		switch {
		case ae.status == http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer realm="SCIM"`)
		case ae.retryAfter > 0:
			w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
		}
	}
	writeError(w, s.scimError(err))
}

// parseAuthorization extracts the secret from "Bearer <secret>" (any case) or a raw secret.
func parseAuthorization(h string) (string, bool) {
	h = strings.TrimSpace(h)
	if len(h) >= 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	}
	if h == "" || strings.ContainsAny(h, " \t") || len(h) > 512 {
		return "", false
	}
	return h, true
}

// apiError is an error whose status, scimType and detail are meant for the client.
type apiError struct {
	status   int
	scimType scimerrors.ScimType
	detail   string
	// retryAfter is the Retry-After header of a 429, in seconds.
	retryAfter int
}

func (e *apiError) Error() string {
	return fmt.Sprintf("teamscim: %d %s: %s", e.status, e.scimType, e.detail)
}

var (
	errUnauthorized = &apiError{status: http.StatusUnauthorized,
		detail: "A valid SCIM API key is required: send it as Authorization: Bearer <key>."}
	errSCIMOff  = &apiError{status: http.StatusForbidden, detail: "SCIM provisioning is turned off for this team."}
	errInternal = scimerrors.ScimError{Status: http.StatusInternalServerError,
		Detail: "The server could not complete the request; try again later."}
)

// prefixed is an error of this package with what was being done: "teamscim: <what>: <cause>",
// where the cause's own "teamscim: " prefix is dropped so that the prefix appears once.
type prefixed struct {
	what string
	err  error
}

func (e *prefixed) Error() string {
	return "teamscim: " + e.what + ": " + strings.TrimPrefix(e.err.Error(), "teamscim: ")
}

func (e *prefixed) Unwrap() error { return e.err }

// wrapErr wraps err with what was being done (a fmt format), for errors.Is and errors.As.
func wrapErr(err error, format string, args ...any) error {
	return &prefixed{what: fmt.Sprintf(format, args...), err: err}
}

func badRequest(t scimerrors.ScimType, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, scimType: t, detail: fmt.Sprintf(format, args...)}
}

func notFound(id string) *apiError {
	return &apiError{status: http.StatusNotFound, detail: fmt.Sprintf("Resource %q not found.", id)}
}

// scimError is the one place that turns any error into the SCIM error a client sees. It
// returns a plain ScimError value, which is the only form the wrapped library passes through
// without leaking err.Error(). Internal causes are logged, never shown.
func (s *Server) scimError(err error) scimerrors.ScimError {
	var ae *apiError
	var se scimerrors.ScimError
	var sp *scimerrors.ScimError
	switch {
	case errors.As(err, &ae):
		return scimerrors.ScimError{Status: ae.status, ScimType: ae.scimType, Detail: ae.detail}
	case errors.As(err, &se):
		return se
	case errors.As(err, &sp) && sp != nil:
		return *sp
	case errors.Is(err, store.ErrNotFound):
		return scimerrors.ScimError{Status: http.StatusNotFound, Detail: "Resource not found."}
	case errors.Is(err, store.ErrConflict):
		return scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness,
			Detail: "A resource with a unique value of this request already exists in the team."}
	case errors.Is(err, context.Canceled):
		s.log.Debug("teamscim: request cancelled", "error", err)
		return errInternal
	default:
		s.log.Error("teamscim: internal error", "error", err)
		return errInternal
	}
}

// writeError writes a SCIM error response.
func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	writeJSON(w, e.Status, errorBody(e))
}

// errorBody encodes a SCIM error (RFC 7644 §3.12) as the wrapped library does, without HTML
// escaping (a detail's "<key>" stays readable).
func errorBody(e scimerrors.ScimError) []byte {
	b := make([]byte, 0, 128+len(e.Detail))
	b = append(b, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"]`...)
	if e.ScimType != "" {
		b = append(b, `,"scimType":`...)
		b = appendString(b, string(e.ScimType))
	}
	if e.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendString(b, e.Detail)
	}
	b = append(b, `,"status":"`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	return append(b, `"}`...)
}

// scimContentType is the Content-Type header value of every SCIM answer, shared so that
// setting it does not allocate (a header slice is only ever replaced, never appended to in
// place beyond its length).
var scimContentType = []string{"application/scim+json"}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = scimContentType[:1:1]
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// responseWriter records the status for logging and panic recovery.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	tel         requestTelemetry // what telemetry.go learns about the request
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.tel.keepError(w.status, b)
	return w.ResponseWriter.Write(b)
}

// elimityLogger adapts slog to the wrapped library's logger. It logs only the message and
// error values: the library passes whole resources as key/value pairs, which stay out of logs.
type elimityLogger struct{ log *slog.Logger }

func (l elimityLogger) Error(args ...interface{}) {
	msg := "elimity"
	if len(args) > 0 {
		msg = fmt.Sprint(args[0])
	}
	var attrs []any
	for i := 1; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "error" {
			attrs = append(attrs, "error", fmt.Sprint(args[i+1]))
		}
	}
	l.log.Error("teamscim: "+msg, attrs...)
}
