package storetest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var userTests = []subtest{
	{"CreateGet", testUserCreateGet},
	{"GetUnknown", testUserGetUnknown},
	{"DuplicateIDConflict", testUserDuplicateID},
	{"UserNameUniqueCaseInsensitive", testUserNameUnique},
	{"ExternalIDShared", testUserExternalIDShared},
	{"ExternalIDCaseExactAndEmpty", testUserExternalIDCaseExact},
	{"ExternalIDRename", testUserExternalIDRename},
	{"ExternalIDRollback", testUserExternalIDRollback},
	{"ExternalIDTeamIsolation", testUserExternalIDTeamIsolation},
	{"ExternalIDValuesAreCopies", testUserExternalIDValuesAreCopies},
	{"UpdateRename", testUserUpdateRename},
	{"DeletedUserStillStored", testUserDeletedStillStored},
	{"ListStableOrderPaging", testUserListPaging},
	{"ListFilter", testUserListFilter},
	{"DeleteUser", testUserDelete},
	{"DeleteUserRollback", testUserDeleteRollback},
	{"DeleteUserCreatedInSameUpdate", testUserDeleteCreatedInSameUpdate},
	{"DeleteUserUnknown", testUserDeleteUnknown},
	{"EmailsAndRolesAreCopies", testUserEmailsAreCopies},
}

// userFilters are the filter shapes the suite checks lists and counts with.
var userFilters = []store.UserFilter{
	{},
	{Active: ptr(true)},
	{Active: ptr(false)},
	{IncludeDeleted: true},
	{IncludeDeleted: true, Active: ptr(true)},
	{IncludeDeleted: true, Active: ptr(false)},
	{Seat: ptr(true)},
	{Seat: ptr(false)},
	{Active: ptr(true), Seat: ptr(true)},
	{Active: ptr(true), Seat: ptr(false)},
	{IncludeDeleted: true, Seat: ptr(true)},
	{IncludeDeleted: true, Active: ptr(false), Seat: ptr(false)},
}

// filterName describes f in failure messages.
func filterName(f store.UserFilter) string {
	flag := func(b *bool) string {
		if b == nil {
			return "any"
		}
		return fmt.Sprint(*b)
	}
	return fmt.Sprintf("{Active: %s, Seat: %s, IncludeDeleted: %v}", flag(f.Active), flag(f.Seat), f.IncludeDeleted)
}

// uuids returns n random UUID strings (random order).
func uuids(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	return ids
}

func testUserCreateGet(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	full := store.User{
		ID:          "user-1",
		UserName:    "Alice.Smith@Example.com",
		ExternalID:  "00u1abcd",
		GivenName:   "Alice",
		FamilyName:  "Smith",
		MiddleName:  "Jane",
		Formatted:   "Ms. Alice J. Smith",
		DisplayName: "Alice Smith",
		Locale:      "en-US",
		Emails: []store.Email{
			{Value: "alice.smith@example.com", Type: "work", Display: "Alice (work)", Primary: true},
			{Value: "alice@home.example", Type: "home"},
		},
		Active:       true,
		Deleted:      false,
		Managed:      true,
		Pending:      true,
		Seat:         true,
		ViaGroups:    true,
		Roles:        []string{"developer", "admin"},
		Created:      base,
		LastModified: at(1500*time.Millisecond + 999*time.Microsecond),
		Version:      7,
	}
	// The opposite flags, no roles, no externalId.
	bare := store.User{
		ID:       "user-2",
		UserName: "bob@example.com",
		Active:   false,
		Deleted:  true,
		Managed:  false,
		Created:  at(-time.Hour),
	}
	createUsers(t, s, tm.ID, full, bare)

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, full.ID)
		require.NoError(t, err)
		assertUser(t, full, got)
		assert.Equal(t, full.Created.Truncate(time.Millisecond).UTC(), got.Created, "times are truncated to ms, UTC")
		assert.Equal(t, time.UTC, got.Created.Location())
		assert.Equal(t, time.UTC, got.LastModified.Location())

		got, err = tx.GetUserByUserName(ctx, full.UserName)
		require.NoError(t, err)
		assertUser(t, full, got, "GetUserByUserName")
		byExt, err := tx.UsersByExternalID(ctx, full.ExternalID)
		require.NoError(t, err)
		if assert.Len(t, byExt, 1, "UsersByExternalID") {
			assertUser(t, full, byExt[0], "UsersByExternalID")
		}

		got, err = tx.GetUser(ctx, bare.ID)
		require.NoError(t, err)
		assertUser(t, bare, got)
		assert.True(t, got.LastModified.IsZero(), "zero time must round-trip as zero, got %v", got.LastModified)

		list, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list.Items, 2)
		assertUser(t, full, list.Items[0], "ListUsers")
		assertUser(t, bare, list.Items[1], "ListUsers")
		return nil
	})
}

