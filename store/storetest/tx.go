package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var txTests = []subtest{
	{"RollbackOnError", testTxRollback},
	{"ReadYourWrites", testTxReadYourWrites},
	{"ValuesAreCopies", testTxValuesAreCopies},
	{"ViewIsReadOnly", testTxViewIsReadOnly},
	{"CanceledContext", testTxCanceledContext},
}

// fixture is a team with committed records of every kind.
type fixture struct {
	team  store.Team
	user  store.User // alice, member of group
	group store.Group
	key   store.APIKey
}

// newFixture creates a team with a user, a group holding the user and a key.
func newFixture(t *testing.T, s store.Store) fixture {
	t.Helper()
	f := fixture{
		team:  newTeam(t, s, "team-1"),
		user:  newUser("user-1", "alice@example.com"),
		group: newGroup("group-1", "Eng"),
	}
	f.user.ExternalID = "ext-alice"
	f.key = newKey("key-1", f.team.ID)
	mustUpdate(t, s, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, f.user))
		require.NoError(t, tx.CreateGroup(ctx, f.group))
		_, err := tx.AddMembers(ctx, f.group.ID, []string{f.user.ID})
		require.NoError(t, err)
		return tx.CreateKey(ctx, f.key)
	})
	return f
}

// assertUnchanged checks that the fixture's team holds exactly the fixture's records.
func (f fixture) assertUnchanged(t *testing.T, s store.Store) {
	t.Helper()
	mustView(t, s, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		tm, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, f.team, tm, "team")

		users, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		if assert.Len(t, users.Items, 1, "users") {
			assertUser(t, f.user, users.Items[0])
		}
		assert.Equal(t, 1, users.Total)
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 1, n, "CountUsers")
		u, err := tx.GetUserByUserName(ctx, f.user.UserName)
		if assert.NoError(t, err, "GetUserByUserName") {
			assert.Equal(t, f.user.ID, u.ID)
		}
		assert.Equal(t, []string{f.user.ID}, usersByExt(t, ctx, tx, f.user.ExternalID), "UsersByExternalID")

		groups, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []store.Group{storedGroup(f.group)}, gotGroups(groups.Items), "groups")
		g, err := tx.GetGroupByDisplayName(ctx, f.group.DisplayName)
		if assert.NoError(t, err, "GetGroupByDisplayName") {
			assert.Equal(t, f.group.ID, g.ID)
		}
		assert.Equal(t, []string{f.user.ID}, listMembers(t, ctx, tx, f.group.ID), "members")
		of, err := tx.GroupsOf(ctx, f.user.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{f.group.ID}, of, "GroupsOf")

		keys, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Equal(t, []store.APIKey{storedKey(f.key)}, keys, "keys")
		return nil
	})
	k, err := s.LookupKey(t.Context(), f.key.Digest)
	if assert.NoError(t, err, "LookupKey") {
		assert.Equal(t, storedKey(f.key), k)
	}
}

