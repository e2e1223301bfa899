package teamscim_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memaccounts"
	"github.com/teamscim/teamscim/memworkspace"
	"github.com/teamscim/teamscim/store"
)

// observed is an env whose Server reports to the OpenTelemetry SDK (a manual metric reader and
// an in-memory span exporter) and logs JSON at Debug.
type observed struct {
	*env
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	spans  *tracetest.InMemoryExporter
	logs   *syncBuffer
	// secrets are the key secrets the test used: no span, data point or log may contain one.
	secrets []string
}

func newObserved(t *testing.T, configure ...func(*teamscim.Config)) *observed {
	t.Helper()
	o := &observed{reader: sdkmetric.NewManualReader(), spans: tracetest.NewInMemoryExporter(), logs: &syncBuffer{}}
	o.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(o.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.reader))
	t.Cleanup(func() {
		_ = o.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	all := append([]func(*teamscim.Config){func(c *teamscim.Config) {
		c.MeterProvider = mp
		c.TracerProvider = o.tp
		c.Logger = slog.New(slog.NewJSONHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}}, configure...)
	o.env = newEnv(t, all...)
	o.secrets = append(o.secrets, o.key)
	t.Cleanup(func() { o.requireClean(t) })
	return o
}

// point is one data point of a metric, with its attributes as strings.
type point struct {
	attrs map[string]string
	value float64 // a sum's or a gauge's value; a histogram's count
}

func (o *observed) points(name string) []point {
	o.t.Helper()
	return readPoints(o.t, o.reader, name)
}

// readPoints collects reader and returns the data points of the metric name.
func readPoints(t testing.TB, reader *sdkmetric.ManualReader, name string) []point {
	t.Helper()
	var out []point
	eachPoint(t, reader, func(metric string, set attribute.Set, v float64) {
		if metric != name {
			return
		}
		attrs := map[string]string{}
		for _, kv := range set.ToSlice() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		out = append(out, point{attrs: attrs, value: v})
	})
	return out
}

// eachPoint collects reader and calls fn with every data point: its metric's name, its
// attributes and its value (a histogram's count).
func eachPoint(t testing.TB, reader *sdkmetric.ManualReader, fn func(name string, attrs attribute.Set, value float64)) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					fn(m.Name, p.Attributes, float64(p.Value))
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					fn(m.Name, p.Attributes, float64(p.Value))
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					fn(m.Name, p.Attributes, p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					fn(m.Name, p.Attributes, float64(p.Count))
				}
			default:
				t.Fatalf("metric %s has unexpected data %T", m.Name, m.Data)
			}
		}
	}
}

// total sums the values of name's data points whose attributes include match.
func (o *observed) total(name string, match map[string]string) float64 {
	o.t.Helper()
	sum := 0.0
	for _, p := range o.points(name) {
		ok := true
		for k, v := range match {
			if p.attrs[k] != v {
				ok = false
			}
		}
		if ok {
			sum += p.value
		}
	}
	return sum
}

// span returns the one ended span named name (the last one when there are several).
func (o *observed) span(name string) tracetest.SpanStub {
	o.t.Helper()
	var found []tracetest.SpanStub
	for _, s := range o.spans.GetSpans() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	require.NotEmpty(o.t, found, "no span %q among %v", name, spanNames(o.spans.GetSpans()))
	return found[len(found)-1]
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// children returns the names of the spans whose parent is s.
func (o *observed) children(s tracetest.SpanStub) []string {
	var out []string
	for _, c := range o.spans.GetSpans() {
		if c.Parent.SpanID() == s.SpanContext.SpanID() && c.Parent.TraceID() == s.SpanContext.TraceID() {
			out = append(out, c.Name)
		}
	}
	return out
}

func attrsOf(kvs []attribute.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

// logRecords returns the JSON log records written so far.
func (o *observed) logRecords() []map[string]any {
	return parseLogs(o.t, o.logs.String())
}

func parseLogs(t testing.TB, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		recs = append(recs, m)
	}
	return recs
}

// failureLog returns the one "request failed" record of operation with status.
func failureLog(t *testing.T, recs []map[string]any, op string, status int) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, r := range recs {
		if r["msg"] == "teamscim: request failed" && r["operation"] == op && r["status"] == float64(status) {
			found = append(found, r)
		}
	}
	require.Len(t, found, 1, "request failed logs of %s %d", op, status)
	return found[0]
}

