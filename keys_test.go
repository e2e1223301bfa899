package teamscim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// storedKey reads a key of the env's team from the store.
func (e *env) storedKey(id string) store.APIKey {
	e.t.Helper()
	var k store.APIKey
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		k, err = tx.GetKey(ctx, id)
		return err
	}))
	return k
}

// R9: several named keys; the secret is returned once; the list shows name, status,
// creator and dates, never the secret or its digest.
func TestListKeysShowsMetadataOnly(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *teamscim.Config) { c.Now = func() time.Time { return now } })
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	okta, err := e.srv.GenerateKey(ctx, e.teamID, admin, teamscim.KeyOptions{Name: "Okta"})
	require.NoError(t, err)
	entra, err := e.srv.GenerateKey(ctx, e.teamID, admin, teamscim.KeyOptions{Name: "Entra ID", TTL: 24 * time.Hour})
	require.NoError(t, err)
	assert.NotEqual(t, okta.Secret, entra.Secret)
	require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, admin, okta.Key.ID))
	now = now.Add(time.Minute)
	require.Equal(t, http.StatusOK, e.code(entra.Secret))

	keys, err := e.srv.ListKeys(ctx, e.teamID, admin)
	require.NoError(t, err)
	require.Len(t, keys, 3)
	assert.Equal(t, teamscim.Key{ID: e.keyID, Name: "IdP", Status: store.KeyActive, CreatedBy: "org:org-manager-1",
		Created: keys[0].Created, LastUsed: keys[0].LastUsed}, keys[0])
	assert.Equal(t, teamscim.Key{ID: okta.Key.ID, Name: "Okta", Status: store.KeyRevoked, CreatedBy: admin.MemberID,
		Created: now.Add(-time.Minute)}, keys[1])
	assert.Equal(t, teamscim.Key{ID: entra.Key.ID, Name: "Entra ID", Status: store.KeyActive, CreatedBy: admin.MemberID,
		Created: now.Add(-time.Minute), LastUsed: now, Expires: now.Add(-time.Minute).Add(24 * time.Hour)}, keys[2])
	assert.False(t, keys[1].Usable())
	assert.True(t, keys[2].Usable())
	assert.Equal(t, entra.Key.ID, keys[2].ID)
	for _, secret := range []string{e.key, okta.Secret, entra.Secret} {
		assert.NotContains(t, fmt.Sprintf("%+v %#v", keys, keys), secret)
	}

	now = now.Add(24 * time.Hour)
	keys, err = e.srv.ListKeys(ctx, e.teamID, admin)
	require.NoError(t, err)
	assert.True(t, keys[2].Expired)
	assert.False(t, keys[2].Usable())
}