func testUserGetUnknown(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createUsers(t, s, tm.ID, newUser("user-1", "alice@example.com")) // no externalId
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "no-such-user")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetUser")
		_, err = tx.GetUserByUserName(ctx, "nobody@example.com")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetUserByUserName")
		users, err := tx.UsersByExternalID(ctx, "no-such-ext")
		assert.NoError(t, err, "UsersByExternalID of an unknown externalId is not an error")
		assert.Empty(t, users, "UsersByExternalID")
		users, err = tx.UsersByExternalID(ctx, "")
		assert.NoError(t, err, "UsersByExternalID(\"\")")
		assert.Empty(t, users, "UsersByExternalID(\"\"): an empty externalId is not indexed")
		return nil
	})
}

func testUserDuplicateID(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := newUser("user-1", "alice@example.com")
	createUsers(t, s, tm.ID, u)

	dup := newUser("user-1", "bob@example.com")
	dup.ExternalID = "ext-bob"
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, dup)
	})
	assert.ErrorIs(t, err, store.ErrConflict)

	// Within one Update.
	x, y := newUser("user-x", "x@example.com"), newUser("user-x", "y@example.com")
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateUser(ctx, x); err != nil {
			return err
		}
		return tx.CreateUser(ctx, y)
	})
	assert.ErrorIs(t, err, store.ErrConflict, "same ID twice in one Update")

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, u, got, "a conflicting CreateUser changed the existing user")
		_, err = tx.GetUserByUserName(ctx, dup.UserName)
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.Empty(t, usersByExt(t, ctx, tx, dup.ExternalID), "externalId of a conflicting CreateUser")
		_, err = tx.GetUser(ctx, x.ID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		return nil
	})
}

func testUserNameUnique(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	alice := newUser("user-1", "Alice@X.com")
	umlaut := newUser("user-2", "ÄNNE@x.com")
	createUsers(t, s, tm.ID, alice, umlaut)

	for _, name := range []string{"alice@x.com", "ALICE@X.COM", "Alice@X.com"} {
		err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateUser(ctx, newUser("user-3", name))
		})
		assert.ErrorIs(t, err, store.ErrConflict, "userName %q", name)
	}
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, newUser("user-3", "änne@X.COM"))
	})
	assert.ErrorIs(t, err, store.ErrConflict, "userNames are compared through store.Fold")
	// Within one Update.
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateUser(ctx, newUser("user-4", "Carol@X.com")); err != nil {
			return err
		}
		return tx.CreateUser(ctx, newUser("user-5", "carol@x.COM"))
	})
	assert.ErrorIs(t, err, store.ErrConflict, "same folded userName twice in one Update")

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, name := range []string{"alice@x.com", "ALICE@X.COM", "aLiCe@x.CoM", "Alice@X.com"} {
			got, err := tx.GetUserByUserName(ctx, name)
			if assert.NoError(t, err, "GetUserByUserName(%q)", name) {
				assert.Equal(t, alice.ID, got.ID)
				assert.Equal(t, "Alice@X.com", got.UserName, "userName is returned exactly as stored")
			}
		}
		got, err := tx.GetUserByUserName(ctx, "änne@x.com")
		require.NoError(t, err)
		assert.Equal(t, umlaut.ID, got.ID)
		_, err = tx.GetUserByUserName(ctx, "carol@x.com")
		assert.ErrorIs(t, err, store.ErrNotFound)
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		return nil
	})
}

