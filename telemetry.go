package teamscim

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/teamscim/teamscim/store"
)

// Observability: the Server's OpenTelemetry metrics and spans, and its request logs. Only the
// OpenTelemetry API is used here; the host brings the SDK and its exporters through
// Config.MeterProvider and Config.TracerProvider. Without them nothing is measured or traced,
// and a request pays for a few nil checks. The README's Observability section lists every
// instrument; keep it in step with this file.
//
// The rest of the package reports to this file through one-line hooks at clear boundaries:
// ServeHTTP's entry and exit, the route, authentication, the rate limiter, update's commit
// (provisioning outcomes, counted in effects), the job runner and RetryPending. Spans of the
// store's View and Update and of every call to the host's services come from wrappers that New
// installs around them (tracing.go).

// instrumentationName is the OpenTelemetry scope of the Server's meter and tracer.
const instrumentationName = "github.com/teamscim/teamscim"

// Attribute keys. Values never carry a secret, a request body or an email address: they are
// operation names, status codes, reasons, kinds and the IDs the library generates.
const (
	attrOperation   = attribute.Key("scim.operation")
	attrSCIMType    = attribute.Key("scim.type")
	attrStatusClass = attribute.Key("scim.status_class")
	attrStatusCode  = attribute.Key("http.response.status_code")
	attrMethod      = attribute.Key("http.request.method")
	attrErrorType   = attribute.Key("error.type")
	attrTeam        = attribute.Key("teamscim.team.id")
	attrKey         = attribute.Key("teamscim.key.id")
	attrOutcome     = attribute.Key("teamscim.outcome")
	attrAuthReason  = attribute.Key("teamscim.auth.reason")
	attrRateClass   = attribute.Key("teamscim.rate_limit.class")
	attrJobKind     = attribute.Key("teamscim.job.kind")
	attrJobResult   = attribute.Key("teamscim.job.result")
	attrJobRetry    = attribute.Key("teamscim.job.retry")
	attrJobAttempt  = attribute.Key("teamscim.job.attempt")
	attrHook        = attribute.Key("teamscim.hook")
	attrAttempts    = attribute.Key("teamscim.store.attempts")
	attrPending     = attribute.Key("teamscim.jobs.pending")
)

// durationBuckets are the bucket boundaries, in seconds, of the duration histograms: from
// the tens of microseconds of an in-memory read to the ten seconds of a hook's timeout.
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// SeatMetrics chooses the teams whose seats the teamscim.seats.in_use and
// teamscim.seats.licensed gauges report (see Config.SeatMetrics). Each team reported is one
// series per gauge, read on every collection with one store View (the team and its O(1) seat
// count), so choose the teams a dashboard needs.
type SeatMetrics struct {
	// Teams are the IDs of the teams to report.
	Teams []string
	// AllTeams also reports every team this Server has served since it started: a team
	// appears once it has made a SCIM request or a change through the team-admin API (an
	// identity provider polls at least hourly).
	AllTeams bool
}

func (m SeatMetrics) enabled() bool { return len(m.Teams) > 0 || m.AllTeams }

// telemetry holds the Server's instruments and tracer.
type telemetry struct {
	log     *slog.Logger
	now     func() time.Time
	store   store.Store // unwrapped: collections are not traced
	seats   SeatPolicy
	tracer  trace.Tracer // nil: no tracing
	prop    propagation.TextMapPropagator
	teamIDs bool // Config.MetricTeamIDs
	metrics bool // Config.MeterProvider is set

	requestDuration metric.Float64Histogram
	outcomes        metric.Int64Counter
	authFailures    metric.Int64Counter
	rateRejections  metric.Int64Counter
	jobCalls        metric.Int64Counter
	hookDuration    metric.Float64Histogram

	seatMetrics SeatMetrics
	served      sync.Map // team ID → struct{}, for SeatMetrics.AllTeams

	// series caches the attribute sets of the request histogram (without team IDs), so that
	// recording a request allocates none: a copy-on-write map, read without a lock.
	series   atomic.Pointer[map[requestSeries]metric.MeasurementOption]
	seriesMu sync.Mutex
	// outcomeAttrs are the attribute sets of the outcome counter, by outcome.
	outcomeAttrs [numOutcomes]metric.MeasurementOption
}

