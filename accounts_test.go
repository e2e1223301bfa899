package teamscim_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/mocks"
	"github.com/teamscim/teamscim/memaccounts"
)

func withAccounts(a teamscim.Accounts) func(*teamscim.Config) {
	return func(c *teamscim.Config) { c.Accounts = a }
}

// provision POSTs a user with names and returns the response.
func (e *env) provision(userName string) response {
	e.t.Helper()
	return e.req(http.MethodPost, "/Users", map[string]any{"userName": userName,
		"name": map[string]any{"givenName": "Given", "familyName": "Family"}, "active": true})
}

// methods returns the methods of the account calls made, in order.
func methods(calls []memaccounts.Call) []string {
	out := []string{}
	for _, c := range calls {
		out = append(out, c.Method)
	}
	return out
}

// R14: no account with that email: the member is active at once and the host creates it.
func TestCreateOutcomeNewAccount(t *testing.T) {
	accts := memaccounts.New()
	e := newEnv(t, withAccounts(accts))
	res := e.provision("new.person@partner.test")
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	id := res.str("id")
	u := e.user(id)
	assert.True(t, u.Active)
	assert.False(t, u.Pending)
	assert.True(t, u.Seat)
	assert.Equal(t, []string{teamscim.RoleDeveloper}, u.Roles)
	calls := accts.Calls()
	require.Equal(t, []string{"CreateAccount"}, methods(calls))
	assert.Equal(t, teamscim.AccountRequest{TeamID: e.teamID, MemberID: id, Email: "new.person@partner.test",
		GivenName: "Given", FamilyName: "Family", Attempt: 1}, calls[0].Req)
	a, ok := accts.Account("NEW.PERSON@partner.test")
	require.True(t, ok)
	assert.Equal(t, []string{e.teamID}, a.Teams)
	d, err := e.srv.CanSignIn(t.Context(), e.teamID, "new.person@partner.test")
	require.NoError(t, err)
	assert.True(t, d.Allowed, "SSO sign-in works at once")
}

// R15: an account on a domain the team verified joins at once, with no invite.
func TestCreateOutcomeVerifiedDomain(t *testing.T) {
	accts := memaccounts.New()
	accts.Add(teamscim.Account{Email: "known@example.com"})
	e := newEnv(t, withAccounts(accts))
	res := e.provision("Known@Example.com")
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	u := e.user(res.str("id"))
	assert.True(t, u.Active)
	assert.False(t, u.Pending)
	assert.Equal(t, []string{"AddToTeam"}, methods(accts.Calls()), "no invite, no account to create: the account joins")
	a, _ := accts.Account("known@example.com")
	assert.Equal(t, []string{e.teamID}, a.Teams)
}