// usersByExt returns the IDs, in the order returned, of the users UsersByExternalID returns for
// ext (nil for none). It fails the test if UsersByExternalID returns an error, and checks that
// every user it returns has exactly that externalId.
func usersByExt(t *testing.T, ctx context.Context, tx store.Tx, ext string) []string {
	t.Helper()
	users, err := tx.UsersByExternalID(ctx, ext)
	require.NoError(t, err, "UsersByExternalID(%q)", ext)
	for _, u := range users {
		assert.Equal(t, ext, u.ExternalID, "UsersByExternalID(%q) returned user %q", ext, u.ID)
	}
	return nilIfEmpty(userIDs(users))
}

// testUserExternalIDShared checks that externalId is not unique: any number of users, deleted
// and inactive ones included, may share one, and UsersByExternalID returns them all by ID.
func testUserExternalIDShared(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	ids := uuids(6) // random order
	byID := map[string]store.User{}
	var users []store.User
	for i, id := range ids {
		u := newUser(id, id+"@example.com")
		u.ExternalID = "shared"
		u.Active = i%3 != 1
		u.Deleted = i%3 == 2
		users = append(users, u)
		byID[id] = u
	}
	other := newUser("user-other", "other@example.com")
	other.ExternalID = "other"
	byID[other.ID] = other

	// Several in one Update, then more over existing ones.
	createUsers(t, s, tm.ID, users[:3]...)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, u := range slices.Concat(users[3:5], []store.User{other}) {
			require.NoError(t, tx.CreateUser(ctx, u), "CreateUser of a user sharing an externalId")
		}
		assert.Equal(t, sortedCopy(ids[:5]), usersByExt(t, ctx, tx, "shared"), "committed and new users, by ID")
		return nil
	})
	// An update that keeps the shared externalId.
	changed := users[0]
	changed.GivenName = "Changed"
	changed.Version++
	byID[changed.ID] = changed
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateUser(ctx, changed), "UpdateUser of a user sharing an externalId")
		return tx.CreateUser(ctx, users[5])
	})

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.UsersByExternalID(ctx, "shared")
		require.NoError(t, err)
		assert.Equal(t, sortedCopy(ids), userIDs(got), "every user sharing the externalId, by ID, deleted ones included")
		for _, u := range got {
			assertUser(t, byID[u.ID], u)
		}
		assert.Equal(t, []string{other.ID}, usersByExt(t, ctx, tx, "other"))
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 7, n)
		return nil
	})
}

// testUserExternalIDCaseExact checks that externalIds are compared case-exactly and that an
// empty externalId is not indexed.
func testUserExternalIDCaseExact(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	lower := newUser("user-1", "one@example.com")
	lower.ExternalID = "ext"
	upper := newUser("user-2", "two@example.com")
	upper.ExternalID = "EXT"
	none1 := newUser("user-3", "three@example.com")
	none2 := newUser("user-4", "four@example.com")
	createUsers(t, s, tm.ID, lower, upper, none1, none2)

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{lower.ID}, usersByExt(t, ctx, tx, "ext"))
		assert.Equal(t, []string{upper.ID}, usersByExt(t, ctx, tx, "EXT"))
		assert.Empty(t, usersByExt(t, ctx, tx, "Ext"), "externalIds are case-exact")
		assert.Empty(t, usersByExt(t, ctx, tx, "ext "), "externalIds are compared exactly")
		users, err := tx.UsersByExternalID(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, users, "an empty externalId matches none, even users without one")
		return nil
	})

	// Dropping an externalId does not index the user under "".
	dropped := lower
	dropped.ExternalID = ""
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateUser(ctx, dropped))
		assert.Empty(t, usersByExt(t, ctx, tx, ""), "within the Update")
		assert.Empty(t, usersByExt(t, ctx, tx, "ext"), "dropped externalId, within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Empty(t, usersByExt(t, ctx, tx, ""))
		assert.Empty(t, usersByExt(t, ctx, tx, "ext"), "dropped externalId")
		assert.Equal(t, []string{upper.ID}, usersByExt(t, ctx, tx, "EXT"))
		return nil
	})
}

