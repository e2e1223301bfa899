package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var memberTests = []subtest{
	{"AddCountsNew", testMembersAdd},
	{"RemoveCountsRemoved", testMembersRemove},
	{"ListOrderPaging", testMembersList},
	{"GroupsOfOrdered", testMembersGroupsOf},
	{"UnknownGroupNotFound", testMembersUnknownGroup},
}

// listMembers returns all members of groupID.
func listMembers(t *testing.T, ctx context.Context, tx store.Tx, groupID string) []string {
	t.Helper()
	p, err := tx.ListMembers(ctx, groupID, store.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, len(p.Items), p.Total, "ListMembers Total")
	return nilIfEmpty(p.Items)
}

func testMembersAdd(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"))
	var added [][]string
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		added = added[:0]
		for _, ids := range [][]string{
			{"user-3", "user-1", "user-2", "user-2"}, // duplicates within a call count once
			{"user-4", "user-1"},                     // user-1 is a member already
			{"user-1"},
			nil,
		} {
			n, err := tx.AddMembers(ctx, "group-1", ids)
			require.NoError(t, err)
			added = append(added, nilIfEmpty(n))
		}
		assert.Equal(t, []string{"user-1", "user-2", "user-3", "user-4"}, listMembers(t, ctx, tx, "group-1"), "read-your-writes")
		return nil
	})
	assert.Equal(t, [][]string{{"user-1", "user-2", "user-3"}, {"user-4"}, nil, nil}, added,
		"AddMembers must return the IDs that were not members, sorted, once each")

	var again []string
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		var err error
		again, err = tx.AddMembers(ctx, "group-1", []string{"user-4", "user-2", "user-5"})
		return err
	})
	assert.Equal(t, []string{"user-5"}, again, "re-adding committed members")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{"user-1", "user-2", "user-3", "user-4", "user-5"}, listMembers(t, ctx, tx, "group-1"))
		return nil
	})
}

func testMembersRemove(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"))
	addMembers(t, s, tm.ID, "group-1", "user-1", "user-2", "user-3", "user-4")

	var changed [][]string
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		changed = changed[:0]
		step := func(add bool, ids ...string) {
			var n []string
			var err error
			if add {
				n, err = tx.AddMembers(ctx, "group-1", ids)
			} else {
				n, err = tx.RemoveMembers(ctx, "group-1", ids)
			}
			require.NoError(t, err)
			changed = append(changed, nilIfEmpty(n))
		}
		step(false, "user-1", "user-9", "user-1") // user-9 is not a member; user-1 counted once
		step(false, "user-1")                     // removed already
		step(false)                               // nothing
		step(true, "user-5")                      // added in this Update...
		step(false, "user-5")                     // ...and removed
		step(true, "user-1")                      // re-added after removal
		assert.Equal(t, []string{"user-1", "user-2", "user-3", "user-4"}, listMembers(t, ctx, tx, "group-1"), "read-your-writes")
		return nil
	})
	assert.Equal(t, [][]string{{"user-1"}, nil, nil, {"user-5"}, {"user-5"}, {"user-1"}}, changed,
		"RemoveMembers must return the IDs that were members, sorted, once each")

	var removed []string
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		var err error
		removed, err = tx.RemoveMembers(ctx, "group-1", []string{"user-3", "user-5", "user-2"})
		return err
	})
	assert.Equal(t, []string{"user-2", "user-3"}, removed)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{"user-1", "user-4"}, listMembers(t, ctx, tx, "group-1"))
		of, err := tx.GroupsOf(ctx, "user-2")
		require.NoError(t, err)
		assert.Empty(t, of)
		of, err = tx.GroupsOf(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []string{"group-1"}, of)
		return nil
	})
}

func testMembersList(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"), newGroup("group-2", "Empty"))
	ids := uuids(23)
	addMembers(t, s, tm.ID, "group-1", ids[:10]...)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for chunk := range slices.Chunk(ids[10:], 5) {
			if _, err := tx.AddMembers(ctx, "group-1", chunk); err != nil {
				return err
			}
		}
		return nil
	})
	want := sortedCopy(ids)

	check := func(ctx context.Context, tx store.Tx, want []string, msg string) {
		got := pageAll(t, len(want), 4, func(o store.ListOptions) (store.Page[string], error) {
			return tx.ListMembers(ctx, "group-1", o)
		})
		assert.Equal(t, want, got, "%s: paging must visit every member once, by user ID", msg)
		assert.Equal(t, want, listMembers(t, ctx, tx, "group-1"), "%s: Limit 0", msg)
		p, err := tx.ListMembers(ctx, "group-1", store.ListOptions{Offset: 1000, Limit: 4})
		require.NoError(t, err)
		assert.Empty(t, p.Items, msg)
		assert.Equal(t, len(want), p.Total, msg)
	}
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, want, "committed")
		p, err := tx.ListMembers(ctx, "group-2", store.ListOptions{Limit: 4})
		require.NoError(t, err)
		assert.Empty(t, p.Items, "empty group")
		assert.Equal(t, 0, p.Total, "empty group")
		return nil
	})

	// Uncommitted additions and removals, within the Update.
	more := uuids(4)
	gone := []string{want[0], want[11], want[22]}
	want = sortedCopy(append(slices.Clone(ids), more...))
	want = slices.DeleteFunc(want, func(id string) bool { return slices.Contains(gone, id) })
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RemoveMembers(ctx, "group-1", gone)
		require.NoError(t, err)
		_, err = tx.AddMembers(ctx, "group-1", more)
		require.NoError(t, err)
		check(ctx, tx, want, "within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, want, "after the Update")
		return nil
	})
}

func testMembersGroupsOf(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	ids := uuids(6)
	var groups []store.Group
	for _, id := range ids {
		groups = append(groups, newGroup(id, "group "+id))
	}
	createGroups(t, s, tm.ID, groups...)
	for _, id := range ids[:5] {
		addMembers(t, s, tm.ID, id, "user-1", "user-2")
	}
	want := sortedCopy(ids[:5])
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		of, err := tx.GroupsOf(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, want, of, "GroupsOf must be ordered by group ID")
		of, err = tx.GroupsOf(ctx, "user-3")
		require.NoError(t, err)
		assert.Empty(t, of, "a user in no group")
		of, err = tx.GroupsOf(ctx, "no-such-user")
		require.NoError(t, err)
		assert.Empty(t, of, "an unknown user")
		return nil
	})

	// Within an Update: leave one group, join another.
	want2 := sortedCopy(append(slices.Clone(ids[1:5]), ids[5]))
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RemoveMembers(ctx, ids[0], []string{"user-1"})
		require.NoError(t, err)
		_, err = tx.AddMembers(ctx, ids[5], []string{"user-1"})
		require.NoError(t, err)
		of, err := tx.GroupsOf(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, want2, of, "read-your-writes")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		of, err := tx.GroupsOf(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, want2, of)
		of, err = tx.GroupsOf(ctx, "user-2")
		require.NoError(t, err)
		assert.Equal(t, want, of, "another user's memberships changed")
		return nil
	})
}

func testMembersUnknownGroup(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"))
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AddMembers(ctx, "no-such-group", []string{"user-1"})
		return err
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "AddMembers")
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RemoveMembers(ctx, "no-such-group", []string{"user-1"})
		return err
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "RemoveMembers")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.ListMembers(ctx, "no-such-group", store.ListOptions{})
		assert.ErrorIs(t, err, store.ErrNotFound, "ListMembers")
		of, err := tx.GroupsOf(ctx, "user-1")
		require.NoError(t, err)
		assert.Empty(t, of)
		return nil
	})
}