// R16, OQ2, OQ3: an account on an unverified domain is invited; the membership is pending
// (the resource shows the active it asked for, the seat is reserved, sign-in refused) until
// the person accepts. R22: a pending member cannot be placed in a group.
func TestCreateOutcomeInvite(t *testing.T) {
	accts := memaccounts.New()
	acct := accts.Add(teamscim.Account{Email: "guest@partner.test"})
	e, rec := newEnvEvents(t, withAccounts(accts), withSeats(teamscim.SeatLimit(2)))
	res := e.provision("guest@partner.test")
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, true, res.body["active"], "OQ2: the resource shows the active state the IdP asked for")
	id := res.str("id")
	u := e.user(id)
	assert.True(t, u.Pending)
	assert.True(t, u.Seat, "OQ3: the invitation reserves a seat")
	assert.True(t, accts.Invited(e.teamID, "guest@partner.test"))
	calls := accts.Calls()
	require.Equal(t, []string{"SendInvite"}, methods(calls))
	assert.Equal(t, acct.ID, calls[0].Req.AccountID)
	assert.Equal(t, []string{"scim.user.provisioned " + id, "team.invite.sent " + id}, summary(rec.take()))
	d, err := e.srv.CanSignIn(t.Context(), e.teamID, "guest@partner.test")
	require.NoError(t, err)
	assert.False(t, d.Allowed)
	assert.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users/"+id, nil).Code, "GET returns the pending member")

	// R22: no group until they have joined; nothing of the request applies.
	gid := e.createGroup("Eng")
	res = e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": id}}}))
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Contains(t, res.str("detail"), "accepted the invitation")
	assert.Equal(t, []string{}, e.members(gid))
	res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "other@partner.test", "groups": []any{"Eng"}})
	require.Equal(t, http.StatusCreated, res.Code, "no account: active at once, groups fine")
	accts.Add(teamscim.Account{Email: "third@partner.test"})
	res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "third@partner.test", "groups": []any{"Eng"}})
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Equal(t, 2, e.countUsers(), "an invitee with groups is refused and nothing is stored")
	assert.False(t, accts.Invited(e.teamID, "third@partner.test"))

	// The seat is taken: the limit of 2 is reached. A refused seat makes no account and sends no
	// invite.
	accts.Add(teamscim.Account{Email: "fifth@partner.test"})
	before := len(accts.Calls())
	requireSCIMError(t, e.provision("fourth@partner.test"), http.StatusForbidden, "")
	requireSCIMError(t, e.provision("fifth@partner.test"), http.StatusForbidden, "")
	assert.Len(t, accts.Calls(), before, "no host call for a refused create")
	assert.False(t, accts.Invited(e.teamID, "fifth@partner.test"))
	assert.Empty(t, e.jobs())

	// The person accepts; they join, and can now go in groups.
	joined, err := e.srv.AcceptInvite(t.Context(), e.teamID, "GUEST@partner.test")
	require.NoError(t, err)
	assert.Equal(t, id, joined.ID)
	assert.False(t, e.user(id).Pending)
	d, err = e.srv.CanSignIn(t.Context(), e.teamID, "guest@partner.test")
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid,
		patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": id}}})).Code)
	_, err = e.srv.AcceptInvite(t.Context(), e.teamID, "guest@partner.test")
	assert.ErrorIs(t, err, teamscim.ErrNotInvited)
}

// R18: a member of another team on a domain this team has not verified is not provisioned:
// 409, nothing stored, no host call.
func TestCreateRefusesOtherTeamsMemberOnUnverifiedDomain(t *testing.T) {
	accts := memaccounts.New()
	accts.Add(teamscim.Account{Email: "busy@elsewhere.test", Teams: []string{"another-team"}})
	accts.Add(teamscim.Account{Email: "busy@example.com", Teams: []string{"another-team"}})
	e := newEnv(t, withAccounts(accts))
	res := e.provision("busy@elsewhere.test")
	requireSCIMError(t, res, http.StatusConflict, "uniqueness")
	assert.Contains(t, res.str("detail"), "member of another team")
	assert.Equal(t, 0, e.countUsers())
	assert.Empty(t, accts.Calls())
	// On a verified domain, without domain capture, they join (member of both teams).
	require.Equal(t, http.StatusCreated, e.provision("busy@example.com").Code)
	assert.Equal(t, []string{"AddToTeam"}, methods(accts.Calls()))
	a, _ := accts.Account("busy@example.com")
	assert.Equal(t, []string{"another-team", e.teamID}, a.Teams)
}

// Domain capture: an account on a verified domain that belongs to another team is
// consolidated into this one.
func TestDomainCaptureConsolidates(t *testing.T) {
	accts := memaccounts.New()
	accts.Add(teamscim.Account{Email: "moved@example.com", Teams: []string{"another-team"}})
	e := newEnv(t, withAccounts(accts))
	require.NoError(t, e.srv.SetDomainCapture(t.Context(), e.teamID, e.admin, true))
	res := e.provision("moved@example.com")
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.False(t, e.user(res.str("id")).Pending)
	assert.Equal(t, []string{"Consolidate"}, methods(accts.Calls()))
	a, _ := accts.Account("moved@example.com")
	assert.Equal(t, []string{e.teamID}, a.Teams)
	// Capture needs a verified domain.
	other, _, _ := e.newTeam("Other")
	require.NoError(t, e.srv.RemoveDomain(t.Context(), other, e.admin, "example.com"))
	assert.ErrorIs(t, e.srv.SetDomainCapture(t.Context(), other, e.admin, true), teamscim.ErrNoVerifiedDomain)
}