// testUserExternalIDRename checks that changing a user's externalId moves it from one lookup
// to the other, within the Update and after it commits.
func testUserExternalIDRename(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	alice := newUser("user-1", "alice@x.com")
	alice.ExternalID = "a"
	bob := newUser("user-2", "bob@x.com")
	bob.ExternalID = "a"
	carol := newUser("user-3", "carol@x.com")
	carol.ExternalID = "c"
	createUsers(t, s, tm.ID, alice, bob, carol)

	// withExt returns u with externalId ext and a new version.
	withExt := func(u store.User, ext string) store.User {
		u.ExternalID = ext
		u.Version++
		return u
	}
	zero := newUser("user-0", "zero@x.com") // sorts before the committed users
	zero.ExternalID = "d"
	dave := newUser("user-4", "dave@x.com")
	dave.ExternalID = "d"

	check := func(ctx context.Context, tx store.Tx, when string) {
		assert.Equal(t, []string{zero.ID, bob.ID, dave.ID}, usersByExt(t, ctx, tx, "a"), when+": a")
		assert.Empty(t, usersByExt(t, ctx, tx, "b"), when+": b (moved away again)")
		assert.Equal(t, []string{alice.ID}, usersByExt(t, ctx, tx, "c"), when+": c")
		assert.Empty(t, usersByExt(t, ctx, tx, "d"), when+": d (both users moved away)")
		assert.Equal(t, []string{carol.ID}, usersByExt(t, ctx, tx, "e"), when+": e")
		got, err := tx.GetUser(ctx, alice.ID)
		require.NoError(t, err)
		assert.Equal(t, "c", got.ExternalID, when)
	}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		// A committed user moves to a value another committed user has.
		require.NoError(t, tx.UpdateUser(ctx, withExt(alice, "c")))
		assert.Equal(t, []string{bob.ID}, usersByExt(t, ctx, tx, "a"), "a, after alice left it")
		assert.Equal(t, []string{alice.ID, carol.ID}, usersByExt(t, ctx, tx, "c"), "c, after alice joined it")
		// That user moves on.
		require.NoError(t, tx.UpdateUser(ctx, withExt(carol, "e")))
		assert.Equal(t, []string{alice.ID}, usersByExt(t, ctx, tx, "c"), "c, after carol left it")
		// New users move to a value a committed user has.
		require.NoError(t, tx.CreateUser(ctx, dave))
		require.NoError(t, tx.CreateUser(ctx, zero))
		assert.Equal(t, []string{zero.ID, dave.ID}, usersByExt(t, ctx, tx, "d"), "d, new users")
		require.NoError(t, tx.UpdateUser(ctx, withExt(dave, "a")))
		require.NoError(t, tx.UpdateUser(ctx, withExt(zero, "a")))
		// A committed user moves away and back.
		require.NoError(t, tx.UpdateUser(ctx, withExt(bob, "b")))
		assert.Equal(t, []string{bob.ID}, usersByExt(t, ctx, tx, "b"), "b, after bob joined it")
		assert.Equal(t, []string{zero.ID, dave.ID}, usersByExt(t, ctx, tx, "a"), "a, after bob left it")
		require.NoError(t, tx.UpdateUser(ctx, withExt(withExt(bob, "b"), "a")))
		check(ctx, tx, "within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, "after commit")
		return nil
	})

	// A later Update moves them again, onto committed values and away from them.
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateUser(ctx, withExt(alice, "a")))
		require.NoError(t, tx.UpdateUser(ctx, withExt(bob, "")))
		assert.Equal(t, []string{zero.ID, alice.ID, dave.ID}, usersByExt(t, ctx, tx, "a"), "within the second Update")
		assert.Empty(t, usersByExt(t, ctx, tx, "c"), "within the second Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{zero.ID, alice.ID, dave.ID}, usersByExt(t, ctx, tx, "a"), "after the second Update")
		assert.Empty(t, usersByExt(t, ctx, tx, "c"), "after the second Update")
		assert.Equal(t, []string{carol.ID}, usersByExt(t, ctx, tx, "e"), "after the second Update")
		return nil
	})
}

