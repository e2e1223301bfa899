package teamscim_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memaccounts"
	"github.com/teamscim/teamscim/memworkspace"
	"github.com/teamscim/teamscim/store"
)

// membersOf lists the env's team's members as its Organization Manager.
func (e *env) membersOf(q teamscim.MemberQuery) teamscim.MemberPage {
	e.t.Helper()
	pg, err := e.srv.Members(context.Background(), e.teamID, e.admin, q)
	require.NoError(e.t, err)
	return pg
}

func emails(pg teamscim.MemberPage) []string {
	out := []string{}
	for _, m := range pg.Members {
		out = append(out, m.Email)
	}
	return out
}

// A member in each state, as the settings page shows them: provisioned over SCIM (managed,
// with a seat and a group), added by the host, invited by an admin, deactivated and hidden by
// the identity provider.
func TestMembersStates(t *testing.T) {
	e := newEnv(t)
	ann := e.createUser("ann@example.com")
	host := e.addMember("host@example.com", teamscim.RoleAdmin)
	inv, err := e.srv.InviteMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "inv@example.com"})
	require.NoError(t, err)
	deact := e.createUser("deact@example.com")
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+deact, deactivateOkta(false)).Code)
	hidden := e.createUser("hidden@example.com")
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+hidden, nil).Code)
	gid := e.createGroup("Engineering", ann)

	pg := e.membersOf(teamscim.MemberQuery{})
	assert.Equal(t, 4, pg.Total, "hidden members are left out by default")
	assert.Equal(t, []string{"ann@example.com", "host@example.com", "inv@example.com", "deact@example.com"}, emails(pg),
		"ordered by ID, which is creation order")
	byEmail := map[string]teamscim.TeamMember{}
	for _, m := range e.membersOf(teamscim.MemberQuery{IncludeHidden: true}).Members {
		byEmail[m.Email] = m
	}
	require.Len(t, byEmail, 5)

	a := byEmail["ann@example.com"]
	assert.Equal(t, ann, a.ID)
	assert.Equal(t, teamscim.MemberActive, a.State)
	assert.True(t, a.Managed)
	assert.True(t, a.Seat)
	assert.Equal(t, []string{teamscim.RoleDeveloper}, a.Roles)
	assert.Equal(t, []teamscim.MemberGroup{{ID: gid, DisplayName: "Engineering"}}, a.Groups)
	assert.Equal(t, "Given", a.GivenName)
	assert.False(t, a.Created.IsZero())

	h := byEmail["host@example.com"]
	assert.Equal(t, host.ID, h.ID)
	assert.Equal(t, teamscim.MemberActive, h.State)
	assert.False(t, h.Managed)
	assert.False(t, h.Seat, "a support user takes no seat")
	assert.Equal(t, []string{teamscim.RoleAdmin}, h.Roles)
	assert.Empty(t, h.Groups)

	i := byEmail["inv@example.com"]
	assert.Equal(t, inv.ID, i.ID)
	assert.Equal(t, teamscim.MemberPending, i.State)
	assert.True(t, i.Seat, "an invitation reserves its seat")

	assert.Equal(t, teamscim.MemberDeactivated, byEmail["deact@example.com"].State)
	assert.False(t, byEmail["deact@example.com"].Seat)
	assert.Equal(t, teamscim.MemberHidden, byEmail["hidden@example.com"].State)

	no, yes := false, true
	assert.Equal(t, []string{"deact@example.com"}, emails(e.membersOf(teamscim.MemberQuery{Active: &no})))
	assert.Equal(t, []string{"deact@example.com", "hidden@example.com"}, emails(e.membersOf(teamscim.MemberQuery{Active: &no, IncludeHidden: true})))
	assert.Equal(t, []string{"ann@example.com", "host@example.com", "inv@example.com"}, emails(e.membersOf(teamscim.MemberQuery{Active: &yes})))
}

// Pages of a team, with their total; a limit beyond the cap is capped.
func TestMembersPaging(t *testing.T) {
	e := newEnv(t)
	var want []string
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		e.createUser(n + "@example.com")
		want = append(want, n+"@example.com")
	}
	var got []string
	for off := 0; off < 5; off += 2 {
		pg := e.membersOf(teamscim.MemberQuery{Offset: off, Limit: 2})
		assert.Equal(t, 5, pg.Total)
		assert.LessOrEqual(t, len(pg.Members), 2)
		got = append(got, emails(pg)...)
	}
	assert.Equal(t, want, got, "every member once, in order")
	assert.Empty(t, e.membersOf(teamscim.MemberQuery{Offset: 5}).Members)
	assert.Len(t, e.membersOf(teamscim.MemberQuery{Offset: -3}).Members, 5, "a negative offset counts as 0")
	assert.Len(t, e.membersOf(teamscim.MemberQuery{Limit: teamscim.MaxMemberLimit + 1}).Members, 5)
}

