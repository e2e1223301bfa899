package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var groupTests = []subtest{
	{"CreateGet", testGroupCreateGet},
	{"UnknownNotFound", testGroupUnknown},
	{"DuplicateIDConflict", testGroupDuplicateID},
	{"DisplayNameUniqueCaseExact", testGroupDisplayNameUnique},
	{"UpdateRename", testGroupUpdateRename},
	{"Delete", testGroupDelete},
	{"DeleteRecreateInOneUpdate", testGroupDeleteRecreate},
	{"ListStableOrderPaging", testGroupListPaging},
}

func testGroupCreateGet(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	g := store.Group{
		ID:           "group-1",
		DisplayName:  "Engineering",
		ExternalID:   "okta-grp-1",
		Roles:        []string{"developer", "billing"},
		Created:      base,
		LastModified: at(time.Second + 999*time.Microsecond),
		Version:      3,
	}
	bare := store.Group{ID: "group-2", DisplayName: "Bare"}
	createGroups(t, s, tm.ID, g, bare)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroup(ctx, g.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(g), gotGroup(got))
		assert.Equal(t, time.UTC, got.Created.Location())
		got, err = tx.GetGroupByDisplayName(ctx, g.DisplayName)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(g), gotGroup(got), "GetGroupByDisplayName")
		got, err = tx.GetGroup(ctx, bare.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(bare), gotGroup(got))
		list, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []store.Group{storedGroup(g), storedGroup(bare)}, gotGroups(list.Items))
		assert.Equal(t, 2, list.Total)
		return nil
	})
}

func testGroupUnknown(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"))
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetGroup(ctx, "no-such-group")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetGroup")
		_, err = tx.GetGroupByDisplayName(ctx, "Nope")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetGroupByDisplayName")
		return nil
	})
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateGroup(ctx, newGroup("no-such-group", "Nope"))
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "UpdateGroup")
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteGroup(ctx, "no-such-group")
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "DeleteGroup")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err = tx.GetGroupByDisplayName(ctx, "Nope")
		assert.ErrorIs(t, err, store.ErrNotFound, "UpdateGroup of an unknown group created it")
		return nil
	})
}

func testGroupDuplicateID(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	g := newGroup("group-1", "Eng")
	createGroups(t, s, tm.ID, g)
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateGroup(ctx, newGroup("group-1", "Ops"))
	})
	assert.ErrorIs(t, err, store.ErrConflict)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroup(ctx, g.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(g), gotGroup(got))
		_, err = tx.GetGroupByDisplayName(ctx, "Ops")
		assert.ErrorIs(t, err, store.ErrNotFound)
		return nil
	})
}

func testGroupDisplayNameUnique(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	// displayNames are case-exact: these coexist.
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"), newGroup("group-2", "eng"))
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateGroup(ctx, newGroup("group-3", "Eng"))
	})
	assert.ErrorIs(t, err, store.ErrConflict)
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateGroup(ctx, newGroup("group-4", "Ops")); err != nil {
			return err
		}
		return tx.CreateGroup(ctx, newGroup("group-5", "Ops"))
	})
	assert.ErrorIs(t, err, store.ErrConflict, "same displayName twice in one Update")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroupByDisplayName(ctx, "Eng")
		require.NoError(t, err)
		assert.Equal(t, "group-1", got.ID)
		got, err = tx.GetGroupByDisplayName(ctx, "eng")
		require.NoError(t, err)
		assert.Equal(t, "group-2", got.ID)
		_, err = tx.GetGroupByDisplayName(ctx, "ENG")
		assert.ErrorIs(t, err, store.ErrNotFound, "displayName lookup is case-exact")
		_, err = tx.GetGroup(ctx, "group-3")
		assert.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.GetGroupByDisplayName(ctx, "Ops")
		assert.ErrorIs(t, err, store.ErrNotFound)
		return nil
	})
}

func testGroupUpdateRename(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	eng, ops := newGroup("group-1", "Eng"), newGroup("group-2", "Ops")
	createGroups(t, s, tm.ID, eng, ops)
	addMembers(t, s, tm.ID, eng.ID, "user-1", "user-2")

	renamed := eng
	renamed.DisplayName = "Engineering"
	renamed.ExternalID = "ext-eng"
	renamed.LastModified = at(time.Minute)
	renamed.Version = 2
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateGroup(ctx, renamed))
		got, err := tx.GetGroupByDisplayName(ctx, "Engineering")
		require.NoError(t, err, "read-your-writes")
		assert.Equal(t, eng.ID, got.ID)
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroup(ctx, eng.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(renamed), gotGroup(got))
		got, err = tx.GetGroupByDisplayName(ctx, "Engineering")
		require.NoError(t, err)
		assert.Equal(t, storedGroup(renamed), gotGroup(got))
		_, err = tx.GetGroupByDisplayName(ctx, "Eng")
		assert.ErrorIs(t, err, store.ErrNotFound, "old displayName after rename")
		members, err := tx.ListMembers(ctx, eng.ID, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{"user-1", "user-2"}, members.Items, "UpdateGroup must not touch memberships")
		return nil
	})

	// The old name is free.
	createGroups(t, s, tm.ID, newGroup("group-3", "Eng"))

	clash := ops
	clash.DisplayName = "Engineering"
	clash.Version = 9
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateGroup(ctx, clash)
	})
	assert.ErrorIs(t, err, store.ErrConflict, "rename onto another group's displayName")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroup(ctx, ops.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(ops), gotGroup(got), "a conflicting UpdateGroup changed the group")
		got, err = tx.GetGroupByDisplayName(ctx, "Ops")
		require.NoError(t, err)
		assert.Equal(t, ops.ID, got.ID)
		got, err = tx.GetGroupByDisplayName(ctx, "Engineering")
		require.NoError(t, err)
		assert.Equal(t, eng.ID, got.ID)
		return nil
	})
}