// testUserExternalIDRollback checks that a failed Update leaves the externalId index as it was.
func testUserExternalIDRollback(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	alice := newUser("user-1", "alice@x.com")
	alice.ExternalID = "a"
	bob := newUser("user-2", "bob@x.com")
	bob.ExternalID = "a"
	carol := newUser("user-3", "carol@x.com")
	carol.ExternalID = "c"
	createUsers(t, s, tm.ID, alice, bob, carol)

	check := func(when string) {
		mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
			assert.Equal(t, []string{alice.ID, bob.ID}, usersByExt(t, ctx, tx, "a"), when+": a")
			assert.Equal(t, []string{carol.ID}, usersByExt(t, ctx, tx, "c"), when+": c")
			assert.Empty(t, usersByExt(t, ctx, tx, "e"), when+": e")
			for _, u := range []store.User{alice, bob, carol} {
				got, err := tx.GetUser(ctx, u.ID)
				require.NoError(t, err)
				assertUser(t, u, got, when)
			}
			return nil
		})
	}
	check("before")

	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		dave := newUser("user-4", "dave@x.com")
		dave.ExternalID = "a"
		require.NoError(t, tx.CreateUser(ctx, dave))
		erin := newUser("user-5", "erin@x.com")
		erin.ExternalID = "e"
		require.NoError(t, tx.CreateUser(ctx, erin))
		movedAlice := alice
		movedAlice.ExternalID = "c"
		require.NoError(t, tx.UpdateUser(ctx, movedAlice))
		droppedBob := bob
		droppedBob.ExternalID = ""
		require.NoError(t, tx.UpdateUser(ctx, droppedBob))
		movedCarol := carol
		movedCarol.ExternalID = "a"
		require.NoError(t, tx.UpdateUser(ctx, movedCarol))

		assert.Equal(t, []string{carol.ID, dave.ID}, usersByExt(t, ctx, tx, "a"), "within the Update: a")
		assert.Equal(t, []string{alice.ID}, usersByExt(t, ctx, tx, "c"), "within the Update: c")
		assert.Equal(t, []string{erin.ID}, usersByExt(t, ctx, tx, "e"), "within the Update: e")
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	check("after a failed Update")

	// The index still works after the rollback.
	frank := newUser("user-6", "frank@x.com")
	frank.ExternalID = "c"
	createUsers(t, s, tm.ID, frank)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{carol.ID, frank.ID}, usersByExt(t, ctx, tx, "c"))
		assert.Equal(t, []string{alice.ID, bob.ID}, usersByExt(t, ctx, tx, "a"))
		return nil
	})
}

