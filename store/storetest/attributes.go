package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var attributeTests = []subtest{
	{"UserRoundTrip", testAttributesUserRoundTrip},
	{"GroupRoundTrip", testAttributesGroupRoundTrip},
	{"UpdateKeepsOrReplaces", testAttributesUpdate},
	{"Rollback", testAttributesRollback},
	{"AreCopies", testAttributesAreCopies},
}

var emailTests = []subtest{
	{"LookupCaseInsensitive", testEmailLookup},
	{"Shared", testEmailShared},
	{"FollowsUpdates", testEmailFollowsUpdates},
	{"Rollback", testEmailRollback},
	{"TeamIsolation", testEmailTeamIsolation},
}

// richAttributes is an attributes object with every shape the root package writes: nested
// complex values, multi-valued ones with primary, an extension under its URN, unicode (raw and
// escaped, with characters JSON encoders like to escape), numbers and a 64 KiB string.
func richAttributes(t *testing.T) json.RawMessage {
	t.Helper()
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	v := map[string]any{
		"nickName": "Babs",
		"title":    "Tour Guide — 导游 🧭",
		"phoneNumbers": []any{
			map[string]any{"value": "+1 555 0100", "type": "work", "primary": true},
			map[string]any{"value": "+1 555 0199", "type": "mobile", "primary": false},
		},
		"addresses": []any{map[string]any{
			"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
			"region": "CA", "postalCode": "91608", "country": "US", "primary": true,
			"formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
		}},
		"name":       map[string]any{"honorificPrefix": "Ms.", "honorificSuffix": "III"},
		"x509Notes":  `quote " backslash \ tab 	 <tag> & amp`,
		"emptyList":  []any{},
		"nested":     map[string]any{"deeper": map[string]any{"list": []any{1, 2.5, "three", true, nil}}},
		"big":        big,
		"escapedRaw": "\u00e9\u4e2d",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{
			"employeeNumber": "701984",
			"manager":        map[string]any{"value": "26118915-6090-4610-87a4-0a8bb1b1d1e9", "$ref": "../Users/26118915"},
		},
	}
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	// A unicode escape the encoder would not write, which a store must keep as the character.
	raw = append(raw[:len(raw)-1], []byte(`,"escaped":"caf\u00e9 \ud83e\udded"}`)...)
	require.True(t, json.Valid(raw))
	return raw
}

func testAttributesUserRoundTrip(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := newUser("user-1", "barbara@example.com")
	u.ExternalID = "ext-1"
	u.Emails = []store.Email{{Value: "barbara@example.com", Type: "work", Display: "Barbara J.", Primary: true}}
	u.Attributes = richAttributes(t)
	plain := newUser("user-2", "plain@example.com") // no attributes
	createUsers(t, s, tm.ID, u, plain)

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, u, got, "GetUser")
		var v map[string]any
		require.NoError(t, json.Unmarshal(got.Attributes, &v), "Attributes must be a JSON object")
		assert.Equal(t, "café 🧭", v["escaped"], "an escaped character is kept as the character")
		assert.Len(t, v["big"], 64<<10, "a 64 KiB value is kept whole")

		got, err = tx.GetUserByUserName(ctx, u.UserName)
		require.NoError(t, err)
		assertUser(t, u, got, "GetUserByUserName")
		byExt, err := tx.UsersByExternalID(ctx, u.ExternalID)
		require.NoError(t, err)
		if assert.Len(t, byExt, 1) {
			assertUser(t, u, byExt[0], "UsersByExternalID")
		}
		byEmail, err := tx.UsersByEmail(ctx, "BARBARA@example.com")
		require.NoError(t, err)
		if assert.Len(t, byEmail, 1) {
			assertUser(t, u, byEmail[0], "UsersByEmail")
		}
		list, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{})
		require.NoError(t, err)
		if assert.Len(t, list.Items, 2) {
			assertUser(t, u, list.Items[0], "ListUsers")
			assertUser(t, plain, list.Items[1], "ListUsers")
		}
		got, err = tx.GetUser(ctx, plain.ID)
		require.NoError(t, err)
		assert.Nil(t, canonicalJSON(got.Attributes), "a user without attributes has none (nil or {})")
		return nil
	})
}