// The default page size is DefaultMemberLimit.
func TestMembersDefaultLimit(t *testing.T) {
	e := newEnv(t)
	for range teamscim.DefaultMemberLimit + 1 {
		_, err := e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "m" + itoa(e.countUsers()) + "@example.com"})
		require.NoError(t, err)
	}
	pg := e.membersOf(teamscim.MemberQuery{})
	assert.Len(t, pg.Members, teamscim.DefaultMemberLimit)
	assert.Equal(t, teamscim.DefaultMemberLimit+1, pg.Total)
}

// Finding members by email (case-insensitively) and by externalId (several may share one);
// the selectors combine with the state filters.
func TestMembersLookup(t *testing.T) {
	e := newEnv(t)
	body := func(userName, externalID string) map[string]any {
		return map[string]any{"userName": userName, "externalId": externalID,
			"name": map[string]any{"givenName": "G", "familyName": "F"}, "active": true}
	}
	for _, u := range [][2]string{{"Ann@Example.com", "00u1"}, {"bob@example.com", "shared"}, {"cy@example.com", "shared"}} {
		require.Equal(t, http.StatusCreated, e.req(http.MethodPost, "/Users", body(u[0], u[1])).Code)
	}

	pg := e.membersOf(teamscim.MemberQuery{Email: "ANN@example.COM"})
	assert.Equal(t, 1, pg.Total)
	assert.Equal(t, []string{"Ann@Example.com"}, emails(pg), "the email as stored")
	assert.Equal(t, "00u1", pg.Members[0].ExternalID)

	pg = e.membersOf(teamscim.MemberQuery{Email: "nobody@example.com"})
	assert.Equal(t, 0, pg.Total)
	assert.Empty(t, pg.Members)

	pg = e.membersOf(teamscim.MemberQuery{ExternalID: "shared"})
	assert.Equal(t, 2, pg.Total)
	assert.Equal(t, []string{"bob@example.com", "cy@example.com"}, emails(pg))
	pg = e.membersOf(teamscim.MemberQuery{ExternalID: "shared", Offset: 1, Limit: 1})
	assert.Equal(t, 2, pg.Total)
	assert.Equal(t, []string{"cy@example.com"}, emails(pg))
	assert.Empty(t, e.membersOf(teamscim.MemberQuery{ExternalID: "SHARED"}).Members, "externalId is case-exact")

	assert.Equal(t, []string{"bob@example.com"}, emails(e.membersOf(teamscim.MemberQuery{Email: "bob@example.com", ExternalID: "shared"})))
	assert.Empty(t, e.membersOf(teamscim.MemberQuery{Email: "bob@example.com", ExternalID: "00u1"}).Members)

	bob := e.idOf("bob@example.com")
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+bob, nil).Code)
	assert.Empty(t, e.membersOf(teamscim.MemberQuery{Email: "bob@example.com"}).Members, "hidden: left out by default")
	pg = e.membersOf(teamscim.MemberQuery{Email: "bob@example.com", IncludeHidden: true})
	require.Len(t, pg.Members, 1)
	assert.Equal(t, teamscim.MemberHidden, pg.Members[0].State)
	no := false
	assert.Empty(t, e.membersOf(teamscim.MemberQuery{Email: "ann@example.com", Active: &no}).Members)
}

// noScanStore fails every listing of users, to show that lookups use the store's indexes.
type noScanStore struct{ store.Store }

func (s noScanStore) View(ctx context.Context, teamID string, fn func(context.Context, store.Tx) error) error {
	return s.Store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error { return fn(ctx, noScanTx{tx}) })
}

type noScanTx struct{ store.Tx }

var errScan = errors.New("the team was scanned")

func (noScanTx) ListUsers(context.Context, store.UserFilter, store.ListOptions) (store.Page[store.User], error) {
	return store.Page[store.User]{}, errScan
}

func TestMembersLookupUsesIndexes(t *testing.T) {
	e := newEnv(t)
	ann := e.createUser("ann@example.com")
	srv, err := teamscim.New(teamscim.Config{Store: noScanStore{e.st}})
	require.NoError(t, err)
	ctx := t.Context()

	pg, err := srv.Members(ctx, e.teamID, e.admin, teamscim.MemberQuery{Email: "ann@example.com"})
	require.NoError(t, err)
	assert.Equal(t, []string{"ann@example.com"}, emails(pg))
	_, err = srv.Members(ctx, e.teamID, e.admin, teamscim.MemberQuery{ExternalID: "x"})
	require.NoError(t, err)
	m, err := srv.Member(ctx, e.teamID, e.admin, ann)
	require.NoError(t, err)
	assert.Equal(t, "ann@example.com", m.Email)
	_, err = srv.Members(ctx, e.teamID, e.admin, teamscim.MemberQuery{})
	assert.ErrorIs(t, err, errScan, "the wrapper does catch a listing")
}

