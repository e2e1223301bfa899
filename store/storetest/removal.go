package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

// testUserDelete checks that DeleteUser removes the user, its indexes, counts and memberships,
// frees its userName, and leaves other users, jobs and overage records alone.
func testUserDelete(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	alice := newUser("user-1", "Alice@example.com")
	alice.ExternalID = "shared"
	alice.Seat = true
	bob := newUser("user-2", "bob@example.com")
	bob.ExternalID = "shared"
	createUsers(t, s, tm.ID, alice, bob)
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"), newGroup("group-2", "Ops"))
	addMembers(t, s, tm.ID, "group-1", alice.ID, bob.ID)
	addMembers(t, s, tm.ID, "group-2", alice.ID)
	job := store.Job{ID: "job-1", UserID: alice.ID, Kind: "k", Created: base}
	over := store.Overage{ID: "over-1", UserID: alice.ID, Policy: "autoflex", Added: base}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateJob(ctx, job))
		return tx.CreateOverage(ctx, over)
	})

	check := func(ctx context.Context, tx store.Tx, when string) {
		_, err := tx.GetUser(ctx, alice.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, when+": GetUser of a deleted user")
		_, err = tx.GetUserByUserName(ctx, "alice@EXAMPLE.com")
		assert.ErrorIs(t, err, store.ErrNotFound, when+": GetUserByUserName of a deleted user")
		assert.Equal(t, []string{bob.ID}, usersByExt(t, ctx, tx, "shared"), when+": UsersByExternalID")
		list, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{bob.ID}, userIDs(list.Items), when+": ListUsers")
		assert.Equal(t, 1, list.Total, when+": ListUsers total")
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 1, n, when+": CountUsers")
		n, err = tx.CountUsers(ctx, store.UserFilter{Seat: ptr(true)})
		require.NoError(t, err)
		assert.Equal(t, 0, n, when+": CountUsers of seat holders")
		assert.Equal(t, []string{bob.ID}, listMembers(t, ctx, tx, "group-1"), when+": members of group-1")
		assert.Empty(t, listMembers(t, ctx, tx, "group-2"), when+": members of group-2")
		of, err := tx.GroupsOf(ctx, alice.ID)
		require.NoError(t, err)
		assert.Empty(t, of, when+": GroupsOf a deleted user")
		jobs, err := tx.ListJobs(ctx, alice.ID)
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(job)}, gotJobs(jobs), when+": jobs of a deleted user are kept")
		overs, err := tx.ListOverages(ctx, store.OverageFilter{}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []store.Overage{storedOverage(over)}, overs.Items, when+": overage records of a deleted user are kept")
	}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteUser(ctx, alice.ID))
		check(ctx, tx, "within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, "after commit")
		return nil
	})

	// The userName is free again, in any case, for a user with a new ID.
	again := newUser("user-3", "ALICE@example.com")
	createUsers(t, s, tm.ID, again)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUserByUserName(ctx, "alice@example.com")
		require.NoError(t, err)
		assertUser(t, again, got)
		assert.Empty(t, listMembers(t, ctx, tx, "group-2"), "a new user with the userName inherits no membership")
		return nil
	})
}

// testUserDeleteRollback checks that a failed Update that deleted a user leaves it in place.
func testUserDeleteRollback(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	alice := newUser("user-1", "alice@example.com")
	alice.ExternalID = "ext-a"
	createUsers(t, s, tm.ID, alice)
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"))
	addMembers(t, s, tm.ID, "group-1", alice.ID)

	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteUser(ctx, alice.ID))
		// The freed userName may be taken within the Update.
		require.NoError(t, tx.CreateUser(ctx, newUser("user-2", "ALICE@example.com")))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, alice.ID)
		require.NoError(t, err)
		assertUser(t, alice, got)
		got, err = tx.GetUserByUserName(ctx, alice.UserName)
		require.NoError(t, err)
		assert.Equal(t, alice.ID, got.ID)
		assert.Equal(t, []string{alice.ID}, usersByExt(t, ctx, tx, "ext-a"))
		assert.Equal(t, []string{alice.ID}, listMembers(t, ctx, tx, "group-1"))
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		return nil
	})
}

// testUserDeleteCreatedInSameUpdate checks a user created, made a member and deleted in one
// Update: nothing of it remains.
func testUserDeleteCreatedInSameUpdate(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"))
	keep := newUser("user-1", "keep@example.com")
	gone := newUser("user-2", "gone@example.com")
	gone.ExternalID = "ext-gone"
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, keep))
		require.NoError(t, tx.CreateUser(ctx, gone))
		_, err := tx.AddMembers(ctx, "group-1", []string{keep.ID, gone.ID})
		require.NoError(t, err)
		require.NoError(t, tx.DeleteUser(ctx, gone.ID))
		list, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{keep.ID}, userIDs(list.Items), "within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		list, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{keep.ID}, userIDs(list.Items))
		assert.Equal(t, 1, list.Total)
		_, err = tx.GetUser(ctx, gone.ID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.Empty(t, usersByExt(t, ctx, tx, "ext-gone"))
		assert.Equal(t, []string{keep.ID}, listMembers(t, ctx, tx, "group-1"))
		return nil
	})
}

func testUserDeleteUnknown(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteUser(ctx, "no-such-user")
	})
	assert.ErrorIs(t, err, store.ErrNotFound)
	createUsers(t, s, tm.ID, newUser("user-1", "a@example.com"))
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteUser(ctx, "user-1"))
		assert.ErrorIs(t, tx.DeleteUser(ctx, "user-1"), store.ErrNotFound, "deleting twice")
		return nil
	})
}

// testUserEmailsAreCopies checks that a user's Emails and a group's Roles are copied in and out.
func testUserEmailsAreCopies(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := newUser("user-1", "alice@example.com")
	u.Emails = []store.Email{{Value: "alice@example.com", Type: "work", Primary: true}}
	want := u
	want.Emails = []store.Email{{Value: "alice@example.com", Type: "work", Primary: true}}
	g := newGroup("group-1", "Eng")
	g.Roles = []string{"developer"}
	wantGroup := g
	wantGroup.Roles = []string{"developer"}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, u))
		u.Emails[0].Value = "mutated"
		require.NoError(t, tx.CreateGroup(ctx, g))
		g.Roles[0] = "mutated"
		got, err := tx.GetUser(ctx, want.ID)
		require.NoError(t, err)
		got.Emails[0].Value = "mutated too"
		gg, err := tx.GetGroup(ctx, wantGroup.ID)
		require.NoError(t, err)
		gg.Roles[0] = "mutated too"
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, want.ID)
		require.NoError(t, err)
		assertUser(t, want, got, "Emails were shared with the caller")
		got.Emails[0].Value = "mutated"
		got, err = tx.GetUser(ctx, want.ID)
		require.NoError(t, err)
		assertUser(t, want, got, "GetUser returned the store's Emails")
		gg, err := tx.GetGroup(ctx, wantGroup.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(wantGroup), gotGroup(gg), "Roles were shared with the caller")
		gg.Roles[0] = "mutated"
		list, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []store.Group{storedGroup(wantGroup)}, gotGroups(list.Items), "GetGroup returned the store's Roles")
		return nil
	})
}