// requestSeries identifies one series of the request histogram.
type requestSeries struct {
	op       string
	status   int
	scimType string
}

// newTelemetry sets up the Server's instruments from cfg (whose defaults are applied).
func newTelemetry(cfg Config) (*telemetry, error) {
	t := &telemetry{log: cfg.Logger, now: cfg.Now, store: cfg.Store, seats: cfg.Seats, prop: cfg.Propagator,
		teamIDs: cfg.MetricTeamIDs, seatMetrics: cfg.SeatMetrics}
	if t.prop == nil {
		t.prop = propagation.TraceContext{}
	}
	if cfg.TracerProvider != nil {
		t.tracer = cfg.TracerProvider.Tracer(instrumentationName)
	}
	if cfg.MeterProvider == nil {
		return t, nil
	}
	t.metrics = true
	m := cfg.MeterProvider.Meter(instrumentationName)
	var errs []error
	check := func(err error) { errs = append(errs, err) }
	var err error
	t.requestDuration, err = m.Float64Histogram("scim.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of SCIM requests, by operation and outcome; its count is the number of requests."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	t.outcomes, err = m.Int64Counter("teamscim.provisioning.outcomes", metric.WithUnit("{outcome}"),
		metric.WithDescription("Provisioning outcomes committed by SCIM requests (created, invited, adopted, relinked, deactivated, reactivated, hidden), and changes refused for want of a seat (seat_refused)."))
	check(err)
	t.authFailures, err = m.Int64Counter("teamscim.auth.failures", metric.WithUnit("{request}"),
		metric.WithDescription("SCIM requests refused by authentication (401 or 403), by reason."))
	check(err)
	t.rateRejections, err = m.Int64Counter("teamscim.rate_limit.rejections", metric.WithUnit("{request}"),
		metric.WithDescription("SCIM requests answered 429 by the team's rate limit, by class (reads, writes)."))
	check(err)
	t.jobCalls, err = m.Int64Counter("teamscim.job.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls of jobs (host hook calls made after a commit), by kind, result and whether the call was a retry."))
	check(err)
	t.hookDuration, err = m.Float64Histogram("teamscim.hook.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of each call to the host's services (Accounts, WorkspaceReassigner), by hook; failures carry error.type."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	pending, err := m.Int64ObservableGauge("teamscim.jobs.pending", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs waiting in the store (failed or not yet made host calls), by kind."))
	check(err)
	oldest, err := m.Float64ObservableGauge("teamscim.jobs.oldest_pending.age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest job waiting in the store, by kind (0 when none)."))
	check(err)
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return t.observeJobs(ctx, o, pending, oldest)
	}, pending, oldest)
	check(err)
	if t.seatMetrics.enabled() {
		inUse, err := m.Int64ObservableGauge("teamscim.seats.in_use", metric.WithUnit("{seat}"),
			metric.WithDescription("Seats the team's members hold (Config.SeatMetrics chooses the teams)."))
		check(err)
		licensed, err := m.Int64ObservableGauge("teamscim.seats.licensed", metric.WithUnit("{seat}"),
			metric.WithDescription("Seats the team has bought, for seat policies that say (absent: no limit)."))
		check(err)
		_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
			return t.observeSeats(ctx, o, inUse, licensed)
		}, inUse, licensed)
		check(err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for o := range numOutcomes {
		t.outcomeAttrs[o] = metric.WithAttributeSet(attribute.NewSet(attrOutcome.String(outcomeNames[o])))
	}
	return t, nil
}

