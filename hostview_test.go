package teamscim_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/pgtest"
	"github.com/teamscim/teamscim/memaccounts"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/memworkspace"
	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
)

// What the host sees of the changes teamscim makes: its account service's view of each
// account after every step (email, teams), and the team-admin calls that complete the admin
// API (DeleteTeam, AddMember, SetMemberRoles, ConfigureSSO). The flows that depend on the
// store run on memstore and on pgstore (with TEAMSCIM_PG_DSN set).

// onEveryStore runs fn once per store kind, in a subtest named after it. open returns two
// handles on one new, empty database: two Servers on them are two replicas of a host.
func onEveryStore(t *testing.T, fn func(t *testing.T, open func(t *testing.T) (store.Store, store.Store))) {
	t.Run("memstore", func(t *testing.T) {
		fn(t, func(*testing.T) (store.Store, store.Store) { s := memstore.New(); return s, s })
	})
	t.Run("pgstore", func(t *testing.T) {
		fn(t, func(t *testing.T) (store.Store, store.Store) {
			schema := pgtest.Schema(t)
			require.NoError(t, pgstore.Migrate(t.Context(), pgtest.Pool(t, schema)))
			return pgstore.New(pgtest.Pool(t, schema)), pgstore.New(pgtest.Pool(t, schema))
		})
	})
}

// hostView is the account service's view: each account's email and the names of its teams.
func hostView(accts *memaccounts.Service, names map[string]string) map[string][]string {
	out := map[string][]string{}
	for _, a := range accts.Accounts() {
		teams := []string{}
		for _, id := range a.Teams {
			if n, ok := names[id]; ok {
				id = n
			}
			teams = append(teams, id)
		}
		out[a.Email] = teams
	}
	return out
}

// storedUser reads a user of team teamID from db.
func storedUser(t *testing.T, db store.Store, teamID, id string) store.User {
	t.Helper()
	var u store.User
	require.NoError(t, db.View(t.Context(), teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		u, err = tx.GetUser(ctx, id)
		return err
	}))
	return u
}

// pendingJobs counts the jobs of team teamID still waiting for a call to succeed.
func pendingJobs(t *testing.T, db store.Store, teamID string) int {
	t.Helper()
	var n int
	require.NoError(t, db.View(t.Context(), teamID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "")
		n = len(jobs)
		return err
	}))
	return n
}

// decision is CanSignIn's answer, as a string.
func (e *env) signIn(email string) string {
	e.t.Helper()
	d, err := e.srv.CanSignIn(context.Background(), e.teamID, email)
	require.NoError(e.t, err)
	return d.String()
}

func activeOp(active bool) map[string]any {
	return patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": active}})
}