// requireClean asserts that no attribute value of any span, span event or metric data point,
// no span name or status, and no log line holds a key secret, an Authorization header or an
// email address.
func (o *observed) requireClean(t *testing.T) {
	var texts []string
	for _, s := range o.spans.GetSpans() {
		texts = append(texts, s.Name, s.Status.Description)
		for _, kv := range s.Attributes {
			texts = append(texts, kv.Value.Emit())
		}
		for _, ev := range s.Events {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, kv.Value.Emit())
			}
		}
	}
	eachPoint(t, o.reader, func(name string, attrs attribute.Set, _ float64) {
		texts = append(texts, name)
		for _, kv := range attrs.ToSlice() {
			texts = append(texts, kv.Value.Emit())
		}
	})
	require.NotEmpty(t, texts)
	for _, text := range texts {
		assert.NotContains(t, text, "@", "an email address in telemetry")
		assert.NotContains(t, strings.ToLower(text), "bearer")
		for _, secret := range o.secrets {
			assert.NotContains(t, text, secret, "a key secret in telemetry")
		}
	}
	logs := o.logs.String()
	assert.NotContains(t, strings.ToLower(logs), "bearer ")
	for _, secret := range o.secrets {
		assert.NotContains(t, logs, secret, "a key secret in the log")
	}
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// An identity provider's create, deactivate, reactivate, DELETE and re-link, an adoption and
// an invitation: each outcome is counted once, every request is in the duration histogram by
// operation and status, and the create's span continues the caller's trace, with the
// store's transaction and the account lookup as children.
func TestTelemetryProvisioningFlow(t *testing.T) {
	accounts := memaccounts.New()
	accounts.Add(teamscim.Account{Email: "guest@partner.test"}) // unverified domain: invited
	o := newObserved(t, func(c *teamscim.Config) { c.Accounts = accounts })

	res := o.reqWith(http.MethodPost, "/Users", oktaUser("ann@example.com"), map[string]string{"traceparent": traceparent})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	ann := res.str("id")
	create := o.span("users.create")
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", create.SpanContext.TraceID().String(), "the caller's trace")
	assert.Equal(t, "00f067aa0ba902b7", create.Parent.SpanID().String(), "the caller's span is the parent")
	assert.Equal(t, trace.SpanKindServer, create.SpanKind)
	attrs := attrsOf(create.Attributes)
	assert.Equal(t, "users.create", attrs["scim.operation"])
	assert.Equal(t, "201", attrs["http.response.status_code"])
	assert.Equal(t, "POST", attrs["http.request.method"])
	assert.Equal(t, o.teamID, attrs["teamscim.team.id"])
	assert.Equal(t, o.keyID, attrs["teamscim.key.id"])
	assert.Subset(t, o.children(create), []string{"teamscim.store.ViewByKey", "accounts.find_account", "teamscim.store.Update"})
	update := o.span("teamscim.store.Update")
	assert.Equal(t, "1", attrsOf(update.Attributes)["teamscim.store.attempts"])

	require.Equal(t, http.StatusOK, o.req(http.MethodPatch, "/Users/"+ann, deactivateOkta(false)).Code)
	require.Equal(t, http.StatusOK, o.req(http.MethodPatch, "/Users/"+ann, deactivateOkta(true)).Code)
	require.Equal(t, http.StatusNoContent, o.req(http.MethodDelete, "/Users/"+ann, nil).Code)
	require.Equal(t, http.StatusCreated, o.req(http.MethodPost, "/Users", oktaUser("ann@example.com")).Code, "re-linked")
	o.addMember("bob@example.com")
	require.Equal(t, http.StatusCreated, o.req(http.MethodPost, "/Users", oktaUser("bob@example.com")).Code, "adopted")
	require.Equal(t, http.StatusCreated, o.req(http.MethodPost, "/Users", oktaUser("guest@partner.test")).Code, "invited")
	o.secrets = append(o.secrets, "pw-okta-sends") // oktaUser's password

	outcomes := map[string]float64{}
	for _, p := range o.points("teamscim.provisioning.outcomes") {
		assert.NotContains(t, p.attrs, "teamscim.team.id", "team IDs are opt-in")
		outcomes[p.attrs["teamscim.outcome"]] += p.value
	}
	assert.Equal(t, map[string]float64{"created": 1, "deactivated": 1, "reactivated": 1, "hidden": 1, "relinked": 1,
		"adopted": 1, "invited": 1}, outcomes)

	assert.Equal(t, 4.0, o.total("scim.server.request.duration", map[string]string{"scim.operation": "users.create",
		"http.response.status_code": "201", "scim.status_class": "2xx"}))
	assert.Equal(t, 2.0, o.total("scim.server.request.duration", map[string]string{"scim.operation": "users.patch", "scim.status_class": "2xx"}))
	assert.Equal(t, 1.0, o.total("scim.server.request.duration", map[string]string{"scim.operation": "users.delete", "http.response.status_code": "204"}))
	for _, p := range o.points("scim.server.request.duration") {
		assert.NotContains(t, p.attrs, "teamscim.team.id", "team IDs are opt-in")
		assert.NotContains(t, p.attrs, "error.type", "no request failed")
	}
	assert.Equal(t, 1.0, o.total("teamscim.hook.duration", map[string]string{"teamscim.hook": "accounts.create_account"}))
	assert.Equal(t, 1.0, o.total("teamscim.hook.duration", map[string]string{"teamscim.hook": "accounts.send_invite"}))
	// The account mirror: removed at the deactivation and at DELETE, added back at the
	// reactivation, the re-link and bob's AddMember.
	assert.Equal(t, 2.0, o.total("teamscim.hook.duration", map[string]string{"teamscim.hook": "accounts.remove_from_team"}))
	assert.Equal(t, 3.0, o.total("teamscim.hook.duration", map[string]string{"teamscim.hook": "accounts.add_to_team"}))
	assert.Equal(t, 7.0, o.total("teamscim.job.calls", map[string]string{"teamscim.job.kind": "accounts",
		"teamscim.job.result": "success", "teamscim.job.retry": "false"}), "the account created, the invitation sent, and the mirror's five calls")

	// Successful requests are logged at Debug only.
	for _, r := range o.logRecords() {
		if r["operation"] != nil {
			assert.Equal(t, "DEBUG", r["level"], r)
		}
	}
}

