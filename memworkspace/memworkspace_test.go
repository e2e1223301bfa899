package memworkspace_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memworkspace"
)

// Applying a plan twice leaves the workspaces as applying it once (teamscim retries plans).
func TestApplyIsIdempotent(t *testing.T) {
	ctx := context.Background()
	for _, reason := range []teamscim.WorkspaceReason{teamscim.WorkspacesOnDeactivation, teamscim.WorkspacesOnReactivation, teamscim.WorkspacesOnRemoval} {
		t.Run(string(reason), func(t *testing.T) {
			svc := memworkspace.New()
			for _, w := range []teamscim.Workspace{
				{ID: "own", Kind: teamscim.WorkspaceInternal, Owner: "u", Members: []teamscim.WorkspaceMember{{UserID: "u", Role: teamscim.WorkspaceAdmin}}},
				{ID: "priv", Kind: teamscim.WorkspacePrivate, Owner: "o", Members: []teamscim.WorkspaceMember{
					{UserID: "o", Role: teamscim.WorkspaceAdmin}, {UserID: "u", Role: teamscim.WorkspaceEditor}}},
			} {
				require.NoError(t, svc.Create("t", w))
			}
			ws, err := svc.MemberWorkspaces(ctx, "t", "u")
			require.NoError(t, err)
			plan := teamscim.PlanWorkspaces("t", "u", reason, "boss", ws)
			require.NoError(t, svc.ApplyWorkspacePlan(ctx, plan))
			once := svc.Workspaces("t")
			require.NoError(t, svc.ApplyWorkspacePlan(ctx, plan))
			assert.Equal(t, once, svc.Workspaces("t"))
		})
	}
}

// FailWith stops a plan at the step it fails, with the earlier steps applied; the retry
// finishes it.
func TestFailMidway(t *testing.T) {
	ctx := context.Background()
	svc := memworkspace.New()
	for _, id := range []string{"a", "b"} {
		require.NoError(t, svc.Create("t", teamscim.Workspace{ID: id, Kind: teamscim.WorkspacePublic, Owner: "u",
			Members: []teamscim.WorkspaceMember{{UserID: "u", Role: teamscim.WorkspaceAdmin}}}))
	}
	assert.ErrorIs(t, svc.Create("t", teamscim.Workspace{ID: "a"}), memworkspace.ErrDuplicate)
	ws, err := svc.MemberWorkspaces(ctx, "t", "u")
	require.NoError(t, err)
	plan := teamscim.PlanWorkspaces("t", "u", teamscim.WorkspacesOnDeactivation, "", ws)
	boom := errors.New("boom")
	svc.FailWith(func(_ teamscim.WorkspacePlan, step int) error {
		if step == 1 {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, svc.ApplyWorkspacePlan(ctx, plan), boom)
	a, _ := svc.Workspace("t", "a")
	b, _ := svc.Workspace("t", "b")
	assert.True(t, a.TeamAdmin)
	assert.False(t, b.TeamAdmin)
	assert.Empty(t, svc.Applied())
	assert.Equal(t, 0, svc.SessionsRevoked("t", "u"))
	svc.FailWith(nil)
	require.NoError(t, svc.ApplyWorkspacePlan(ctx, plan))
	b, _ = svc.Workspace("t", "b")
	assert.True(t, b.TeamAdmin)
	assert.Len(t, svc.Applied(), 1)
	assert.Equal(t, 1, svc.SessionsRevoked("t", "u"))
}
