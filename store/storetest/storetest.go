// Package storetest is the conformance suite for store.Store implementations.
//
// An implementation's tests call Run with a constructor that returns a new, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
//	}
//
// Run runs one named subtest per behaviour of the contract documented in package store
// ("Teams/Isolation", "Users/UpdateRename", "Tx/RollbackOnError", "Concurrency/SameUserName",
// ...), each against a fresh store from newStore, so that a single behaviour can be run with
// go test -run 'TestConformance/Users/UpdateRename'. newStore may use t to register cleanup
// (t.Cleanup) or to skip (t.Skip) when a backing service is unavailable. The Concurrency
// subtests start many goroutines; run the suite under the race detector.
//
// # What the suite pins down beyond the interface documentation
//
//   - Times are truncated (not rounded) to the millisecond and returned in UTC: a store
//     returns t.Truncate(time.Millisecond).UTC() for a time t it was given. A zero time
//     round-trips as the zero time. (Databases that round fractional seconds, or keep
//     microseconds, must truncate before writing.)
//   - A nil and an empty slice (User.Roles, User.Emails, Team.SSOMethods,
//     Team.VerifiedDomains, Group.Roles, Job.Data) are interchangeable.
//   - User.Attributes and Group.Attributes are compared as JSON values, not bytes (a store
//     may reorder keys and change whitespace, as PostgreSQL's jsonb does); nil and {} are
//     interchangeable. A store keeps every value exactly: nested objects, lists, unicode
//     (escaped or not), and strings of 64 KiB.
//   - UsersByEmail compares store.Fold of the values, returns users ordered by ID (deleted
//     ones included), and sees a transaction's own writes, whether or not an email equals the
//     user's userName.
//   - Only DeleteUser removes a user: a user with Deleted set is still returned by GetUser,
//     GetUserByUserName and UsersByExternalID and still holds its userName (which no other
//     user may take) and its externalId (which other users may share); only lists and counts
//     leave it out by default (see store.UserFilter).
//   - externalId is not unique: no write ever conflicts on it. UsersByExternalID compares
//     case-exactly, returns users ordered by ID, and returns no users and a nil error when
//     none matches. An empty externalId is not indexed: UsersByExternalID("") returns none,
//     even when users have no externalId.
//   - userNames are compared through store.Fold (Go's strings.ToLower), not a database's own
//     case folding.
//   - A key's digest is reserved only when its Update commits: a key created by an Update
//     that fails neither is found by LookupKey nor blocks the digest.
//   - View and Update with an already-cancelled context return an error wrapping
//     context.Canceled without running fn.
//   - The write methods of a View's Tx return an error and change nothing.
//
// The suite does not test that Updates of different teams run concurrently, nor behaviour
// after fn panics; those are implementation choices.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

// Run runs the conformance suite against the stores newStore returns. newStore is called once
// per subtest and must return a new, empty store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Teams", teamTests},
		{"DeleteTeam", deleteTeamTests},
		{"Keys", keyTests},
		{"Users", userTests},
		{"Attributes", attributeTests},
		{"Emails", emailTests},
		{"Cursor", cursorTests},
		{"Groups", groupTests},
		{"Members", memberTests},
		{"Overages", overageTests},
		{"Jobs", jobTests},
		{"UpdateJobs", jobUpdaterTests},
		{"Tx", txTests},
		{"Concurrency", concurrencyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					s := newStore(t)
					require.NotNil(t, s, "newStore returned nil")
					st.fn(t, s)
				})
			}
		})
	}
}

// subtest is one named behaviour, run against a fresh store.
type subtest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// txFunc is the type of the functions View and Update run.
type txFunc = func(ctx context.Context, tx store.Tx) error

// errBoom is the error the suite's failing transactions return.
var errBoom = errors.New("storetest: boom")

// base is a time with nanoseconds and a zone other than UTC, so that every stored time
// exercises truncation and conversion.
var base = time.Date(2024, time.March, 15, 10, 30, 45, 123456789, time.FixedZone("UTC+2", 2*60*60))

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// msUTC is what a store returns for a time it was given.
func msUTC(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// mustView runs fn in a View of teamID and fails the test if View returns an error.
func mustView(t *testing.T, s store.Store, teamID string, fn txFunc) {
	t.Helper()
	require.NoError(t, s.View(t.Context(), teamID, fn))
}

// mustUpdate runs fn in an Update of teamID and fails the test if Update returns an error.
func mustUpdate(t *testing.T, s store.Store, teamID string, fn txFunc) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), teamID, fn))
}

// newTeam creates and returns a team with the given ID.
func newTeam(t *testing.T, s store.Store, id string) store.Team {
	t.Helper()
	tm := store.Team{ID: id, Name: "Team " + id, SSOMethods: []string{"saml"}, SCIMEnabled: true, Created: base}
	require.NoError(t, s.CreateTeam(t.Context(), tm))
	return tm
}

// newUser returns an active user with the given ID and userName.
func newUser(id, userName string) store.User {
	return store.User{
		ID:           id,
		UserName:     userName,
		GivenName:    "Given",
		FamilyName:   "Family",
		DisplayName:  "Given Family",
		Active:       true,
		Managed:      true,
		Roles:        []string{"developer"},
		Created:      base,
		LastModified: at(time.Second),
		Version:      1,
	}
}

// newGroup returns a group with the given ID and displayName.
func newGroup(id, displayName string) store.Group {
	return store.Group{ID: id, DisplayName: displayName, Created: base, LastModified: at(time.Second), Version: 1}
}