// The seed's Okta case: a pending invite made by hand for the same email answers 409 with a
// detail that says to remove it; removing it lets the IdP's retry succeed.
func TestManualInviteBlocksCreateUntilRemoved(t *testing.T) {
	accts := memaccounts.New()
	e := newEnv(t, withAccounts(accts), withSeats(teamscim.SeatLimit(1)))
	inv, err := e.srv.InviteMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "pat@example.com"})
	require.NoError(t, err)
	assert.True(t, inv.Pending)
	assert.False(t, inv.Managed)
	assert.Equal(t, 1, e.seatsInUse(), "a manual invitation reserves its seat too")

	res := e.provision("Pat@example.com")
	requireSCIMError(t, res, http.StatusConflict, "uniqueness")
	assert.Contains(t, res.str("detail"), "remove the pending invite")
	assert.Equal(t, 1, e.countUsers())
	assert.Equal(t, []string{inv.ID}, listIDs(t, e.req(http.MethodGet, filterPath(`userName eq "pat@example.com"`), nil)),
		"C4: the member that makes the POST 409 is found by the IdP's filter")

	require.NoError(t, e.srv.CancelInvite(t.Context(), e.teamID, e.admin, "pat@example.com"))
	assert.Equal(t, 0, e.seatsInUse())
	assert.ErrorIs(t, e.srv.CancelInvite(t.Context(), e.teamID, e.admin, "pat@example.com"), teamscim.ErrNotInvited)
	res = e.provision("Pat@example.com")
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.NotEqual(t, inv.ID, res.str("id"))
	assert.Equal(t, []string{"CreateAccount"}, methods(accts.Calls()))
	// Only admins invite and cancel.
	_, err = e.srv.InviteMember(t.Context(), e.teamID, teamscim.Actor{MemberID: res.str("id")}, teamscim.Member{Email: "x@example.com"})
	assert.ErrorIs(t, err, teamscim.ErrNotAdmin)
}

// Account calls run after the commit and are retried until they succeed; a failing lookup
// fails the create with a generic 500 and stores nothing.
func TestAccountCallsAreRetried(t *testing.T) {
	accts := memaccounts.New()
	failures := 2
	accts.FailWith(func(method string, req teamscim.AccountRequest) error {
		if failures > 0 {
			failures--
			return errors.New("identity service unavailable")
		}
		return nil
	})
	e := newEnv(t, withAccounts(accts))
	res := e.provision("late@partner.test")
	require.Equal(t, http.StatusCreated, res.Code, "the member committed; the account call waits")
	require.Len(t, e.jobs(), 1)
	n, err := e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	calls := accts.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, 3, calls[0].Req.Attempt)

	ctrl := gomock.NewController(t)
	broken := mocks.NewMockAccounts(ctrl)
	broken.EXPECT().FindAccount(gomock.Any(), "x@example.com").Return(teamscim.Account{}, false, errors.New("dial tcp: refused"))
	f := newEnv(t, withAccounts(broken))
	res = f.provision("x@example.com")
	requireSCIMError(t, res, http.StatusInternalServerError, "")
	assert.NotContains(t, res.Body.String(), "dial")
	assert.Equal(t, 0, f.countUsers())
}

