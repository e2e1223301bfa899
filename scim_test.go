package teamscim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/store"
)

func TestNewRequiresStore(t *testing.T) {
	_, err := teamscim.New(teamscim.Config{})
	require.Error(t, err)
}

// A1: every bad credential answers 401 with a SCIM body and WWW-Authenticate.
func TestAuthRejectsBadCredentials(t *testing.T) {
	e := newEnv(t)
	_, otherKey, _ := e.newTeam("Other")
	_ = otherKey
	revokedTeam, revokedKey, revokedID := e.newTeam("Revoked")
	require.NoError(t, e.srv.RevokeKey(t.Context(), revokedTeam, e.admin, revokedID))

	for name, auth := range map[string]string{
		"missing":         "",
		"bearer nothing":  "Bearer",
		"bearer spaces":   "Bearer    ",
		"basic":           "Basic dXNlcjpwYXNz",
		"non-token":       "non-token",
		"unknown":         "Bearer tscim_unknownunknownunknownunknown",
		"revoked":         "Bearer " + revokedKey,
		"key with suffix": "Bearer " + e.key + "x",
		"two tokens":      "Bearer " + e.key + " " + e.key,
	} {
		t.Run(name, func(t *testing.T) {
			res := e.reqAuth(http.MethodGet, "/Users?startIndex=1&count=2", nil, auth)
			requireSCIMError(t, res, http.StatusUnauthorized, "")
			assert.Contains(t, res.Header().Get("WWW-Authenticate"), "Bearer")
		})
	}
}

func TestAuthAcceptsBearerInAnyCaseAndRawKey(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"Bearer " + e.key, "bearer " + e.key, "BEARER  " + e.key, e.key, "  Bearer " + e.key + "  "} {
		res := e.reqAuth(http.MethodGet, "/Users?startIndex=1&count=2", nil, auth)
		assert.Equal(t, http.StatusOK, res.Code, "%q: %s", auth, res.Body.String())
	}
}

// A3: a revoked key fails on the very next request, also through a second Server.
func TestRevokedKeyFailsOnNextRequest(t *testing.T) {
	e := newEnv(t)
	second, err := teamscim.New(teamscim.Config{Store: e.st})
	require.NoError(t, err)
	call := func(h http.Handler) int {
		r := httptest.NewRequest(http.MethodGet, "/Users", nil)
		r.Header.Set("Authorization", "Bearer "+e.key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusOK, call(e.srv))
	require.Equal(t, http.StatusOK, call(second))
	require.NoError(t, e.srv.RevokeKey(t.Context(), e.teamID, e.admin, e.keyID))
	assert.Equal(t, http.StatusUnauthorized, call(e.srv))
	assert.Equal(t, http.StatusUnauthorized, call(second))
}

func TestExpiredKey(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *teamscim.Config) { c.Now = func() time.Time { return now } })
	k, err := e.srv.GenerateKey(t.Context(), e.teamID, e.admin, teamscim.KeyOptions{Name: "short", TTL: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+k.Secret).Code)
	now = now.Add(time.Hour)
	requireSCIMError(t, e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+k.Secret), http.StatusUnauthorized, "")
}

func TestSCIMDisabledAnswers403(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.srv.DisableSCIM(t.Context(), e.teamID, e.admin))
	requireSCIMError(t, e.req(http.MethodGet, "/Users", nil), http.StatusForbidden, "")
	requireSCIMError(t, e.req(http.MethodPost, "/Users", map[string]any{"userName": "a@example.com"}), http.StatusForbidden, "")
	assert.Equal(t, 0, e.countUsers())
	require.NoError(t, e.srv.EnableSCIM(t.Context(), e.teamID, e.admin))
	assert.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users", nil).Code)
}

// A2: the store holds only the digest of a key.
func TestKeyStoredAsDigestOnly(t *testing.T) {
	e := newEnv(t)
	var keys []store.APIKey
	require.NoError(t, e.st.View(t.Context(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		keys, err = tx.ListKeys(ctx)
		return err
	}))
	require.Len(t, keys, 1)
	assert.NotContains(t, fmt.Sprintf("%+v %s", keys[0], keys[0].Digest[:]), e.key)
	assert.True(t, strings.HasPrefix(e.key, "tscim_"))
	assert.Equal(t, store.KeyActive, keys[0].Status)
}