// oktaUser is Okta's create body for userName, password included.
func oktaUser(userName string) map[string]any {
	return map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]any{"givenName": "Ann", "familyName": "Lee"},
		"emails":   []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"password": "pw-okta-sends",
		"active":   true,
	}
}

// A create refused for want of a seat is counted, its request is a 403 data point, its log
// line says why with the team, key and trace ID, and the seat gauges report the chosen team.
func TestTelemetrySeatRefusal(t *testing.T) {
	o := newObserved(t, func(c *teamscim.Config) { c.Seats = teamscim.SeatLimit(1) })
	require.Equal(t, http.StatusCreated, o.req(http.MethodPost, "/Users", oktaUser("ann@example.com")).Code)
	res := o.req(http.MethodPost, "/Users", oktaUser("bob@example.com"))
	requireSCIMError(t, res, http.StatusForbidden, "")

	assert.Equal(t, 1.0, o.total("teamscim.provisioning.outcomes", map[string]string{"teamscim.outcome": "seat_refused"}))
	assert.Equal(t, 1.0, o.total("teamscim.provisioning.outcomes", map[string]string{"teamscim.outcome": "created"}))
	assert.Equal(t, 1.0, o.total("scim.server.request.duration", map[string]string{"scim.operation": "users.create",
		"http.response.status_code": "403", "scim.status_class": "4xx", "error.type": "403"}))

	rec := failureLog(t, o.logRecords(), "users.create", http.StatusForbidden)
	assert.Equal(t, "INFO", rec["level"])
	assert.Equal(t, "no available seats", rec["detail"])
	assert.Equal(t, o.teamID, rec["team"])
	assert.Equal(t, o.keyID, rec["key"])
	assert.Equal(t, o.span("users.create").SpanContext.TraceID().String(), rec["trace_id"])
	update := o.span("teamscim.store.Update")
	assert.Equal(t, "no_seat", attrsOf(update.Attributes)["error.type"])
	assert.Equal(t, codes.Unset, update.Status.Code, "a refusal is no store failure")
}