// JIT: a sign-in through the team's IdP adds the person when JIT is on; a later SCIM create
// adopts that member.
func TestSignInWithSSO(t *testing.T) {
	e, rec := newEnvEvents(t, withSeats(teamscim.SeatLimit(2)))
	p := teamscim.SSOUser{Email: "jit@example.com", GivenName: "Jo", FamilyName: "It"}
	_, err := e.srv.SignInWithSSO(t.Context(), e.teamID, p)
	assert.ErrorIs(t, err, teamscim.ErrJITDisabled)
	assert.Equal(t, 0, e.countUsers())

	require.NoError(t, e.srv.SetJIT(t.Context(), e.teamID, e.admin, true))
	m, err := e.srv.SignInWithSSO(t.Context(), e.teamID, p)
	require.NoError(t, err)
	assert.True(t, m.Active)
	assert.False(t, m.Managed)
	assert.True(t, m.Seat, "the seat policy applies")
	again, err := e.srv.SignInWithSSO(t.Context(), e.teamID, p)
	require.NoError(t, err)
	assert.Equal(t, m.ID, again.ID, "signing in again changes nothing")
	assert.Equal(t, []string{"team.member.joined_jit " + m.ID}, summary(rec.take()))

	// The IdP's create adopts the JIT member: 201, the same member, now SCIM-managed.
	res := e.provision("JIT@example.com")
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, m.ID, res.str("id"))
	assert.True(t, e.user(m.ID).Managed)
	assert.Equal(t, 1, e.countUsers())

	// Deactivated by the IdP: signing in does not bring them back.
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+m.ID, deactivateOkta(false)).Code)
	_, err = e.srv.SignInWithSSO(t.Context(), e.teamID, p)
	assert.ErrorIs(t, err, teamscim.ErrMemberDeactivated)
	assert.False(t, e.user(m.ID).Active)

	// With domain capture on, only the verified domains join.
	require.NoError(t, e.srv.SetDomainCapture(t.Context(), e.teamID, e.admin, true))
	_, err = e.srv.SignInWithSSO(t.Context(), e.teamID, teamscim.SSOUser{Email: "out@elsewhere.test"})
	assert.ErrorIs(t, err, teamscim.ErrDomainNotCaptured)
	_, err = e.srv.SignInWithSSO(t.Context(), e.teamID, teamscim.SSOUser{Email: "in@example.com"})
	require.NoError(t, err)
	_, err = e.srv.SignInWithSSO(t.Context(), e.teamID, teamscim.SSOUser{Email: "more@example.com"})
	require.NoError(t, err)
	_, err = e.srv.SignInWithSSO(t.Context(), e.teamID, teamscim.SSOUser{Email: "full@example.com"})
	assert.ErrorIs(t, err, teamscim.ErrNoSeat)

	// A pending invitee who signs in joins.
	require.NoError(t, e.srv.SetMemberRoles(t.Context(), e.teamID, e.admin, e.idOf("more@example.com"), []string{teamscim.RoleBilling}))
	inv, err := e.srv.InviteMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "inv@example.com"})
	require.NoError(t, err)
	got, err := e.srv.SignInWithSSO(t.Context(), e.teamID, teamscim.SSOUser{Email: "inv@example.com"})
	require.NoError(t, err)
	assert.Equal(t, inv.ID, got.ID)
	assert.False(t, e.user(inv.ID).Pending)
}

// A JIT sign-in racing a SCIM create of the same person ends with exactly one member, which
// both see, and which the create leaves SCIM-managed.
func TestSignInRacesCreate(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.srv.SetJIT(t.Context(), e.teamID, e.admin, true))
	const n = 40
	var wg sync.WaitGroup
	ids := make([][2]string, n)
	for i := range n {
		email := fmt.Sprintf("race%02d@example.com", i)
		wg.Go(func() {
			u, err := e.srv.SignInWithSSO(t.Context(), e.teamID, teamscim.SSOUser{Email: email})
			if assert.NoError(t, err) {
				ids[i][0] = u.ID
			}
		})
		wg.Go(func() {
			res := e.provision(email)
			if assert.Equal(t, http.StatusCreated, res.Code, res.Body.String()) {
				ids[i][1] = res.str("id")
			}
		})
	}
	wg.Wait()
	assert.Equal(t, n, e.countUsers())
	for i, pair := range ids {
		assert.Equal(t, pair[0], pair[1], "race %d: one member for both", i)
		assert.True(t, e.user(pair[1]).Managed, "race %d: the create adopted or made the member", i)
	}
}
