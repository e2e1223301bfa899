package memworkspace_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/loadtest"
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

// MemberWorkspaces, read from the index by member, returns what a scan of the team's
// workspaces finds, in creation order, after creates and after plans that change owners and
// members.
func TestMemberIndexFollowsPlans(t *testing.T) {
	ctx := context.Background()
	svc := memworkspace.New()
	admin := func(id string) []teamscim.WorkspaceMember {
		return []teamscim.WorkspaceMember{{UserID: id, Role: teamscim.WorkspaceAdmin}}
	}
	require.NoError(t, svc.Create("t", teamscim.Workspace{ID: "a-own", Kind: teamscim.WorkspaceInternal, Owner: "a", Members: admin("a")}))
	require.NoError(t, svc.Create("t", teamscim.Workspace{ID: "b-own", Kind: teamscim.WorkspacePrivate, Owner: "b", Members: append(admin("b"),
		teamscim.WorkspaceMember{UserID: "a", Role: teamscim.WorkspaceEditor})}))
	require.NoError(t, svc.Create("t", teamscim.Workspace{ID: "a-shared", Kind: teamscim.WorkspacePublic, Owner: "a", Members: append(admin("a"),
		teamscim.WorkspaceMember{UserID: "c", Role: teamscim.WorkspaceViewer})}))
	require.NoError(t, svc.Create("other", teamscim.Workspace{ID: "x", Kind: teamscim.WorkspaceInternal, Owner: "a", Members: admin("a")}))

	scan := func(user string) []string {
		ids := []string{}
		for _, w := range svc.Workspaces("t") {
			if w.Owner == user || slices.ContainsFunc(w.Members, func(m teamscim.WorkspaceMember) bool { return m.UserID == user }) {
				ids = append(ids, w.ID)
			}
		}
		return ids
	}
	indexed := func(user string) []string {
		ws, err := svc.MemberWorkspaces(ctx, "t", user)
		require.NoError(t, err)
		ids := []string{}
		for _, w := range ws {
			ids = append(ids, w.ID)
		}
		return ids
	}
	check := func(step string) {
		for _, u := range []string{"a", "b", "c", "boss"} {
			assert.Equal(t, scan(u), indexed(u), "%s: workspaces of %s", step, u)
		}
	}
	check("created")
	assert.Equal(t, []string{"a-own", "b-own", "a-shared"}, indexed("a"), "creation order, this team only")

	apply := func(user string, reason teamscim.WorkspaceReason) {
		ws, err := svc.MemberWorkspaces(ctx, "t", user)
		require.NoError(t, err)
		require.NoError(t, svc.ApplyWorkspacePlan(ctx, teamscim.PlanWorkspaces("t", user, reason, "boss", ws)))
		check(string(reason) + " of " + user)
	}
	apply("a", teamscim.WorkspacesOnDeactivation)
	apply("a", teamscim.WorkspacesOnReactivation) // drops a's role in b-own
	assert.NotContains(t, indexed("a"), "b-own")
	apply("a", teamscim.WorkspacesOnRemoval) // transfers a's workspaces to boss
	assert.Equal(t, []string{"a-own", "a-shared"}, indexed("boss"))
	assert.Empty(t, indexed("a"))
	_, ok := svc.Workspace("t", "x")
	assert.False(t, ok, "workspaces are per team")
}

// seed gives n members a personal and an internal workspace each, as the example server does.
func seed(tb testing.TB, svc *memworkspace.Service, n int) {
	for i := range n {
		create(tb, svc, fmt.Sprintf("member-%d", i))
	}
}

func create(tb testing.TB, svc *memworkspace.Service, user string) {
	own := []teamscim.WorkspaceMember{{UserID: user, Role: teamscim.WorkspaceAdmin}}
	for _, k := range []teamscim.WorkspaceKind{teamscim.WorkspacePersonal, teamscim.WorkspaceInternal} {
		if err := svc.Create("t", teamscim.Workspace{ID: user + "/" + string(k), Kind: k, Owner: user, Members: own}); err != nil {
			tb.Fatal(err)
		}
	}
}

// cycle is what a provisioning costs the service for one member: their workspaces are
// created, then the plans of a deactivation and of a reactivation are listed and applied.
func cycle(tb testing.TB, svc *memworkspace.Service, user string) {
	ctx := context.Background()
	create(tb, svc, user)
	for _, reason := range []teamscim.WorkspaceReason{teamscim.WorkspacesOnDeactivation, teamscim.WorkspacesOnReactivation} {
		ws, err := svc.MemberWorkspaces(ctx, "t", user)
		if err != nil || len(ws) != 2 {
			tb.Fatalf("workspaces of %s: %v, %v", user, ws, err)
		}
		if err := svc.ApplyWorkspacePlan(ctx, teamscim.PlanWorkspaces("t", user, reason, "", ws)); err != nil {
			tb.Fatal(err)
		}
	}
}

// The allocations of a provisioning cycle do not grow with the team: 100 times the members
// and workspaces cost no more allocations per cycle. (A scan would not allocate more, but
// BenchmarkMemberCycle shows its time; this guards what can be counted exactly.)
func TestCycleAllocationsDoNotGrow(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 members")
	}
	allocs := map[int]float64{}
	for _, n := range []int{1_000, 100_000} {
		svc := memworkspace.New()
		seed(t, svc, n)
		i := 0
		allocs[n] = testing.AllocsPerRun(200, func() {
			cycle(t, svc, fmt.Sprintf("new-%d", i))
			i++
		})
	}
	assert.LessOrEqual(t, allocs[100_000], allocs[1_000]+1, "allocations per cycle: %v", allocs)
}

// BenchmarkMemberCycle measures one member's provisioning cycle (create their two workspaces,
// then list and apply a deactivation and a reactivation plan) in teams of 1k, 10k and 100k
// members with two workspaces each. The time per cycle must not grow with the team.
func BenchmarkMemberCycle(b *testing.B) {
	loadtest.BenchTeamSizes(b, "members", func(b *testing.B, n int) func(int) {
		svc := memworkspace.New()
		seed(b, svc, n)
		return func(i int) { cycle(b, svc, fmt.Sprintf("new-%d", i)) }
	})
}

// The service keeps the latest KeptPlans plans, not every one.
func TestAppliedIsBounded(t *testing.T) {
	ctx := context.Background()
	svc := memworkspace.New()
	for i := range 2*memworkspace.KeptPlans + 3 {
		require.NoError(t, svc.ApplyWorkspacePlan(ctx, teamscim.WorkspacePlan{TeamID: "t", UserID: fmt.Sprint(i)}))
	}
	applied := svc.Applied()
	require.Len(t, applied, memworkspace.KeptPlans)
	assert.Equal(t, fmt.Sprint(2*memworkspace.KeptPlans+2), applied[len(applied)-1].UserID, "the latest last")
	assert.Equal(t, fmt.Sprint(memworkspace.KeptPlans+3), applied[0].UserID)
}