// setUpTelemetry makes the Server's telemetry and, when spans or metrics are wanted, wraps
// the store and the host's services so that their calls are traced and timed.
func (s *Server) setUpTelemetry() error {
	t, err := newTelemetry(s.cfg)
	if err != nil {
		return err
	}
	s.tel = t
	if t.tracer != nil {
		s.store = tracedStore{Store: s.store, tracer: t.tracer}
		if s.jobs != nil {
			s.jobs = tracedJobs{JobUpdater: s.jobs, tracer: t.tracer}
		}
	}
	if t.tracer != nil || t.metrics {
		if s.cfg.Workspaces != nil {
			s.cfg.Workspaces = observedWorkspaces{WorkspaceReassigner: s.cfg.Workspaces, t: t}
		}
		if s.cfg.Accounts != nil {
			s.cfg.Accounts = observedAccounts{Accounts: s.cfg.Accounts, t: t}
		}
	}
	return nil
}

// teamAttr is the team attribute of a metric data point: none unless Config.MetricTeamIDs.
func (t *telemetry) teamAttr(set []attribute.KeyValue, teamID string) []attribute.KeyValue {
	if t.teamIDs && teamID != "" {
		set = append(set, attrTeam.String(teamID))
	}
	return set
}

// serving notes that the Server served teamID, for SeatMetrics.AllTeams.
func (t *telemetry) serving(teamID string) {
	if t.metrics && t.seatMetrics.AllTeams && teamID != "" {
		if _, ok := t.served.Load(teamID); !ok {
			t.served.Store(teamID, struct{}{})
		}
	}
}

// ---- requests ----

// requestTelemetry is what a request's telemetry learns while it is served. The request's
// responseWriter carries it.
type requestTelemetry struct {
	op            string
	span          trace.Span // nil: not traced
	teamID, keyID string     // once known (authentication)
	authReason    string     // why authentication failed
	errBody       []byte     // the start of an error response's body (our own SCIM error)
}

// maxErrorBody is how much of an error response the request's log reads its scimType and
// detail from. SCIM error bodies are short.
const maxErrorBody = 4096

// keepError keeps the start of an error response's body, written with status.
func (rt *requestTelemetry) keepError(status int, b []byte) {
	if status >= 400 && rt.errBody == nil {
		n := min(len(b), maxErrorBody)
		rt.errBody = append(make([]byte, 0, n), b[:n]...)
	}
}

// scimErrorBody is what a request's log and metrics read of its SCIM error response.
type scimErrorBody struct {
	ScimType string `json:"scimType"`
	Detail   string `json:"detail"`
}

// errorBody decodes the error response kept by keepError.
func (rt *requestTelemetry) errorBody() scimErrorBody {
	var e scimErrorBody
	if len(rt.errBody) > 0 {
		_ = json.Unmarshal(rt.errBody, &e)
	}
	return e
}

// scimTypes are the scimType values of RFC 7644 §3.12; any other is reported as "other", so
// that a metric's attributes stay a small set.
var scimTypes = map[string]bool{"invalidFilter": true, "tooMany": true, "uniqueness": true, "mutability": true,
	"invalidSyntax": true, "invalidPath": true, "noTarget": true, "invalidValue": true, "invalidVers": true, "sensitive": true}

func boundedSCIMType(t string) string {
	if t == "" || scimTypes[t] {
		return t
	}
	return "other"
}

// Operation names (span names and the scim.operation attribute).
const (
	opUnknown   = "unknown"   // no endpoint, or a method the endpoint does not allow
	opSearch    = "search"    // POST /.search
	opMe        = "me"        // /Me (not supported: 501)
	opDiscovery = "discovery" // /ServiceProviderConfig, /Schemas, /ResourceTypes
)

// resourceOps names the operations of one resource type.
type resourceOps struct{ list, search, get, create, replace, patch, del string }

var (
	userOps  = resourceOps{"users.list", "users.search", "users.get", "users.create", "users.replace", "users.patch", "users.delete"}
	groupOps = resourceOps{"groups.list", "groups.search", "groups.get", "groups.create", "groups.replace", "groups.patch", "groups.delete"}
)

