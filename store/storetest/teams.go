package storetest

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var teamTests = []subtest{
	{"CreateGet", testTeamCreateGet},
	{"Update", testTeamUpdate},
	{"DuplicateIDConflict", testTeamDuplicateID},
	{"UnknownTeamNotFound", testTeamUnknown},
	{"Isolation", testTeamIsolation},
}

func testTeamCreateGet(t *testing.T, s store.Store) {
	tm := store.Team{ID: "team-1", Name: "Acme", Plan: "enterprise", SSOMethods: []string{"saml", "oidc"}, SCIMEnabled: true,
		VerifiedDomains: []string{"acme.example", "acme.test"}, DomainCapture: true, JIT: true, Created: base}
	require.NoError(t, s.CreateTeam(t.Context(), tm))
	empty := store.Team{ID: "team-2"}
	require.NoError(t, s.CreateTeam(t.Context(), empty))

	mustView(t, s, "team-1", func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, tm, got)
		assert.Equal(t, time.UTC, got.Created.Location())
		return nil
	})
	mustView(t, s, "team-2", func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, empty, got)
		assert.True(t, got.Created.IsZero(), "zero Created must round-trip as zero, got %v", got.Created)
		return nil
	})
}

func testTeamUpdate(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	other := newTeam(t, s, "team-2")

	changed := tm
	changed.Name = "Renamed"
	changed.SSOMethods = []string{"oidc"}
	changed.SCIMEnabled = false
	changed.Plan = "free"
	changed.VerifiedDomains = []string{"renamed.example"}
	changed.DomainCapture = true
	changed.JIT = true
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateTeam(ctx, changed))
		got, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, changed, got, "read-your-writes")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, changed, got)
		return nil
	})
	mustView(t, s, other.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, other, got, "another team's update changed this team")
		return nil
	})
}

func testTeamDuplicateID(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	err := s.CreateTeam(t.Context(), store.Team{ID: "team-1", Name: "Impostor"})
	assert.ErrorIs(t, err, store.ErrConflict)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Team(ctx)
		require.NoError(t, err)
		assertTeam(t, tm, got, "a failed CreateTeam changed the existing team")
		return nil
	})
}

// A store may call fn before it knows whether the team exists; fn then gets nothing (every
// method fails) and View and Update return ErrNotFound, whatever fn returns. A write sent
// before that is known changes nothing.
func testTeamUnknown(t *testing.T, s store.Store) {
	newTeam(t, s, "team-1")
	idle := func(ctx context.Context, tx store.Tx) error { return nil }
	assert.ErrorIs(t, s.View(t.Context(), "no-such-team", idle), store.ErrNotFound)
	assert.ErrorIs(t, s.Update(t.Context(), "no-such-team", idle), store.ErrNotFound)

	reads := func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "user-1")
		assert.Error(t, err, "GetUser in an unknown team")
		_, err = tx.Team(ctx)
		assert.Error(t, err, "Team of an unknown team")
		return nil
	}
	assert.ErrorIs(t, s.View(t.Context(), "no-such-team", reads), store.ErrNotFound)
	assert.ErrorIs(t, s.Update(t.Context(), "no-such-team", reads), store.ErrNotFound)

	writes := func(ctx context.Context, tx store.Tx) error {
		assert.Error(t, tx.CreateUser(ctx, newUser("user-1", "a@example.com")), "CreateUser in an unknown team")
		return nil
	}
	assert.ErrorIs(t, s.Update(t.Context(), "no-such-team", writes), store.ErrNotFound)
	require.NoError(t, s.CreateTeam(t.Context(), store.Team{ID: "no-such-team", Name: "Late"}))
	mustView(t, s, "no-such-team", func(ctx context.Context, tx store.Tx) error {
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Zero(t, n, "a write to a team that did not exist was kept")
		return nil
	})
}

func testTeamIsolation(t *testing.T, s store.Store) {
	a := newTeam(t, s, "team-a")
	b := newTeam(t, s, "team-b")

	ua := newUser("user-a", "alice@example.com")
	ua.ExternalID = "ext-1"
	ub := newUser("user-b", "Alice@Example.com")
	ub.ExternalID = "ext-1"
	ka := store.APIKey{ID: "key-a", TeamID: a.ID, Name: "a", Digest: sha256.Sum256([]byte("a")), Status: store.KeyActive, Created: base}

	mustUpdate(t, s, a.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, ua))
		require.NoError(t, tx.CreateGroup(ctx, newGroup("group-a", "Eng")))
		_, err := tx.AddMembers(ctx, "group-a", []string{ua.ID})
		require.NoError(t, err)
		return tx.CreateKey(ctx, ka)
	})
	// The same userName, externalId and displayName in another team do not conflict.
	mustUpdate(t, s, b.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, ub))
		return tx.CreateGroup(ctx, newGroup("group-b", "Eng"))
	})

	mustView(t, s, b.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, ua.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "GetUser of another team's user")
		got, err := tx.GetUserByUserName(ctx, "alice@example.com")
		require.NoError(t, err)
		assert.Equal(t, ub.ID, got.ID)
		assert.Equal(t, []string{ub.ID}, usersByExt(t, ctx, tx, "ext-1"), "UsersByExternalID")
		users, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{ub.ID}, userIDs(users.Items))
		assert.Equal(t, 1, users.Total)
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 1, n)

		_, err = tx.GetGroup(ctx, "group-a")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetGroup of another team's group")
		g, err := tx.GetGroupByDisplayName(ctx, "Eng")
		require.NoError(t, err)
		assert.Equal(t, "group-b", g.ID)
		groups, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{"group-b"}, groupIDs(groups.Items))
		_, err = tx.ListMembers(ctx, "group-a", store.ListOptions{})
		assert.ErrorIs(t, err, store.ErrNotFound, "ListMembers of another team's group")
		of, err := tx.GroupsOf(ctx, ua.ID)
		require.NoError(t, err)
		assert.Empty(t, of, "GroupsOf lists another team's groups")

		keys, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Empty(t, keys, "ListKeys lists another team's keys")
		_, err = tx.GetKey(ctx, ka.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "GetKey of another team's key")
		return nil
	})

	// Writes through team B cannot reach team A's records.
	err := s.Update(t.Context(), b.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, ua)
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "UpdateUser of another team's user")
	err = s.Update(t.Context(), b.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteKey(ctx, ka.ID)
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "DeleteKey of another team's key")
	err = s.Update(t.Context(), b.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteGroup(ctx, "group-a")
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "DeleteGroup of another team's group")

	mustView(t, s, a.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUserByUserName(ctx, "ALICE@example.com")
		require.NoError(t, err)
		assertUser(t, ua, got)
		assert.Equal(t, []string{ua.ID}, usersByExt(t, ctx, tx, "ext-1"), "UsersByExternalID")
		members, err := tx.ListMembers(ctx, "group-a", store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{ua.ID}, members.Items)
		keys, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Equal(t, []store.APIKey{storedKey(ka)}, keys)
		return nil
	})
}
