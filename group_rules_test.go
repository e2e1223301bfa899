package teamscim_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memworkspace"
	"github.com/teamscim/teamscim/store"
)

// summary renders events as "type target [group]" strings.
func summary(evs []teamscim.Event) []string {
	var out []string
	for _, e := range evs {
		s := string(e.Type) + " " + e.Target
		if e.Group != "" {
			s += " " + e.Group
		}
		out = append(out, s)
	}
	return out
}

// createUserInGroups provisions a member with Postman's groups-to-join on create.
func (e *env) createUserInGroups(userName string, groups ...any) string {
	e.t.Helper()
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": userName,
		"name": map[string]any{"givenName": "G", "familyName": "F"}, "groups": groups})
	require.Equal(e.t, http.StatusCreated, res.Code, res.Body.String())
	return res.str("id")
}

// R41, OQ11: DELETE /Groups deactivates exactly the members whose only route into the team
// was that group (seat freed, workspace hand-over run), and keeps the rest.
func TestDeleteGroupDeactivatesGroupOnlyMembers(t *testing.T) {
	svc := memworkspace.New()
	e, rec := newEnvEvents(t, withWorkspaces(svc))
	eng := e.createGroup("Eng")
	ops := e.createGroup("Ops")
	direct := e.createUser("direct@example.com")
	onlyEng := e.createUserInGroups("only-eng@example.com", "Eng")
	both := e.createUserInGroups("both@example.com", "Eng", map[string]any{"value": ops})
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+eng,
		patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": direct}}})).Code)
	assert.Equal(t, sorted(direct, onlyEng, both), e.members(eng))
	assert.Equal(t, []string{both}, e.members(ops))
	assert.True(t, e.user(onlyEng).ViaGroups)
	assert.False(t, e.user(direct).ViaGroups)
	assert.Equal(t, 3, e.checkSeats())
	summary(rec.take())

	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Groups/"+eng, nil).Code)
	gone := e.user(onlyEng)
	assert.False(t, gone.Active, "reached the team only through Eng: deactivated")
	assert.False(t, gone.Deleted, "deactivated, not hidden: the IdP still sees the user")
	assert.True(t, e.user(direct).Active, "provisioned directly: kept")
	assert.True(t, e.user(both).Active, "also in Ops: kept")
	assert.Equal(t, []string{both}, e.members(ops))
	assert.Equal(t, 2, e.checkSeats(), "the deactivated member's seat is freed")
	assert.Equal(t, 1, svc.SessionsRevoked(e.teamID, onlyEng), "the workspace hand-over of a deactivation ran")
	got := summary(rec.take())
	assert.Contains(t, got, "scim.user.deprovisioned "+onlyEng)
	assert.Contains(t, got, "scim.group.deleted "+eng)
	assert.NotContains(t, got, "scim.user.deprovisioned "+direct)

	// Ops is now the only route of the member who was in both: deleting it deactivates them.
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Groups/"+ops, nil).Code)
	assert.False(t, e.user(both).Active, "its last group is gone")
	assert.True(t, e.user(direct).Active)
	assert.Equal(t, 1, e.checkSeats())
}

// Reactivating a group-only member makes their route their own.
func TestReactivationMakesRouteDirect(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup("Eng")
	u := e.createUserInGroups("x@example.com", "Eng")
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false)).Code)
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(true)).Code)
	assert.False(t, e.user(u).ViaGroups)
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+g,
		patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": u}}})).Code)
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Groups/"+g, nil).Code)
	assert.True(t, e.user(u).Active)
}

// POST /Users with groups: by name or by id; an unknown group fails the create.
func TestCreateUserWithGroups(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup("Eng")
	u := e.createUserInGroups("a@example.com", map[string]any{"display": "Eng"})
	assert.Equal(t, []string{u}, e.members(g))
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "b@example.com", "groups": []any{"No such group"}})
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Contains(t, res.str("detail"), "No such group")
	res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "b@example.com", "groups": "Eng"})
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Equal(t, 1, e.countUsers())
	// Okta's empty list is a direct create.
	res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "c@example.com", "groups": []any{}})
	require.Equal(t, http.StatusCreated, res.Code)
	assert.False(t, e.user(res.str("id")).ViaGroups)
	// The groups attribute never echoes as input: members are read from the group.
	assert.Equal(t, []string{u}, e.members(g))
}

