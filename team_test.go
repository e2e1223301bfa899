package teamscim_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// recorder is an EventSink that keeps what it receives.
type recorder struct {
	mu     sync.Mutex
	events []teamscim.Event
}

func (r *recorder) Event(_ context.Context, e teamscim.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// take returns the events received since the last take.
func (r *recorder) take() []teamscim.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func types(evs []teamscim.Event) []teamscim.EventType {
	out := make([]teamscim.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// newEnvEvents is newEnv with a recorder as the EventSink, emptied of the setup's events.
func newEnvEvents(t *testing.T, configure ...func(*teamscim.Config)) (*env, *recorder) {
	t.Helper()
	rec := &recorder{}
	e := newEnv(t, append([]func(*teamscim.Config){func(c *teamscim.Config) { c.Events = rec }}, configure...)...)
	rec.take()
	return e, rec
}

// addMember adds a member who joined outside SCIM, with roles (default developer).
func (e *env) addMember(email string, roles ...string) store.User {
	e.t.Helper()
	u, err := e.srv.AddMember(context.Background(), e.teamID, e.admin, teamscim.Member{Email: email, Roles: roles})
	require.NoError(e.t, err)
	return u
}

// addAdmin adds an admin member and returns them as an Actor.
func (e *env) addAdmin(email string) teamscim.Actor {
	e.t.Helper()
	return teamscim.Actor{MemberID: e.addMember(email, teamscim.RoleAdmin).ID}
}

// setUser changes a stored user directly, as the host's own code might.
func (e *env) setUser(id string, change func(*store.User)) {
	e.t.Helper()
	require.NoError(e.t, e.st.Update(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		u, err := tx.GetUser(ctx, id)
		if err != nil {
			return err
		}
		change(&u)
		return tx.UpdateUser(ctx, u)
	}))
}

// team reads the env's team from the store.
func (e *env) team() store.Team {
	e.t.Helper()
	t, err := e.srv.Team(context.Background(), e.teamID)
	require.NoError(e.t, err)
	return t
}

// code sends GET /Users with secret and returns the status.
func (e *env) code(secret string) int {
	e.t.Helper()
	return e.reqAuth(http.MethodGet, "/Users?startIndex=1&count=2", nil, "Bearer "+secret).Code
}

// R1: SCIM only for teams whose plan includes it; Config.SCIMPlans names those plans.
func TestSCIMNeedsPlan(t *testing.T) {
	ctx := t.Context()
	srv, err := teamscim.New(teamscim.Config{Store: memstore.New()})
	require.NoError(t, err)
	mgr := teamscim.Actor{MemberID: "m", OrgManager: true}
	for _, plan := range []string{"", "free", "basic", "professional"} {
		team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "T", Plan: plan})
		require.NoError(t, err)
		require.NoError(t, srv.ConfigureSSO(ctx, team.ID, mgr, "saml"))
		assert.ErrorIs(t, srv.EnableSCIM(ctx, team.ID, mgr), teamscim.ErrPlanExcludesSCIM, "plan %q", plan)
		got, err := srv.Team(ctx, team.ID)
		require.NoError(t, err)
		assert.False(t, got.SCIMEnabled)
	}
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "T", Plan: "Enterprise"})
	require.NoError(t, err)
	require.NoError(t, srv.ConfigureSSO(ctx, team.ID, mgr, "saml"))
	require.NoError(t, srv.EnableSCIM(ctx, team.ID, mgr), "plans compare case-insensitively")

	custom, err := teamscim.New(teamscim.Config{Store: memstore.New(), SCIMPlans: []string{"business", "enterprise-plus"}})
	require.NoError(t, err)
	for plan, ok := range map[string]bool{"business": true, "Enterprise-Plus": true, "enterprise": false} {
		team, err := custom.CreateTeam(ctx, teamscim.TeamOptions{Name: "T", Plan: plan})
		require.NoError(t, err)
		require.NoError(t, custom.ConfigureSSO(ctx, team.ID, mgr, "saml"))
		if err := custom.EnableSCIM(ctx, team.ID, mgr); ok {
			assert.NoError(t, err, plan)
		} else {
			assert.ErrorIs(t, err, teamscim.ErrPlanExcludesSCIM, plan)
		}
	}
}