// createUsers creates users in one Update.
func createUsers(t *testing.T, s store.Store, teamID string, users ...store.User) {
	t.Helper()
	mustUpdate(t, s, teamID, func(ctx context.Context, tx store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// createGroups creates groups in one Update.
func createGroups(t *testing.T, s store.Store, teamID string, groups ...store.Group) {
	t.Helper()
	mustUpdate(t, s, teamID, func(ctx context.Context, tx store.Tx) error {
		for _, g := range groups {
			if err := tx.CreateGroup(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})
}

// addMembers adds userIDs to groupID in one Update.
func addMembers(t *testing.T, s store.Store, teamID, groupID string, userIDs ...string) {
	t.Helper()
	mustUpdate(t, s, teamID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AddMembers(ctx, groupID, userIDs)
		return err
	})
}

// nilIfEmpty maps an empty slice to nil: the suite treats them as equal.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// canonicalJSON returns an attributes object in one canonical encoding (keys sorted, no
// whitespace, numbers as written), or nil for none ({} or empty), so that objects a store
// re-encoded compare equal to what it was given. Invalid JSON is returned as it is, so that
// the comparison fails and shows it.
func canonicalJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return raw
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return nil
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return raw
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// stored returns what a store must return for a user it was given (with Attributes in
// canonical form: compare it with what gotUser makes of the store's answer).
func stored(u store.User) store.User {
	u.Roles = nilIfEmpty(slices.Clone(u.Roles))
	u.Emails = nilIfEmpty(slices.Clone(u.Emails))
	u.Attributes = canonicalJSON(u.Attributes)
	u.Created = msUTC(u.Created)
	u.LastModified = msUTC(u.LastModified)
	return u
}

// gotUser normalises a user a store returned for comparison with stored.
func gotUser(u store.User) store.User {
	u.Roles = nilIfEmpty(u.Roles)
	u.Emails = nilIfEmpty(u.Emails)
	u.Attributes = canonicalJSON(u.Attributes)
	return u
}

// assertUser checks that got is what a store must return for want.
func assertUser(t *testing.T, want, got store.User, msgAndArgs ...any) bool {
	t.Helper()
	return assert.Equal(t, stored(want), gotUser(got), msgAndArgs...)
}

// storedTeam returns what a store must return for a team it was given.
func storedTeam(tm store.Team) store.Team {
	tm.SSOMethods = nilIfEmpty(slices.Clone(tm.SSOMethods))
	tm.VerifiedDomains = nilIfEmpty(slices.Clone(tm.VerifiedDomains))
	tm.Created = msUTC(tm.Created)
	return tm
}

// assertTeam checks that got is what a store must return for want.
func assertTeam(t *testing.T, want, got store.Team, msgAndArgs ...any) bool {
	t.Helper()
	got.SSOMethods = nilIfEmpty(got.SSOMethods)
	got.VerifiedDomains = nilIfEmpty(got.VerifiedDomains)
	return assert.Equal(t, storedTeam(want), got, msgAndArgs...)
}

// storedGroup returns what a store must return for a group it was given.
func storedGroup(g store.Group) store.Group {
	g.Roles = nilIfEmpty(slices.Clone(g.Roles))
	g.Attributes = canonicalJSON(g.Attributes)
	g.Created = msUTC(g.Created)
	g.LastModified = msUTC(g.LastModified)
	return g
}

// gotGroup normalises a group a store returned for comparison with storedGroup (a nil and an
// empty Roles are interchangeable).
func gotGroup(g store.Group) store.Group {
	g.Roles = nilIfEmpty(g.Roles)
	g.Attributes = canonicalJSON(g.Attributes)
	return g
}

// gotGroups applies gotGroup to each group.
func gotGroups(gs []store.Group) []store.Group {
	out := make([]store.Group, len(gs))
	for i, g := range gs {
		out[i] = gotGroup(g)
	}
	return out
}

// storedOverage returns what a store must return for an overage record it was given.
func storedOverage(o store.Overage) store.Overage {
	o.Added = msUTC(o.Added)
	o.Released = msUTC(o.Released)
	return o
}

// storedJob returns what a store must return for a job it was given.
func storedJob(j store.Job) store.Job {
	j.Data = nilIfEmpty(slices.Clone(j.Data))
	j.Created = msUTC(j.Created)
	j.NextAttempt = msUTC(j.NextAttempt)
	return j
}

// gotJobs normalises jobs a store returned (a nil and an empty Data are interchangeable).
func gotJobs(js []store.Job) []store.Job {
	out := make([]store.Job, len(js))
	for i, j := range js {
		j.Data = nilIfEmpty(j.Data)
		out[i] = j
	}
	return out
}

// storedKey returns what a store must return for a key it was given.
func storedKey(k store.APIKey) store.APIKey {
	k.Created = msUTC(k.Created)
	k.LastUsed = msUTC(k.LastUsed)
	k.Expires = msUTC(k.Expires)
	return k
}

// userIDs returns the IDs of users.
func userIDs(users []store.User) []string {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

// groupIDs returns the IDs of groups.
func groupIDs(groups []store.Group) []string {
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	return ids
}

// pageAll lists every item through pages of size limit, checking that each page reports
// total, and returns the items in the order visited.
func pageAll[T any](t *testing.T, total, limit int, list func(o store.ListOptions) (store.Page[T], error)) []T {
	t.Helper()
	var all []T
	for off := 0; off < total+limit; off += limit {
		p, err := list(store.ListOptions{Offset: off, Limit: limit})
		require.NoError(t, err)
		assert.Equal(t, total, p.Total, "Total of page at offset %d", off)
		assert.Len(t, p.Items, max(0, min(limit, total-off)), "items of page at offset %d", off)
		all = append(all, p.Items...)
	}
	return all
}

// sortedCopy returns ids sorted.
func sortedCopy(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