// operationOf names the operation of a request routed to rt (ok false: no endpoint).
func operationOf(method string, rt routed, ok bool) string {
	switch {
	case !ok || rt.allow != "":
		return opUnknown
	case rt.path == "/.search":
		return opSearch
	case rt.path == "/Me":
		return opMe
	}
	var ops resourceOps
	switch rt.resource {
	case "Users":
		ops = userOps
	case "Groups":
		ops = groupOps
	default:
		return opDiscovery
	}
	switch rt.kind {
	case routeList:
		return ops.list
	case routeSearch:
		return ops.search
	case routeGet:
		return ops.get
	}
	switch method {
	case http.MethodPost:
		return ops.create
	case http.MethodPut:
		return ops.replace
	case http.MethodPatch:
		return ops.patch
	case http.MethodDelete:
		return ops.del
	}
	return opUnknown
}

// spanMethod is the http.request.method of a span: the method, or "_OTHER" for one HTTP does
// not define (OpenTelemetry's semantic conventions).
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// beginRequest starts the request's span, as a child of the span in the request's context
// or, when there is none, of the trace context the request carries (Config.Propagator: W3C
// traceparent by default). The span is named after the operation once the request is routed.
func (t *telemetry) beginRequest(r *http.Request, rw *responseWriter) *http.Request {
	if t.tracer == nil {
		return r
	}
	ctx := r.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, span := t.tracer.Start(ctx, "scim.request", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attrMethod.String(spanMethod(r.Method))))
	rw.tel.span = span
	return r.WithContext(ctx)
}

// routed records the request's operation, once its route is known.
func (t *telemetry) routed(w http.ResponseWriter, method string, rt routed, ok bool) {
	rw, isRW := w.(*responseWriter)
	if !isRW {
		return
	}
	rw.tel.op = operationOf(method, rt, ok)
	if sp := rw.tel.span; sp != nil && sp.IsRecording() {
		sp.SetName(rw.tel.op)
		sp.SetAttributes(attrOperation.String(rw.tel.op))
	}
}

// authenticated records the team and key of an authenticated request.
func (t *telemetry) authenticated(w http.ResponseWriter, teamID, keyID string) {
	t.serving(teamID)
	rw, isRW := w.(*responseWriter)
	if !isRW {
		return
	}
	rw.tel.teamID, rw.tel.keyID = teamID, keyID
	if sp := rw.tel.span; sp != nil && sp.IsRecording() {
		sp.SetAttributes(attrTeam.String(teamID), attrKey.String(keyID))
	}
}