// testUserExternalIDTeamIsolation checks that UsersByExternalID sees only the team's users.
func testUserExternalIDTeamIsolation(t *testing.T, s store.Store) {
	a := newTeam(t, s, "team-a")
	b := newTeam(t, s, "team-b")
	a1 := newUser("user-a1", "one@a.com")
	a1.ExternalID = "x"
	a2 := newUser("user-a2", "two@a.com")
	a2.ExternalID = "x"
	b1 := newUser("user-b1", "one@b.com")
	b1.ExternalID = "x"
	b2 := newUser("user-b2", "two@b.com")
	b2.ExternalID = "y"
	createUsers(t, s, a.ID, a1, a2)
	createUsers(t, s, b.ID, b1, b2)

	mustUpdate(t, s, b.ID, func(ctx context.Context, tx store.Tx) error {
		b3 := newUser("user-b3", "three@b.com")
		b3.ExternalID = "x"
		require.NoError(t, tx.CreateUser(ctx, b3))
		assert.Equal(t, []string{b1.ID, b3.ID}, usersByExt(t, ctx, tx, "x"), "team b, within its Update")
		return nil
	})
	mustView(t, s, a.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{a1.ID, a2.ID}, usersByExt(t, ctx, tx, "x"), "team a")
		assert.Empty(t, usersByExt(t, ctx, tx, "y"), "team a")
		return nil
	})
	mustView(t, s, b.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{b1.ID, "user-b3"}, usersByExt(t, ctx, tx, "x"), "team b")
		assert.Equal(t, []string{b2.ID}, usersByExt(t, ctx, tx, "y"), "team b")
		return nil
	})
}

// testUserExternalIDValuesAreCopies checks that changing a user UsersByExternalID returned
// does not change the store.
func testUserExternalIDValuesAreCopies(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := newUser("user-1", "alice@example.com")
	u.ExternalID = "x"
	u.Roles = []string{"developer", "admin"}
	want := u
	want.Roles = []string{"developer", "admin"}
	createUsers(t, s, tm.ID, u)

	mutate := func(ctx context.Context, tx store.Tx, want store.User, when string) {
		got, err := tx.UsersByExternalID(ctx, "x")
		require.NoError(t, err)
		require.Len(t, got, 1)
		assertUser(t, want, got[0], when)
		got[0].Roles[0] = "mutated"
		got[0].GivenName = "mutated"
		got, err = tx.UsersByExternalID(ctx, "x")
		require.NoError(t, err)
		require.Len(t, got, 1)
		assertUser(t, want, got[0], when+": UsersByExternalID returned the store's value")
		byID, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, want, byID, when+": UsersByExternalID returned the store's value")
	}
	upd := want
	upd.Roles = []string{"owner", "developer"}
	upd.Version = 2
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		mutate(ctx, tx, want, "in a View")
		return nil
	})
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		mutate(ctx, tx, want, "in an Update, committed user")
		in := upd
		in.Roles = slices.Clone(upd.Roles)
		require.NoError(t, tx.UpdateUser(ctx, in))
		mutate(ctx, tx, upd, "in an Update, updated user")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		mutate(ctx, tx, upd, "after the Update")
		return nil
	})
}