// The host's account service hears every change to a member and its view follows: a create
// (new account, an account on a verified domain, an invitation and its acceptance), a
// deactivation and a reactivation, an email change by PATCH and by PUT, a DELETE and the
// re-link, a JIT sign-in, AddMember and RemoveMember, and the deletion of a member's only
// group. Each change emits its audit event, and no call is left pending.
func TestAccountMirrorFlow(t *testing.T) {
	onEveryStore(t, func(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
		db, _ := open(t)
		accts := memaccounts.New()
		rec := &recorder{}
		e := newEnvOn(t, db, withAccounts(accts), func(c *teamscim.Config) { c.Events = rec })
		ctx := t.Context()
		require.NoError(t, e.srv.VerifyDomain(ctx, e.teamID, e.admin, "new.example"))
		names := map[string]string{e.teamID: "Acme"}
		accts.Add(teamscim.Account{Email: "known@example.com"})
		accts.Add(teamscim.Account{Email: "guest@partner.test"})
		rec.take()
		step := func(name string, events []teamscim.EventType, view map[string][]string) {
			t.Helper()
			assert.Equal(t, events, types(rec.take()), "%s: events", name)
			assert.Equal(t, view, hostView(accts, names), "%s: the host's accounts", name)
			assert.Equal(t, 0, pendingJobs(t, db, e.teamID), "%s: account calls pending", name)
		}
		view := map[string][]string{"known@example.com": {}, "guest@partner.test": {}}

		res := e.provision("ann@example.com")
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		ann := res.str("id")
		view["ann@example.com"] = []string{"Acme"}
		step("create, no account", []teamscim.EventType{teamscim.EventUserProvisioned}, view)

		require.Equal(t, http.StatusCreated, e.provision("known@example.com").Code)
		view["known@example.com"] = []string{"Acme"}
		step("create, an account on a verified domain", []teamscim.EventType{teamscim.EventUserProvisioned}, view)

		res = e.provision("guest@partner.test")
		require.Equal(t, http.StatusCreated, res.Code)
		guest := res.str("id")
		step("create, an invitation", []teamscim.EventType{teamscim.EventUserProvisioned, teamscim.EventInviteSent}, view)
		_, err := e.srv.AcceptInvite(ctx, e.teamID, "guest@partner.test")
		require.NoError(t, err)
		view["guest@partner.test"] = []string{"Acme"}
		step("invitation accepted", []teamscim.EventType{teamscim.EventInviteAccepted}, view)

		require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ann, activeOp(false)).Code)
		view["ann@example.com"] = []string{}
		step("deactivation", []teamscim.EventType{teamscim.EventUserDeprovisioned}, view)
		assert.Equal(t, "refused: deactivated", e.signIn("ann@example.com"))
		require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ann, activeOp(true)).Code)
		view["ann@example.com"] = []string{"Acme"}
		step("reactivation", []teamscim.EventType{teamscim.EventUserReactivated}, view)

		res = e.req(http.MethodPatch, "/Users/"+ann, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "ann@new.example"}))
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		delete(view, "ann@example.com")
		view["ann@new.example"] = []string{"Acme"}
		step("email change by PATCH", []teamscim.EventType{teamscim.EventMemberEmailChanged}, view)
		assert.Equal(t, "allowed", e.signIn("ann@new.example"))
		assert.Equal(t, "refused: not_member", e.signIn("ann@example.com"))
		last := accts.Calls()[len(accts.Calls())-1]
		assert.Equal(t, teamscim.AccountRequest{TeamID: e.teamID, MemberID: ann, Email: "ann@new.example",
			PreviousEmail: "ann@example.com", GivenName: "Given", FamilyName: "Family", Attempt: 1}, last.Req)

		require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+ann, nil).Code)
		view["ann@new.example"] = []string{}
		step("DELETE", []teamscim.EventType{teamscim.EventUserDeprovisioned}, view)
		res = e.provision("ann@new.example")
		require.Equal(t, http.StatusCreated, res.Code)
		assert.Equal(t, ann, res.str("id"), "the same member is re-linked")
		view["ann@new.example"] = []string{"Acme"}
		step("re-link", []teamscim.EventType{teamscim.EventUserProvisioned}, view)

		known := storedUser(t, db, e.teamID, idByUserName(t, e, "known@example.com"))
		res = e.req(http.MethodPut, "/Users/"+known.ID, map[string]any{"userName": "known@new.example",
			"name": map[string]any{"givenName": "Known", "familyName": "Person"}})
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		delete(view, "known@example.com")
		view["known@new.example"] = []string{"Acme"}
		step("email change by PUT", []teamscim.EventType{teamscim.EventMemberEmailChanged}, view)
		res = e.req(http.MethodPatch, "/Users/"+known.ID, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "Known@New.example"}))
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		step("a change of case is not an email change", []teamscim.EventType{}, view)

		require.NoError(t, e.srv.SetJIT(ctx, e.teamID, e.admin, true))
		_, err = e.srv.SignInWithSSO(ctx, e.teamID, teamscim.SSOUser{Email: "jit@example.com", GivenName: "Jit"})
		require.NoError(t, err)
		view["jit@example.com"] = []string{"Acme"}
		step("JIT sign-in", []teamscim.EventType{teamscim.EventMemberJoinedJIT}, view)

		boss, err := e.srv.AddMember(ctx, e.teamID, e.admin, teamscim.Member{Email: "boss@example.com", Roles: []string{teamscim.RoleSuperAdmin}})
		require.NoError(t, err)
		added, err := e.srv.AddMember(ctx, e.teamID, e.admin, teamscim.Member{Email: "added@partner.test"})
		require.NoError(t, err)
		view["boss@example.com"], view["added@partner.test"] = []string{"Acme"}, []string{"Acme"}
		step("AddMember", []teamscim.EventType{teamscim.EventMemberAddedToTeam, teamscim.EventMemberAddedToTeam}, view)
		require.NoError(t, e.srv.RemoveMember(ctx, e.teamID, e.admin, added.ID, boss.ID))
		view["added@partner.test"] = []string{}
		step("RemoveMember", []teamscim.EventType{teamscim.EventMemberRemovedFromTeam}, view)

		gid := e.createGroup("Eng")
		res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "grouped@example.com", "groups": []any{"Eng"}})
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		grouped := res.str("id")
		view["grouped@example.com"] = []string{"Acme"}
		step("create into a group", []teamscim.EventType{teamscim.EventGroupCreated, teamscim.EventUserProvisioned, teamscim.EventMemberAdded}, view)
		require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Groups/"+gid, nil).Code)
		view["grouped@example.com"] = []string{}
		step("deleting the member's only group", []teamscim.EventType{teamscim.EventMemberRemoved, teamscim.EventUserDeprovisioned, teamscim.EventGroupDeleted}, view)
		assert.False(t, storedUser(t, db, e.teamID, grouped).Active)
		assert.False(t, storedUser(t, db, e.teamID, guest).Pending)

		// The host deletes the team, and takes it off its accounts itself.
		require.NoError(t, e.srv.DeleteTeam(ctx, e.teamID, e.admin))
		accts.RemoveTeam(e.teamID)
		for email := range view {
			view[email] = []string{}
		}
		assert.Equal(t, []teamscim.EventType{teamscim.EventTeamDeleted}, types(rec.take()))
		assert.Equal(t, view, hostView(accts, names))
	})
}