// The seat gauges report the teams Config.SeatMetrics chooses, from the store's count.
func TestTelemetrySeatGauges(t *testing.T) {
	o := newObserved(t, func(c *teamscim.Config) {
		c.Seats = teamscim.AutoFlex(5)
		c.SeatMetrics = teamscim.SeatMetrics{AllTeams: true}
	})
	other, otherKey, _ := o.newTeam("Other")
	o.secrets = append(o.secrets, otherKey)
	o.createUser("ann@example.com")
	o.createUser("bob@example.com")

	inUse := map[string]float64{}
	for _, p := range o.points("teamscim.seats.in_use") {
		inUse[p.attrs["teamscim.team.id"]] = p.value
	}
	assert.Equal(t, map[string]float64{o.teamID: 2, other: 0}, inUse, "every team served, with the store's count")
	assert.Equal(t, 5.0, o.total("teamscim.seats.licensed", map[string]string{"teamscim.team.id": o.teamID}))

	// A list reports the teams it names (that exist), served or not.
	reader := sdkmetric.NewManualReader()
	mustNew(t, o.st, func(c *teamscim.Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		c.SeatMetrics = teamscim.SeatMetrics{Teams: []string{other, "no-such-team"}}
	})
	var found []string
	for _, p := range readPoints(t, reader, "teamscim.seats.in_use") {
		found = append(found, p.attrs["teamscim.team.id"])
	}
	assert.Equal(t, []string{other}, found)
	assert.Empty(t, readPoints(t, reader, "teamscim.seats.licensed"), "Unlimited has no licence to report")
}

func mustNew(t *testing.T, st store.Store, configure func(*teamscim.Config)) *teamscim.Server {
	t.Helper()
	cfg := teamscim.Config{Store: st}
	configure(&cfg)
	srv, err := teamscim.New(cfg)
	require.NoError(t, err)
	return srv
}

// A workspace hand-over whose call fails stays pending (the gauges show it and its age) and
// its failure is counted and traced, without the error's text; RetryPending then succeeds,
// counted as a retry, in a span that holds the job and the hook call.
func TestTelemetryHookFailureThenRetry(t *testing.T) {
	clock := newFakeClock()
	ws := memworkspace.New()
	o := newObserved(t, func(c *teamscim.Config) {
		c.Workspaces = ws
		c.Now = clock.Now
	})
	ann := o.createUser("ann@example.com")
	ws.FailWith(func(teamscim.WorkspacePlan, int) error {
		return errors.New("workspace service down while handing over ann@example.com")
	})
	require.Equal(t, http.StatusOK, o.req(http.MethodPatch, "/Users/"+ann, deactivateOkta(false)).Code)
	clock.Advance(90 * time.Second)

	assert.Equal(t, 1.0, o.total("teamscim.job.calls", map[string]string{"teamscim.job.kind": "workspaces",
		"teamscim.job.result": "failure", "teamscim.job.retry": "false"}))
	assert.Equal(t, 1.0, o.total("teamscim.jobs.pending", map[string]string{"teamscim.job.kind": "workspaces"}))
	assert.Equal(t, 0.0, o.total("teamscim.jobs.pending", map[string]string{"teamscim.job.kind": "accounts"}))
	assert.Equal(t, 90.0, o.total("teamscim.jobs.oldest_pending.age", map[string]string{"teamscim.job.kind": "workspaces"}))
	assert.Equal(t, 1.0, o.total("teamscim.hook.duration", map[string]string{"teamscim.hook": "workspaces.apply_plan", "error.type": "error"}))
	failed := o.span("workspaces.apply_plan")
	assert.Equal(t, codes.Error, failed.Status.Code)
	assert.Equal(t, "error", attrsOf(failed.Attributes)["error.type"])
	job := o.span("teamscim.job")
	assert.Equal(t, map[string]string{"teamscim.job.kind": "workspaces", "teamscim.job.attempt": "1", "teamscim.team.id": o.teamID,
		"teamscim.job.result": "failure", "error.type": "error"}, attrsOf(job.Attributes))
	assert.Equal(t, "users.patch", spanByID(t, o.spans.GetSpans(), job.Parent.SpanID()).Name, "the request ran the job")

	ws.FailWith(nil)
	o.spans.Reset()
	pending, err := o.srv.RetryPending(context.Background())
	require.NoError(t, err)
	require.Zero(t, pending)

	assert.Equal(t, 1.0, o.total("teamscim.job.calls", map[string]string{"teamscim.job.kind": "workspaces",
		"teamscim.job.result": "success", "teamscim.job.retry": "true"}))
	assert.Equal(t, 0.0, o.total("teamscim.jobs.pending", map[string]string{"teamscim.job.kind": "workspaces"}))
	assert.Equal(t, 0.0, o.total("teamscim.jobs.oldest_pending.age", map[string]string{"teamscim.job.kind": "workspaces"}))
	retry := o.span("teamscim.RetryPending")
	assert.False(t, retry.Parent.IsValid(), "RetryPending starts a trace")
	assert.Equal(t, "0", attrsOf(retry.Attributes)["teamscim.jobs.pending"])
	assert.Contains(t, o.children(retry), "teamscim.job")
	job = o.span("teamscim.job")
	assert.Equal(t, "2", attrsOf(job.Attributes)["teamscim.job.attempt"])
	assert.Subset(t, o.children(job), []string{"workspaces.member_workspaces", "workspaces.apply_plan"})
}

