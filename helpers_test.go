package teamscim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// env is a Server on a fresh memstore with one team on the enterprise plan, SSO configured,
// example.com verified, SCIM on and one key. The team has no members: admin is an
// Organization Manager, so that SCIM lists start empty.
type env struct {
	t      testing.TB
	srv    *teamscim.Server
	h      http.Handler
	st     store.Store
	admin  teamscim.Actor
	teamID string
	key    string
	keyID  string
}

func newEnv(t testing.TB, configure ...func(*teamscim.Config)) *env {
	t.Helper()
	return newEnvOn(t, memstore.New(), configure...)
}

// newEnvOn is newEnv on the store st.
func newEnvOn(t testing.TB, st store.Store, configure ...func(*teamscim.Config)) *env {
	t.Helper()
	cfg := teamscim.Config{Store: st}
	for _, c := range configure {
		c(&cfg)
	}
	srv, err := teamscim.New(cfg)
	require.NoError(t, err)
	e := &env{t: t, srv: srv, st: st, admin: teamscim.Actor{MemberID: "org-manager-1", OrgManager: true}}
	// Mounted the way DESIGN.md §1 shows, so prefixes are exercised everywhere.
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	e.h = mux
	e.teamID, e.key, e.keyID = e.newTeam("Acme")
	return e
}

// newTeam creates another ready team and returns its id, key secret and key id.
func (e *env) newTeam(name string) (string, string, string) {
	e.t.Helper()
	ctx := context.Background()
	team, err := e.srv.CreateTeam(ctx, teamscim.TeamOptions{Name: name, Plan: teamscim.PlanEnterprise})
	require.NoError(e.t, err)
	require.NoError(e.t, e.srv.ConfigureSSO(ctx, team.ID, e.admin, "saml"))
	require.NoError(e.t, e.srv.VerifyDomain(ctx, team.ID, e.admin, "example.com"))
	require.NoError(e.t, e.srv.EnableSCIM(ctx, team.ID, e.admin))
	k, err := e.srv.GenerateKey(ctx, team.ID, e.admin, teamscim.KeyOptions{Name: "IdP"})
	require.NoError(e.t, err)
	return team.ID, k.Secret, k.Key.ID
}

// response is a recorded response with its body decoded when it is JSON.
type response struct {
	*httptest.ResponseRecorder
	body map[string]any
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// req sends a request under /scim/v2 with the env's key. body may be a string or any value
// that is encoded as JSON.
func (e *env) req(method, path string, body any) response {
	e.t.Helper()
	return e.reqAuth(method, path, body, "Bearer "+e.key)
}

func (e *env) reqAuth(method, path string, body any, auth string) response {
	e.t.Helper()
	headers := map[string]string{}
	if auth != "" {
		headers["Authorization"] = auth
	}
	return e.send(method, path, body, headers)
}

// reqWith sends a request with the env's key and extra headers.
func (e *env) reqWith(method, path string, body any, headers map[string]string) response {
	e.t.Helper()
	all := map[string]string{"Authorization": "Bearer " + e.key}
	for k, v := range headers {
		all[k] = v
	}
	return e.send(method, path, body, all)
}

// send sends a request under /scim/v2 with headers (and the JSON content type when there is a
// body). body may be a string or any value that is encoded as JSON.
func (e *env) send(method, path string, body any, headers map[string]string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(raw)
	}
	r := httptest.NewRequest(method, "http://scim.example.com/scim/v2"+path, rd)
	if rd != nil {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	res := response{ResponseRecorder: w}
	if w.Body.Len() > 0 {
		_ = json.Unmarshal(w.Body.Bytes(), &res.body)
	}
	return res
}

// user reads a stored user of the env's team.
func (e *env) user(id string) store.User {
	e.t.Helper()
	var u store.User
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		u, err = tx.GetUser(ctx, id)
		return err
	}))
	return u
}

// countUsers counts the stored users of the env's team, deleted ones included.
func (e *env) countUsers() int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		return err
	}))
	return n
}

// createUser provisions a user and returns its id.
func (e *env) createUser(userName string) string {
	e.t.Helper()
	res := e.req(http.MethodPost, "/Users", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]any{"givenName": "Given", "familyName": "Family"},
		"active":   true,
	})
	require.Equal(e.t, http.StatusCreated, res.Code, res.Body.String())
	return res.str("id")
}

// requireSCIMError asserts a SCIM error response with the given status and scimType.
func requireSCIMError(t *testing.T, res response, status int, scimType string) {
	t.Helper()
	require.Equal(t, status, res.Code, res.Body.String())
	require.Equal(t, "application/scim+json", res.Header().Get("Content-Type"))
	require.Equal(t, []any{"urn:ietf:params:scim:api:messages:2.0:Error"}, res.body["schemas"], res.Body.String())
	require.Equal(t, itoa(status), res.body["status"])
	if scimType != "" {
		require.Equal(t, scimType, res.body["scimType"], res.Body.String())
	}
	require.NotEmpty(t, res.body["detail"])
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// listIDs returns the ids of a ListResponse's Resources.
func listIDs(t *testing.T, res response) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	rs, ok := res.body["Resources"].([]any)
	require.True(t, ok, "Resources must be a JSON array: %s", res.Body.String())
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return ids
}

// seatsInUse counts the seats the env's team holds.
func (e *env) seatsInUse() int {
	e.t.Helper()
	var n int
	yes := true
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.CountUsers(ctx, store.UserFilter{Seat: &yes})
		return err
	}))
	return n
}

// idOf returns the ID of the team's user with userName.
func (e *env) idOf(userName string) string {
	e.t.Helper()
	var id string
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		u, err := tx.GetUserByUserName(ctx, userName)
		id = u.ID
		return err
	}))
	return id
}