// idByUserName returns the ID of the team's member with userName, found with a SCIM filter.
func idByUserName(t *testing.T, e *env, userName string) string {
	t.Helper()
	ids := listIDs(t, e.req(http.MethodGet, filterPath(`userName eq "`+userName+`"`), nil))
	require.Len(t, ids, 1)
	return ids[0]
}

// The rule that refuses to provision a member of another team (409) works on the host's
// fresh data: after an email change the person is found under the new email, and the old one
// is free; after a deactivation they are in no team, and another team may invite them.
func TestOtherTeamRuleFollowsEmailChange(t *testing.T) {
	onEveryStore(t, func(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
		db, _ := open(t)
		accts := memaccounts.New()
		a := newEnvOn(t, db, withAccounts(accts))
		ctx := t.Context()
		require.NoError(t, a.srv.VerifyDomain(ctx, a.teamID, a.admin, "new.example"))
		// Team B, on the same Server, has verified example.com only.
		b := *a
		b.teamID, b.key, b.keyID = a.newTeam("Bravo")

		res := a.provision("ann@example.com")
		require.Equal(t, http.StatusCreated, res.Code)
		ann := res.str("id")
		res = a.req(http.MethodPatch, "/Users/"+ann, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "ann@new.example"}))
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		assert.Equal(t, "allowed", a.signIn("ann@new.example"))
		assert.Equal(t, "refused: not_member", a.signIn("ann@example.com"))

		res = b.provision("ann@new.example")
		requireSCIMError(t, res, http.StatusConflict, "uniqueness")
		assert.Contains(t, res.str("detail"), "member of another team")
		res = b.provision("ann@example.com")
		require.Equal(t, http.StatusCreated, res.Code, "the old email has no account any more: %s", res.Body.String())
		acct, ok := accts.Account("ann@example.com")
		require.True(t, ok)
		assert.Equal(t, []string{b.teamID}, acct.Teams, "a new account for the old email")

		require.Equal(t, http.StatusOK, a.req(http.MethodPatch, "/Users/"+ann, activeOp(false)).Code)
		res = b.provision("ann@new.example")
		require.Equal(t, http.StatusCreated, res.Code, "deactivated in team A, the person is in no team: %s", res.Body.String())
		assert.True(t, storedUser(t, db, b.teamID, res.str("id")).Pending, "an unverified domain: invited")
	})
}

// An account call that fails is retried until it succeeds, in the order of the changes: a
// failed leave holds back the join that follows it, and the host ends on the team.
func TestAccountCallsRetriedInOrder(t *testing.T) {
	accts := memaccounts.New()
	e := newEnv(t, withAccounts(accts))
	ann := e.createUser("ann@example.com")
	down := errors.New("account service down")
	accts.FailWith(func(method string, _ teamscim.AccountRequest) error {
		if method == "RemoveFromTeam" {
			return down
		}
		return nil
	})
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ann, activeOp(false)).Code, "the change commits")
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ann, activeOp(true)).Code)
	assert.Len(t, e.jobs(), 2, "the leave failed, and holds back the join")
	a, _ := accts.Account("ann@example.com")
	assert.Equal(t, []string{e.teamID}, a.Teams)

	accts.FailWith(nil)
	pending, err := e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, pending)
	assert.Equal(t, []string{"CreateAccount", "RemoveFromTeam", "AddToTeam"}, methods(accts.Calls()))
	a, _ = accts.Account("ann@example.com")
	assert.Equal(t, []string{e.teamID}, a.Teams)
}

