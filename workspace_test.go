package teamscim_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/mocks"
	"github.com/teamscim/teamscim/memworkspace"
	"github.com/teamscim/teamscim/store"
)

func withWorkspaces(w teamscim.WorkspaceReassigner) func(*teamscim.Config) {
	return func(c *teamscim.Config) { c.Workspaces = w }
}

// ws builds a workspace of kind owned by owner with the given members (user ID → role).
func ws(id string, kind teamscim.WorkspaceKind, owner string, members ...teamscim.WorkspaceMember) teamscim.Workspace {
	return teamscim.Workspace{ID: id, Kind: kind, Owner: owner, Members: members}
}

func wm(user string, role teamscim.WorkspaceRole) teamscim.WorkspaceMember {
	return teamscim.WorkspaceMember{UserID: user, Role: role}
}

// jobs returns the env's team's pending jobs.
func (e *env) jobs() []store.Job {
	e.t.Helper()
	var jobs []store.Job
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		jobs, err = tx.ListJobs(ctx, "")
		return err
	}))
	return jobs
}

// The seed FAQ: deactivating the only member of an internal, public or partner workspace keeps
// its kind and makes the team its admin; other members keep their roles (nobody is promoted);
// private and personal workspaces are left alone; the member's sessions are revoked.
func TestDeactivationHandsOverSoleMemberWorkspaces(t *testing.T) {
	svc := memworkspace.New()
	e := newEnv(t, withWorkspaces(svc))
	u := e.createUser("dana@example.com")
	other := e.createUser("olaf@example.com")
	for _, w := range []teamscim.Workspace{
		ws("internal-solo", teamscim.WorkspaceInternal, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("public-solo", teamscim.WorkspacePublic, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("partner-solo", teamscim.WorkspacePartner, other, wm(u, teamscim.WorkspaceEditor)),
		ws("private-solo", teamscim.WorkspacePrivate, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("personal", teamscim.WorkspacePersonal, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("internal-shared", teamscim.WorkspaceInternal, u, wm(u, teamscim.WorkspaceAdmin), wm(other, teamscim.WorkspaceViewer)),
	} {
		require.NoError(t, svc.Create(e.teamID, w))
	}

	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false)).Code)
	for id, teamAdmin := range map[string]bool{"internal-solo": true, "public-solo": true, "partner-solo": true,
		"private-solo": false, "personal": false, "internal-shared": false} {
		w, ok := svc.Workspace(e.teamID, id)
		require.True(t, ok)
		assert.Equal(t, teamAdmin, w.TeamAdmin, "%s: team admin", id)
	}
	shared, _ := svc.Workspace(e.teamID, "internal-shared")
	assert.Equal(t, []teamscim.WorkspaceMember{wm(u, teamscim.WorkspaceAdmin), wm(other, teamscim.WorkspaceViewer)}, shared.Members,
		"the co-member keeps Viewer: nobody is promoted")
	solo, _ := svc.Workspace(e.teamID, "internal-solo")
	assert.Equal(t, teamscim.WorkspaceInternal, solo.Kind, "the workspace keeps its kind")
	assert.Equal(t, 1, svc.SessionsRevoked(e.teamID, u))
	assert.Empty(t, e.jobs(), "the hand-over is done: no job left")

	// Deactivating again is an idempotent repeat: no second hand-over.
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false)).Code)
	assert.Len(t, svc.Applied(), 1)
	assert.Equal(t, 1, svc.SessionsRevoked(e.teamID, u))
}