// R5: a revoked, deleted or expired key answers 401 on the very next request.
func TestKeyRevokeActivateDelete(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e, rec := newEnvEvents(t, func(c *teamscim.Config) { c.Now = func() time.Time { return now } })
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	rec.take()

	require.Equal(t, http.StatusOK, e.code(e.key))
	require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, admin, e.keyID))
	res := e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+e.key)
	requireSCIMError(t, res, http.StatusUnauthorized, "")
	assert.Contains(t, res.Header().Get("WWW-Authenticate"), "Bearer")
	require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, admin, e.keyID), "revoking twice is harmless")

	require.NoError(t, e.srv.ActivateKey(ctx, e.teamID, admin, e.keyID))
	assert.Equal(t, http.StatusOK, e.code(e.key), "a re-activated key works on the next request")
	require.NoError(t, e.srv.ActivateKey(ctx, e.teamID, admin, e.keyID), "activating twice is harmless")

	require.NoError(t, e.srv.DeleteKey(ctx, e.teamID, admin, e.keyID))
	requireSCIMError(t, e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+e.key), http.StatusUnauthorized, "")
	keys, err := e.srv.ListKeys(ctx, e.teamID, admin)
	require.NoError(t, err)
	assert.Empty(t, keys)
	assert.ErrorIs(t, e.srv.DeleteKey(ctx, e.teamID, admin, e.keyID), store.ErrNotFound)
	assert.ErrorIs(t, e.srv.ActivateKey(ctx, e.teamID, admin, e.keyID), store.ErrNotFound)
	assert.ErrorIs(t, e.srv.RevokeKey(ctx, e.teamID, admin, e.keyID), store.ErrNotFound)

	// R11: one event per real change, none for the repeats.
	assert.Equal(t, []teamscim.EventType{teamscim.EventKeyRevoked, teamscim.EventKeyActivated, teamscim.EventKeyDeleted}, types(rec.take()))

	// An expired key answers 401 and cannot be re-activated; regenerating replaces it.
	k, err := e.srv.GenerateKey(ctx, e.teamID, admin, teamscim.KeyOptions{Name: "short", TTL: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, e.code(k.Secret))
	now = now.Add(time.Hour)
	requireSCIMError(t, e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+k.Secret), http.StatusUnauthorized, "")
	require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, admin, k.Key.ID))
	assert.ErrorIs(t, e.srv.ActivateKey(ctx, e.teamID, admin, k.Key.ID), teamscim.ErrKeyExpired)
	assert.Equal(t, store.KeyRevoked, e.storedKey(k.Key.ID).Status)

	// Activation has GenerateKey's prerequisites.
	require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, admin))
	fresh, err := e.srv.RegenerateKey(ctx, e.teamID, admin, k.Key.ID, teamscim.RegenerateOptions{})
	assert.ErrorIs(t, err, teamscim.ErrSCIMDisabled)
	assert.Empty(t, fresh.Secret)
	require.NoError(t, e.srv.EnableSCIM(ctx, e.teamID, admin))
	fresh, err = e.srv.RegenerateKey(ctx, e.teamID, admin, k.Key.ID, teamscim.RegenerateOptions{})
	require.NoError(t, err)
	require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, admin, fresh.Key.ID))
	require.NoError(t, e.srv.ConfigureSSO(ctx, e.teamID, admin, "oidc"))
	assert.ErrorIs(t, e.srv.ActivateKey(ctx, e.teamID, admin, fresh.Key.ID), teamscim.ErrMultipleSSO)
	assert.Equal(t, store.KeyRevoked, e.storedKey(fresh.Key.ID).Status)
}

// R10, R11: regenerating keeps the name; without KeepPrevious the old key fails at once,
// with it both work until the old one is revoked.
func TestRegenerateKey(t *testing.T) {
	e, rec := newEnvEvents(t)
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	rec.take()

	kept, err := e.srv.RegenerateKey(ctx, e.teamID, admin, e.keyID, teamscim.RegenerateOptions{KeepPrevious: true})
	require.NoError(t, err)
	assert.Equal(t, "IdP", kept.Key.Name)
	assert.Equal(t, admin.MemberID, kept.Key.CreatedBy, "the regenerating admin owns the new key")
	assert.NotEqual(t, e.keyID, kept.Key.ID)
	assert.Equal(t, http.StatusOK, e.code(e.key))
	assert.Equal(t, http.StatusOK, e.code(kept.Secret))
	evs := rec.take()
	require.Len(t, evs, 1)
	assert.Equal(t, teamscim.Event{Type: teamscim.EventKeyRegenerated, TeamID: e.teamID, Actor: admin.MemberID,
		Target: kept.Key.ID, Time: evs[0].Time}, evs[0])
	require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, admin, e.keyID))
	assert.Equal(t, http.StatusUnauthorized, e.code(e.key))
	assert.Equal(t, http.StatusOK, e.code(kept.Secret))
	rec.take()

	replaced, err := e.srv.RegenerateKey(ctx, e.teamID, admin, kept.Key.ID, teamscim.RegenerateOptions{TTL: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, e.code(kept.Secret), "without KeepPrevious the old key fails at once")
	assert.Equal(t, http.StatusOK, e.code(replaced.Secret))
	assert.False(t, replaced.Key.Expires.IsZero())
	evs = rec.take()
	assert.Equal(t, []teamscim.EventType{teamscim.EventKeyRegenerated, teamscim.EventKeyRevoked}, types(evs))
	assert.Equal(t, replaced.Key.ID, evs[0].Target)
	assert.Equal(t, kept.Key.ID, evs[1].Target)

	// Regenerating a revoked key revokes nothing more.
	_, err = e.srv.RegenerateKey(ctx, e.teamID, admin, e.keyID, teamscim.RegenerateOptions{})
	require.NoError(t, err)
	assert.Equal(t, []teamscim.EventType{teamscim.EventKeyRegenerated}, types(rec.take()))
	_, err = e.srv.RegenerateKey(ctx, e.teamID, admin, "no-such-key", teamscim.RegenerateOptions{})
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Empty(t, rec.take())
}