// Member reads one member by ID in any state; unknown and removed members are not found.
func TestMember(t *testing.T) {
	e := newEnv(t)
	ann := e.createUser("ann@example.com")
	g1, g2 := e.createGroup("Zeta", ann), e.createGroup("Alpha", ann)

	m, err := e.srv.Member(t.Context(), e.teamID, e.admin, ann)
	require.NoError(t, err)
	assert.Equal(t, teamscim.MemberActive, m.State)
	want := []teamscim.MemberGroup{{ID: g1, DisplayName: "Zeta"}, {ID: g2, DisplayName: "Alpha"}}
	slices.SortFunc(want, func(a, b teamscim.MemberGroup) int { return strings.Compare(a.ID, b.ID) })
	assert.Equal(t, want, m.Groups, "ordered by group ID")
	assert.Equal(t, []string{teamscim.RoleDeveloper}, m.GroupRoles, "SCIM groups grant the developer role")

	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+ann, nil).Code)
	m, err = e.srv.Member(t.Context(), e.teamID, e.admin, ann)
	require.NoError(t, err)
	assert.Equal(t, teamscim.MemberHidden, m.State, "found by ID while hidden")

	_, err = e.srv.Member(t.Context(), e.teamID, e.admin, "no-such-member")
	assert.ErrorIs(t, err, store.ErrNotFound)

	admin := e.addAdmin("admin@example.com")
	bob := e.addMember("bob@example.com")
	require.NoError(t, e.srv.RemoveMember(t.Context(), e.teamID, e.admin, bob.ID, admin.MemberID))
	_, err = e.srv.Member(t.Context(), e.teamID, e.admin, bob.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "a removed member is gone")
}

// Members show people's data: only admins and Organization Managers may read them.
func TestMembersNeedAnAdmin(t *testing.T) {
	e := newEnv(t)
	dev := e.addMember("dev@example.com")
	admin := e.addAdmin("admin@example.com")
	notAdmin := teamscim.Actor{MemberID: dev.ID}

	_, err := e.srv.Members(t.Context(), e.teamID, notAdmin, teamscim.MemberQuery{})
	assert.ErrorIs(t, err, teamscim.ErrNotAdmin)
	_, err = e.srv.Member(t.Context(), e.teamID, notAdmin, dev.ID)
	assert.ErrorIs(t, err, teamscim.ErrNotAdmin)
	_, err = e.srv.PendingCalls(t.Context(), e.teamID, notAdmin)
	assert.ErrorIs(t, err, teamscim.ErrNotAdmin)
	_, err = e.srv.Members(t.Context(), e.teamID, teamscim.Actor{}, teamscim.MemberQuery{})
	assert.ErrorIs(t, err, teamscim.ErrInvalidArgument)

	pg, err := e.srv.Members(t.Context(), e.teamID, admin, teamscim.MemberQuery{})
	require.NoError(t, err)
	assert.Equal(t, 2, pg.Total)
	_, err = e.srv.Members(t.Context(), "no-such-team", e.admin, teamscim.MemberQuery{})
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// A workspace hand-over and an account call that fail stay pending, with their error, until
// RetryPending finishes them.
func TestPendingCalls(t *testing.T) {
	ws := memworkspace.New()
	accts := memaccounts.New()
	e := newEnv(t, withWorkspaces(ws), withAccounts(accts))
	down := errors.New("service unavailable")
	ws.FailWith(func(teamscim.WorkspacePlan, int) error { return down })
	accts.FailWith(func(string, teamscim.AccountRequest) error { return down })

	calls, err := e.srv.PendingCalls(t.Context(), e.teamID, e.admin)
	require.NoError(t, err)
	assert.Empty(t, calls)

	ann := e.createUser("ann@example.com") // account create fails
	accts.FailWith(nil)
	_, err = e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	accts.FailWith(func(string, teamscim.AccountRequest) error { return down })
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ann, deactivateOkta(false)).Code) // hand-over fails
	bob := e.createUser("bob@example.com")                                                              // account create fails

	calls, err = e.srv.PendingCalls(t.Context(), e.teamID, e.admin)
	require.NoError(t, err)
	require.Len(t, calls, 3)
	assert.Equal(t, ann, calls[0].MemberID)
	assert.Equal(t, teamscim.ServiceWorkspaces, calls[0].Service)
	assert.Equal(t, string(teamscim.WorkspacesOnDeactivation), calls[0].Action)
	assert.Equal(t, 1, calls[0].Attempts)
	assert.Contains(t, calls[0].LastError, "service unavailable")
	assert.False(t, calls[0].Created.IsZero())
	// ann's account leaves the team after her hand-over: it waits, not yet tried.
	assert.Equal(t, ann, calls[1].MemberID)
	assert.Equal(t, teamscim.ServiceAccounts, calls[1].Service)
	assert.Equal(t, "remove", calls[1].Action)
	assert.Equal(t, 0, calls[1].Attempts)
	assert.Equal(t, bob, calls[2].MemberID)
	assert.Equal(t, teamscim.ServiceAccounts, calls[2].Service)
	assert.Equal(t, "create", calls[2].Action)

	ws.FailWith(nil)
	accts.FailWith(nil)
	n, err := e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	calls, err = e.srv.PendingCalls(t.Context(), e.teamID, e.admin)
	require.NoError(t, err)
	assert.Empty(t, calls)
}
