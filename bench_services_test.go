package teamscim_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/loadtest"
	"github.com/teamscim/teamscim/memaccounts"
	"github.com/teamscim/teamscim/memworkspace"
)

// BenchmarkMemberLifeWithHostServices is one member's life through the handler with the
// reference host services wired as the example server wires them (memaccounts, and
// memworkspace with a personal and an internal workspace per member): POST /Users, then PATCH
// active:false and PATCH active:true, each with its account calls and workspace hand-over
// run after the commit, in teams of 1k, 10k and 100k members who all have an account and two
// workspaces. The time per cycle must not grow with the team (issue 14: within 1.3×).
func BenchmarkMemberLifeWithHostServices(b *testing.B) {
	deactivate, reactivate := activeOp(false), activeOp(true)
	loadtest.BenchTeamSizes(b, "members", func(b *testing.B, n int) func(int) {
		accts, spaces := memaccounts.New(), memworkspace.New()
		e := newEnv(b, withAccounts(accts), withWorkspaces(spaces))
		for i, id := range seed(b, e, n) {
			accts.Add(teamscim.Account{Email: fmt.Sprintf("user%08d@example.com", i), Teams: []string{e.teamID}})
			ownWorkspaces(b, spaces, e.teamID, id)
		}
		return func(i int) {
			res := e.req(http.MethodPost, "/Users", map[string]any{"userName": fmt.Sprintf("new%08d@example.com", i),
				"name": map[string]any{"givenName": "New", "familyName": "Member"}})
			if res.Code != http.StatusCreated {
				b.Fatal(res.Code, res.Body.String())
			}
			id := res.str("id")
			ownWorkspaces(b, spaces, e.teamID, id)
			for _, op := range []map[string]any{deactivate, reactivate} {
				if res := e.req(http.MethodPatch, "/Users/"+id, op); res.Code != http.StatusOK {
					b.Fatal(res.Code, res.Body.String())
				}
			}
		}
	})
}

// ownWorkspaces gives member userID a personal and an internal workspace of their own, as the
// example server does for every member provisioned.
func ownWorkspaces(b *testing.B, spaces *memworkspace.Service, teamID, userID string) {
	own := []teamscim.WorkspaceMember{{UserID: userID, Role: teamscim.WorkspaceAdmin}}
	for _, k := range []teamscim.WorkspaceKind{teamscim.WorkspacePersonal, teamscim.WorkspaceInternal} {
		if err := spaces.Create(teamID, teamscim.Workspace{ID: userID + "/" + string(k), Kind: k, Owner: userID, Members: own}); err != nil {
			b.Fatal(err)
		}
	}
}