func testAttributesGroupRoundTrip(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	g := newGroup("group-1", "Engineering")
	g.Attributes = json.RawMessage(`{"urn:acme:params:scim:schemas:extension:team:2.0:Group":{"costCenter":"CC-42","tags":["a","b"],"owner":{"value":"u1"}}}`)
	bare := newGroup("group-2", "Sales")
	createGroups(t, s, tm.ID, g, bare)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroup(ctx, g.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(g), gotGroup(got), "GetGroup")
		got, err = tx.GetGroupByDisplayName(ctx, g.DisplayName)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(g), gotGroup(got), "GetGroupByDisplayName")
		list, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []store.Group{storedGroup(g), storedGroup(bare)}, gotGroups(list.Items))
		return nil
	})
	// An update of the group's own fields keeps its attributes; one that changes them
	// replaces the whole object.
	renamed := g
	renamed.DisplayName, renamed.Version = "Engineering EMEA", 2
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.UpdateGroup(ctx, renamed) })
	changed := renamed
	changed.Attributes = json.RawMessage(`{"urn:acme:params:scim:schemas:extension:team:2.0:Group":{"costCenter":"CC-7"}}`)
	cleared := bare
	cleared.Attributes = nil
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroup(ctx, g.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(renamed), gotGroup(got), "UpdateGroup of other fields keeps Attributes")
		require.NoError(t, tx.UpdateGroup(ctx, changed))
		return tx.UpdateGroup(ctx, cleared)
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetGroup(ctx, g.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(changed), gotGroup(got), "UpdateGroup replaces Attributes")
		got, err = tx.GetGroup(ctx, bare.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(cleared), gotGroup(got))
		return nil
	})
}

func testAttributesUpdate(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := newUser("user-1", "carol@example.com")
	u.Attributes = json.RawMessage(`{"title":"Engineer","phoneNumbers":[{"value":"1","type":"work","primary":true}]}`)
	other := newUser("user-2", "dave@example.com")
	other.Attributes = json.RawMessage(`{"title":"Manager"}`)
	createUsers(t, s, tm.ID, u, other)

	// A change of typed fields that passes the attributes back keeps them.
	deactivated := u
	deactivated.Active, deactivated.Version = false, 2
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		got.Active, got.Version = false, 2
		return tx.UpdateUser(ctx, got)
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, deactivated, got, "an update that leaves Attributes as read keeps them")
		return nil
	})

	// A change of one attribute replaces the object; other users are untouched.
	retitled := deactivated
	retitled.Attributes = json.RawMessage(`{"title":"Staff Engineer","phoneNumbers":[{"value":"1","type":"work","primary":true}],"nickName":"C"}`)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, retitled) })
	// And an update to none clears them.
	cleared := other
	cleared.Attributes = nil
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, cleared) })
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, retitled, got)
		got, err = tx.GetUser(ctx, other.ID)
		require.NoError(t, err)
		assertUser(t, cleared, got)
		return nil
	})
}

func testAttributesRollback(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := newUser("user-1", "erin@example.com")
	u.Attributes = json.RawMessage(`{"title":"Before"}`)
	createUsers(t, s, tm.ID, u)
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		next := u
		next.Attributes = json.RawMessage(`{"title":"After"}`)
		require.NoError(t, tx.UpdateUser(ctx, next))
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, next, got, "a transaction reads its own write")
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, u, got, "a failed Update changes no attribute")
		return nil
	})
}

func testAttributesAreCopies(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := newUser("user-1", "fay@example.com")
	u.Attributes = json.RawMessage(`{"title":"Original"}`)
	want := u
	want.Attributes = json.RawMessage(`{"title":"Original"}`)
	g := newGroup("group-1", "Eng")
	g.Attributes = json.RawMessage(`{"urn:x:Group":{"a":"Original"}}`)
	wantGroup := g
	wantGroup.Attributes = json.RawMessage(`{"urn:x:Group":{"a":"Original"}}`)
	mutate := func(b json.RawMessage) {
		if i := strings.Index(string(b), "Original"); i >= 0 {
			copy(b[i:], "Mutated!")
		}
	}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, u))
		mutate(u.Attributes)
		require.NoError(t, tx.CreateGroup(ctx, g))
		mutate(g.Attributes)
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		mutate(got.Attributes)
		gg, err := tx.GetGroup(ctx, g.ID)
		require.NoError(t, err)
		mutate(gg.Attributes)
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assertUser(t, want, got, "Attributes were shared with the caller")
		mutate(got.Attributes)
		list, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list.Items, 1)
		assertUser(t, want, list.Items[0], "GetUser returned the store's Attributes")
		gg, err := tx.GetGroup(ctx, g.ID)
		require.NoError(t, err)
		assert.Equal(t, storedGroup(wantGroup), gotGroup(gg), "Attributes were shared with the caller")
		return nil
	})
}

// usersByEmail returns the IDs UsersByEmail finds for email.
func usersByEmail(t *testing.T, ctx context.Context, tx store.Tx, email string) []string {
	t.Helper()
	users, err := tx.UsersByEmail(ctx, email)
	require.NoError(t, err, "UsersByEmail(%q)", email)
	require.NotNil(t, users, "UsersByEmail returns an empty slice, not nil, for no match")
	return userIDs(users)
}