// R1: a downgrade leaves the settings, but SCIM requests answer 403 and no key can be
// generated until the plan includes SCIM again.
func TestPlanDowngrade(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.srv.SetPlan(t.Context(), e.teamID, "free"))
	res := e.req(http.MethodGet, "/Users", nil)
	requireSCIMError(t, res, http.StatusForbidden, "")
	assert.Contains(t, res.str("detail"), "plan")
	_, err := e.srv.GenerateKey(t.Context(), e.teamID, e.admin, teamscim.KeyOptions{Name: "k"})
	assert.ErrorIs(t, err, teamscim.ErrPlanExcludesSCIM)
	assert.True(t, e.team().SCIMEnabled, "the switch is kept")

	require.NoError(t, e.srv.SetPlan(t.Context(), e.teamID, teamscim.PlanEnterprise))
	assert.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users", nil).Code)
	assert.ErrorIs(t, e.srv.SetPlan(t.Context(), "no-such-team", "free"), store.ErrNotFound)
}

// R2, R3: SSO before SCIM, SCIM before keys, exactly one SSO method for a key.
func TestTeamAdminPrerequisites(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	srv, err := teamscim.New(teamscim.Config{Store: st})
	require.NoError(t, err)
	mgr := teamscim.Actor{MemberID: "m", OrgManager: true}
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "T", Plan: teamscim.PlanEnterprise})
	require.NoError(t, err)

	assert.ErrorIs(t, srv.EnableSCIM(ctx, team.ID, mgr), teamscim.ErrSSORequired)
	_, err = srv.GenerateKey(ctx, team.ID, mgr, teamscim.KeyOptions{Name: "k"})
	assert.ErrorIs(t, err, teamscim.ErrSCIMDisabled)

	require.NoError(t, srv.ConfigureSSO(ctx, team.ID, mgr, "SAML"))
	_, err = srv.GenerateKey(ctx, team.ID, mgr, teamscim.KeyOptions{Name: "k"})
	assert.ErrorIs(t, err, teamscim.ErrSCIMDisabled, "SSO alone is not enough")
	require.NoError(t, srv.EnableSCIM(ctx, team.ID, mgr))
	require.NoError(t, srv.ConfigureSSO(ctx, team.ID, mgr, "saml"), "configuring a method twice is harmless")
	got, err := srv.Team(ctx, team.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"saml"}, got.SSOMethods)

	// Two methods: no key.
	require.NoError(t, srv.ConfigureSSO(ctx, team.ID, mgr, "oidc"))
	_, err = srv.GenerateKey(ctx, team.ID, mgr, teamscim.KeyOptions{Name: "k"})
	assert.ErrorIs(t, err, teamscim.ErrMultipleSSO)
	require.NoError(t, srv.RemoveSSO(ctx, team.ID, mgr, "oidc"))
	k, err := srv.GenerateKey(ctx, team.ID, mgr, teamscim.KeyOptions{Name: "k"})
	require.NoError(t, err)

	// Zero methods with SCIM on cannot be reached through the API (RemoveSSO refuses);
	// a store that holds it anyway still refuses keys.
	require.NoError(t, st.Update(ctx, team.ID, func(ctx context.Context, tx store.Tx) error {
		tm, err := tx.Team(ctx)
		if err != nil {
			return err
		}
		tm.SSOMethods = nil
		return tx.UpdateTeam(ctx, tm)
	}))
	_, err = srv.GenerateKey(ctx, team.ID, mgr, teamscim.KeyOptions{Name: "k"})
	assert.ErrorIs(t, err, teamscim.ErrSSORequired)
	_, err = srv.RegenerateKey(ctx, team.ID, mgr, k.Key.ID, teamscim.RegenerateOptions{})
	assert.ErrorIs(t, err, teamscim.ErrSSORequired)

	_, err = srv.GenerateKey(ctx, team.ID, mgr, teamscim.KeyOptions{})
	assert.ErrorIs(t, err, teamscim.ErrInvalidArgument)
	_, err = srv.GenerateKey(ctx, team.ID, mgr, teamscim.KeyOptions{Name: "k", Secret: "short"})
	assert.ErrorIs(t, err, teamscim.ErrInvalidArgument)
	assert.ErrorIs(t, srv.ConfigureSSO(ctx, team.ID, mgr, " "), teamscim.ErrInvalidArgument)
	assert.ErrorIs(t, srv.EnableSCIM(ctx, "no-such-team", mgr), store.ErrNotFound)
	_, err = srv.CreateTeam(ctx, teamscim.TeamOptions{Plan: teamscim.PlanEnterprise})
	assert.ErrorIs(t, err, teamscim.ErrInvalidArgument)
}