// The seed FAQ: on reactivation the member's own workspaces come back; their former roles in
// private and partner workspaces are not restored (even read access goes); in internal and
// public workspaces they have the access of any member.
func TestReactivationRestoresOwnWorkspacesOnly(t *testing.T) {
	svc := memworkspace.New()
	e := newEnv(t, withWorkspaces(svc))
	u := e.createUser("dana@example.com")
	other := e.createUser("olaf@example.com")
	for _, w := range []teamscim.Workspace{
		ws("own-internal", teamscim.WorkspaceInternal, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("own-personal", teamscim.WorkspacePersonal, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("their-private", teamscim.WorkspacePrivate, other, wm(other, teamscim.WorkspaceAdmin), wm(u, teamscim.WorkspaceEditor)),
		ws("their-partner", teamscim.WorkspacePartner, other, wm(other, teamscim.WorkspaceAdmin), wm(u, teamscim.WorkspaceAdmin)),
		ws("their-internal", teamscim.WorkspaceInternal, other, wm(other, teamscim.WorkspaceAdmin), wm(u, teamscim.WorkspaceEditor)),
		ws("their-public", teamscim.WorkspacePublic, other, wm(other, teamscim.WorkspaceAdmin), wm(u, teamscim.WorkspaceEditor)),
	} {
		require.NoError(t, svc.Create(e.teamID, w))
	}
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false)).Code)
	own, _ := svc.Workspace(e.teamID, "own-internal")
	require.True(t, own.TeamAdmin)

	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(true)).Code)
	own, _ = svc.Workspace(e.teamID, "own-internal")
	assert.False(t, own.TeamAdmin, "the member's own workspace is theirs again")
	assert.Equal(t, []teamscim.WorkspaceMember{wm(u, teamscim.WorkspaceAdmin)}, own.Members)
	for _, id := range []string{"their-private", "their-partner", "their-internal", "their-public"} {
		w, _ := svc.Workspace(e.teamID, id)
		assert.Equal(t, []teamscim.WorkspaceMember{wm(other, teamscim.WorkspaceAdmin)}, w.Members,
			"%s: the former role is not restored", id)
	}
	plans := svc.Applied()
	require.Len(t, plans, 2)
	assert.Equal(t, teamscim.WorkspacesOnReactivation, plans[1].Reason)
	assert.False(t, plans[1].RevokeSessions)
	assert.Equal(t, 1, svc.SessionsRevoked(e.teamID, u), "only the deactivation revoked sessions")
}