// endRequest records a served request: its duration, its span's outcome and its log line.
func (s *Server) endRequest(r *http.Request, rw *responseWriter, start time.Time) {
	t := s.tel
	status := rw.status
	if !rw.wroteHeader {
		status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	var e scimErrorBody
	if status >= 400 {
		e = rw.tel.errorBody()
	}
	ctx := r.Context()
	level, msg := requestLogLevel(rw.tel.op, status)
	logged := s.log.Enabled(ctx, level)
	var elapsed time.Duration
	if logged || t.metrics { // reading the clock costs (a VM's clock, hundreds of ns)
		elapsed = s.now().Sub(start)
	}
	scimType := boundedSCIMType(e.ScimType)
	if t.metrics && t.requestDuration.Enabled(ctx) {
		t.requestDuration.Record(ctx, elapsed.Seconds(), t.requestAttrs(rw.tel.op, status, scimType, rw.tel.teamID))
	}
	if sp := rw.tel.span; sp != nil {
		if sp.IsRecording() {
			sp.SetAttributes(attrStatusCode.Int(status))
			if status >= 400 {
				sp.SetAttributes(attrErrorType.String(strconv.Itoa(status)))
				if scimType != "" {
					sp.SetAttributes(attrSCIMType.String(scimType))
				}
				if rw.tel.authReason != "" {
					sp.SetAttributes(attrAuthReason.String(rw.tel.authReason))
				}
			}
			if status >= 500 {
				sp.SetStatus(codes.Error, http.StatusText(status))
			}
		}
		sp.End()
	}
	if logged {
		s.logRequest(ctx, r, rw, level, msg, status, e, elapsed)
	}
}

// requestAttrs returns the attributes of a request's data point: its operation, status code
// and class, error.type (the status code) and scim.type for failures, and the team with
// Config.MetricTeamIDs. Without team IDs the sets are cached.
func (t *telemetry) requestAttrs(op string, status int, scimType, teamID string) metric.MeasurementOption {
	if t.teamIDs && teamID != "" {
		return metric.WithAttributeSet(requestAttrSet(op, status, scimType, teamID))
	}
	k := requestSeries{op: op, status: status, scimType: scimType}
	if m := t.series.Load(); m != nil {
		if o, ok := (*m)[k]; ok {
			return o
		}
	}
	t.seriesMu.Lock()
	defer t.seriesMu.Unlock()
	var next map[requestSeries]metric.MeasurementOption
	if m := t.series.Load(); m != nil {
		if o, ok := (*m)[k]; ok {
			return o
		}
		next = make(map[requestSeries]metric.MeasurementOption, len(*m)+1)
		for k, v := range *m {
			next[k] = v
		}
	} else {
		next = map[requestSeries]metric.MeasurementOption{}
	}
	o := metric.WithAttributeSet(requestAttrSet(op, status, scimType, ""))
	next[k] = o
	t.series.Store(&next)
	return o
}

func requestAttrSet(op string, status int, scimType, teamID string) attribute.Set {
	kv := make([]attribute.KeyValue, 0, 6)
	kv = append(kv, attrOperation.String(op), attrStatusCode.Int(status), attrStatusClass.String(statusClass(status)))
	if status >= 400 {
		kv = append(kv, attrErrorType.String(strconv.Itoa(status)))
	}
	if scimType != "" {
		kv = append(kv, attrSCIMType.String(scimType))
	}
	if teamID != "" {
		kv = append(kv, attrTeam.String(teamID))
	}
	return attribute.NewSet(kv...)
}

// statusClass is "2xx", "3xx", "4xx" or "5xx".
func statusClass(status int) string {
	switch {
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	}
	return "2xx"
}

// existenceCheck reports whether a request's answer says only that a resource is absent: a 404
// to a GET of one user or group, which is how an identity provider asks whether a member it
// provisioned is still there (a filter that finds nothing answers 200 with an empty list and
// is no failure either). It is logged like a success.
func existenceCheck(op string, status int) bool {
	return status == http.StatusNotFound && (op == "users.get" || op == "groups.get")
}

// requestLogLevel is the level and message of a request's log line: a failure (4xx but an
// existence check's 404) at Info, a 5xx at Warn, anything else at Debug.
func requestLogLevel(op string, status int) (slog.Level, string) {
	switch {
	case status >= 500:
		return slog.LevelWarn, "teamscim: request failed"
	case status >= 400 && !existenceCheck(op, status):
		return slog.LevelInfo, "teamscim: request failed"
	}
	return slog.LevelDebug, "teamscim: request"
}

// logRequest logs a served request at level (requestLogLevel) with what an admin needs to find
// it: operation, status, scimType, the error's detail or, for an authentication failure, its
// reason, team, key ID and trace ID. It logs nothing of the request's body or headers.
func (s *Server) logRequest(ctx context.Context, r *http.Request, rw *responseWriter, level slog.Level, msg string, status int, e scimErrorBody, elapsed time.Duration) {
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs, slog.String("operation", rw.tel.op), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", status), slog.Duration("duration", elapsed))
	if e.ScimType != "" {
		attrs = append(attrs, slog.String("scim_type", e.ScimType))
	}
	switch {
	case rw.tel.authReason != "": // says more than the detail, which is the same for every 401
		attrs = append(attrs, slog.String("reason", rw.tel.authReason))
	case e.Detail != "":
		attrs = append(attrs, slog.String("detail", e.Detail))
	}
	if rw.tel.teamID != "" {
		attrs = append(attrs, slog.String("team", rw.tel.teamID))
	}
	if rw.tel.keyID != "" {
		attrs = append(attrs, slog.String("key", rw.tel.keyID))
	}
	if tid := s.tel.traceID(ctx, r); tid != "" {
		attrs = append(attrs, slog.String("trace_id", tid))
	}
	s.log.LogAttrs(ctx, level, msg, attrs...)
}

// traceID returns the trace ID of a request: its span's, or, untraced, the one its trace
// context header carries.
func (t *telemetry) traceID(ctx context.Context, r *http.Request) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		sc = trace.SpanContextFromContext(t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header)))
	}
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// ---- authentication ----