// OQ13: the last SSO method cannot be removed while SCIM is on.
func TestRemoveLastSSOMethodRefusedWhileSCIMOn(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	assert.ErrorIs(t, e.srv.RemoveSSO(ctx, e.teamID, e.admin, "saml"), teamscim.ErrLastSSOMethod)
	assert.Equal(t, []string{"saml"}, e.team().SSOMethods)
	assert.Equal(t, http.StatusOK, e.code(e.key))

	require.NoError(t, e.srv.ConfigureSSO(ctx, e.teamID, e.admin, "oidc"))
	require.NoError(t, e.srv.RemoveSSO(ctx, e.teamID, e.admin, "SAML"))
	assert.Equal(t, []string{"oidc"}, e.team().SSOMethods)
	assert.ErrorIs(t, e.srv.RemoveSSO(ctx, e.teamID, e.admin, "oidc"), teamscim.ErrLastSSOMethod)
	require.NoError(t, e.srv.RemoveSSO(ctx, e.teamID, e.admin, "never-configured"))

	require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, e.admin))
	require.NoError(t, e.srv.RemoveSSO(ctx, e.teamID, e.admin, "oidc"))
	assert.Empty(t, e.team().SSOMethods)
	assert.ErrorIs(t, e.srv.EnableSCIM(ctx, e.teamID, e.admin), teamscim.ErrSSORequired)
}

// adminCalls are every team-admin call, on the env's team, as actor a.
func adminCalls(e *env, victim store.User, transferTo string) map[string]func(a teamscim.Actor) error {
	ctx := context.Background()
	return map[string]func(a teamscim.Actor) error{
		"EnableSCIM":   func(a teamscim.Actor) error { return e.srv.EnableSCIM(ctx, e.teamID, a) },
		"DisableSCIM":  func(a teamscim.Actor) error { return e.srv.DisableSCIM(ctx, e.teamID, a) },
		"ConfigureSSO": func(a teamscim.Actor) error { return e.srv.ConfigureSSO(ctx, e.teamID, a, "oidc") },
		"RemoveSSO":    func(a teamscim.Actor) error { return e.srv.RemoveSSO(ctx, e.teamID, a, "saml") },
		"VerifyDomain": func(a teamscim.Actor) error { return e.srv.VerifyDomain(ctx, e.teamID, a, "new.example") },
		"RemoveDomain": func(a teamscim.Actor) error { return e.srv.RemoveDomain(ctx, e.teamID, a, "example.com") },
		"GenerateKey": func(a teamscim.Actor) error {
			_, err := e.srv.GenerateKey(ctx, e.teamID, a, teamscim.KeyOptions{Name: "k"})
			return err
		},
		"RegenerateKey": func(a teamscim.Actor) error {
			_, err := e.srv.RegenerateKey(ctx, e.teamID, a, e.keyID, teamscim.RegenerateOptions{})
			return err
		},
		"ListKeys": func(a teamscim.Actor) error {
			_, err := e.srv.ListKeys(ctx, e.teamID, a)
			return err
		},
		"RevokeKey":   func(a teamscim.Actor) error { return e.srv.RevokeKey(ctx, e.teamID, a, e.keyID) },
		"ActivateKey": func(a teamscim.Actor) error { return e.srv.ActivateKey(ctx, e.teamID, a, e.keyID) },
		"DeleteKey":   func(a teamscim.Actor) error { return e.srv.DeleteKey(ctx, e.teamID, a, e.keyID) },
		"RemoveMember": func(a teamscim.Actor) error {
			return e.srv.RemoveMember(ctx, e.teamID, a, victim.ID, transferTo)
		},
		"AddMember": func(a teamscim.Actor) error {
			_, err := e.srv.AddMember(ctx, e.teamID, a, teamscim.Member{Email: "added@example.com"})
			return err
		},
		"SetMemberRoles": func(a teamscim.Actor) error {
			return e.srv.SetMemberRoles(ctx, e.teamID, a, victim.ID, []string{teamscim.RoleAdmin})
		},
	}
}

