package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var deleteTeamTests = []subtest{
	{"DeletesEverything", testDeleteTeam},
	{"RolledBack", testDeleteTeamRolledBack},
	{"NotInView", testDeleteTeamInView},
	{"TxUnusableAfter", testDeleteTeamTxUnusable},
	{"WaitingUpdate", testDeleteTeamWaitingUpdate},
}

// fillTeam gives team teamID a key, two users (one deleted), a group with a member, an
// overage record and a job, the names of which start with prefix.
func fillTeam(t *testing.T, s store.Store, teamID, prefix string) {
	t.Helper()
	deleted := newUser(prefix+"user-2", prefix+"gone@example.com")
	deleted.Active, deleted.Deleted = false, true
	mustUpdate(t, s, teamID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateKey(ctx, newKey(prefix+"key-1", teamID)))
		require.NoError(t, tx.CreateUser(ctx, newUser(prefix+"user-1", prefix+"ann@example.com")))
		require.NoError(t, tx.CreateUser(ctx, deleted))
		require.NoError(t, tx.CreateGroup(ctx, newGroup(prefix+"group-1", "Eng")))
		_, err := tx.AddMembers(ctx, prefix+"group-1", []string{prefix + "user-1"})
		require.NoError(t, err)
		require.NoError(t, tx.CreateOverage(ctx, store.Overage{ID: prefix + "over-1", UserID: prefix + "user-1", Policy: "autoflex", Added: base}))
		return tx.CreateJob(ctx, store.Job{ID: prefix + "job-1", UserID: prefix + "user-1", Kind: "k", Data: []byte("{}"), Created: base})
	})
}

// assertFilled asserts that team teamID still has what fillTeam gave it.
func assertFilled(t *testing.T, s store.Store, teamID, prefix string) {
	t.Helper()
	_, err := s.LookupKey(t.Context(), digest("secret-"+prefix+"key-1"))
	require.NoError(t, err, "the key of team %s", teamID)
	mustView(t, s, teamID, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 2, n, "users of team %s", teamID)
		members, err := tx.ListMembers(ctx, prefix+"group-1", store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{prefix + "user-1"}, members.Items)
		overages, err := tx.ListOverages(ctx, store.OverageFilter{}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, 1, overages.Total)
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Len(t, jobs, 1)
		return nil
	})
}

// Deleting a team deletes everything it owns, in one Update, and nothing of another team: its
// key is no longer found, the team is unknown, it has no jobs to retry, and a team created
// again with the same ID starts empty, with the old userNames, displayName and key digest
// free.
func testDeleteTeam(t *testing.T, s store.Store) {
	newTeam(t, s, "team-1")
	newTeam(t, s, "team-2")
	fillTeam(t, s, "team-1", "")
	fillTeam(t, s, "team-2", "b-")

	mustUpdate(t, s, "team-1", func(ctx context.Context, tx store.Tx) error { return tx.DeleteTeam(ctx) })

	_, err := s.LookupKey(t.Context(), digest("secret-key-1"))
	assert.ErrorIs(t, err, store.ErrNotFound, "the deleted team's key")
	// fn may run before the store knows the team is gone (as with an unknown team), but sees
	// nothing of it.
	fn := func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "user-1")
		assert.Error(t, err, "GetUser in the deleted team")
		return nil
	}
	assert.ErrorIs(t, s.View(t.Context(), "team-1", fn), store.ErrNotFound)
	assert.ErrorIs(t, s.Update(t.Context(), "team-1", fn), store.ErrNotFound)
	teams, err := s.TeamsWithJobs(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"team-2"}, teams)
	assertFilled(t, s, "team-2", "b-")

	newTeam(t, s, "team-1")
	mustView(t, s, "team-1", func(ctx context.Context, tx store.Tx) error {
		users, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, users.Items)
		assert.Equal(t, 0, users.Total)
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 0, n)
		for _, id := range []string{"user-1", "user-2"} {
			_, err = tx.GetUser(ctx, id)
			assert.ErrorIs(t, err, store.ErrNotFound)
		}
		_, err = tx.GetUserByUserName(ctx, "ann@example.com")
		assert.ErrorIs(t, err, store.ErrNotFound)
		groups, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, 0, groups.Total)
		of, err := tx.GroupsOf(ctx, "user-1")
		require.NoError(t, err)
		assert.Empty(t, of)
		keys, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Empty(t, keys)
		overages, err := tx.ListOverages(ctx, store.OverageFilter{}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, 0, overages.Total)
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, jobs)
		return nil
	})
	// What the deleted team held is free again.
	fillTeam(t, s, "team-1", "")
	assertFilled(t, s, "team-1", "")
}

// A DeleteTeam in an Update whose fn fails deletes nothing.
func testDeleteTeamRolledBack(t *testing.T, s store.Store) {
	newTeam(t, s, "team-1")
	fillTeam(t, s, "team-1", "")
	err := s.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteTeam(ctx))
		return errBoom
	})
	assert.ErrorIs(t, err, errBoom)
	assertFilled(t, s, "team-1", "")
}

// A View cannot delete its team.
func testDeleteTeamInView(t *testing.T, s store.Store) {
	newTeam(t, s, "team-1")
	fillTeam(t, s, "team-1", "")
	mustView(t, s, "team-1", func(ctx context.Context, tx store.Tx) error {
		assert.Error(t, tx.DeleteTeam(ctx))
		return nil
	})
	assertFilled(t, s, "team-1", "")
}

// After DeleteTeam, the transaction's reads and writes answer ErrNotFound.
func testDeleteTeamTxUnusable(t *testing.T, s store.Store) {
	newTeam(t, s, "team-1")
	fillTeam(t, s, "team-1", "")
	mustUpdate(t, s, "team-1", func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteTeam(ctx))
		_, err := tx.Team(ctx)
		assert.ErrorIs(t, err, store.ErrNotFound, "Team")
		_, err = tx.GetUser(ctx, "user-1")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetUser")
		assert.ErrorIs(t, tx.CreateUser(ctx, newUser("user-3", "cy@example.com")), store.ErrNotFound, "CreateUser")
		assert.ErrorIs(t, tx.DeleteTeam(ctx), store.ErrNotFound, "DeleteTeam twice")
		return nil
	})
	assert.ErrorIs(t, s.View(t.Context(), "team-1", func(context.Context, store.Tx) error { return nil }), store.ErrNotFound)
}

// An Update that waits for the Update deleting its team finds the team gone: it returns
// ErrNotFound and writes nothing. (Its fn may run before the store knows the team is gone, as
// with an unknown team, but then sees nothing.)
func testDeleteTeamWaitingUpdate(t *testing.T, s store.Store) {
	newTeam(t, s, "team-1")
	fillTeam(t, s, "team-1", "")
	inside, release := make(chan struct{}), make(chan struct{})
	deleted := make(chan error, 1)
	go func() {
		deleted <- s.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
			if err := tx.DeleteTeam(ctx); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	created := make(chan error, 2)
	waited := make(chan error, 1)
	go func() {
		waited <- s.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
			err := tx.CreateUser(ctx, newUser("user-3", "cy@example.com"))
			created <- err
			return err
		})
	}()
	close(release)
	require.NoError(t, <-deleted)
	assert.ErrorIs(t, <-waited, store.ErrNotFound)
	close(created)
	for err := range created {
		assert.ErrorIs(t, err, store.ErrNotFound, "the waiting Update's fn saw the deleted team")
	}
	_, err := s.LookupKey(t.Context(), digest("secret-key-1"))
	assert.ErrorIs(t, err, store.ErrNotFound)
}
