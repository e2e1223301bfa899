package teamscim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// hostServices are do-nothing host services (the reference ones import this package).
type hostServices struct{}

func (*hostServices) MemberWorkspaces(context.Context, string, string) ([]Workspace, error) {
	return nil, nil
}
func (*hostServices) ApplyWorkspacePlan(context.Context, WorkspacePlan) error { return nil }
func (*hostServices) FindAccount(context.Context, string) (Account, bool, error) {
	return Account{}, false, nil
}
func (*hostServices) CreateAccount(context.Context, AccountRequest) error { return nil }
func (*hostServices) SendInvite(context.Context, AccountRequest) error    { return nil }
func (*hostServices) Consolidate(context.Context, AccountRequest) error   { return nil }
func (*hostServices) AddToTeam(context.Context, AccountRequest) error     { return nil }
func (*hostServices) RemoveFromTeam(context.Context, AccountRequest) error {
	return nil
}
func (*hostServices) ChangeEmail(context.Context, AccountRequest) error { return nil }

// Without providers the Server keeps the store and the host's services as they were given:
// nothing is wrapped, traced or measured.
func TestNoProvidersWrapNothing(t *testing.T) {
	st, ws, acc := memstore.New(), &hostServices{}, &hostServices{}
	s, err := New(Config{Store: st, Workspaces: ws, Accounts: acc})
	require.NoError(t, err)
	assert.Same(t, st, s.store)
	assert.Same(t, ws, s.cfg.Workspaces)
	assert.Same(t, acc, s.cfg.Accounts)
	assert.Nil(t, s.tel.tracer)
	assert.False(t, s.tel.metrics)

	s, err = New(Config{Store: st, Workspaces: ws, Accounts: acc,
		TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()})
	require.NoError(t, err)
	assert.IsType(t, tracedStore{}, s.store)
	assert.IsType(t, observedWorkspaces{}, s.cfg.Workspaces)
	assert.IsType(t, observedAccounts{}, s.cfg.Accounts)
}

func TestOperationNames(t *testing.T) {
	for _, c := range []struct{ method, path, op string }{
		{http.MethodGet, "/Users", "users.list"},
		{http.MethodGet, "/v2/users/", "users.list"},
		{http.MethodPost, "/Users", "users.create"},
		{http.MethodPost, "/Users/.search", "users.search"},
		{http.MethodGet, "/Users/abc", "users.get"},
		{http.MethodPut, "/Users/abc", "users.replace"},
		{http.MethodPatch, "/Users/abc", "users.patch"},
		{http.MethodDelete, "/Users/abc", "users.delete"},
		{http.MethodGet, "/Groups", "groups.list"},
		{http.MethodPost, "/Groups", "groups.create"},
		{http.MethodPatch, "/Groups/abc", "groups.patch"},
		{http.MethodDelete, "/Groups/abc", "groups.delete"},
		{http.MethodPost, "/.search", "search"},
		{http.MethodGet, "/ServiceProviderConfig", "discovery"},
		{http.MethodGet, "/Schemas", "discovery"},
		{http.MethodGet, "/ResourceTypes/User", "discovery"},
		{http.MethodGet, "/Me", "me"},
		{http.MethodGet, "/nowhere", "unknown"},
		{http.MethodDelete, "/Users", "unknown"},
	} {
		rt, ok := route(c.method, c.path)
		assert.Equal(t, c.op, operationOf(c.method, rt, ok), "%s %s", c.method, c.path)
	}
}

// BenchmarkRequestHooks is the telemetry a request pays beyond its work, isolated from it:
// the hooks of ServeHTTP's entry and exit, the route, authentication and an update's commit,
// for a successful PATCH, without providers and with the metrics SDK. Its figures bound the
// cost of the telemetry far more tightly than the end-to-end benchmarks on a busy machine.
func BenchmarkRequestHooks(b *testing.B) {
	for _, c := range []struct {
		name string
		mp   metric.MeterProvider
	}{{"providers=none", nil}, {"providers=metrics", sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := New(Config{Store: memstore.New(), MeterProvider: c.mp})
			require.NoError(b, err)
			rt, ok := route(http.MethodPatch, "/Users/u1")
			r := httptest.NewRequest(http.MethodPatch, "/Users/u1", nil)
			ctx := r.Context()
			start := s.now() // ServeHTTP read the clock before the telemetry, too
			b.ReportAllocs()
			for b.Loop() {
				rw := &responseWriter{ResponseWriter: discardWriter{}}
				r := s.tel.beginRequest(r, rw)
				s.tel.routed(rw, r.Method, rt, ok)
				s.tel.authenticated(rw, "team-1", "key-1")
				fx := &effects{}
				fx.outcome(deactivation(store.User{}))
				s.tel.updated(ctx, "team-1", fx, nil)
				rw.WriteHeader(http.StatusOK)
				s.endRequest(r, rw, start)
			}
		})
	}
}

// discardWriter is an http.ResponseWriter that keeps nothing.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