// R4: only an active Admin or Super Admin (own role) or an Organization Manager may
// administer; a refusal changes nothing and emits nothing.
func TestOnlyAdminsAdminister(t *testing.T) {
	e, rec := newEnvEvents(t)
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	victim := e.addMember("victim@example.com")

	developer := e.addMember("dev@example.com")
	billing := e.addMember("billing@example.com", teamscim.RoleBilling)
	deactivated := e.addMember("gone@example.com", teamscim.RoleAdmin)
	e.setUser(deactivated.ID, func(u *store.User) { u.Active = false })
	hidden := e.addMember("hidden@example.com", teamscim.RoleSuperAdmin)
	e.setUser(hidden.ID, func(u *store.User) { u.Active, u.Deleted = false, true })
	pending := e.addMember("pending@example.com", teamscim.RoleAdmin)
	e.setUser(pending.ID, func(u *store.User) { u.Pending = true })
	// Admin only through a group: group roles do not count.
	viaGroup := e.addMember("group@example.com")
	require.NoError(t, e.st.Update(ctx, e.teamID, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateGroup(ctx, store.Group{ID: "admins", DisplayName: "Admins", Roles: []string{teamscim.RoleAdmin}}); err != nil {
			return err
		}
		_, err := tx.AddMembers(ctx, "admins", []string{viaGroup.ID})
		return err
	}))
	rec.take() // the setup's events
	before := e.team()
	for who, a := range map[string]teamscim.Actor{
		"developer":                  {MemberID: developer.ID},
		"billing":                    {MemberID: billing.ID},
		"deactivated admin":          {MemberID: deactivated.ID},
		"hidden super admin":         {MemberID: hidden.ID},
		"pending admin":              {MemberID: pending.ID},
		"admin through a group only": {MemberID: viaGroup.ID},
		"unknown member":             {MemberID: "no-such-member"},
	} {
		for name, call := range adminCalls(e, victim, admin.MemberID) {
			assert.ErrorIs(t, call(a), teamscim.ErrNotAdmin, "%s by %s", name, who)
		}
	}
	for name, call := range adminCalls(e, victim, admin.MemberID) {
		assert.ErrorIs(t, call(teamscim.Actor{}), teamscim.ErrInvalidArgument, "%s without an actor", name)
	}
	assert.Equal(t, before, e.team(), "refused calls changed the team")
	assert.Equal(t, http.StatusOK, e.code(e.key), "refused calls changed the key")
	assert.Equal(t, victim.ID, e.user(victim.ID).ID)
	assert.Empty(t, rec.take(), "refused calls emitted events")

	// Allowed: Admin, Super Admin, Organization Manager (who need not be a member).
	super := teamscim.Actor{MemberID: e.addMember("super@example.com", teamscim.RoleSuperAdmin).ID}
	manager := teamscim.Actor{MemberID: "org-7", OrgManager: true}
	rec.take()
	for who, a := range map[string]teamscim.Actor{"admin": admin, "super admin": super, "org manager": manager} {
		require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, a), who)
		require.NoError(t, e.srv.EnableSCIM(ctx, e.teamID, a), who)
		k, err := e.srv.GenerateKey(ctx, e.teamID, a, teamscim.KeyOptions{Name: who})
		require.NoError(t, err, who)
		require.NoError(t, e.srv.RevokeKey(ctx, e.teamID, a, k.Key.ID), who)
		_, err = e.srv.ListKeys(ctx, e.teamID, a)
		require.NoError(t, err, who)
		evs := rec.take()
		require.Len(t, evs, 4, who)
		for _, ev := range evs {
			assert.Equal(t, a.String(), ev.Actor, who)
		}
	}
	assert.Equal(t, "org:org-7", manager.String())
	// An admin of one team is nobody on another.
	otherTeam, _, otherKey := e.newTeam("Third")
	assert.ErrorIs(t, e.srv.RevokeKey(ctx, otherTeam, admin, otherKey), teamscim.ErrNotAdmin)
}

