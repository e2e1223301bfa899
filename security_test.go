package teamscim_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/store"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// dumpTeam renders everything the store holds for a team, through the store's own API.
func dumpTeam(t *testing.T, st store.Store, teamID string) string {
	t.Helper()
	var out strings.Builder
	require.NoError(t, st.View(context.Background(), teamID, func(ctx context.Context, tx store.Tx) error {
		tm, err := tx.Team(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(&out, "%+v\n", tm)
		keys, err := tx.ListKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			fmt.Fprintf(&out, "%+v %s %x\n", k, k.Digest[:], k.Digest[:])
		}
		users, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, u := range users.Items {
			fmt.Fprintf(&out, "%+v\n", u)
		}
		groups, err := tx.ListGroups(ctx, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, g := range groups.Items {
			fmt.Fprintf(&out, "%+v\n", g)
		}
		jobs, err := tx.ListJobs(ctx, "")
		if err != nil {
			return err
		}
		for _, j := range jobs {
			fmt.Fprintf(&out, "%+v %s\n", j, j.Data)
		}
		ov, err := tx.ListOverages(ctx, store.OverageFilter{}, store.ListOptions{})
		if err != nil {
			return err
		}
		fmt.Fprintf(&out, "%+v\n", ov)
		return nil
	}))
	return out.String()
}

// No secret reaches the store, the audit trail or the log at Debug level, whatever the
// key's life and however it is misused.
func TestSecretsAppearNowhere(t *testing.T) {
	var logs syncBuffer
	rec := &recorder{}
	e := newEnv(t, func(c *teamscim.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Events = rec
	})
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	k, err := e.srv.GenerateKey(ctx, e.teamID, admin, teamscim.KeyOptions{Name: "Okta"})
	require.NoError(t, err)
	fixed, err := e.srv.GenerateKey(ctx, e.teamID, admin, teamscim.KeyOptions{Name: "fixed", Secret: "caller-chosen-secret-0123456789"})
	require.NoError(t, err)
	rotated, err := e.srv.RegenerateKey(ctx, e.teamID, admin, k.Key.ID, teamscim.RegenerateOptions{KeepPrevious: true})
	require.NoError(t, err)
	secrets := []string{e.key, k.Secret, fixed.Secret, rotated.Secret}

	// A provisioning session with every secret, then misuse of each.
	for _, secret := range secrets {
		as := func(method, path string, body any) response { return e.reqAuth(method, path, body, "Bearer "+secret) }
		res := as(http.MethodPost, "/Users", map[string]any{"userName": "u" + secret[len(secret)-4:] + "@example.com", "password": secret})
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		id := res.str("id")
		require.Equal(t, http.StatusOK, as(http.MethodPatch, "/Users/"+id, deactivateOkta(false)).Code)
		as(http.MethodGet, "/Users?filter="+strings.ReplaceAll(`userName eq "`+secret+`"`, " ", "%20"), nil)
		as(http.MethodGet, "/Nope", nil)
		as(http.MethodPost, "/Users", `{"userName":`)
		e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+secret+"x")
		e.reqAuth(http.MethodGet, "/Users", nil, secret+" "+secret)
	}
	require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, admin, k.Key.ID))
	e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+k.Secret)
	require.NoError(t, e.srv.DeleteKey(ctx, e.teamID, admin, fixed.Key.ID))
	e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+fixed.Secret)
	keys, err := e.srv.ListKeys(ctx, e.teamID, admin)
	require.NoError(t, err)

	dump := dumpTeam(t, e.st, e.teamID)
	events := fmt.Sprintf("%+v %#v", rec.take(), keys)
	log := logs.String()
	require.NotEmpty(t, log, "the Debug log saw the requests")
	require.Contains(t, events, string(teamscim.EventKeyCreated))
	for _, secret := range secrets {
		for _, form := range []string{secret, strings.TrimPrefix(secret, "tscim_"), hex.EncodeToString([]byte(secret)),
			base64.StdEncoding.EncodeToString([]byte(secret))} {
			assert.NotContains(t, dump, form, "the store holds a secret")
			assert.NotContains(t, events, form, "an event or the key list holds a secret")
			assert.NotContains(t, log, form, "the log holds a secret")
		}
	}
}