// R11: GenerateKey emits one created event naming the team, the actor and the key.
func TestGenerateKeyEvent(t *testing.T) {
	e, rec := newEnvEvents(t)
	before := time.Now()
	k, err := e.srv.GenerateKey(t.Context(), e.teamID, e.admin, teamscim.KeyOptions{Name: "Okta"})
	require.NoError(t, err)
	evs := rec.take()
	require.Len(t, evs, 1)
	assert.Equal(t, teamscim.EventKeyCreated, evs[0].Type)
	assert.Equal(t, e.teamID, evs[0].TeamID)
	assert.Equal(t, "org:org-manager-1", evs[0].Actor)
	assert.Equal(t, k.Key.ID, evs[0].Target)
	assert.False(t, evs[0].Time.Before(before.Add(-time.Second)))
	assert.NotContains(t, fmt.Sprintf("%+v", evs), k.Secret)

	// A refused generation emits nothing.
	_, err = e.srv.GenerateKey(t.Context(), e.teamID, teamscim.Actor{MemberID: "nobody"}, teamscim.KeyOptions{Name: "x"})
	require.ErrorIs(t, err, teamscim.ErrNotAdmin)
	assert.Empty(t, rec.take())
}

// R6: a key whose creator is no longer an active admin of the team answers 403, whatever
// removed them (demotion, SCIM deactivation or deletion, removal), and works again once they
// are an admin again; keys of an Organization Manager are not tied to a member.
func TestKeyOfDepartedAdminAnswers403(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	successor := e.addAdmin("successor@example.com")
	k, err := e.srv.GenerateKey(ctx, e.teamID, admin, teamscim.KeyOptions{Name: "Okta"})
	require.NoError(t, err)
	as := func(method, path string, body any) response { return e.reqAuth(method, path, body, "Bearer "+k.Secret) }
	requireGone := func(why string) {
		t.Helper()
		res := as(http.MethodGet, "/Users", nil)
		requireSCIMError(t, res, http.StatusForbidden, "")
		assert.Contains(t, res.str("detail"), "generated by an admin who is no longer on the team", why)
		requireSCIMError(t, as(http.MethodPost, "/Users", map[string]any{"userName": "new@example.com"}), http.StatusForbidden, "")
		assert.Equal(t, http.StatusOK, e.code(e.key), "the Organization Manager's key keeps working (%s)", why)
	}
	require.Equal(t, http.StatusOK, as(http.MethodGet, "/Users", nil).Code)

	e.setUser(admin.MemberID, func(u *store.User) { u.Roles = []string{teamscim.RoleDeveloper} })
	requireGone("demoted")
	e.setUser(admin.MemberID, func(u *store.User) { u.Roles = []string{teamscim.RoleSuperAdmin} })
	require.Equal(t, http.StatusOK, as(http.MethodGet, "/Users", nil).Code, "promoted again: no cache")

	// The identity provider deactivates the admin (with another key).
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "admin@example.com"})
	require.Equal(t, http.StatusCreated, res.Code, "adopted")
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+admin.MemberID, deactivateOkta(false)).Code)
	requireGone("deactivated over SCIM")
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+admin.MemberID, deactivateOkta(true)).Code)
	require.Equal(t, http.StatusOK, as(http.MethodGet, "/Users", nil).Code)
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+admin.MemberID, nil).Code)
	requireGone("hidden by DELETE")

	keys, err := e.srv.ListKeys(ctx, e.teamID, successor)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.True(t, keys[1].CreatorGone)
	assert.False(t, keys[1].Usable())
	assert.False(t, keys[0].CreatorGone)

	require.NoError(t, e.srv.RemoveMember(ctx, e.teamID, successor, admin.MemberID, successor.MemberID))
	requireGone("removed from the team")

	// Another admin regenerates it and owns the new key.
	next, err := e.srv.RegenerateKey(ctx, e.teamID, successor, k.Key.ID, teamscim.RegenerateOptions{})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, e.code(next.Secret))
	assert.Equal(t, http.StatusUnauthorized, e.code(k.Secret), "the replaced key is revoked: 401 before 403")
}