// G10: at most Config.MaxMemberChanges member values in one request, and nothing applied
// beyond.
func TestGroupMemberCap(t *testing.T) {
	e := newEnv(t, func(c *teamscim.Config) { c.MaxMemberChanges = 3 })
	var ids []map[string]any
	for i := range 4 {
		ids = append(ids, map[string]any{"value": e.createUser(fmt.Sprintf("u%d@example.com", i))})
	}
	gid := e.createGroup("Eng")
	for name, res := range map[string]response{
		"PATCH add": e.req(http.MethodPatch, "/Groups/"+gid, patchBody(
			map[string]any{"op": "replace", "path": "displayName", "value": "Renamed"},
			map[string]any{"op": "add", "path": "members", "value": ids[:2]},
			map[string]any{"op": "add", "path": "members", "value": ids[2:]})),
		"PATCH path-less": e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "add", "value": map[string]any{"members": ids}})),
		"PUT":             e.req(http.MethodPut, "/Groups/"+gid, map[string]any{"displayName": "Eng", "members": ids}),
		"POST":            e.req(http.MethodPost, "/Groups", map[string]any{"displayName": "Big", "members": ids}),
	} {
		requireSCIMError(t, res, http.StatusBadRequest, "tooMany")
		assert.Contains(t, res.str("detail"), "3", name)
	}
	assert.Equal(t, []string{}, e.members(gid))
	g, _ := e.group(gid)
	assert.Equal(t, "Eng", g.DisplayName)
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid,
		patchBody(map[string]any{"op": "add", "path": "members", "value": ids[:3]})).Code, "at the cap is fine")
	assert.Len(t, e.members(gid), 3)
}

// G10 at the default cap, and G3: groups larger than a page lose nobody when one is added.
func TestLargeGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,001 users")
	}
	e := newEnv(t)
	ids := seedT(t, e, teamscim.DefaultMaxMemberChanges+2)
	gid := e.createGroup("Big")
	values := func(ids []string) []map[string]any {
		out := make([]map[string]any, len(ids))
		for i, id := range ids {
			out[i] = map[string]any{"value": id}
		}
		return out
	}
	// G10: one over the default cap.
	over := ids[:teamscim.DefaultMaxMemberChanges+1]
	requireSCIMError(t, e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": values(over)})),
		http.StatusBadRequest, "tooMany")
	assert.Empty(t, e.members(gid))
	// G3: 150 members, then 10,001, each + 1.
	for _, n := range []int{150, teamscim.DefaultMaxMemberChanges + 1} {
		require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid,
			patchBody(map[string]any{"op": "replace", "path": "members", "value": values(ids[:min(n, teamscim.DefaultMaxMemberChanges)])})).Code)
		if n > teamscim.DefaultMaxMemberChanges {
			require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid,
				patchBody(map[string]any{"op": "add", "path": "members", "value": values(ids[teamscim.DefaultMaxMemberChanges:n])})).Code)
		}
		require.Len(t, e.members(gid), n)
		require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid,
			patchBody(map[string]any{"op": "add", "path": "members", "value": values(ids[n : n+1])})).Code)
		assert.Equal(t, sorted(ids[:n+1]...), e.members(gid), "%d members + 1", n)
		got := e.req(http.MethodGet, "/Groups/"+gid, nil)
		require.Equal(t, http.StatusOK, got.Code)
		assert.Len(t, got.body["members"], n+1, "GET returns every member, not a page")
	}
}

// seedT adds n active seat-holding users to the env's team through the store, quickly.
func seedT(t *testing.T, e *env, n int) []string {
	t.Helper()
	ids := make([]string, n)
	require.NoError(t, e.st.Update(t.Context(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		for i := range n {
			ids[i] = fmt.Sprintf("seed-%06d", i)
			u := store.User{ID: ids[i], UserName: fmt.Sprintf("seed%06d@example.com", i), Active: true, Managed: true, Seat: true,
				Roles: []string{teamscim.RoleDeveloper}, Version: 1}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	}))
	return ids
}

// G2: renames interleaved with member changes: every delta applies, the name is the last one.
func TestConcurrentRenameAndMemberChanges(t *testing.T) {
	e := newEnv(t)
	const n = 40
	ids := seedT(t, e, n)
	gid := e.createGroup("Eng")
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			res := e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": id}}}))
			assert.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
			if i%4 == 0 { // and take every fourth out again
				res = e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", id)}))
				assert.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
			}
		})
		wg.Go(func() {
			// Okta's rename, sent with every membership update.
			res := e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": fmt.Sprintf("Eng %02d", i)}}))
			assert.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
		})
	}
	wg.Wait()
	var want []string
	for i, id := range ids {
		if i%4 != 0 {
			want = append(want, id)
		}
	}
	assert.Equal(t, sorted(want...), e.members(gid))
	g, _ := e.group(gid)
	assert.True(t, strings.HasPrefix(g.DisplayName, "Eng "), g.DisplayName)
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Final"})).Code)
	g, _ = e.group(gid)
	assert.Equal(t, "Final", g.DisplayName)
}