// A key change made through one Server takes effect on the next request to another Server
// sharing the store: nothing is cached.
func TestKeyChangesSeenBySecondServer(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	second, err := teamscim.New(teamscim.Config{Store: e.st})
	require.NoError(t, err)
	call := func(secret string) int {
		r := httptest.NewRequest(http.MethodGet, "/Users", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		w := httptest.NewRecorder()
		second.ServeHTTP(w, r)
		return w.Code
	}
	admin := e.addAdmin("admin@example.com")
	k, err := e.srv.GenerateKey(ctx, e.teamID, admin, teamscim.KeyOptions{Name: "k"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, call(k.Secret))

	require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, admin, k.Key.ID))
	assert.Equal(t, http.StatusUnauthorized, call(k.Secret), "revoked")
	require.NoError(t, e.srv.ActivateKey(ctx, e.teamID, admin, k.Key.ID))
	assert.Equal(t, http.StatusOK, call(k.Secret), "re-activated")

	e.setUser(admin.MemberID, func(u *store.User) { u.Roles = []string{teamscim.RoleDeveloper} })
	assert.Equal(t, http.StatusForbidden, call(k.Secret), "creator demoted")
	e.setUser(admin.MemberID, func(u *store.User) { u.Roles = []string{teamscim.RoleAdmin} })

	require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, admin))
	assert.Equal(t, http.StatusForbidden, call(k.Secret), "SCIM off")
	require.NoError(t, e.srv.EnableSCIM(ctx, e.teamID, admin))
	assert.Equal(t, http.StatusOK, call(k.Secret))

	require.NoError(t, e.srv.DeleteKey(ctx, e.teamID, admin, k.Key.ID))
	assert.Equal(t, http.StatusUnauthorized, call(k.Secret), "deleted")
}

// R7: a key of team A never reaches team B: every verb on B's users and groups answers 404
// and changes nothing, lists and filters return none of them, and A's admins cannot touch B.
func TestKeysNeverCrossTeams(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	userB := e.createUser("bob@example.com")
	res := e.req(http.MethodPost, "/Groups", map[string]any{"displayName": "B team", "members": []any{map[string]any{"value": userB}}})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	groupB := res.str("id")
	before := dumpTeam(t, e.st, e.teamID)

	_, keyA, keyIDA := e.newTeam("A")
	userA := func() string {
		res := e.reqAuth(http.MethodPost, "/Users", map[string]any{"userName": "ann@example.com"}, "Bearer "+keyA)
		require.Equal(t, http.StatusCreated, res.Code)
		return res.str("id")
	}()
	as := func(method, path string, body any) response { return e.reqAuth(method, path, body, "Bearer "+keyA) }
	patch := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}}}
	groupPatch := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": userA}}}}}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/Users/" + userB, nil},
		{http.MethodPut, "/Users/" + userB, map[string]any{"userName": "bob@example.com"}},
		{http.MethodPatch, "/Users/" + userB, patch},
		{http.MethodDelete, "/Users/" + userB, nil},
		{http.MethodGet, "/Groups/" + groupB, nil},
		{http.MethodPut, "/Groups/" + groupB, map[string]any{"displayName": "Taken over"}},
		{http.MethodPatch, "/Groups/" + groupB, groupPatch},
		{http.MethodDelete, "/Groups/" + groupB, nil},
	} {
		requireSCIMError(t, as(c.method, c.path, c.body), http.StatusNotFound, "")
	}
	// A's group cannot take B's user as a member either.
	res = as(http.MethodPost, "/Groups", map[string]any{"displayName": "Mixed", "members": []any{map[string]any{"value": userB}}})
	assert.Equal(t, http.StatusBadRequest, res.Code, res.Body.String())
	for _, path := range []string{"/Users", "/Groups", filterPath(`id eq "` + userB + `"`), filterPath(`userName eq "bob@example.com"`),
		"/Groups?filter=" + strings.ReplaceAll(`displayName eq "B team"`, " ", "%20")} {
		ids := listIDs(t, as(http.MethodGet, path, nil))
		assert.NotContains(t, ids, userB, path)
		assert.NotContains(t, ids, groupB, path)
	}
	res = as(http.MethodPost, "/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": `userName eq "bob@example.com"`})
	assert.Empty(t, listIDs(t, res))
	assert.Equal(t, before, dumpTeam(t, e.st, e.teamID), "team B changed")

	// Team-admin calls are scoped too: a key or member of one team is unknown to another.
	assert.ErrorIs(t, e.srv.RevokeKey(ctx, e.teamID, e.admin, keyIDA), store.ErrNotFound)
	assert.ErrorIs(t, e.srv.DeleteKey(ctx, e.teamID, e.admin, keyIDA), store.ErrNotFound)
	_, err := e.srv.RegenerateKey(ctx, e.teamID, e.admin, keyIDA, teamscim.RegenerateOptions{})
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, e.admin, userA, "x"), store.ErrNotFound)
	assert.Equal(t, http.StatusOK, e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+keyA).Code)
}