// Reasons of an authentication failure (attribute teamscim.auth.reason, log key "reason").
const (
	authMissing     = "missing"      // no Authorization header, or one without a usable key
	authUnknown     = "unknown"      // no such key (never made, deleted, or its team is gone)
	authRevoked     = "revoked"      // the key is revoked
	authExpired     = "expired"      // the key has expired
	authCreatorLeft = "creator_left" // the admin who generated the key is no longer an admin
	authSCIMOff     = "scim_off"     // the team's SCIM switch is off
	authPlan        = "plan"         // the team's plan does not include SCIM
)

// authFailure is a refused authentication: the client sees err; metrics and logs also see
// why, and which key was presented when it was found.
type authFailure struct {
	reason string
	key    store.APIKey
	err    *apiError
}

func (f *authFailure) Error() string { return f.err.Error() }
func (f *authFailure) Unwrap() error { return f.err }

// refuse returns the failure of an authentication refused for reason, with key when it was
// found.
func refuse(reason string, key store.APIKey) error {
	err := errUnauthorized
	switch reason {
	case authSCIMOff:
		err = errSCIMOff
	case authPlan:
		err = errPlanForbidden
	case authCreatorLeft:
		err = errKeyCreatorGone
	}
	return &authFailure{reason: reason, key: key, err: err}
}

// authFailed records a refused authentication (err from authenticate; other errors, such as a
// store failure, are not authentication failures).
func (t *telemetry) authFailed(w http.ResponseWriter, ctx context.Context, err error) {
	var f *authFailure
	if !errors.As(err, &f) {
		return
	}
	if rw, ok := w.(*responseWriter); ok {
		rw.tel.authReason, rw.tel.teamID, rw.tel.keyID = f.reason, f.key.TeamID, f.key.ID
		if sp := rw.tel.span; sp != nil && sp.IsRecording() && f.key.ID != "" {
			sp.SetAttributes(attrTeam.String(f.key.TeamID), attrKey.String(f.key.ID))
		}
	}
	if t.metrics {
		t.authFailures.Add(ctx, 1, metric.WithAttributes(t.teamAttr([]attribute.KeyValue{attrAuthReason.String(f.reason)}, f.key.TeamID)...))
	}
}

// ---- rate limits ----

// rateLimited records a request answered 429 by its team's budget for class.
func (t *telemetry) rateLimited(ctx context.Context, teamID, class string) {
	if t.metrics {
		t.rateRejections.Add(ctx, 1, metric.WithAttributes(t.teamAttr([]attribute.KeyValue{attrRateClass.String(class)}, teamID)...))
	}
}

// ---- provisioning outcomes ----

// outcome is a provisioning outcome (attribute teamscim.outcome).
type outcome int

const (
	outcomeNone        outcome = iota
	outcomeCreated             // a new member, active at once
	outcomeInvited             // a new member, pending until they accept the host's invitation
	outcomeAdopted             // a member who joined outside SCIM, now SCIM-managed
	outcomeRelinked            // a member hidden by DELETE, provisioned again
	outcomeDeactivated         // an active member deactivated (active false, a group's deletion)
	outcomeReactivated         // a deactivated member active again
	outcomeHidden              // a member hidden by DELETE
	outcomeSeatRefused         // a change refused because the seat policy refused a seat
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"", "created", "invited", "adopted", "relinked", "deactivated",
	"reactivated", "hidden", "seat_refused"}