// R8: SCIM turned off answers 403 for every key, before any creator check.
func TestSCIMOffAnswers403ForEveryKey(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	k, err := e.srv.GenerateKey(ctx, e.teamID, admin, teamscim.KeyOptions{Name: "k"})
	require.NoError(t, err)
	require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, admin))
	for _, secret := range []string{e.key, k.Secret} {
		res := e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+secret)
		requireSCIMError(t, res, http.StatusForbidden, "")
		assert.Contains(t, res.str("detail"), "turned off")
	}
}

// countingStore counts Updates and can make them fail.
type countingStore struct {
	*memstore.Store
	updates atomic.Int64
	fail    atomic.Bool
}

func (s *countingStore) Update(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	s.updates.Add(1)
	if s.fail.Load() {
		return errors.New("database unavailable")
	}
	return s.Store.Update(ctx, teamID, fn)
}

// newCountingEnv is an env on a countingStore with a settable clock.
func newCountingEnv(t *testing.T, now *atomic.Pointer[time.Time], logs *bytes.Buffer) (*env, *countingStore) {
	t.Helper()
	cs := &countingStore{Store: memstore.New()}
	e := newEnv(t, func(c *teamscim.Config) {
		c.Store = cs
		c.Now = func() time.Time { return *now.Load() }
		if logs != nil {
			c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	e.st = cs.Store
	return e, cs
}

// LastUsed is recorded at most once a minute per key, and a failure to record it never
// fails the request.
func TestKeyLastUsed(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now.Store(&t0)
	var logs bytes.Buffer
	e, cs := newCountingEnv(t, &now, &logs)
	assert.True(t, e.storedKey(e.keyID).LastUsed.IsZero())

	n := cs.updates.Load()
	require.Equal(t, http.StatusOK, e.code(e.key))
	assert.Equal(t, t0, e.storedKey(e.keyID).LastUsed)
	assert.Equal(t, n+1, cs.updates.Load(), "the first use is one write")
	for range 20 {
		require.Equal(t, http.StatusOK, e.code(e.key))
	}
	assert.Equal(t, n+1, cs.updates.Load(), "reads within a minute write nothing")

	t1 := t0.Add(59 * time.Second)
	now.Store(&t1)
	require.Equal(t, http.StatusOK, e.code(e.key))
	assert.Equal(t, n+1, cs.updates.Load())
	t2 := t0.Add(time.Minute)
	now.Store(&t2)
	require.Equal(t, http.StatusOK, e.code(e.key))
	assert.Equal(t, t2, e.storedKey(e.keyID).LastUsed)
	assert.Equal(t, n+2, cs.updates.Load())

	// The write fails: the request still succeeds, and the failure is logged.
	t3 := t2.Add(time.Hour)
	now.Store(&t3)
	cs.fail.Store(true)
	require.Equal(t, http.StatusOK, e.code(e.key))
	cs.fail.Store(false)
	assert.Equal(t, t2, e.storedKey(e.keyID).LastUsed)
	assert.Contains(t, logs.String(), "could not record the use of a SCIM API key")
	assert.Contains(t, logs.String(), "database unavailable")
	assert.NotContains(t, logs.String(), e.key)

	// A second Server sharing the store sees the recorded use and does not write again.
	second, err := teamscim.New(teamscim.Config{Store: cs, Now: func() time.Time { return *now.Load() }})
	require.NoError(t, err)
	t4 := t3.Add(time.Minute)
	now.Store(&t4)
	require.Equal(t, http.StatusOK, e.code(e.key))
	n = cs.updates.Load()
	r := httptest.NewRequest(http.MethodGet, "/Users", nil)
	r.Header.Set("Authorization", "Bearer "+e.key)
	w := httptest.NewRecorder()
	second.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, n, cs.updates.Load())
}

// Recording a key's use never undoes a concurrent revocation: the write re-reads the key in
// its own transaction.
func TestLastUsedWriteNeverUndoesRevocation(t *testing.T) {
	var minutes atomic.Int64
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Every reading of the clock is a minute later, so that every request records its use.
	cs := &countingStore{Store: memstore.New()}
	e := newEnv(t, func(c *teamscim.Config) {
		c.Store = cs
		c.Now = func() time.Time { return t0.Add(time.Duration(minutes.Add(1)) * time.Minute) }
	})
	e.st = cs.Store
	before := cs.updates.Load()
	for range 3 {
		require.Equal(t, http.StatusOK, e.code(e.key))
	}
	assert.Equal(t, int64(3), cs.updates.Load()-before, "each request a minute later records its use")
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 20 {
				assert.NoError(t, e.srv.RevokeKey(context.Background(), e.teamID, e.admin, e.keyID))
				return
			}
			code := e.code(e.key)
			assert.Contains(t, []int{http.StatusOK, http.StatusUnauthorized}, code)
		}()
	}
	wg.Wait()
	assert.Equal(t, store.KeyRevoked, e.storedKey(e.keyID).Status)
	assert.Equal(t, http.StatusUnauthorized, e.code(e.key))
}