// G9: DELETE of a group racing member PATCHes: each PATCH is 204 before or 404 after, and no
// membership of the deleted group survives.
func TestDeleteGroupRacingMemberPatches(t *testing.T) {
	e := newEnv(t)
	ids := seedT(t, e, 60)
	gid := e.createGroup("Eng")
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			res := e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": id}}}))
			assert.Contains(t, []int{http.StatusNoContent, http.StatusNotFound}, res.Code, res.Body.String())
		})
		if i == len(ids)/2 {
			wg.Go(func() {
				assert.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Groups/"+gid, nil).Code)
			})
		}
	}
	wg.Wait()
	_, err := e.group(gid)
	assert.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, e.st.View(t.Context(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			groups, err := tx.GroupsOf(ctx, id)
			require.NoError(t, err)
			assert.Empty(t, groups, "orphaned membership of %s", id)
		}
		return nil
	}))
	for _, id := range ids {
		assert.True(t, e.user(id).Active, "group members provisioned directly stay")
	}
}

// R49 and the audit trail of the lifecycle: one event per real change, none for repeats.
func TestLifecycleEvents(t *testing.T) {
	e, rec := newEnvEvents(t)
	u := e.createUser("a@example.com")
	v := e.createUser("b@example.com")
	assert.Equal(t, []string{"scim.user.provisioned " + u, "scim.user.provisioned " + v}, summary(rec.take()))

	g := e.createGroup("Eng", u)
	assert.Equal(t, []string{"scim.group.created " + g, "scim.group.member_added " + u + " " + g}, summary(rec.take()))
	e.req(http.MethodPatch, "/Groups/"+g, patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": u}, {"value": v}}}))
	assert.Equal(t, []string{"scim.group.member_added " + v + " " + g}, summary(rec.take()), "re-adding a member is no event")
	e.req(http.MethodPatch, "/Groups/"+g, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Eng"}))
	assert.Empty(t, summary(rec.take()), "renaming to the same name is no change")
	e.req(http.MethodPatch, "/Groups/"+g, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Core"}))
	assert.Equal(t, []string{"scim.group.updated " + g}, summary(rec.take()))

	e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false))
	assert.Equal(t, []string{"scim.group.member_removed " + u + " " + g, "scim.user.deprovisioned " + u}, summary(rec.take()))
	e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false))
	e.req(http.MethodDelete, "/Users/"+u, nil)
	assert.Empty(t, summary(rec.take()), "deactivating an inactive member, or hiding them, is no event")
	e.req(http.MethodPatch, "/Users/"+v, deactivateOkta(true))
	e.req(http.MethodPut, "/Users/"+v, map[string]any{"userName": "b@example.com", "name": map[string]any{"givenName": "B", "familyName": "F"}})
	assert.Empty(t, summary(rec.take()), "an active member's reactivation or profile push is no event")
	e.postUser("a@example.com")
	assert.Equal(t, []string{"scim.user.provisioned " + u}, summary(rec.take()), "the re-link of a hidden member")
	e.req(http.MethodDelete, "/Groups/"+g, nil)
	assert.Equal(t, []string{"scim.group.member_removed " + v + " " + g, "scim.group.deleted " + g}, summary(rec.take()))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, ev := range rec.events {
		assert.True(t, strings.HasPrefix(ev.Actor, "key:"), "SCIM events name the key: %+v", ev)
	}
}

// Every event carries team, actor (the SCIM key) and time.
func TestEventFields(t *testing.T) {
	e, rec := newEnvEvents(t)
	u := e.createUser("a@example.com")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.events, 1)
	ev := rec.events[0]
	assert.Equal(t, teamscim.EventUserProvisioned, ev.Type)
	assert.Equal(t, e.teamID, ev.TeamID)
	assert.Equal(t, "key:"+e.keyID, ev.Actor)
	assert.Equal(t, u, ev.Target)
	assert.False(t, ev.Time.IsZero())
	assert.Empty(t, ev.Group)
}