// A member created inactive is not on the team: a new account is made and taken off the team
// again; an account on a verified domain is not asked to join.
func TestInactiveCreateStaysOffTheTeam(t *testing.T) {
	accts := memaccounts.New()
	accts.Add(teamscim.Account{Email: "known@example.com"})
	e := newEnv(t, withAccounts(accts))
	for _, name := range []string{"new@example.com", "known@example.com"} {
		res := e.req(http.MethodPost, "/Users", map[string]any{"userName": name, "active": false})
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	}
	assert.Equal(t, []string{"CreateAccount", "RemoveFromTeam"}, methods(accts.Calls()))
	assert.Equal(t, map[string][]string{"new@example.com": {}, "known@example.com": {}}, hostView(accts, nil))
}

// Without an account service an email change is still an audit event; a change of case only
// is not.
func TestEmailChangeEvent(t *testing.T) {
	e, rec := newEnvEvents(t)
	require.NoError(t, e.srv.VerifyDomain(t.Context(), e.teamID, e.admin, "new.example"))
	id := e.createUser("ann@example.com")
	rec.take()
	for _, name := range []string{"ANN@example.com", "ann@new.example"} {
		res := e.req(http.MethodPut, "/Users/"+id, map[string]any{"userName": name})
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	}
	evs := rec.take()
	require.Len(t, evs, 1)
	assert.Equal(t, teamscim.Event{Type: teamscim.EventMemberEmailChanged, TeamID: e.teamID, Actor: "key:" + e.keyID,
		Target: id, Time: evs[0].Time}, evs[0])
	assert.Equal(t, "ann@new.example", e.user(id).UserName)
}

// DeleteTeam removes the team and everything it owns: its keys answer 401 on the very next
// request on both replicas, its pending jobs are dropped, another team is untouched. Only a
// Super Admin of the team or an Organization Manager may call it; a refusal changes nothing.
func TestDeleteTeam(t *testing.T) {
	onEveryStore(t, func(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
		db1, db2 := open(t)
		down := memworkspace.New()
		down.FailWith(func(teamscim.WorkspacePlan, int) error { return errors.New("workspace service down") })
		rec := &recorder{}
		e := newEnvOn(t, db1, withWorkspaces(down), func(c *teamscim.Config) { c.Events = rec })
		second, err := teamscim.New(teamscim.Config{Store: db2, Workspaces: down})
		require.NoError(t, err)
		replica := *e
		replica.srv = second
		mux := http.NewServeMux()
		mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", second))
		replica.h = mux
		other := *e
		other.teamID, other.key, other.keyID = e.newTeam("Other")
		ctx := t.Context()

		ann := e.createUser("ann@example.com")
		e.createGroup("Eng", ann)
		require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ann, activeOp(false)).Code)
		require.Equal(t, 1, pendingJobs(t, db1, e.teamID), "a hand-over waits for the workspace service")
		otherUser := other.createUser("bob@example.com")
		super, err := e.srv.AddMember(ctx, e.teamID, e.admin, teamscim.Member{Email: "super@example.com", Roles: []string{teamscim.RoleSuperAdmin}})
		require.NoError(t, err)
		adm, err := e.srv.AddMember(ctx, e.teamID, e.admin, teamscim.Member{Email: "admin@example.com", Roles: []string{teamscim.RoleAdmin}})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, e.code(e.key))
		require.Equal(t, http.StatusOK, replica.code(e.key))
		rec.take()

		for who, a := range map[string]teamscim.Actor{"admin": {MemberID: adm.ID}, "developer": {MemberID: ann},
			"unknown": {MemberID: "nobody"}} {
			assert.ErrorIs(t, e.srv.DeleteTeam(ctx, e.teamID, a), teamscim.ErrNotSuperAdmin, who)
		}
		assert.ErrorIs(t, e.srv.DeleteTeam(ctx, e.teamID, teamscim.Actor{}), teamscim.ErrInvalidArgument)
		assert.Empty(t, rec.take(), "refusals emit nothing")
		assert.Equal(t, http.StatusOK, replica.code(e.key), "refusals change nothing")

		require.NoError(t, e.srv.DeleteTeam(ctx, e.teamID, teamscim.Actor{MemberID: super.ID}))
		evs := rec.take()
		require.Len(t, evs, 1)
		assert.Equal(t, teamscim.Event{Type: teamscim.EventTeamDeleted, TeamID: e.teamID, Actor: super.ID, Target: e.teamID,
			Time: evs[0].Time}, evs[0])
		requireSCIMError(t, e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+e.key), http.StatusUnauthorized, "")
		requireSCIMError(t, replica.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+e.key), http.StatusUnauthorized, "")
		_, err = second.Team(ctx, e.teamID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorIs(t, second.DeleteTeam(ctx, e.teamID, e.admin), store.ErrNotFound)
		for _, srv := range []*teamscim.Server{e.srv, second} {
			pending, err := srv.RetryPending(ctx)
			require.NoError(t, err)
			assert.Equal(t, 0, pending, "the deleted team's jobs are dropped")
		}
		assert.Empty(t, down.Applied())

		otherReplica := replica
		otherReplica.teamID, otherReplica.key = other.teamID, other.key
		for _, x := range []env{other, otherReplica} {
			res := x.req(http.MethodGet, "/Users/"+otherUser, nil)
			assert.Equal(t, http.StatusOK, res.Code, "the other team is untouched")
		}
	})
}