// outcomeCounts counts, in effects, the outcomes of one run of an Update's function.
type outcomeCounts [numOutcomes]int32

// outcome records a provisioning outcome of the change (none: nothing).
func (fx *effects) outcome(o outcome) {
	if o != outcomeNone {
		fx.outcomes[o]++
	}
}

// createdOrInvited is the outcome of a new member, pending or not.
func createdOrInvited(pending bool) outcome {
	if pending {
		return outcomeInvited
	}
	return outcomeCreated
}

// adoptedOrRelinked is the outcome of a create that takes over the existing member u.
func adoptedOrRelinked(u store.User) outcome {
	if u.Deleted {
		return outcomeRelinked
	}
	return outcomeAdopted
}

// deactivation is the outcome of next leaving the team: a deactivation, unless DELETE hides
// it (counted as hidden by the DELETE).
func deactivation(next store.User) outcome {
	if next.Deleted {
		return outcomeNone
	}
	return outcomeDeactivated
}

// reactivation is the outcome of a member joining the team again with joinEvent (a re-link
// is counted by the create).
func reactivation(joinEvent EventType) outcome {
	if joinEvent == EventUserReactivated {
		return outcomeReactivated
	}
	return outcomeNone
}

// updated records, after an Update of teamID, the outcomes its last run committed, or the
// seat its policy refused.
func (t *telemetry) updated(ctx context.Context, teamID string, fx *effects, err error) {
	t.serving(teamID)
	if !t.metrics {
		return
	}
	if err != nil {
		if errors.Is(err, ErrNoSeat) {
			t.addOutcome(ctx, outcomeSeatRefused, 1, teamID)
		}
		return
	}
	if fx == nil {
		return
	}
	for o, n := range fx.outcomes {
		if n > 0 {
			t.addOutcome(ctx, outcome(o), int64(n), teamID)
		}
	}
}

func (t *telemetry) addOutcome(ctx context.Context, o outcome, n int64, teamID string) {
	opt := t.outcomeAttrs[o]
	if t.teamIDs && teamID != "" {
		opt = metric.WithAttributes(attrOutcome.String(outcomeNames[o]), attrTeam.String(teamID))
	}
	t.outcomes.Add(ctx, n, opt)
}

// ---- jobs ----

// Results of a job call (attribute teamscim.job.result).
const (
	jobSucceeded = "success"
	jobFailed    = "failure" // stays pending for a retry
	jobDropped   = "dropped" // cannot run (unreadable data, no hook for its kind)
)

// runJob makes a claimed job's call through call, in a span, and counts it.
func (t *telemetry) runJob(ctx context.Context, teamID string, job store.Job, call func(context.Context, string, store.Job) error) error {
	if t.tracer == nil && !t.metrics {
		return call(ctx, teamID, job)
	}
	var span trace.Span
	if t.tracer != nil {
		ctx, span = t.tracer.Start(ctx, "teamscim.job", trace.WithAttributes(attrJobKind.String(job.Kind),
			attrJobAttempt.Int(job.Attempts), attrTeam.String(teamID)))
	}
	err := call(ctx, teamID, job)
	result := jobSucceeded
	switch {
	case errors.Is(err, errBadJob):
		result = jobDropped
	case err != nil:
		result = jobFailed
	}
	if span != nil {
		span.SetAttributes(attrJobResult.String(result))
		if err != nil {
			setSpanError(span, err)
		}
		span.End()
	}
	if t.metrics {
		t.jobCalls.Add(ctx, 1, metric.WithAttributes(t.teamAttr([]attribute.KeyValue{attrJobKind.String(job.Kind),
			attrJobResult.String(result), attrJobRetry.Bool(job.Attempts > 1)}, teamID)...))
	}
	return err
}