func withEmails(u store.User, values ...string) store.User {
	u.Emails = nil
	for i, v := range values {
		u.Emails = append(u.Emails, store.Email{Value: v, Type: "work", Primary: i == 0})
	}
	return u
}

func testEmailLookup(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	ann := withEmails(newUser("user-1", "Ann@Example.com"), "ann@example.com", "Ann.Private@Home.Example")
	bob := newUser("user-2", "bob@example.com") // no emails: the userName is not an email value
	gone := withEmails(newUser("user-3", "gone@example.com"), "gone@example.com")
	gone.Deleted = true
	createUsers(t, s, tm.ID, ann, bob, gone)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{"user-1"}, usersByEmail(t, ctx, tx, "ANN@example.COM"), "the email equal to the userName")
		assert.Equal(t, []string{"user-1"}, usersByEmail(t, ctx, tx, "ann.private@home.example"), "another email")
		assert.Empty(t, usersByEmail(t, ctx, tx, "bob@example.com"), "a user without emails")
		assert.Equal(t, []string{"user-3"}, usersByEmail(t, ctx, tx, "gone@example.com"), "deleted users are included")
		assert.Empty(t, usersByEmail(t, ctx, tx, "nobody@example.com"))
		assert.Empty(t, usersByEmail(t, ctx, tx, ""), "an empty email matches none")
		assert.Empty(t, usersByEmail(t, ctx, tx, "ann"), "no prefix match")
		got, err := tx.UsersByEmail(ctx, "ann.private@home.example")
		require.NoError(t, err)
		if assert.Len(t, got, 1) {
			assertUser(t, ann, got[0])
		}
		return nil
	})
}

func testEmailShared(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	ids := sortedCopy(uuids(3))
	a := withEmails(newUser(ids[2], "a@example.com"), "a@example.com", "team@example.com")
	b := withEmails(newUser(ids[0], "b@example.com"), "TEAM@example.com")
	c := withEmails(newUser(ids[1], "team@example.com"), "team@example.com")
	createUsers(t, s, tm.ID, a, b, c)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, ids, usersByEmail(t, ctx, tx, "Team@Example.com"), "every user with the email, ordered by ID")
		return nil
	})
}

func testEmailFollowsUpdates(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := withEmails(newUser("user-1", "old@example.com"), "old@example.com")
	createUsers(t, s, tm.ID, u)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		// Rename the userName only: the email that equalled it is still the user's.
		renamed := u
		renamed.UserName = "new@example.com"
		require.NoError(t, tx.UpdateUser(ctx, renamed))
		assert.Equal(t, []string{"user-1"}, usersByEmail(t, ctx, tx, "old@example.com"), "in the transaction")
		assert.Empty(t, usersByEmail(t, ctx, tx, "new@example.com"), "a userName is not an email value")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{"user-1"}, usersByEmail(t, ctx, tx, "old@example.com"), "after the commit")
		assert.Empty(t, usersByEmail(t, ctx, tx, "new@example.com"))
		return nil
	})
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUser(ctx, u.ID)
		require.NoError(t, err)
		next := withEmails(got, "new@example.com", "other@example.com")
		require.NoError(t, tx.UpdateUser(ctx, next))
		assert.Empty(t, usersByEmail(t, ctx, tx, "old@example.com"), "a removed email is no longer found")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Empty(t, usersByEmail(t, ctx, tx, "old@example.com"))
		assert.Equal(t, []string{"user-1"}, usersByEmail(t, ctx, tx, "new@example.com"))
		assert.Equal(t, []string{"user-1"}, usersByEmail(t, ctx, tx, "OTHER@example.com"))
		return nil
	})
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, u.ID) })
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Empty(t, usersByEmail(t, ctx, tx, "new@example.com"), "DeleteUser removes the user's emails")
		assert.Empty(t, usersByEmail(t, ctx, tx, "other@example.com"))
		return nil
	})
}

func testEmailRollback(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	u := withEmails(newUser("user-1", "kept@example.com"), "kept@example.com", "second@example.com")
	createUsers(t, s, tm.ID, u)
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateUser(ctx, withEmails(u, "changed@example.com")))
		require.NoError(t, tx.CreateUser(ctx, withEmails(newUser("user-2", "x@example.com"), "second@example.com")))
		assert.Equal(t, []string{"user-2"}, usersByEmail(t, ctx, tx, "second@example.com"))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{"user-1"}, usersByEmail(t, ctx, tx, "second@example.com"))
		assert.Empty(t, usersByEmail(t, ctx, tx, "changed@example.com"))
		return nil
	})
}