// PlanWorkspaces is the rule itself, table-driven.
func TestPlanWorkspaces(t *testing.T) {
	u, o := "u", "o"
	all := []teamscim.Workspace{
		ws("int-solo", teamscim.WorkspaceInternal, o, wm(u, teamscim.WorkspaceViewer)),
		ws("pub-solo", teamscim.WorkspacePublic, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("par-solo", teamscim.WorkspacePartner, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("pri-solo", teamscim.WorkspacePrivate, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("int-shared", teamscim.WorkspaceInternal, o, wm(o, teamscim.WorkspaceAdmin), wm(u, teamscim.WorkspaceAdmin)),
		ws("pri-other", teamscim.WorkspacePrivate, o, wm(o, teamscim.WorkspaceAdmin), wm(u, teamscim.WorkspaceViewer)),
		ws("personal", teamscim.WorkspacePersonal, u, wm(u, teamscim.WorkspaceAdmin)),
	}
	change := func(id string, a teamscim.WorkspaceAction, to string) teamscim.WorkspaceChange {
		return teamscim.WorkspaceChange{WorkspaceID: id, Action: a, To: to}
	}
	for _, c := range []struct {
		reason teamscim.WorkspaceReason
		want   []teamscim.WorkspaceChange
	}{
		{teamscim.WorkspacesOnDeactivation, []teamscim.WorkspaceChange{
			change("int-solo", teamscim.WorkspaceTeamAdmin, ""), change("pub-solo", teamscim.WorkspaceTeamAdmin, ""),
			change("par-solo", teamscim.WorkspaceTeamAdmin, "")}},
		{teamscim.WorkspacesOnReactivation, []teamscim.WorkspaceChange{
			change("int-solo", teamscim.WorkspaceMemberAccess, ""), change("pub-solo", teamscim.WorkspaceRestore, ""),
			change("par-solo", teamscim.WorkspaceRestore, ""), change("pri-solo", teamscim.WorkspaceRestore, ""),
			change("int-shared", teamscim.WorkspaceMemberAccess, ""), change("pri-other", teamscim.WorkspaceDropRole, ""),
			change("personal", teamscim.WorkspaceRestore, "")}},
		{teamscim.WorkspacesOnRemoval, []teamscim.WorkspaceChange{
			change("int-solo", teamscim.WorkspaceDropRole, ""),
			change("pub-solo", teamscim.WorkspaceTransfer, "admin"), change("pub-solo", teamscim.WorkspaceDropRole, ""),
			change("par-solo", teamscim.WorkspaceTransfer, "admin"), change("par-solo", teamscim.WorkspaceDropRole, ""),
			change("pri-solo", teamscim.WorkspaceTransfer, "admin"), change("pri-solo", teamscim.WorkspaceDropRole, ""),
			change("int-shared", teamscim.WorkspaceTransfer, "admin"), change("int-shared", teamscim.WorkspaceDropRole, ""),
			change("pri-other", teamscim.WorkspaceDropRole, ""),
			change("personal", teamscim.WorkspaceTransfer, "admin"), change("personal", teamscim.WorkspaceDropRole, "")}},
	} {
		p := teamscim.PlanWorkspaces("team", u, c.reason, "admin", all)
		assert.Equal(t, c.want, p.Changes, c.reason)
		assert.Equal(t, c.reason != teamscim.WorkspacesOnReactivation, p.RevokeSessions, c.reason)
	}
}

// Never lost: the hook fails in the middle of a plan; the change has committed (the IdP gets
// 200), the job stays, and the next write that touches the member finishes it, telling the
// hook it is attempt 2.
func TestWorkspaceHandOverRetriedAfterFailureMidway(t *testing.T) {
	svc := memworkspace.New()
	e := newEnv(t, withWorkspaces(svc))
	u := e.createUser("dana@example.com")
	require.NoError(t, svc.Create(e.teamID, ws("a", teamscim.WorkspaceInternal, u, wm(u, teamscim.WorkspaceAdmin))))
	require.NoError(t, svc.Create(e.teamID, ws("b", teamscim.WorkspacePublic, u, wm(u, teamscim.WorkspaceAdmin))))
	var calls atomic.Int32
	svc.FailWith(func(plan teamscim.WorkspacePlan, step int) error {
		if plan.Attempt == 1 && step == 1 {
			calls.Add(1)
			return errors.New("workspace service crashed mid-way")
		}
		return nil
	})

	res := e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.False(t, e.user(u).Active, "the deactivation committed")
	a, _ := svc.Workspace(e.teamID, "a")
	b, _ := svc.Workspace(e.teamID, "b")
	assert.True(t, a.TeamAdmin, "the first step ran")
	assert.False(t, b.TeamAdmin, "the hook died before the second")
	jobs := e.jobs()
	require.Len(t, jobs, 1)
	assert.Equal(t, 1, jobs[0].Attempts)
	assert.Contains(t, jobs[0].LastError, "crashed mid-way")
	assert.Equal(t, u, jobs[0].UserID)

	// The IdP's next write to the member (a profile push) runs the job again.
	res = e.req(http.MethodPut, "/Users/"+u, map[string]any{"userName": "dana@example.com", "name": map[string]any{"givenName": "Dana", "familyName": "F"}})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	b, _ = svc.Workspace(e.teamID, "b")
	assert.True(t, b.TeamAdmin, "the retry finished the plan")
	assert.Empty(t, e.jobs())
	plans := svc.Applied()
	require.Len(t, plans, 1)
	assert.Equal(t, 2, plans[0].Attempt)
	assert.Equal(t, int32(1), calls.Load())
	assert.Equal(t, 1, svc.SessionsRevoked(e.teamID, u))
}

// Never lost across a crash: a Server whose hand-over never ran (its process died after the
// commit) leaves the job in the store; another Server on the same store finishes it with
// RetryPending, and the member's hand-overs apply in the order of the changes.
func TestRetryPendingFinishesAnotherServersJobs(t *testing.T) {
	down := memworkspace.New()
	down.FailWith(func(teamscim.WorkspacePlan, int) error { return errors.New("connection refused") })
	e := newEnv(t, withWorkspaces(down))
	u := e.createUser("dana@example.com")
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false)).Code)
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(true)).Code)
	require.Len(t, e.jobs(), 2)
	n, err := e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, n, "still down: both stay pending")

	up := memworkspace.New()
	require.NoError(t, up.Create(e.teamID, ws("own", teamscim.WorkspaceInternal, u, wm(u, teamscim.WorkspaceAdmin))))
	other, err := teamscim.New(teamscim.Config{Store: e.st, Workspaces: up})
	require.NoError(t, err)
	n, err = other.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	assert.Empty(t, e.jobs())
	plans := up.Applied()
	require.Len(t, plans, 2)
	assert.Equal(t, []teamscim.WorkspaceReason{teamscim.WorkspacesOnDeactivation, teamscim.WorkspacesOnReactivation},
		[]teamscim.WorkspaceReason{plans[0].Reason, plans[1].Reason}, "in the order of the changes")
	assert.Equal(t, 4, plans[0].Attempt, "three failed attempts before: after the deactivation, after the reactivation (the next write), and RetryPending")
	assert.Equal(t, 1, plans[1].Attempt, "the reactivation waited behind the deactivation: never tried before it")
	own, _ := up.Workspace(e.teamID, "own")
	assert.False(t, own.TeamAdmin, "deactivated then reactivated: the workspace is the member's again")
}