// A key written to the store by the host with no recorded creator is not tied to a member.
func TestKeyWithoutCreatorIsNotTiedToAMember(t *testing.T) {
	e := newEnv(t)
	secret := "host-provisioned-secret-0123456789"
	require.NoError(t, e.st.Update(t.Context(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateKey(ctx, store.APIKey{ID: "host-key", TeamID: e.teamID, Name: "migrated",
			Digest: sha256.Sum256([]byte(secret)), Status: store.KeyActive})
	}))
	assert.Equal(t, http.StatusOK, e.code(secret))
	keys, err := e.srv.ListKeys(t.Context(), e.teamID, e.admin)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	for _, k := range keys {
		assert.False(t, k.CreatorGone, k.ID)
		assert.True(t, k.Usable(), k.ID)
	}
}

// BenchmarkAuthenticate measures a request's authentication with a key generated by a member
// (whose admin role is checked on every request) and by an Organization Manager (no check).
func BenchmarkAuthenticate(b *testing.B) {
	e := newEnv(b)
	u, err := e.srv.AddMember(b.Context(), e.teamID, e.admin, teamscim.Member{Email: "admin@example.com", Roles: []string{teamscim.RoleAdmin}})
	require.NoError(b, err)
	k, err := e.srv.GenerateKey(b.Context(), e.teamID, teamscim.Actor{MemberID: u.ID}, teamscim.KeyOptions{Name: "member"})
	require.NoError(b, err)
	for name, secret := range map[string]string{"member key": k.Secret, "org manager key": e.key} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if res := e.reqAuth(http.MethodGet, "/ServiceProviderConfig", nil, "Bearer "+secret); res.Code != http.StatusOK {
					b.Fatal(res.Code)
				}
			}
		})
	}
}