func testTxRollback(t *testing.T, s store.Store) {
	f := newFixture(t, s)

	bob := newUser("user-2", "bob@example.com")
	bob.ExternalID = "ext-bob"
	ops := newGroup("group-2", "Ops")
	key := newKey("key-2", f.team.ID)
	renamedTeam := f.team
	renamedTeam.Name = "Renamed"
	renamedTeam.SCIMEnabled = false
	renamedAlice := f.user
	renamedAlice.UserName = "alice2@example.com"
	renamedAlice.ExternalID = "ext-alice2"
	renamedAlice.Active = false
	renamedGroup := f.group
	renamedGroup.DisplayName = "Engineering"
	revoked := f.key
	revoked.Status = store.KeyRevoked

	// What fn saw of its own writes, checked after Update returns.
	type seen struct {
		bobByName, aliceByNewName, opsByName, team, key error
		oldNameErr                                      error
		members, aliceGroups                            []string
		bobByExt, aliceByNewExt, aliceByOldExt          []string
		users, active                                   int
	}
	var got seen
	err := s.Update(t.Context(), f.team.ID, func(ctx context.Context, tx store.Tx) error {
		got = seen{}
		require.NoError(t, tx.CreateUser(ctx, bob))
		require.NoError(t, tx.UpdateUser(ctx, renamedAlice))
		require.NoError(t, tx.CreateGroup(ctx, ops))
		_, err := tx.AddMembers(ctx, ops.ID, []string{bob.ID, f.user.ID})
		require.NoError(t, err)
		_, err = tx.AddMembers(ctx, f.group.ID, []string{bob.ID})
		require.NoError(t, err)
		_, err = tx.RemoveMembers(ctx, f.group.ID, []string{f.user.ID})
		require.NoError(t, err)
		require.NoError(t, tx.UpdateGroup(ctx, renamedGroup))
		require.NoError(t, tx.UpdateTeam(ctx, renamedTeam))
		require.NoError(t, tx.CreateKey(ctx, key))
		require.NoError(t, tx.UpdateKey(ctx, revoked))

		// Read-your-writes before failing.
		_, got.bobByName = tx.GetUserByUserName(ctx, "BOB@example.com")
		got.bobByExt = usersByExt(t, ctx, tx, "ext-bob")
		got.aliceByNewExt = usersByExt(t, ctx, tx, renamedAlice.ExternalID)
		got.aliceByOldExt = usersByExt(t, ctx, tx, f.user.ExternalID)
		_, got.aliceByNewName = tx.GetUserByUserName(ctx, "alice2@example.com")
		_, got.oldNameErr = tx.GetUserByUserName(ctx, "alice@example.com")
		_, got.opsByName = tx.GetGroupByDisplayName(ctx, "Ops")
		tm, err := tx.Team(ctx)
		require.NoError(t, err)
		if tm.Name != renamedTeam.Name {
			got.team = store.ErrNotFound
		}
		k, err := tx.GetKey(ctx, f.key.ID)
		require.NoError(t, err)
		if k.Status != store.KeyRevoked {
			got.key = store.ErrNotFound
		}
		got.members = listMembers(t, ctx, tx, ops.ID)
		got.aliceGroups, err = tx.GroupsOf(ctx, f.user.ID)
		require.NoError(t, err)
		got.users, err = tx.CountUsers(ctx, store.UserFilter{})
		require.NoError(t, err)
		got.active, err = tx.CountUsers(ctx, store.UserFilter{Active: ptr(true)})
		require.NoError(t, err)
		return errBoom
	})
	assert.ErrorIs(t, err, errBoom, "Update must return fn's error")

	assert.NoError(t, got.bobByName, "read-your-writes: created user by userName")
	assert.Equal(t, []string{bob.ID}, got.bobByExt, "read-your-writes: created user by externalId")
	assert.Equal(t, []string{f.user.ID}, got.aliceByNewExt, "read-your-writes: renamed user by new externalId")
	assert.Empty(t, got.aliceByOldExt, "read-your-writes: renamed user by old externalId")
	assert.NoError(t, got.aliceByNewName, "read-your-writes: renamed user by new userName")
	assert.ErrorIs(t, got.oldNameErr, store.ErrNotFound, "read-your-writes: renamed user by old userName")
	assert.NoError(t, got.opsByName, "read-your-writes: created group by displayName")
	assert.NoError(t, got.team, "read-your-writes: updated team")
	assert.NoError(t, got.key, "read-your-writes: updated key")
	assert.Equal(t, sortedCopy([]string{bob.ID, f.user.ID}), got.members, "read-your-writes: members")
	assert.Equal(t, []string{ops.ID}, got.aliceGroups, "read-your-writes: GroupsOf")
	assert.Equal(t, 2, got.users, "read-your-writes: CountUsers")
	assert.Equal(t, 1, got.active, "read-your-writes: CountUsers(Active)")

	f.assertUnchanged(t, s)
	mustView(t, s, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, bob.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "user of a failed Update")
		_, err = tx.GetUserByUserName(ctx, bob.UserName)
		assert.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.GetUserByUserName(ctx, renamedAlice.UserName)
		assert.ErrorIs(t, err, store.ErrNotFound, "new userName of a failed rename")
		assert.Empty(t, usersByExt(t, ctx, tx, renamedAlice.ExternalID), "new externalId of a failed rename")
		assert.Empty(t, usersByExt(t, ctx, tx, bob.ExternalID), "externalId of a user of a failed Update")
		_, err = tx.GetGroup(ctx, ops.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "group of a failed Update")
		_, err = tx.GetGroupByDisplayName(ctx, renamedGroup.DisplayName)
		assert.ErrorIs(t, err, store.ErrNotFound, "new displayName of a failed rename")
		of, err := tx.GroupsOf(ctx, bob.ID)
		require.NoError(t, err)
		assert.Empty(t, of, "memberships of a failed Update")
		_, err = tx.GetKey(ctx, key.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "key of a failed Update")
		return nil
	})
	_, err = s.LookupKey(t.Context(), key.Digest)
	assert.ErrorIs(t, err, store.ErrNotFound, "LookupKey of a key of a failed Update")

	// The names the failed Update took are free.
	mustUpdate(t, s, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		u := newUser("user-3", renamedAlice.UserName)
		u.ExternalID = renamedAlice.ExternalID
		require.NoError(t, tx.CreateUser(ctx, u))
		require.NoError(t, tx.CreateUser(ctx, newUser("user-4", bob.UserName)))
		return tx.CreateGroup(ctx, newGroup("group-3", "Ops"))
	})
}