// With mocks: exactly one call per real state change, none for idempotent repeats, retries
// until success, and none when the change was refused for want of a seat.
func TestWorkspaceHookCalls(t *testing.T) {
	ctrl := gomock.NewController(t)
	hook := mocks.NewMockWorkspaceReassigner(ctrl)
	e := newEnv(t, withWorkspaces(hook), withSeats(teamscim.SeatLimit(1)))
	u := e.createUser("dana@example.com")
	hook.EXPECT().MemberWorkspaces(gomock.Any(), e.teamID, u).Return(nil, nil).AnyTimes()

	// One deactivation, deactivated twice: one plan.
	hook.EXPECT().ApplyWorkspacePlan(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, p teamscim.WorkspacePlan) error {
		assert.Equal(t, teamscim.WorkspacesOnDeactivation, p.Reason)
		assert.Equal(t, 1, p.Attempt)
		assert.True(t, p.RevokeSessions)
		return nil
	}).Times(1)
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false)).Code)
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false)).Code)
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+u, nil).Code, "hiding an inactive member is no new deactivation")

	// The re-link needs a seat; with the seat taken, it is refused and the hook is not called.
	e.createUser("other@example.com")
	requireSCIMError(t, e.postUser("dana@example.com"), http.StatusForbidden, "")
	assert.Empty(t, e.jobs())

	// Free the seat; the re-link's reactivation fails twice, then succeeds.
	require.NoError(t, e.srv.SetMemberRoles(t.Context(), e.teamID, e.admin, e.user(e.idOf("other@example.com")).ID, []string{teamscim.RoleBilling}))
	var attempts []int
	hook.EXPECT().ApplyWorkspacePlan(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, p teamscim.WorkspacePlan) error {
		assert.Equal(t, teamscim.WorkspacesOnReactivation, p.Reason)
		attempts = append(attempts, p.Attempt)
		if p.Attempt < 3 {
			return errors.New("timeout")
		}
		return nil
	}).Times(3)
	require.Equal(t, http.StatusCreated, e.postUser("dana@example.com").Code)
	n, err := e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	assert.Equal(t, []int{1, 2, 3}, attempts)
	n, err = e.srv.RetryPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, n, "nothing left: no further call")
}