// Requests of the team racing its deletion answer 201, 401 or 404, never 500, and nothing of
// the team remains.
func TestDeleteTeamRacingRequests(t *testing.T) {
	onEveryStore(t, func(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
		db, _ := open(t)
		e := newEnvOn(t, db)
		var wg sync.WaitGroup
		codes := make(chan int, 16)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- e.req(http.MethodPost, "/Users", map[string]any{"userName": "u" + itoa(i) + "@example.com"}).Code
			}()
		}
		require.NoError(t, e.srv.DeleteTeam(t.Context(), e.teamID, e.admin))
		wg.Wait()
		close(codes)
		for c := range codes {
			assert.Contains(t, []int{http.StatusCreated, http.StatusUnauthorized, http.StatusNotFound}, c)
		}
		err := db.View(t.Context(), e.teamID, func(context.Context, store.Tx) error { return nil })
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

// AddMember and SetMemberRoles act for an admin and are recorded; setting the roles a member
// has is a repeat and records nothing.
func TestMemberAdminEvents(t *testing.T) {
	e, rec := newEnvEvents(t)
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	dev := e.addMember("dev@example.com")
	evs := rec.take()
	require.Len(t, evs, 2)
	assert.Equal(t, teamscim.Event{Type: teamscim.EventMemberAddedToTeam, TeamID: e.teamID, Actor: e.admin.String(),
		Target: dev.ID, Time: evs[1].Time}, evs[1])

	require.NoError(t, e.srv.SetMemberRoles(ctx, e.teamID, admin, dev.ID, []string{teamscim.RoleBilling, teamscim.RoleDeveloper}))
	require.NoError(t, e.srv.SetMemberRoles(ctx, e.teamID, admin, dev.ID, []string{teamscim.RoleDeveloper, teamscim.RoleBilling}))
	assert.Equal(t, []string{teamscim.RoleBilling, teamscim.RoleDeveloper}, e.user(dev.ID).Roles)
	evs = rec.take()
	require.Len(t, evs, 1, "the repeat records nothing")
	assert.Equal(t, teamscim.Event{Type: teamscim.EventMemberRolesChanged, TeamID: e.teamID, Actor: admin.MemberID,
		Target: dev.ID, Time: evs[0].Time}, evs[0])
	assert.ErrorIs(t, e.srv.SetMemberRoles(ctx, e.teamID, admin, dev.ID, []string{""}), teamscim.ErrInvalidArgument)
	assert.ErrorIs(t, e.srv.SetMemberRoles(ctx, e.teamID, admin, "no-such-member", nil), store.ErrNotFound)
	assert.Empty(t, rec.take())
}

// ConfigureSSO knows SAML and OpenID Connect, in any case; anything else is refused and
// changes nothing.
func TestConfigureSSOKnownMethods(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, m := range []string{"", " ", "ldap", "saml2", "password"} {
		assert.ErrorIs(t, e.srv.ConfigureSSO(ctx, e.teamID, e.admin, m), teamscim.ErrInvalidArgument, "%q", m)
	}
	require.NoError(t, e.srv.ConfigureSSO(ctx, e.teamID, e.admin, " OIDC "))
	assert.Equal(t, []string{teamscim.SSOSAML, teamscim.SSOOIDC}, e.team().SSOMethods)
}