func testTxReadYourWrites(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	bob := newUser("user-2", "Bob@example.com")
	bob.ExternalID = "ext-bob"
	renamed := f.user
	renamed.UserName = "alice.new@example.com"
	renamed.ExternalID = "ext-alice-new"

	mustUpdate(t, s, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, bob))
		got, err := tx.GetUserByUserName(ctx, "bob@EXAMPLE.com")
		require.NoError(t, err, "GetUserByUserName of a user created in the same Update")
		assertUser(t, bob, got)
		got, err = tx.GetUser(ctx, bob.ID)
		require.NoError(t, err)
		assertUser(t, bob, got)
		byExt, err := tx.UsersByExternalID(ctx, "ext-bob")
		require.NoError(t, err)
		if assert.Len(t, byExt, 1, "UsersByExternalID of a user created in the same Update") {
			assertUser(t, bob, byExt[0])
		}
		n, err := tx.CountUsers(ctx, store.UserFilter{})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		list, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{f.user.ID, bob.ID}, userIDs(list.Items))

		require.NoError(t, tx.UpdateUser(ctx, renamed))
		_, err = tx.GetUserByUserName(ctx, f.user.UserName)
		assert.ErrorIs(t, err, store.ErrNotFound, "old userName after a rename in the same Update")
		assert.Empty(t, usersByExt(t, ctx, tx, f.user.ExternalID), "old externalId after a rename in the same Update")
		assert.Equal(t, []string{f.user.ID}, usersByExt(t, ctx, tx, renamed.ExternalID), "new externalId after a rename in the same Update")
		got, err = tx.GetUserByUserName(ctx, renamed.UserName)
		require.NoError(t, err)
		assertUser(t, renamed, got)
		// The old name is free within the same Update.
		require.NoError(t, tx.CreateUser(ctx, newUser("user-3", "ALICE@example.com")))

		require.NoError(t, tx.CreateGroup(ctx, newGroup("group-2", "Ops")))
		g, err := tx.GetGroupByDisplayName(ctx, "Ops")
		require.NoError(t, err)
		assert.Equal(t, "group-2", g.ID)
		_, err = tx.AddMembers(ctx, "group-2", []string{bob.ID, f.user.ID})
		require.NoError(t, err)
		assert.Equal(t, []string{f.user.ID, bob.ID}, listMembers(t, ctx, tx, "group-2"))
		of, err := tx.GroupsOf(ctx, f.user.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{f.group.ID, "group-2"}, of)

		require.NoError(t, tx.DeleteGroup(ctx, f.group.ID))
		of, err = tx.GroupsOf(ctx, f.user.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{"group-2"}, of)
		// Its displayName is free within the same Update.
		require.NoError(t, tx.CreateGroup(ctx, newGroup("group-3", f.group.DisplayName)))

		k := newKey("key-2", f.team.ID)
		require.NoError(t, tx.CreateKey(ctx, k))
		gotKey, err := tx.GetKey(ctx, k.ID)
		require.NoError(t, err)
		assert.Equal(t, storedKey(k), gotKey)
		keys, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Len(t, keys, 2)
		return nil
	})

	mustView(t, s, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		for name, id := range map[string]string{"bob@example.com": bob.ID, "alice.new@example.com": f.user.ID, "alice@example.com": "user-3"} {
			got, err := tx.GetUserByUserName(ctx, name)
			if assert.NoError(t, err, name) {
				assert.Equal(t, id, got.ID, name)
			}
		}
		assert.Equal(t, []string{bob.ID}, usersByExt(t, ctx, tx, bob.ExternalID), "UsersByExternalID after commit")
		assert.Equal(t, []string{f.user.ID}, usersByExt(t, ctx, tx, renamed.ExternalID), "new externalId after commit")
		assert.Empty(t, usersByExt(t, ctx, tx, f.user.ExternalID), "old externalId after commit")
		g, err := tx.GetGroupByDisplayName(ctx, f.group.DisplayName)
		require.NoError(t, err)
		assert.Equal(t, "group-3", g.ID)
		of, err := tx.GroupsOf(ctx, f.user.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{"group-2"}, of)
		return nil
	})
	_, err := s.LookupKey(t.Context(), digest("secret-key-2"))
	assert.NoError(t, err, "LookupKey of a committed key")
}