func spanByID(t *testing.T, spans tracetest.SpanStubs, id trace.SpanID) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.SpanContext.SpanID() == id {
			return s
		}
	}
	t.Fatalf("no span %s", id)
	return tracetest.SpanStub{}
}

// Every reason an authentication fails for is counted, without key material; the log line
// of a revoked key names its key ID and the reason, never the secret.
func TestTelemetryAuthFailures(t *testing.T) {
	clock := newFakeClock()
	o := newObserved(t, func(c *teamscim.Config) { c.Now = clock.Now })
	ctx := t.Context()

	revoked, err := o.srv.GenerateKey(ctx, o.teamID, o.admin, teamscim.KeyOptions{Name: "old"})
	require.NoError(t, err)
	require.NoError(t, o.srv.RevokeKey(ctx, o.teamID, o.admin, revoked.Key.ID))
	expiring, err := o.srv.GenerateKey(ctx, o.teamID, o.admin, teamscim.KeyOptions{Name: "short", TTL: time.Minute})
	require.NoError(t, err)
	admin := o.addAdmin("admin@example.com")
	departed, err := o.srv.GenerateKey(ctx, o.teamID, admin, teamscim.KeyOptions{Name: "departed"})
	require.NoError(t, err)
	o.setUser(admin.MemberID, func(u *store.User) { u.Roles = []string{teamscim.RoleDeveloper} })
	off, offKey, _ := o.newTeam("Off")
	require.NoError(t, o.srv.DisableSCIM(ctx, off, o.admin))
	free, freeKey, _ := o.newTeam("Free")
	require.NoError(t, o.srv.SetPlan(ctx, free, "free"))
	clock.Advance(2 * time.Minute)
	o.secrets = append(o.secrets, revoked.Secret, expiring.Secret, departed.Secret, offKey, freeKey, "tscim_not-a-key-0123456789")

	for _, c := range []struct{ auth, reason string }{
		{"", "missing"},
		{"Bearer tscim_not-a-key-0123456789", "unknown"},
		{"Bearer " + revoked.Secret, "revoked"},
		{"Bearer " + expiring.Secret, "expired"},
		{"Bearer " + departed.Secret, "creator_left"},
		{"Bearer " + offKey, "scim_off"},
		{"Bearer " + freeKey, "plan"},
	} {
		res := o.reqAuth(http.MethodGet, "/Users", nil, c.auth)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.Code, c.reason)
		assert.Equal(t, 1.0, o.total("teamscim.auth.failures", map[string]string{"teamscim.auth.reason": c.reason}), c.reason)
	}
	assert.Len(t, o.points("teamscim.auth.failures"), 7)
	assert.Equal(t, 4.0, o.total("scim.server.request.duration", map[string]string{"scim.operation": "users.list", "error.type": "401"}))
	assert.Equal(t, 3.0, o.total("scim.server.request.duration", map[string]string{"scim.operation": "users.list", "error.type": "403"}))

	var revokedLog map[string]any
	for _, r := range o.logRecords() {
		if r["reason"] == "revoked" {
			revokedLog = r
		}
	}
	require.NotNil(t, revokedLog)
	assert.Equal(t, "INFO", revokedLog["level"])
	assert.Equal(t, revoked.Key.ID, revokedLog["key"])
	assert.Equal(t, o.teamID, revokedLog["team"])
	assert.NotEmpty(t, revokedLog["trace_id"])

	var revokedSpan tracetest.SpanStub
	for _, s := range o.spans.GetSpans() {
		if attrsOf(s.Attributes)["teamscim.auth.reason"] == "revoked" {
			revokedSpan = s
		}
	}
	assert.Equal(t, revoked.Key.ID, attrsOf(revokedSpan.Attributes)["teamscim.key.id"])
	assert.Equal(t, "401", attrsOf(revokedSpan.Attributes)["error.type"])
}