func testEmailTeamIsolation(t *testing.T, s store.Store) {
	t1, t2 := newTeam(t, s, "team-1"), newTeam(t, s, "team-2")
	createUsers(t, s, t1.ID, withEmails(newUser("user-1", "a@example.com"), "shared@example.com"))
	createUsers(t, s, t2.ID, withEmails(newUser("user-2", "b@example.com"), "shared@example.com"))
	mustView(t, s, t1.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{"user-1"}, usersByEmail(t, ctx, tx, "shared@example.com"))
		return nil
	})
	mustView(t, s, t2.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, []string{"user-2"}, usersByEmail(t, ctx, tx, "shared@example.com"))
		return nil
	})
}

var cursorTests = []subtest{
	{"UsersAfter", testUsersAfter},
	{"GroupsAfter", testGroupsAfter},
}

// walkAfter lists every item through pages of size limit, each page after the last ID of the
// previous one, and returns the IDs visited.
func walkAfter[T any](t *testing.T, total, limit int, list func(o store.ListOptions) (store.Page[T], error), id func(T) string) []string {
	t.Helper()
	var ids []string
	after := ""
	for range total + 2 {
		p, err := list(store.ListOptions{After: after, Limit: limit})
		require.NoError(t, err)
		assert.Equal(t, total, p.Total, "Total ignores the cursor")
		if len(p.Items) == 0 {
			return ids
		}
		for _, it := range p.Items {
			ids = append(ids, id(it))
		}
		after = ids[len(ids)-1]
	}
	t.Fatal("the cursor walk did not end")
	return nil
}

func testUsersAfter(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	ids := uuids(23)
	var users []store.User
	for i, id := range ids {
		u := newUser(id, fmt.Sprintf("u%d@example.com", i))
		u.Active = i%3 != 0
		users = append(users, u)
	}
	createUsers(t, s, tm.ID, users[:17]...)
	byID := func(u store.User) string { return u.ID }
	check := func(ctx context.Context, tx store.Tx, all []string) {
		active := []string{}
		for _, u := range users {
			if u.Active && slices.Contains(all, u.ID) {
				active = append(active, u.ID)
			}
		}
		for _, limit := range []int{1, 4, 100} {
			got := walkAfter(t, len(all), limit, func(o store.ListOptions) (store.Page[store.User], error) {
				return tx.ListUsers(ctx, store.UserFilter{}, o)
			}, byID)
			assert.Equal(t, sortedCopy(all), got, "limit %d", limit)
			got = walkAfter(t, len(active), limit, func(o store.ListOptions) (store.Page[store.User], error) {
				return tx.ListUsers(ctx, store.UserFilter{Active: ptr(true)}, o)
			}, byID)
			assert.Equal(t, sortedCopy(active), got, "active, limit %d", limit)
		}
		sorted := sortedCopy(all)
		p, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{After: sorted[2], Offset: 1, Limit: 2})
		require.NoError(t, err)
		assert.Equal(t, sorted[4:6], userIDs(p.Items), "Offset counts from the cursor")
		p, err = tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{After: sorted[len(sorted)-1]})
		require.NoError(t, err)
		assert.Empty(t, p.Items, "nothing after the last")
		p, err = tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{After: "0", Limit: 1})
		require.NoError(t, err)
		assert.Equal(t, sorted[:1], userIDs(p.Items), "a cursor that is no ID starts before the IDs greater than it")
	}
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		check(ctx, tx, ids[:17])
		return nil
	})
	// Within an Update: users created and deleted in it.
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, u := range users[17:] {
			require.NoError(t, tx.CreateUser(ctx, u))
		}
		require.NoError(t, tx.DeleteUser(ctx, ids[0]))
		require.NoError(t, tx.DeleteUser(ctx, ids[20]))
		check(ctx, tx, slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == ids[0] || id == ids[20] }))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
}

func testGroupsAfter(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	ids := uuids(9)
	var groups []store.Group
	for i, id := range ids {
		groups = append(groups, newGroup(id, fmt.Sprintf("G%d", i)))
	}
	createGroups(t, s, tm.ID, groups[:6]...)
	byID := func(g store.Group) string { return g.ID }
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, g := range groups[6:] {
			require.NoError(t, tx.CreateGroup(ctx, g))
		}
		require.NoError(t, tx.DeleteGroup(ctx, ids[1]))
		want := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == ids[1] })
		for _, limit := range []int{1, 2, 50} {
			got := walkAfter(t, len(want), limit, func(o store.ListOptions) (store.Page[store.Group], error) {
				return tx.ListGroups(ctx, o)
			}, byID)
			assert.Equal(t, sortedCopy(want), got, "limit %d", limit)
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got := walkAfter(t, 6, 4, func(o store.ListOptions) (store.Page[store.Group], error) { return tx.ListGroups(ctx, o) }, byID)
		assert.Equal(t, sortedCopy(ids[:6]), got)
		return nil
	})
}