// Events of the SCIM switch: one per real change, with team, actor and time.
func TestSCIMSwitchEvents(t *testing.T) {
	e, rec := newEnvEvents(t)
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	assert.Equal(t, []teamscim.EventType{teamscim.EventMemberAddedToTeam}, types(rec.take()))
	require.NoError(t, e.srv.EnableSCIM(ctx, e.teamID, admin))
	assert.Empty(t, rec.take(), "enabling an enabled team emits nothing")
	require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, admin))
	require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, admin))
	evs := rec.take()
	require.Len(t, evs, 1)
	assert.Equal(t, teamscim.EventSCIMDisabled, evs[0].Type)
	assert.Equal(t, e.teamID, evs[0].TeamID)
	assert.Equal(t, admin.MemberID, evs[0].Actor)
	assert.Equal(t, e.teamID, evs[0].Target)
	assert.False(t, evs[0].Time.IsZero())
	requireSCIMError(t, e.req(http.MethodGet, "/Users", nil), http.StatusForbidden, "")

	// Concurrent enables: one change, one event.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, e.srv.EnableSCIM(ctx, e.teamID, admin))
		}()
	}
	wg.Wait()
	assert.Equal(t, []teamscim.EventType{teamscim.EventSCIMEnabled}, types(rec.take()))
	assert.Equal(t, http.StatusOK, e.code(e.key))
}

// OQ17: turning SCIM on changes no member; a provisioned email (any case) adopts its member,
// who becomes SCIM-managed, and the others stay unmanaged until an admin removes them.
func TestEnableSCIMWithExistingMembers(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, e.admin))
	admin := e.addAdmin("admin@example.com")
	matched := e.addMember("Ann.Lee@example.com")
	unmatched := e.addMember("bob@example.com")
	require.NoError(t, e.srv.EnableSCIM(ctx, e.teamID, admin))
	assert.False(t, e.user(matched.ID).Managed)
	assert.False(t, e.user(unmatched.ID).Managed)

	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "ann.lee@EXAMPLE.com", "name": map[string]any{"givenName": "Ann", "familyName": "Lee"}})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, matched.ID, res.str("id"), "the existing member is adopted")
	assert.True(t, e.user(matched.ID).Managed)
	assert.False(t, e.user(unmatched.ID).Managed)

	d, err := e.srv.CanLeaveTeam(ctx, e.teamID, "ann.lee@example.com")
	require.NoError(t, err)
	assert.Equal(t, teamscim.ReasonSCIMManaged, d.Reason)
	d, err = e.srv.CanLeaveTeam(ctx, e.teamID, "bob@example.com")
	require.NoError(t, err)
	assert.True(t, d.Allowed, "an unmatched member stays unmanaged")

	require.NoError(t, e.srv.RemoveMember(ctx, e.teamID, admin, unmatched.ID, admin.MemberID))
	assert.Equal(t, 2, e.countUsers())
}