func testGroupDelete(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	eng, ops := newGroup("group-1", "Eng"), newGroup("group-2", "Ops")
	createGroups(t, s, tm.ID, eng, ops)
	addMembers(t, s, tm.ID, eng.ID, "user-1", "user-2")
	addMembers(t, s, tm.ID, ops.ID, "user-1")

	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteGroup(ctx, eng.ID))
		_, err := tx.GetGroup(ctx, eng.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "read-your-writes")
		of, err := tx.GroupsOf(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []string{ops.ID}, of, "read-your-writes")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetGroup(ctx, eng.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "GetGroup of a deleted group")
		_, err = tx.GetGroupByDisplayName(ctx, "Eng")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetGroupByDisplayName of a deleted group")
		_, err = tx.ListMembers(ctx, eng.ID, store.ListOptions{})
		assert.ErrorIs(t, err, store.ErrNotFound, "ListMembers of a deleted group")
		of, err := tx.GroupsOf(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []string{ops.ID}, of)
		of, err = tx.GroupsOf(ctx, "user-2")
		require.NoError(t, err)
		assert.Empty(t, of)
		list, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{ops.ID}, groupIDs(list.Items))
		assert.Equal(t, 1, list.Total)
		members, err := tx.ListMembers(ctx, ops.ID, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{"user-1"}, members.Items, "deleting a group touched another group's members")
		return nil
	})

	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteGroup(ctx, eng.ID)
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "deleting twice")

	// The displayName and the ID are free again, and the memberships are gone for good.
	createGroups(t, s, tm.ID, newGroup(eng.ID, "Eng"))
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		members, err := tx.ListMembers(ctx, eng.ID, store.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, members.Items, "a re-created group inherited memberships")
		assert.Equal(t, 0, members.Total)
		of, err := tx.GroupsOf(ctx, "user-2")
		require.NoError(t, err)
		assert.Empty(t, of)
		return nil
	})
}

func testGroupDeleteRecreate(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	g := newGroup("group-1", "Eng")
	createGroups(t, s, tm.ID, g)
	addMembers(t, s, tm.ID, g.ID, "user-1", "user-2")

	again := newGroup(g.ID, "Eng")
	again.Version = 5
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteGroup(ctx, g.ID))
		require.NoError(t, tx.CreateGroup(ctx, again))
		members, err := tx.ListMembers(ctx, g.ID, store.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, members.Items, "read-your-writes")
		n, err := tx.AddMembers(ctx, g.ID, []string{"user-2", "user-3"})
		require.NoError(t, err)
		assert.Equal(t, []string{"user-2", "user-3"}, n, "user-2 was a member of the deleted group only")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroup(ctx, g.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(again), gotGroup(got))
		members, err := tx.ListMembers(ctx, g.ID, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{"user-2", "user-3"}, members.Items)
		for user, want := range map[string][]string{"user-1": nil, "user-2": {g.ID}, "user-3": {g.ID}} {
			of, err := tx.GroupsOf(ctx, user)
			require.NoError(t, err)
			assert.Equal(t, want, nilIfEmpty(of), "GroupsOf(%s)", user)
		}
		list, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, 1, list.Total)
		return nil
	})
}

func testGroupListPaging(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	ids := uuids(15)
	for chunk := range slices.Chunk(ids, 4) {
		var groups []store.Group
		for _, id := range chunk {
			groups = append(groups, newGroup(id, "group "+id))
		}
		createGroups(t, s, tm.ID, groups...)
	}
	check := func(ctx context.Context, tx store.Tx, want []string, limit int, msg string) {
		got := pageAll(t, len(want), limit, func(o store.ListOptions) (store.Page[store.Group], error) {
			return tx.ListGroups(ctx, o)
		})
		assert.Equal(t, want, groupIDs(got), "%s: paging with Limit %d must visit every group once, by ID", msg, limit)
		all, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, want, groupIDs(all.Items), "%s: Limit 0", msg)
		assert.Equal(t, len(want), all.Total, msg)
	}
	want := sortedCopy(ids)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, want, 2, "committed")
		return nil
	})

	// Deleted and uncommitted groups, within the Update and after.
	more := uuids(3)
	gone := []string{want[0], want[7], want[14]}
	want = sortedCopy(append(slices.Clone(ids), more...))
	want = slices.DeleteFunc(want, func(id string) bool { return slices.Contains(gone, id) })
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, id := range gone {
			require.NoError(t, tx.DeleteGroup(ctx, id))
		}
		for _, id := range more {
			require.NoError(t, tx.CreateGroup(ctx, newGroup(id, "group "+id)))
		}
		check(ctx, tx, want, 3, "within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, want, 2, "after the Update")
		return nil
	})
}