func testTxValuesAreCopies(t *testing.T, s store.Store) {
	tm := store.Team{ID: "team-1", Name: "Acme", SSOMethods: []string{"saml"}, Created: base}
	require.NoError(t, s.CreateTeam(t.Context(), tm))
	tm.SSOMethods[0] = "mutated"
	want := store.Team{ID: "team-1", Name: "Acme", SSOMethods: []string{"saml"}, Created: base}

	u := newUser("user-1", "alice@example.com")
	u.Roles = []string{"developer", "admin"}
	wantUser := u
	wantUser.Roles = []string{"developer", "admin"}

	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		in := u
		in.Roles = []string{"developer", "admin"}
		require.NoError(t, tx.CreateUser(ctx, in))
		in.Roles[0] = "mutated" // the caller's slice, after CreateUser
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, wantUser, got, "CreateUser kept the caller's slice")
		got.Roles[1] = "mutated" // a returned slice, within the Update
		got, err = tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, wantUser, got, "GetUser returned the store's slice")

		upd := store.Team{ID: "team-1", Name: "Acme", SSOMethods: []string{"saml"}, Created: base}
		require.NoError(t, tx.UpdateTeam(ctx, upd))
		upd.SSOMethods[0] = "mutated"
		gotTeam, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, want, gotTeam, "UpdateTeam kept the caller's slice")
		gotTeam.SSOMethods[0] = "mutated"
		gotTeam, err = tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, want, gotTeam, "Team returned the store's slice")
		return nil
	})

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, wantUser, got)
		got.Roles[0] = "mutated"
		byName, err := tx.GetUserByUserName(ctx, u.UserName)
		require.NoError(t, err)
		assertUser(t, wantUser, byName, "GetUser returned the store's slice")
		byName.Roles[0] = "mutated"
		list, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list.Items, 1)
		assertUser(t, wantUser, list.Items[0], "GetUserByUserName returned the store's slice")
		list.Items[0].Roles[0] = "mutated"
		got, err = tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, wantUser, got, "ListUsers returned the store's slice")

		gotTeam, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, want, gotTeam, "CreateTeam kept the caller's slice")
		gotTeam.SSOMethods[0] = "mutated"
		gotTeam, err = tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, want, gotTeam, "Team returned the store's slice")
		return nil
	})

	// UpdateUser copies too.
	upd := u
	upd.Roles = []string{"owner"}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		in := upd
		in.Roles = []string{"owner"}
		require.NoError(t, tx.UpdateUser(ctx, in))
		in.Roles[0] = "mutated"
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, upd, got, "UpdateUser kept the caller's slice")
		return nil
	})
}