func testUserUpdateRename(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	alice := newUser("user-1", "alice@x.com")
	alice.ExternalID = "ext-a"
	bob := newUser("user-2", "bob@x.com")
	bob.ExternalID = "ext-b"
	createUsers(t, s, tm.ID, alice, bob)

	renamed := alice
	renamed.UserName = "Alice2@X.com"
	renamed.ExternalID = "ext-a2"
	renamed.GivenName = "Alicia"
	renamed.LastModified = at(time.Minute)
	renamed.Version = 2
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, renamed)
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, alice.ID)
		require.NoError(t, err)
		assertUser(t, renamed, got)
		got, err = tx.GetUserByUserName(ctx, "alice2@x.com")
		require.NoError(t, err)
		assertUser(t, renamed, got)
		assert.Equal(t, []string{alice.ID}, usersByExt(t, ctx, tx, "ext-a2"), "new externalId after rename")
		_, err = tx.GetUserByUserName(ctx, "alice@x.com")
		assert.ErrorIs(t, err, store.ErrNotFound, "old userName after rename")
		assert.Empty(t, usersByExt(t, ctx, tx, "ext-a"), "old externalId after rename")
		return nil
	})

	// The old userName and externalId are free for another user.
	carol := newUser("user-3", "ALICE@x.com")
	carol.ExternalID = "ext-a"
	createUsers(t, s, tm.ID, carol)

	// Renaming onto another user's folded userName conflicts and changes nothing.
	clash := bob
	clash.UserName = "alice2@X.COM"
	clash.GivenName = "changed"
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, clash)
	})
	assert.ErrorIs(t, err, store.ErrConflict, "rename onto another user's userName")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, bob.ID)
		require.NoError(t, err)
		assertUser(t, bob, got, "a conflicting UpdateUser changed the user")
		got, err = tx.GetUserByUserName(ctx, "bob@x.com")
		require.NoError(t, err)
		assert.Equal(t, bob.ID, got.ID)
		assert.Equal(t, []string{bob.ID}, usersByExt(t, ctx, tx, "ext-b"))
		got, err = tx.GetUserByUserName(ctx, "alice2@x.com")
		require.NoError(t, err)
		assert.Equal(t, alice.ID, got.ID)
		return nil
	})

	// A user may change the case of its own userName, keep its externalId, or drop it.
	recased := bob
	recased.UserName = "BOB@x.com"
	recased.ExternalID = ""
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		same := renamed
		same.FamilyName = "Other"
		require.NoError(t, tx.UpdateUser(ctx, same), "update keeping userName and externalId")
		return tx.UpdateUser(ctx, recased)
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUserByUserName(ctx, "bob@x.com")
		require.NoError(t, err)
		assert.Equal(t, "BOB@x.com", got.UserName)
		assert.Empty(t, usersByExt(t, ctx, tx, "ext-b"), "dropped externalId")
		assert.Equal(t, []string{alice.ID}, usersByExt(t, ctx, tx, "ext-a2"), "kept externalId")
		return nil
	})
	dave := newUser("user-4", "dave@x.com")
	dave.ExternalID = "ext-b"
	createUsers(t, s, tm.ID, dave)

	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, newUser("no-such-user", "nobody@x.com"))
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "UpdateUser of an unknown user")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUserByUserName(ctx, "nobody@x.com")
		assert.ErrorIs(t, err, store.ErrNotFound)
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 4, n)
		return nil
	})
}

func testUserDeletedStillStored(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := newUser("user-1", "alice@x.com")
	u.ExternalID = "ext-a"
	createUsers(t, s, tm.ID, u)
	deleted := u
	deleted.Deleted = true
	deleted.Active = false
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, deleted)
	})

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, deleted, got)
		got, err = tx.GetUserByUserName(ctx, "ALICE@x.com")
		require.NoError(t, err)
		assert.Equal(t, u.ID, got.ID)
		byExt, err := tx.UsersByExternalID(ctx, "ext-a")
		require.NoError(t, err)
		if assert.Len(t, byExt, 1, "UsersByExternalID returns deleted users") {
			assertUser(t, deleted, byExt[0])
		}
		list, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, list.Items)
		assert.Equal(t, 0, list.Total)
		list, err = tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{u.ID}, userIDs(list.Items))
		return nil
	})
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, newUser("user-2", "alice@x.com"))
	})
	assert.ErrorIs(t, err, store.ErrConflict, "a deleted user keeps its userName")

	// It keeps its externalId without blocking anyone.
	again := newUser("user-2", "alice.again@x.com")
	again.ExternalID = "ext-a"
	createUsers(t, s, tm.ID, again)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{u.ID, again.ID}, usersByExt(t, ctx, tx, "ext-a"), "deleted and live users share the externalId")
		return nil
	})
}

