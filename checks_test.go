package teamscim_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/store"
)

func (e *env) canSignIn(email string) teamscim.Decision {
	e.t.Helper()
	d, err := e.srv.CanSignIn(e.t.Context(), e.teamID, email)
	require.NoError(e.t, err)
	return d
}

// CanSignIn: refused with a reason for deactivated, hidden, pending and unknown members.
func TestCanSignIn(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("Ann@example.com")
	assert.Equal(t, teamscim.Decision{Allowed: true}, e.canSignIn("ann@EXAMPLE.com"), "emails compare case-insensitively")

	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false)).Code)
	assert.Equal(t, teamscim.Decision{Reason: teamscim.ReasonDeactivated}, e.canSignIn("ann@example.com"))
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(true)).Code)
	assert.True(t, e.canSignIn("ann@example.com").Allowed, "reactivation restores sign-in")

	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+id, nil).Code)
	assert.Equal(t, teamscim.Decision{Reason: teamscim.ReasonHidden}, e.canSignIn("ann@example.com"))

	pending := e.addMember("invited@example.com")
	e.setUser(pending.ID, func(u *store.User) { u.Pending = true })
	assert.Equal(t, teamscim.ReasonPending, e.canSignIn("invited@example.com").Reason)

	assert.Equal(t, teamscim.Decision{Reason: teamscim.ReasonNotMember}, e.canSignIn("stranger@example.com"))
	assert.Equal(t, teamscim.ReasonNotMember, e.canSignIn("").Reason)
	assert.Equal(t, "refused: not_member", e.canSignIn("stranger@example.com").String())

	// Another team's member is not a member here.
	otherTeam, otherKey, _ := e.newTeam("Other")
	require.Equal(t, http.StatusCreated, e.reqAuth(http.MethodPost, "/Users", map[string]any{"userName": "bob@example.com"}, "Bearer "+otherKey).Code)
	assert.Equal(t, teamscim.ReasonNotMember, e.canSignIn("bob@example.com").Reason)
	d, err := e.srv.CanSignIn(t.Context(), otherTeam, "bob@example.com")
	require.NoError(t, err)
	assert.True(t, d.Allowed)

	_, err = e.srv.CanSignIn(t.Context(), "no-such-team", "ann@example.com")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// R34: while SCIM is on, a SCIM-managed member cannot leave the team or change their email or
// password; members who joined outside SCIM can, and so can everyone once SCIM is off.
func TestSCIMManagedMemberRestrictions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	managed := e.createUser("ann@example.com")
	e.addMember("bob@example.com")

	checks := map[string]func(email string) (teamscim.Decision, error){
		"CanLeaveTeam":      func(email string) (teamscim.Decision, error) { return e.srv.CanLeaveTeam(ctx, e.teamID, email) },
		"CanChangeEmail":    func(email string) (teamscim.Decision, error) { return e.srv.CanChangeEmail(ctx, e.teamID, email) },
		"CanChangePassword": func(email string) (teamscim.Decision, error) { return e.srv.CanChangePassword(ctx, e.teamID, email) },
	}
	expect := func(email string, want teamscim.Decision, why string) {
		t.Helper()
		for name, check := range checks {
			d, err := check(email)
			require.NoError(t, err)
			assert.Equal(t, want, d, "%s(%s): %s", name, email, why)
		}
	}
	refused := teamscim.Decision{Reason: teamscim.ReasonSCIMManaged}
	allowed := teamscim.Decision{Allowed: true}

	expect("ANN@example.com", refused, "SCIM-managed while SCIM is on")
	expect("bob@example.com", allowed, "joined outside SCIM")
	expect("nobody@example.com", teamscim.Decision{Reason: teamscim.ReasonNotMember}, "not on the team")

	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+managed, deactivateOkta(false)).Code)
	expect("ann@example.com", refused, "a deactivated member is still managed by the IdP")

	require.NoError(t, e.srv.DisableSCIM(ctx, e.teamID, e.admin))
	expect("ann@example.com", allowed, "SCIM is off")
	require.NoError(t, e.srv.EnableSCIM(ctx, e.teamID, e.admin))
	expect("ann@example.com", refused, "SCIM is on again: the member is still managed")

	// Adoption makes a member managed.
	require.Equal(t, http.StatusCreated, e.req(http.MethodPost, "/Users", map[string]any{"userName": "Bob@example.com"}).Code)
	expect("bob@example.com", refused, "adopted by POST /Users")
}