// A4 / R7: another team's ids answer 404 and never data.
func TestTeamIsolation(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("shared@example.com")
	_, otherKey, _ := e.newTeam("Other")
	as := func(method, path string, body any) response { return e.reqAuth(method, path, body, "Bearer "+otherKey) }
	requireSCIMError(t, as(http.MethodGet, "/Users/"+id, nil), http.StatusNotFound, "")
	requireSCIMError(t, as(http.MethodPut, "/Users/"+id, map[string]any{"userName": "shared@example.com"}), http.StatusNotFound, "")
	requireSCIMError(t, as(http.MethodPatch, "/Users/"+id, deactivateOkta(false)), http.StatusNotFound, "")
	requireSCIMError(t, as(http.MethodDelete, "/Users/"+id, nil), http.StatusNotFound, "")
	assert.Empty(t, listIDs(t, as(http.MethodGet, "/Users", nil)))
	assert.Empty(t, listIDs(t, as(http.MethodGet, filterPath(`id eq "`+id+`"`), nil)))
	// The same userName is free in the other team.
	assert.Equal(t, http.StatusCreated, as(http.MethodPost, "/Users", map[string]any{"userName": "shared@example.com"}).Code)
	u := e.user(id)
	assert.True(t, u.Active)
	assert.False(t, u.Deleted)
}

// E1: every error path answers a SCIM error body.
func TestErrorResponsesAreSCIM(t *testing.T) {
	e := newEnv(t)
	requireSCIMError(t, e.req(http.MethodGet, "/Nope", nil), http.StatusNotFound, "")
	requireSCIMError(t, e.req(http.MethodGet, "/Users/does-not-exist", nil), http.StatusNotFound, "")
	res := e.req(http.MethodPut, "/Users", map[string]any{})
	requireSCIMError(t, res, http.StatusMethodNotAllowed, "")
	assert.Equal(t, "GET, POST", res.Header().Get("Allow"))
	requireSCIMError(t, e.req(http.MethodDelete, "/ServiceProviderConfig", nil), http.StatusMethodNotAllowed, "")

	r := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", strings.NewReader(`{"userName":"a@example.com"}`))
	r.Header.Set("Authorization", "Bearer "+e.key)
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	requireSCIMError(t, decode(w), http.StatusUnsupportedMediaType, "")
	assert.Equal(t, 0, e.countUsers())
}

func decode(w *httptest.ResponseRecorder) response {
	res := response{ResponseRecorder: w}
	_ = json.Unmarshal(w.Body.Bytes(), &res.body)
	return res
}