func testUserListPaging(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	ids := uuids(25)
	// Created in random ID order, over several Updates.
	for chunk := range slices.Chunk(ids, 7) {
		var users []store.User
		for _, id := range chunk {
			users = append(users, newUser(id, id+"@example.com"))
		}
		createUsers(t, s, tm.ID, users...)
	}
	want := sortedCopy(ids)

	checkPaging := func(ctx context.Context, tx store.Tx, want []string, limit int) {
		got := pageAll(t, len(want), limit, func(o store.ListOptions) (store.Page[store.User], error) {
			return tx.ListUsers(ctx, store.UserFilter{}, o)
		})
		assert.Equal(t, want, userIDs(got), "paging with Limit %d must visit every user once, by ID", limit)
	}
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		checkPaging(ctx, tx, want, 2)
		checkPaging(ctx, tx, want, 7)

		all, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, want, userIDs(all.Items), "Limit 0 lists all")
		assert.Equal(t, 25, all.Total)

		for _, off := range []int{25, 26, 1000} {
			p, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{Offset: off, Limit: 2})
			require.NoError(t, err)
			assert.Empty(t, p.Items, "Offset %d", off)
			assert.Equal(t, 25, p.Total, "Offset %d", off)
		}
		p, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{Offset: 20})
		require.NoError(t, err)
		assert.Equal(t, want[20:], userIDs(p.Items), "Offset without Limit")
		return nil
	})

	// Inside an Update, uncommitted users are listed in order with the committed ones.
	more := uuids(6)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, id := range more {
			require.NoError(t, tx.CreateUser(ctx, newUser(id, id+"@example.com")))
		}
		checkPaging(ctx, tx, sortedCopy(append(slices.Clone(ids), more...)), 3)
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		checkPaging(ctx, tx, sortedCopy(append(slices.Clone(ids), more...)), 4)
		return nil
	})
}

func testUserListFilter(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]store.User{}
	var users []store.User
	for i, id := range uuids(16) {
		u := newUser(id, id+"@example.com")
		u.Active = i%2 == 0
		u.Deleted = i%3 == 0
		u.Seat = i%5 < 2
		users = append(users, u)
		model[id] = u
	}
	createUsers(t, s, tm.ID, users...)

	check := func(ctx context.Context, tx store.Tx, when string) {
		for _, f := range userFilters {
			var want []string
			for id, u := range model {
				if f.Matches(u) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			msg := when + ": filter " + filterName(f)
			list, err := tx.ListUsers(ctx, f, store.ListOptions{})
			require.NoError(t, err)
			assert.Equal(t, want, nilIfEmpty(userIDs(list.Items)), msg)
			assert.Equal(t, len(want), list.Total, msg)
			for _, u := range list.Items {
				assert.True(t, f.Matches(u), "%s: ListUsers returned %+v", msg, u)
			}
			n, err := tx.CountUsers(ctx, f)
			require.NoError(t, err)
			assert.Equal(t, len(want), n, "CountUsers, "+msg)
			paged := pageAll(t, len(want), 3, func(o store.ListOptions) (store.Page[store.User], error) {
				return tx.ListUsers(ctx, f, o)
			})
			assert.Equal(t, want, nilIfEmpty(userIDs(paged)), "paged, "+msg)
		}
	}
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, "after create")
		return nil
	})

	// flip returns m with Active or Deleted toggled on about a third of the users, and the
	// changed users. It runs outside fn, so that a store that retries fn sees the same writes.
	flip := func(m map[string]store.User) (map[string]store.User, []store.User) {
		m = maps.Clone(m)
		var changed []store.User
		for _, u := range users {
			if rng.IntN(3) != 0 {
				continue
			}
			v := m[u.ID]
			switch rng.IntN(3) {
			case 0:
				v.Active = !v.Active
			case 1:
				v.Deleted = !v.Deleted
			default:
				v.Seat = !v.Seat
			}
			m[u.ID] = v
			changed = append(changed, v)
		}
		return m, changed
	}
	apply := func(ctx context.Context, tx store.Tx, changed []store.User) {
		for _, u := range changed {
			require.NoError(t, tx.UpdateUser(ctx, u))
		}
	}

	// Counts follow updates, within the Update and after it.
	before := model
	var changed []store.User
	model, changed = flip(model)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		apply(ctx, tx, changed)
		check(ctx, tx, "within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, "after the Update")
		return nil
	})
	require.NotEqual(t, before, model, "flip changed nothing")

	// A failed Update leaves counts alone.
	_, changed = flip(model)
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		apply(ctx, tx, changed)
		require.NoError(t, tx.CreateUser(ctx, newUser("extra", "extra@example.com")))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, "after a failed Update")
		return nil
	})
}