func testTxViewIsReadOnly(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	otherKey := newKey("key-2", f.team.ID)
	changedUser := f.user
	changedUser.UserName = "changed@example.com"
	changedGroup := f.group
	changedGroup.DisplayName = "Changed"
	changedKey := f.key
	changedKey.Status = store.KeyRevoked
	changedTeam := f.team
	changedTeam.Name = "Changed"

	// View's own result is not checked: a SQL store may fail to commit a read-only
	// transaction in which a statement failed.
	_ = s.View(t.Context(), f.team.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Error(t, tx.UpdateTeam(ctx, changedTeam), "UpdateTeam")
		assert.Error(t, tx.CreateKey(ctx, otherKey), "CreateKey")
		assert.Error(t, tx.UpdateKey(ctx, changedKey), "UpdateKey")
		assert.Error(t, tx.DeleteKey(ctx, f.key.ID), "DeleteKey")
		assert.Error(t, tx.CreateUser(ctx, newUser("user-2", "bob@example.com")), "CreateUser")
		assert.Error(t, tx.UpdateUser(ctx, changedUser), "UpdateUser")
		assert.Error(t, tx.CreateGroup(ctx, newGroup("group-2", "Ops")), "CreateGroup")
		assert.Error(t, tx.UpdateGroup(ctx, changedGroup), "UpdateGroup")
		_, err := tx.AddMembers(ctx, f.group.ID, []string{"user-2"})
		assert.Error(t, err, "AddMembers")
		_, err = tx.RemoveMembers(ctx, f.group.ID, []string{f.user.ID})
		assert.Error(t, err, "RemoveMembers")
		assert.Error(t, tx.DeleteGroup(ctx, f.group.ID), "DeleteGroup")
		assert.Error(t, tx.DeleteUser(ctx, f.user.ID), "DeleteUser")
		assert.Error(t, tx.CreateOverage(ctx, store.Overage{ID: "over-1", UserID: f.user.ID, Added: base}), "CreateOverage")
		assert.Error(t, tx.CreateJob(ctx, store.Job{ID: "job-1", UserID: f.user.ID, Kind: "k", Created: base}), "CreateJob")
		return nil
	})
	f.assertUnchanged(t, s)
	mustView(t, s, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		overs, err := tx.ListOverages(ctx, store.OverageFilter{}, store.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, overs.Items, "CreateOverage in a View")
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, jobs, "CreateJob in a View")
		return nil
	})
}

func testTxCanceledContext(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	ran := false
	err := s.View(ctx, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		ran = true
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled, "View")
	err = s.Update(ctx, f.team.ID, func(ctx context.Context, tx store.Tx) error {
		ran = true
		return tx.CreateUser(ctx, newUser("user-2", "bob@example.com"))
	})
	assert.ErrorIs(t, err, context.Canceled, "Update")
	assert.False(t, ran, "fn ran with a cancelled context")
	f.assertUnchanged(t, s)
}
