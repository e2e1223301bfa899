package teamscim

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/teamscim/teamscim/memstore"
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