// R35: only admins remove members; removal is not a SCIM operation; re-adding restores
// nothing.
func TestRemoveMember(t *testing.T) {
	e, rec := newEnvEvents(t)
	ctx := t.Context()
	admin := e.addAdmin("admin@example.com")
	other := e.addAdmin("other-admin@example.com")
	dev := e.addMember("dev@example.com")
	id := e.createUser("ann@example.com")
	res := e.req(http.MethodPost, "/Groups", map[string]any{"displayName": "Eng", "members": []any{map[string]any{"value": id}}})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	groupID := res.str("id")
	rec.take()

	// SCIM has no removal: DELETE hides, the member stays on the team.
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+id, nil).Code)
	assert.True(t, e.user(id).Deleted)
	res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "ann@example.com"})
	require.Equal(t, http.StatusCreated, res.Code)
	require.Equal(t, id, res.str("id"), "DELETE keeps the member: POST re-links the same one")
	res = e.req(http.MethodPatch, "/Groups/"+groupID, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id}}}}})
	require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
	rec.take()

	// Refusals.
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, teamscim.Actor{MemberID: dev.ID}, id, admin.MemberID), teamscim.ErrNotAdmin)
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, admin, id, dev.ID), teamscim.ErrTransferTarget, "a developer cannot receive workspaces")
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, admin, id, id), teamscim.ErrTransferTarget)
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, admin, id, ""), teamscim.ErrTransferTarget)
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, admin, id, "no-such-admin"), teamscim.ErrTransferTarget)
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, admin, admin.MemberID, other.MemberID), teamscim.ErrInvalidArgument, "admins do not remove themselves")
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, admin, "no-such-member", other.MemberID), store.ErrNotFound)
	assert.ErrorIs(t, e.srv.RemoveMember(ctx, e.teamID, admin, "", other.MemberID), teamscim.ErrInvalidArgument)
	assert.Empty(t, rec.take())
	assert.True(t, e.user(id).Active)

	// Removal by an admin, the workspaces for another admin.
	require.NoError(t, e.srv.RemoveMember(ctx, e.teamID, admin, id, other.MemberID))
	evs := rec.take()
	require.Len(t, evs, 1)
	assert.Equal(t, teamscim.Event{Type: teamscim.EventMemberRemovedFromTeam, TeamID: e.teamID, Actor: admin.MemberID, Target: id, Time: evs[0].Time}, evs[0])
	requireSCIMError(t, e.req(http.MethodGet, "/Users/"+id, nil), http.StatusNotFound, "")
	requireSCIMError(t, e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false)), http.StatusNotFound, "")
	res = e.req(http.MethodGet, "/Groups/"+groupID, nil)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Empty(t, res.body["members"], "memberships go with the member")
	d, err := e.srv.CanSignIn(ctx, e.teamID, "ann@example.com")
	require.NoError(t, err)
	assert.Equal(t, teamscim.ReasonNotMember, d.Reason)

	// Re-adding creates a new member with nothing restored.
	res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "Ann@example.com"})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	again := res.str("id")
	assert.NotEqual(t, id, again)
	u := e.user(again)
	assert.Equal(t, []string{teamscim.RoleDeveloper}, u.Roles)
	assert.True(t, u.Managed)
	res = e.req(http.MethodGet, "/Groups/"+groupID, nil)
	assert.Empty(t, res.body["members"])

	// The same through AddMember, for a member who joined outside SCIM.
	require.NoError(t, e.srv.RemoveMember(ctx, e.teamID, teamscim.Actor{MemberID: "mgr", OrgManager: true}, dev.ID, admin.MemberID))
	back := e.addMember("dev@example.com")
	assert.NotEqual(t, dev.ID, back.ID)
	assert.Equal(t, []string{teamscim.RoleDeveloper}, back.Roles)
}