// startRetryPending starts RetryPending's span; the function returned ends it.
func (t *telemetry) startRetryPending(ctx context.Context) (context.Context, func(pending int, err error)) {
	if t.tracer == nil {
		return ctx, func(int, error) {}
	}
	ctx, span := t.tracer.Start(ctx, "teamscim.RetryPending")
	return ctx, func(pending int, err error) {
		span.SetAttributes(attrPending.Int(pending))
		if err != nil {
			setSpanError(span, err)
		}
		span.End()
	}
}

// collectTimeout bounds the store reads of one collection of the observable gauges.
const collectTimeout = 10 * time.Second

// observeJobs reports the jobs waiting in the store: how many, and the age of the oldest, by
// kind (and team, with Config.MetricTeamIDs). It reads the teams that have jobs and each one's
// jobs, which are few: they are the host calls that have not succeeded yet.
func (t *telemetry) observeJobs(ctx context.Context, o metric.Observer, pending metric.Int64Observable, oldest metric.Float64Observable) error {
	ctx, cancel := context.WithTimeout(ctx, collectTimeout)
	defer cancel()
	type series struct{ teamID, kind string }
	type waiting struct {
		n      int64
		oldest time.Time
	}
	found := map[series]*waiting{}
	if !t.teamIDs { // the known kinds are reported even when none waits
		found[series{kind: jobWorkspaces}] = &waiting{}
		found[series{kind: jobAccounts}] = &waiting{}
	}
	teams, err := t.store.TeamsWithJobs(ctx)
	if err != nil {
		return err
	}
	for _, teamID := range teams {
		var jobs []store.Job
		err := t.store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
			var err error
			jobs, err = tx.ListJobs(ctx, "")
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for _, j := range jobs {
			k := series{kind: j.Kind}
			if t.teamIDs {
				k.teamID = teamID
			}
			w := found[k]
			if w == nil {
				w = &waiting{}
				found[k] = w
			}
			w.n++
			if w.oldest.IsZero() || j.Created.Before(w.oldest) {
				w.oldest = j.Created
			}
		}
	}
	now := t.now()
	for k, w := range found {
		kv := []attribute.KeyValue{attrJobKind.String(k.kind)}
		if k.teamID != "" {
			kv = append(kv, attrTeam.String(k.teamID))
		}
		attrs := metric.WithAttributes(kv...)
		o.ObserveInt64(pending, w.n, attrs)
		age := 0.0
		if !w.oldest.IsZero() {
			age = max(0, now.Sub(w.oldest).Seconds())
		}
		o.ObserveFloat64(oldest, age, attrs)
	}
	return nil
}

// ---- seats ----

// observeSeats reports the seats in use and licensed of the teams Config.SeatMetrics
// chooses, from the store's seat count (one View per team, no scan).
func (t *telemetry) observeSeats(ctx context.Context, o metric.Observer, inUse, licensed metric.Int64Observable) error {
	ctx, cancel := context.WithTimeout(ctx, collectTimeout)
	defer cancel()
	teams := map[string]bool{}
	for _, id := range t.seatMetrics.Teams {
		teams[id] = true
	}
	t.served.Range(func(k, _ any) bool {
		teams[k.(string)] = true
		return true
	})
	lic, hasLicense := t.seats.(SeatLicense)
	var errs []error
	for teamID := range teams {
		var n, bought int
		err := t.store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
			team, err := tx.Team(ctx)
			if err != nil {
				return err
			}
			if hasLicense {
				bought = lic.Licensed(team)
			}
			n, err = tx.CountUsers(ctx, store.UserFilter{Seat: ptrTo(true)})
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			continue // a team chosen that does not exist (yet)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		attrs := metric.WithAttributes(attrTeam.String(teamID))
		o.ObserveInt64(inUse, int64(n), attrs)
		if bought > 0 {
			o.ObserveInt64(licensed, int64(bought), attrs)
		}
	}
	return errors.Join(errs...)
}