// L1: a body over the limit answers 413 and stores nothing, with or without Content-Length.
func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *teamscim.Config) { c.MaxBodyBytes = 1024 })
	big := `{"userName":"big@example.com","displayName":"` + strings.Repeat("x", 1024) + `"}`
	requireSCIMError(t, e.req(http.MethodPost, "/Users", big), http.StatusRequestEntityTooLarge, "")

	r := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", io.MultiReader(strings.NewReader(big)))
	r.ContentLength = -1 // chunked
	r.Header.Set("Authorization", "Bearer "+e.key)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	requireSCIMError(t, decode(w), http.StatusRequestEntityTooLarge, "")
	assert.Equal(t, 0, e.countUsers())

	id := e.createUser("small@example.com")
	requireSCIMError(t, e.req(http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"`+strings.Repeat("y", 2000)+`"}]}`), http.StatusRequestEntityTooLarge, "")
	assert.Equal(t, "", e.user(id).DisplayName)
}

// L2: malformed bodies answer 400 quickly and store nothing.
func TestMalformedBodies(t *testing.T) {
	e := newEnv(t)
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	for name, body := range map[string]string{
		"malformed": `{"userName": "a@example.com",`,
		"junk":      `{ "acve": tre }`,
		"array":     `[{"userName":"a@example.com"}]`,
		"empty":     ``,
		"deep":      `{"userName":"a@example.com","x":` + deep + `}`,
		"trailing":  `{"userName":"a@example.com"} {"userName":"b@example.com"}`,
	} {
		t.Run(name, func(t *testing.T) {
			requireSCIMError(t, e.req(http.MethodPost, "/Users", body), http.StatusBadRequest, "")
		})
	}
	assert.Equal(t, 0, e.countUsers())
}

// panicStore panics inside View and ViewByKey, to prove that no panic reaches the client.
type panicStore struct{ store.Store }

func (p panicStore) View(ctx context.Context, teamID string, fn func(context.Context, store.Tx) error) error {
	if ctx.Value(panicKey{}) != nil {
		panic("boom: secret internals")
	}
	return p.Store.View(ctx, teamID, fn)
}

func (p panicStore) ViewByKey(ctx context.Context, digest [32]byte, check func(store.Access) error, fn func(context.Context, store.Tx) error) error {
	if ctx.Value(panicKey{}) != nil {
		panic("boom: secret internals")
	}
	return p.Store.ViewByKey(ctx, digest, check, fn)
}

type panicKey struct{}

// A5, E1: a panic answers the fixed 500 body, and logs carry no key or password.
func TestPanicAndLogRedaction(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, func(c *teamscim.Config) { c.Logger = logger })
	res := e.req(http.MethodPost, "/Users", `{"userName":"logged@example.com","password":"pa55word-in-body"}`)
	require.Equal(t, http.StatusCreated, res.Code)

	srv, err := teamscim.New(teamscim.Config{Store: panicStore{e.st}, Logger: logger})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/Users/x", nil)
	r.Header.Set("Authorization", "Bearer "+e.key)
	r = r.WithContext(context.WithValue(r.Context(), panicKey{}, true))
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	out := decode(w)
	requireSCIMError(t, out, http.StatusInternalServerError, "")
	assert.NotContains(t, w.Body.String(), "boom")
	assert.Contains(t, logs.String(), "panic")
	assert.NotContains(t, logs.String(), e.key)
	assert.NotContains(t, logs.String(), "pa55word-in-body")
}

// errStore fails every Update, to prove internal errors are not leaked.
type errStore struct{ store.Store }

func (s errStore) Update(context.Context, string, func(context.Context, store.Tx) error) error {
	return errors.New("disk on fire at /var/lib/secret")
}

func TestInternalErrorIsGeneric(t *testing.T) {
	e := newEnv(t)
	srv, err := teamscim.New(teamscim.Config{Store: errStore{e.st}})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/Users", strings.NewReader(`{"userName":"a@example.com"}`))
	r.Header.Set("Authorization", "Bearer "+e.key)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	requireSCIMError(t, decode(w), http.StatusInternalServerError, "")
	assert.NotContains(t, w.Body.String(), "disk")
}

func TestDiscoveryEndpoints(t *testing.T) {
	e := newEnv(t)
	spc := e.req(http.MethodGet, "/ServiceProviderConfig", nil)
	require.Equal(t, http.StatusOK, spc.Code)
	assert.Equal(t, true, spc.body["patch"].(map[string]any)["supported"])
	assert.Equal(t, false, spc.body["bulk"].(map[string]any)["supported"])
	assert.EqualValues(t, 100, spc.body["filter"].(map[string]any)["maxResults"])
	assert.Equal(t, "oauthbearertoken", spc.body["authenticationSchemes"].([]any)[0].(map[string]any)["type"])
	// Microsoft's reference collection reads it from a non-standard path.
	assert.Equal(t, http.StatusOK, e.req(http.MethodGet, "/serviceConfiguration", nil).Code)

	rt := e.req(http.MethodGet, "/ResourceTypes", nil)
	require.Equal(t, http.StatusOK, rt.Code)
	assert.Equal(t, "/Users", rt.body["Resources"].([]any)[0].(map[string]any)["endpoint"])
	sc := e.req(http.MethodGet, "/Schemas", nil)
	require.Equal(t, http.StatusOK, sc.Code)
	assert.Contains(t, sc.Body.String(), "User Account")
	assert.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil).Code)
	requireSCIMError(t, e.reqAuth(http.MethodGet, "/ServiceProviderConfig", nil, ""), http.StatusUnauthorized, "")
}

func TestPathsAreLenient(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("path@example.com")
	for _, p := range []string{"/Users/" + id, "/users/" + id, "/USERS/" + id + "/", "/v2/Users/" + id} {
		assert.Equal(t, http.StatusOK, e.req(http.MethodGet, p, nil).Code, p)
	}
	// Microsoft's collection: trailing slash and + for spaces.
	res := e.req(http.MethodGet, "/Users/?filter=userName+eq+%22path%40example.com%22", nil)
	assert.Equal(t, []string{id}, listIDs(t, res))
	// Mounted with a different prefix that keeps /v2.
	mux := http.NewServeMux()
	mux.Handle("/scim/", http.StripPrefix("/scim", e.srv))
	r := httptest.NewRequest(http.MethodGet, "http://h.example/scim/v2/Users/"+id, nil)
	r.Header.Set("Authorization", "Bearer "+e.key)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"location":"http://h.example/scim/v2/Users/`+id+`"`)
}

func TestBaseURLConfig(t *testing.T) {
	e := newEnv(t, func(c *teamscim.Config) { c.BaseURL = "https://api.example.com/scim/v2/" })
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "loc@example.com"})
	require.Equal(t, http.StatusCreated, res.Code)
	assert.Equal(t, "https://api.example.com/scim/v2/Users/"+res.str("id"), res.Header().Get("Location"))
}