// Verified domains: stored in lower case, validated, removable; admins only (see
// TestOnlyAdminsAdminister).
func TestVerifiedDomains(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	require.NoError(t, e.srv.VerifyDomain(ctx, e.teamID, e.admin, " Contoso.COM "))
	require.NoError(t, e.srv.VerifyDomain(ctx, e.teamID, e.admin, "contoso.com"))
	assert.Equal(t, []string{"example.com", "contoso.com"}, e.team().VerifiedDomains)
	for _, bad := range []string{"", "contoso", "ann@contoso.com", "contoso.com.", "con toso.com", "-"} {
		assert.ErrorIs(t, e.srv.VerifyDomain(ctx, e.teamID, e.admin, bad), teamscim.ErrInvalidArgument, "%q", bad)
	}
	require.NoError(t, e.srv.RemoveDomain(ctx, e.teamID, e.admin, "EXAMPLE.com"))
	require.NoError(t, e.srv.RemoveDomain(ctx, e.teamID, e.admin, "never.example"))
	assert.Equal(t, []string{"contoso.com"}, e.team().VerifiedDomains)
}

// R31, OQ8: a userName (email) change over PUT or PATCH needs both the old and the new domain
// verified; otherwise 400 invalidValue "domain is not verified" and nothing changes. An
// invalid email is 400. A case-only change and Entra's tombstone are not email changes.
func TestUserNameChangeNeedsVerifiedDomains(t *testing.T) {
	e := newEnv(t) // example.com is verified
	ctx := t.Context()
	id := e.createUser("ann@example.com")
	rename := func(method, to string) response {
		if method == http.MethodPut {
			return e.req(http.MethodPut, "/Users/"+id, map[string]any{"userName": to, "name": map[string]any{"givenName": "Given", "familyName": "Family"}})
		}
		return e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "userName", "value": to}))
	}
	for _, method := range []string{http.MethodPut, http.MethodPatch} {
		before := e.user(id)
		res := rename(method, "ann@unverified.example")
		requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
		assert.Contains(t, res.str("detail"), "domain is not verified", method)
		assert.Equal(t, before, e.user(id), "%s: a refused rename changed the user", method)

		res = rename(method, "not an email")
		requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
		assert.Contains(t, res.str("detail"), "valid email")
		assert.Equal(t, before, e.user(id))
	}
	// Within a verified domain: allowed.
	require.Equal(t, http.StatusOK, rename(http.MethodPatch, "ann.lee@example.com").Code)
	assert.Equal(t, "ann.lee@example.com", e.user(id).UserName)
	// Case only: not an email change.
	require.Equal(t, http.StatusOK, rename(http.MethodPut, "Ann.Lee@Example.com").Code)
	assert.Equal(t, "Ann.Lee@Example.com", e.user(id).UserName)

	// New domain verified, old one not: refused (both must be).
	require.NoError(t, e.srv.VerifyDomain(ctx, e.teamID, e.admin, "contoso.com"))
	require.Equal(t, http.StatusOK, rename(http.MethodPut, "ann@contoso.com").Code, "old and new verified")
	require.NoError(t, e.srv.RemoveDomain(ctx, e.teamID, e.admin, "contoso.com"))
	res := rename(http.MethodPatch, "ann@example.com")
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Contains(t, res.str("detail"), "domain is not verified")
	assert.Equal(t, "ann@contoso.com", e.user(id).UserName)

	// Entra's tombstone rename onto an unverified domain's prefix still only deactivates.
	res = e.req(http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"userName","value":"283405f5c2a94e1b9d6e8f7a1b2c3d4eann@contoso.com"},{"op":"Replace","path":"active","value":"False"}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "ann@contoso.com", e.user(id).UserName)
	assert.False(t, e.user(id).Active)
}

// Config.AllowNonEmailUserNames (generic SCIM suites) keeps renames free of the domain rule.
func TestNonEmailUserNamesSkipDomainRule(t *testing.T) {
	e := newEnv(t, func(c *teamscim.Config) { c.AllowNonEmailUserNames = true })
	id := e.createUser("bjensen")
	res := e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "babs"}))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	res = e.req(http.MethodPut, "/Users/"+id, map[string]any{"userName": "babs@unverified.example"})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "babs@unverified.example", e.user(id).UserName)
}