// A hook that panics is a failure like any other: the request succeeds and the job waits.
func TestWorkspaceHookPanicIsContained(t *testing.T) {
	ctrl := gomock.NewController(t)
	hook := mocks.NewMockWorkspaceReassigner(ctrl)
	e := newEnv(t, withWorkspaces(hook))
	u := e.createUser("dana@example.com")
	hook.EXPECT().MemberWorkspaces(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
		func(context.Context, string, string) ([]teamscim.Workspace, error) { panic("host bug") })
	res := e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	jobs := e.jobs()
	require.Len(t, jobs, 1)
	assert.Contains(t, jobs[0].LastError, "panicked")
}

// The seed FAQ: removing a member from the team (an admin action, not SCIM) transfers their
// workspaces to a named admin and takes every team access away; re-adding them later restores
// nothing.
func TestRemovalTransfersWorkspacesAndReaddRestoresNothing(t *testing.T) {
	svc := memworkspace.New()
	e := newEnv(t, withWorkspaces(svc), withSeats(teamscim.AutoFlex(1)))
	boss := e.addAdmin("boss@example.com")
	other := e.createUser("olaf@example.com")
	u := e.createUser("dana@example.com")
	g := e.createGroup("Eng", u)
	for _, w := range []teamscim.Workspace{
		ws("own", teamscim.WorkspaceInternal, u, wm(u, teamscim.WorkspaceAdmin)),
		ws("admin-of", teamscim.WorkspacePublic, other, wm(other, teamscim.WorkspaceEditor), wm(u, teamscim.WorkspaceAdmin)),
		ws("editor-of", teamscim.WorkspacePrivate, other, wm(other, teamscim.WorkspaceAdmin), wm(u, teamscim.WorkspaceEditor)),
	} {
		require.NoError(t, svc.Create(e.teamID, w))
	}
	rep, err := e.srv.SeatReport(t.Context(), e.teamID)
	require.NoError(t, err)
	require.Equal(t, 1, rep.OpenOverage)

	require.NoError(t, e.srv.RemoveMember(t.Context(), e.teamID, e.admin, u, boss.MemberID))
	own, _ := svc.Workspace(e.teamID, "own")
	assert.Equal(t, boss.MemberID, own.Owner, "the member's workspace goes to the named admin")
	assert.Equal(t, []teamscim.WorkspaceMember{wm(boss.MemberID, teamscim.WorkspaceAdmin)}, own.Members)
	adminOf, _ := svc.Workspace(e.teamID, "admin-of")
	assert.Equal(t, boss.MemberID, adminOf.Owner, "a workspace the member administered goes too")
	assert.Equal(t, []teamscim.WorkspaceMember{wm(other, teamscim.WorkspaceEditor), wm(boss.MemberID, teamscim.WorkspaceAdmin)}, adminOf.Members)
	editorOf, _ := svc.Workspace(e.teamID, "editor-of")
	assert.Equal(t, other, editorOf.Owner)
	assert.Equal(t, []teamscim.WorkspaceMember{wm(other, teamscim.WorkspaceAdmin)}, editorOf.Members, "every role of the member goes")
	assert.Equal(t, 1, svc.SessionsRevoked(e.teamID, u))
	plans := svc.Applied()
	require.Len(t, plans, 1)
	assert.Equal(t, teamscim.WorkspacesOnRemoval, plans[0].Reason)
	assert.Equal(t, 1, e.seatsInUse(), "the removal freed the seat")
	rep, err = e.srv.SeatReport(t.Context(), e.teamID)
	require.NoError(t, err)
	assert.Equal(t, 0, rep.OpenOverage, "and released the overage seat")
	assert.Equal(t, []string{}, e.members(g))

	// The IdP provisions the same person again: a new member, with nothing restored.
	again := e.createUser("dana@example.com")
	assert.NotEqual(t, u, again)
	assert.Equal(t, []string{}, e.members(g))
	for _, w := range svc.Workspaces(e.teamID) {
		for _, m := range w.Members {
			assert.NotEqual(t, again, m.UserID, "%s: re-adding restored access", w.ID)
			assert.NotEqual(t, u, m.UserID, "%s: the removed member kept access", w.ID)
		}
	}
	assert.Len(t, svc.Applied(), 1, "provisioning a new member hands nothing over")
}
