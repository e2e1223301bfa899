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
	{"ExternalIDUnique", testUserExternalIDUnique},
	{"UpdateRename", testUserUpdateRename},
	{"DeletedUserStillStored", testUserDeletedStillStored},
	{"ListStableOrderPaging", testUserListPaging},
	{"ListFilter", testUserListFilter},
}

// userFilters are the filter shapes the suite checks lists and counts with.
var userFilters = []store.UserFilter{
	{},
	{Active: ptr(true)},
	{Active: ptr(false)},
	{IncludeDeleted: true},
	{IncludeDeleted: true, Active: ptr(true)},
	{IncludeDeleted: true, Active: ptr(false)},
}

// filterName describes f in failure messages.
func filterName(f store.UserFilter) string {
	active := "any"
	if f.Active != nil {
		active = fmt.Sprint(*f.Active)
	}
	return fmt.Sprintf("{Active: %s, IncludeDeleted: %v}", active, f.IncludeDeleted)
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
		ID:           "user-1",
		UserName:     "Alice.Smith@Example.com",
		ExternalID:   "00u1abcd",
		GivenName:    "Alice",
		FamilyName:   "Smith",
		MiddleName:   "Jane",
		Formatted:    "Ms. Alice J. Smith",
		DisplayName:  "Alice Smith",
		Locale:       "en-US",
		Active:       true,
		Deleted:      false,
		Managed:      true,
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
		got, err = tx.GetUserByExternalID(ctx, full.ExternalID)
		require.NoError(t, err)
		assertUser(t, full, got, "GetUserByExternalID")

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
		_, err = tx.GetUserByExternalID(ctx, "no-such-ext")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetUserByExternalID")
		_, err = tx.GetUserByExternalID(ctx, "")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetUserByExternalID(\"\"): an empty externalId is not indexed")
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
		_, err = tx.GetUserByExternalID(ctx, dup.ExternalID)
		assert.ErrorIs(t, err, store.ErrNotFound)
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

func testUserExternalIDUnique(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u1 := newUser("user-1", "one@example.com")
	u2 := newUser("user-2", "two@example.com") // empty externalIds never conflict
	u3 := newUser("user-3", "three@example.com")
	u3.ExternalID = "E1"
	u4 := newUser("user-4", "four@example.com")
	u4.ExternalID = "e1" // externalIds are case-exact
	createUsers(t, s, tm.ID, u1, u2, u3, u4)

	dup := newUser("user-5", "five@example.com")
	dup.ExternalID = "E1"
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, dup)
	})
	assert.ErrorIs(t, err, store.ErrConflict)

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUserByExternalID(ctx, "E1")
		require.NoError(t, err)
		assert.Equal(t, u3.ID, got.ID)
		got, err = tx.GetUserByExternalID(ctx, "e1")
		require.NoError(t, err)
		assert.Equal(t, u4.ID, got.ID)
		_, err = tx.GetUser(ctx, dup.ID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.GetUserByUserName(ctx, dup.UserName)
		assert.ErrorIs(t, err, store.ErrNotFound)
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
		got, err = tx.GetUserByExternalID(ctx, "ext-a2")
		require.NoError(t, err)
		assert.Equal(t, alice.ID, got.ID)
		_, err = tx.GetUserByUserName(ctx, "alice@x.com")
		assert.ErrorIs(t, err, store.ErrNotFound, "old userName after rename")
		_, err = tx.GetUserByExternalID(ctx, "ext-a")
		assert.ErrorIs(t, err, store.ErrNotFound, "old externalId after rename")
		return nil
	})

	// The old userName and externalId are free for another user.
	carol := newUser("user-3", "ALICE@x.com")
	carol.ExternalID = "ext-a"
	createUsers(t, s, tm.ID, carol)

	// Renaming onto another user's folded userName, or externalId, conflicts and changes nothing.
	clash := bob
	clash.UserName = "alice2@X.COM"
	clash.GivenName = "changed"
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, clash)
	})
	assert.ErrorIs(t, err, store.ErrConflict, "rename onto another user's userName")
	clash = bob
	clash.ExternalID = "ext-a2"
	clash.GivenName = "changed"
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, clash)
	})
	assert.ErrorIs(t, err, store.ErrConflict, "rename onto another user's externalId")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, bob.ID)
		require.NoError(t, err)
		assertUser(t, bob, got, "a conflicting UpdateUser changed the user")
		got, err = tx.GetUserByUserName(ctx, "bob@x.com")
		require.NoError(t, err)
		assert.Equal(t, bob.ID, got.ID)
		got, err = tx.GetUserByExternalID(ctx, "ext-b")
		require.NoError(t, err)
		assert.Equal(t, bob.ID, got.ID)
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
		_, err = tx.GetUserByExternalID(ctx, "ext-b")
		assert.ErrorIs(t, err, store.ErrNotFound, "dropped externalId")
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
		got, err = tx.GetUserByExternalID(ctx, "ext-a")
		require.NoError(t, err)
		assert.Equal(t, u.ID, got.ID)
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
			if rng.IntN(2) == 0 {
				v.Active = !v.Active
			} else {
				v.Deleted = !v.Deleted
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