// A 429 is counted by class, and logged.
func TestTelemetryRateLimit(t *testing.T) {
	clock := newFakeClock()
	o := newObserved(t, func(c *teamscim.Config) {
		c.RateLimit = teamscim.RateLimits{ReadsPerMinute: 1}
		c.Now = clock.Now
	})
	require.Equal(t, http.StatusOK, o.req(http.MethodGet, "/Users", nil).Code)
	require429(t, o.req(http.MethodGet, "/Users", nil))

	assert.Equal(t, 1.0, o.total("teamscim.rate_limit.rejections", map[string]string{"teamscim.rate_limit.class": "reads"}))
	assert.Equal(t, 0.0, o.total("teamscim.rate_limit.rejections", map[string]string{"teamscim.rate_limit.class": "writes"}))
	assert.Equal(t, 1.0, o.total("scim.server.request.duration", map[string]string{"scim.operation": "users.list", "error.type": "429"}))
	rec := failureLog(t, o.logRecords(), "users.list", http.StatusTooManyRequests)
	assert.Equal(t, o.teamID, rec["team"])
}

// Config.MetricTeamIDs puts the team on the data points; without it only the seat gauges,
// which are per team by nature, carry it.
func TestTelemetryTeamIDsAreOptIn(t *testing.T) {
	o := newObserved(t, func(c *teamscim.Config) { c.MetricTeamIDs = true })
	id := o.createUser("ann@example.com")
	require.Equal(t, http.StatusOK, o.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false)).Code)
	assert.Equal(t, 1.0, o.total("scim.server.request.duration", map[string]string{"scim.operation": "users.create", "teamscim.team.id": o.teamID}))
	assert.Equal(t, 1.0, o.total("teamscim.provisioning.outcomes", map[string]string{"teamscim.outcome": "deactivated", "teamscim.team.id": o.teamID}))
	assert.Empty(t, o.points("teamscim.auth.failures"))
	o.reqAuth(http.MethodGet, "/Users", nil, "")
	assert.Equal(t, 1.0, o.total("teamscim.auth.failures", map[string]string{"teamscim.auth.reason": "missing"}))
}

// A host middleware's span is the request span's parent, whatever the request's headers say.
func TestTelemetryHostSpanIsParent(t *testing.T) {
	o := newObserved(t)
	inner := o.h
	o.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := o.tp.Tracer("host").Start(r.Context(), "host middleware")
		defer span.End()
		inner.ServeHTTP(w, r.WithContext(ctx))
	})
	require.Equal(t, http.StatusOK, o.reqWith(http.MethodGet, "/Users", nil, map[string]string{"traceparent": traceparent}).Code)
	host, list := o.span("host middleware"), o.span("users.list")
	assert.Equal(t, host.SpanContext.SpanID(), list.Parent.SpanID())
	assert.NotEqual(t, "4bf92f3577b34da6a3ce929d0e0e4736", list.SpanContext.TraceID().String())
}

// failingStore fails every Update with an internal error.
type failingStore struct{ store.Store }

func (failingStore) Update(context.Context, string, func(context.Context, store.Tx) error) error {
	return errors.New("disk on fire")
}

// Without providers, failures are logged at Info (4xx) and Warn (5xx) with the trace ID of
// the request's traceparent; successes and an existence check's 404 only at Debug.
func TestRequestLogs(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e := newEnv(t, func(c *teamscim.Config) { c.Logger = logger })
	id := e.createUser("ann@example.com")
	require.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users?filter="+urlQuery(`userName eq "nobody@example.com"`), nil).Code)
	require.Equal(t, http.StatusNotFound, e.req(http.MethodGet, "/Users/no-such-user", nil).Code)
	require.Equal(t, http.StatusNotFound, e.req(http.MethodGet, "/Groups/no-such-group", nil).Code)
	require.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users/"+id, nil).Code)
	assert.Empty(t, logs.String(), "successes and existence checks are Debug")

	e.reqWith(http.MethodPatch, "/Users/no-such-user", deactivateOkta(false), map[string]string{"traceparent": traceparent})
	e.req(http.MethodGet, "/Users?filter="+urlQuery(`userName eq`), nil)
	recs := parseLogs(t, logs.String())
	rec := failureLog(t, recs, "users.patch", http.StatusNotFound)
	assert.Equal(t, "INFO", rec["level"])
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", rec["trace_id"], "the caller's trace, untraced")
	assert.Equal(t, `Resource "no-such-user" not found.`, rec["detail"])
	assert.Equal(t, e.teamID, rec["team"])
	assert.Equal(t, e.keyID, rec["key"])
	rec = failureLog(t, recs, "users.list", http.StatusBadRequest)
	assert.Equal(t, "invalidFilter", rec["scim_type"])
	assert.NotContains(t, rec, "trace_id")

	broken := newEnv(t, func(c *teamscim.Config) { c.Logger = logger })
	srv := mustNew(t, failingStore{broken.st}, func(c *teamscim.Config) { c.Logger = logger })
	r := httptest.NewRequest(http.MethodPost, "/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@example.com"}`))
	r.Header.Set("Authorization", "Bearer "+broken.key)
	r.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	rec = failureLog(t, parseLogs(t, logs.String()), "users.create", http.StatusInternalServerError)
	assert.Equal(t, "WARN", rec["level"])
	assert.NotContains(t, logs.String(), broken.key)
	assert.NotContains(t, logs.String(), e.key)
}

func urlQuery(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, " ", "%20"), `"`, "%22")
}

// The root package and the stores use the OpenTelemetry API only: the SDK and the exporters
// are for hosts (the example server) and tests.
func TestLibraryUsesOnlyTheOTelAPI(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the go command runs this test")
	out, err := exec.Command(goCmd, "list", "-deps", ".", "./store", "./memstore", "./pgstore").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "go.opentelemetry.io/otel/metric", "the root package uses the metric API")
	require.Contains(t, deps, "go.opentelemetry.io/otel/trace")
	for _, d := range deps {
		for _, banned := range []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "github.com/prometheus/"} {
			assert.False(t, strings.HasPrefix(d, banned), "the library depends on %s", d)
		}
	}
}

// retryOnceStore rolls back every Update's first run and runs it again, as a SQL store does
// after a serialisation failure.
type retryOnceStore struct{ store.Store }

func (s retryOnceStore) Update(ctx context.Context, teamID string, fn func(context.Context, store.Tx) error) error {
	errRetry := errors.New("could not serialize access")
	err := s.Store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errRetry
	})
	if !errors.Is(err, errRetry) {
		return err
	}
	return s.Store.Update(ctx, teamID, fn)
}

// An Update's span counts the runs of its function, with an event for each retry, and a
// uniqueness conflict ends it with error.type conflict.
func TestTelemetryStoreRetriesAndConflicts(t *testing.T) {
	o := newObserved(t)
	srv := mustNew(t, retryOnceStore{o.st}, func(c *teamscim.Config) { c.TracerProvider = o.tp })
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	o.h = mux
	group := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Engineering"}

	require.Equal(t, http.StatusCreated, o.req(http.MethodPost, "/Groups", group).Code)
	update := o.span("teamscim.store.Update")
	assert.Equal(t, "2", attrsOf(update.Attributes)["teamscim.store.attempts"])
	require.Len(t, update.Events, 1)
	assert.Equal(t, "retry", update.Events[0].Name)
	assert.Equal(t, "groups.create", spanByID(t, o.spans.GetSpans(), update.Parent.SpanID()).Name)

	requireSCIMError(t, o.req(http.MethodPost, "/Groups", group), http.StatusConflict, "uniqueness")
	update = o.span("teamscim.store.Update")
	assert.Equal(t, "conflict", attrsOf(update.Attributes)["error.type"])
	assert.Equal(t, "1", attrsOf(update.Attributes)["teamscim.store.attempts"], "a refused change is not retried")
	create := o.span("groups.create")
	assert.Equal(t, map[string]string{"http.response.status_code": "409", "error.type": "409", "scim.type": "uniqueness"},
		pick(attrsOf(create.Attributes), "http.response.status_code", "error.type", "scim.type"))
}

func pick(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}
