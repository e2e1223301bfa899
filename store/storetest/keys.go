package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var keyTests = []subtest{
	{"CreateGetList", testKeyCreateGetList},
	{"Update", testKeyUpdate},
	{"Delete", testKeyDelete},
	{"LookupUnknown", testKeyLookupUnknown},
	{"UnknownNotFound", testKeyUnknown},
	{"DuplicateIDConflict", testKeyDuplicateID},
	{"DuplicateDigestConflict", testKeyDuplicateDigest},
	{"RolledBackKeyNotFindable", testKeyRolledBack},
	{"ViewByKeyAccess", testViewByKeyAccess},
	{"ViewByKeyUnknown", testViewByKeyUnknown},
	{"ViewByKeyRefused", testViewByKeyRefused},
	{"ViewByKeyReadsAfresh", testViewByKeyReadsAfresh},
	{"ViewByKeyReadOnly", testViewByKeyReadOnly},
	{"ViewByKeySeveralReads", testViewByKeySeveralReads},
}

// digest returns the SHA-256 digest of secret.
func digest(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// newKey returns an active key of teamID whose secret is "secret-"+id.
func newKey(id, teamID string) store.APIKey {
	return store.APIKey{
		ID:        id,
		TeamID:    teamID,
		Name:      "key " + id,
		Digest:    digest("secret-" + id),
		Status:    store.KeyActive,
		CreatedBy: "owner-1",
		Created:   base,
		Expires:   at(90 * 24 * time.Hour),
	}
}

// createKeys creates keys in one Update.
func createKeys(t *testing.T, s store.Store, teamID string, keys ...store.APIKey) {
	t.Helper()
	mustUpdate(t, s, teamID, func(ctx context.Context, tx store.Tx) error {
		for _, k := range keys {
			if err := tx.CreateKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

func testKeyCreateGetList(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	kb, ka, kc := newKey("key-b", tm.ID), newKey("key-a", tm.ID), newKey("key-c", tm.ID)
	kc.Expires = time.Time{}
	kc.LastUsed = at(time.Hour)
	createKeys(t, s, tm.ID, kb, ka)
	createKeys(t, s, tm.ID, kc)

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, k := range []store.APIKey{ka, kb, kc} {
			got, err := tx.GetKey(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, storedKey(k), got)
		}
		got, err := tx.GetKey(ctx, ka.ID)
		require.NoError(t, err)
		assert.True(t, got.LastUsed.IsZero(), "zero LastUsed must round-trip as zero, got %v", got.LastUsed)
		assert.Equal(t, time.UTC, got.Created.Location())
		list, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Equal(t, []store.APIKey{storedKey(ka), storedKey(kb), storedKey(kc)}, list, "ListKeys must be ordered by ID")
		return nil
	})
	for _, k := range []store.APIKey{ka, kb, kc} {
		got, err := s.LookupKey(t.Context(), k.Digest)
		require.NoError(t, err, "LookupKey %s", k.ID)
		assert.Equal(t, storedKey(k), got)
	}
}

func testKeyUpdate(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	k := newKey("key-1", tm.ID)
	createKeys(t, s, tm.ID, k)

	want := k
	want.Name = "renamed"
	want.Status = store.KeyRevoked
	want.LastUsed = at(2 * time.Hour)
	want.Expires = at(time.Hour)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateKey(ctx, want))
		got, err := tx.GetKey(ctx, k.ID)
		require.NoError(t, err)
		assert.Equal(t, storedKey(want), got, "read-your-writes")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetKey(ctx, k.ID)
		require.NoError(t, err)
		assert.Equal(t, storedKey(want), got)
		return nil
	})
	// LookupKey returns revoked keys, with their current status; the caller decides.
	got, err := s.LookupKey(t.Context(), k.Digest)
	require.NoError(t, err)
	assert.Equal(t, tm.ID, got.TeamID)
	assert.Equal(t, k.ID, got.ID)
	assert.Equal(t, store.KeyRevoked, got.Status)
	assert.Equal(t, storedKey(want), got)
}

func testKeyDelete(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	other := newTeam(t, s, "team-2")
	k1, k2 := newKey("key-1", tm.ID), newKey("key-2", tm.ID)
	createKeys(t, s, tm.ID, k1, k2)

	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteKey(ctx, k1.ID))
		_, err := tx.GetKey(ctx, k1.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "read-your-writes")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetKey(ctx, k1.ID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		list, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Equal(t, []store.APIKey{storedKey(k2)}, list)
		return nil
	})
	_, err := s.LookupKey(t.Context(), k1.Digest)
	assert.ErrorIs(t, err, store.ErrNotFound, "LookupKey of a deleted key")
	_, err = s.LookupKey(t.Context(), k2.Digest)
	assert.NoError(t, err)

	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteKey(ctx, k1.ID)
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "deleting twice")

	// Deleting a key frees its digest.
	reuse := newKey("key-3", other.ID)
	reuse.Digest = k1.Digest
	createKeys(t, s, other.ID, reuse)
	got, err := s.LookupKey(t.Context(), k1.Digest)
	require.NoError(t, err)
	assert.Equal(t, storedKey(reuse), got)

	// Deleting and re-creating a digest within one Update.
	k4 := newKey("key-4", tm.ID)
	k4.Digest = k2.Digest
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteKey(ctx, k2.ID))
		return tx.CreateKey(ctx, k4)
	})
	got, err = s.LookupKey(t.Context(), k2.Digest)
	require.NoError(t, err)
	assert.Equal(t, storedKey(k4), got)
}

func testKeyLookupUnknown(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	_, err := s.LookupKey(t.Context(), digest("nothing"))
	assert.ErrorIs(t, err, store.ErrNotFound, "empty store")
	createKeys(t, s, tm.ID, newKey("key-1", tm.ID))
	_, err = s.LookupKey(t.Context(), digest("nothing"))
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.LookupKey(t.Context(), [32]byte{})
	assert.ErrorIs(t, err, store.ErrNotFound, "zero digest")
}

func testKeyUnknown(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createKeys(t, s, tm.ID, newKey("key-1", tm.ID))
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetKey(ctx, "no-such-key")
		assert.ErrorIs(t, err, store.ErrNotFound, "GetKey")
		return nil
	})
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateKey(ctx, newKey("no-such-key", tm.ID))
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "UpdateKey")
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteKey(ctx, "no-such-key")
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "DeleteKey")
}

func testKeyDuplicateID(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	k := newKey("key-1", tm.ID)
	createKeys(t, s, tm.ID, k)
	dup := newKey("key-1", tm.ID)
	dup.Digest = digest("another secret")
	dup.Name = "dup"
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateKey(ctx, dup)
	})
	assert.ErrorIs(t, err, store.ErrConflict)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetKey(ctx, k.ID)
		require.NoError(t, err)
		assert.Equal(t, storedKey(k), got, "a conflicting CreateKey changed the existing key")
		return nil
	})
	_, err = s.LookupKey(t.Context(), dup.Digest)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testKeyDuplicateDigest(t *testing.T, s store.Store) {
	a := newTeam(t, s, "team-a")
	b := newTeam(t, s, "team-b")
	k := newKey("key-1", a.ID)
	createKeys(t, s, a.ID, k)

	same := newKey("key-2", a.ID)
	same.Digest = k.Digest
	err := s.Update(t.Context(), a.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateKey(ctx, same)
	})
	assert.ErrorIs(t, err, store.ErrConflict, "same digest, same team")

	across := newKey("key-3", b.ID)
	across.Digest = k.Digest
	err = s.Update(t.Context(), b.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateKey(ctx, across)
	})
	assert.ErrorIs(t, err, store.ErrConflict, "same digest, another team")

	// Within one Update.
	x, y := newKey("key-x", b.ID), newKey("key-y", b.ID)
	y.Digest = x.Digest
	err = s.Update(t.Context(), b.ID, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateKey(ctx, x); err != nil {
			return err
		}
		return tx.CreateKey(ctx, y)
	})
	assert.ErrorIs(t, err, store.ErrConflict, "same digest, same Update")

	got, err := s.LookupKey(t.Context(), k.Digest)
	require.NoError(t, err)
	assert.Equal(t, storedKey(k), got)
	_, err = s.LookupKey(t.Context(), x.Digest)
	assert.ErrorIs(t, err, store.ErrNotFound, "key of a failed Update")
	mustView(t, s, b.ID, func(ctx context.Context, tx store.Tx) error {
		list, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Empty(t, list)
		return nil
	})
}

func testKeyRolledBack(t *testing.T, s store.Store) {
	a := newTeam(t, s, "team-a")
	b := newTeam(t, s, "team-b")
	k := newKey("key-1", a.ID)
	var inTx error
	err := s.Update(t.Context(), a.ID, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateKey(ctx, k); err != nil {
			return err
		}
		_, inTx = tx.GetKey(ctx, k.ID)
		return errBoom
	})
	assert.ErrorIs(t, err, errBoom)
	assert.NoError(t, inTx, "read-your-writes: GetKey of a key created in the same Update")

	_, err = s.LookupKey(t.Context(), k.Digest)
	assert.ErrorIs(t, err, store.ErrNotFound, "LookupKey found a key of a failed Update")
	mustView(t, s, a.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetKey(ctx, k.ID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		list, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Empty(t, list)
		return nil
	})
	// The digest was not reserved.
	kb := newKey("key-1", b.ID)
	kb.Digest = k.Digest
	createKeys(t, s, b.ID, kb)
	got, err := s.LookupKey(t.Context(), k.Digest)
	require.NoError(t, err)
	assert.Equal(t, b.ID, got.TeamID)
}

// access runs ViewByKey with digest, records what check received (and accepts it), and
// returns it with ViewByKey's error; fn reads the user userID of the key's team into got.
func access(t *testing.T, s store.Store, d [32]byte, userID string) (a store.Access, got store.User, err error) {
	t.Helper()
	checked := false
	err = s.ViewByKey(t.Context(), d, func(acc store.Access) error {
		a, checked = acc, true
		return nil
	}, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, err = tx.GetUser(ctx, userID)
		assert.True(t, checked || err != nil, "a Tx method returned a user before check ran")
		return err
	})
	return a, got, err
}

// ViewByKey hands check the key, its team and the key's creator, and runs fn on the key's
// team.
func testViewByKeyAccess(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	newTeam(t, s, "team-2")
	owner := newUser("owner-1", "owner@example.com")
	owner.Roles = []string{"admin"}
	createUsers(t, s, tm.ID, owner, newUser("user-1", "one@example.com"))
	createUsers(t, s, "team-2", newUser("user-2", "two@example.com"))
	k := newKey("key-1", tm.ID)
	org := newKey("key-2", tm.ID)
	org.CreatedBy = "org:manager"
	createKeys(t, s, tm.ID, k, org)

	a, got, err := access(t, s, k.Digest, "user-1")
	require.NoError(t, err)
	assert.Equal(t, storedKey(k), a.Key)
	assertTeam(t, tm, a.Team)
	assert.True(t, a.CreatorFound)
	assertUser(t, owner, a.Creator)
	assertUser(t, newUser("user-1", "one@example.com"), got, "fn reads the key's team")

	a, _, err = access(t, s, org.Digest, "user-2")
	assert.ErrorIs(t, err, store.ErrNotFound, "fn reads another team's user")
	assert.Equal(t, storedKey(org), a.Key)
	assert.False(t, a.CreatorFound, "a creator who is not a user of the team")
	assert.Zero(t, a.Creator)

	// fn's own error comes back when check accepts.
	errFn := errors.New("fn failed")
	err = s.ViewByKey(t.Context(), k.Digest, func(store.Access) error { return nil },
		func(ctx context.Context, tx store.Tx) error { return errFn })
	assert.ErrorIs(t, err, errFn)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err = s.ViewByKey(ctx, k.Digest, func(store.Access) error { ran = true; return nil },
		func(ctx context.Context, tx store.Tx) error { ran = true; return nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, ran, "check or fn ran with a cancelled context")
}

// An unknown digest is ErrNotFound, without a call of check, and fn gets nothing.
func testViewByKeyUnknown(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createUsers(t, s, tm.ID, newUser("user-1", "one@example.com"))
	checked := false
	err := s.ViewByKey(t.Context(), digest("nothing"), func(store.Access) error { checked = true; return nil },
		func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetUser(ctx, "user-1")
			assert.Error(t, err, "fn read a user with an unknown key")
			return nil
		})
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.False(t, checked, "check ran for an unknown key")
}

// check's error comes back as it is, whatever fn returns, and fn gets nothing.
func testViewByKeyRefused(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createUsers(t, s, tm.ID, newUser("user-1", "one@example.com"))
	k := newKey("key-1", tm.ID)
	createKeys(t, s, tm.ID, k)
	errRefused := errors.New("refused")
	for _, fnErr := range []error{nil, errors.New("fn failed")} {
		err := s.ViewByKey(t.Context(), k.Digest, func(store.Access) error { return errRefused },
			func(ctx context.Context, tx store.Tx) error {
				u, err := tx.GetUser(ctx, "user-1")
				assert.Error(t, err, "fn read a user after check refused")
				assert.Zero(t, u)
				_, err = tx.Team(ctx)
				assert.Error(t, err, "fn read the team after check refused")
				return fnErr
			})
		assert.Equal(t, errRefused, err, "ViewByKey must return check's error unwrapped")
	}
}

// Nothing check decides on is remembered from one ViewByKey to the next: a revoked key, a
// change of the team or of the creator, a deleted key, and a key with the same digest made
// again (by another creator, or in another team) are all seen at once.
func testViewByKeyReadsAfresh(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	newTeam(t, s, "team-2")
	owner := newUser("owner-1", "owner@example.com")
	createUsers(t, s, tm.ID, owner)
	createUsers(t, s, "team-2", newUser("user-2", "two@example.com"))
	k := newKey("key-1", tm.ID)
	createKeys(t, s, tm.ID, k)
	a, _, err := access(t, s, k.Digest, "owner-1")
	require.NoError(t, err)
	require.Equal(t, store.KeyActive, a.Key.Status)

	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		revoked := k
		revoked.Status = store.KeyRevoked
		require.NoError(t, tx.UpdateKey(ctx, revoked))
		team, err := tx.Team(ctx)
		require.NoError(t, err)
		team.SCIMEnabled = !team.SCIMEnabled
		require.NoError(t, tx.UpdateTeam(ctx, team))
		o, err := tx.GetUser(ctx, owner.ID)
		require.NoError(t, err)
		o.Active = false
		return tx.UpdateUser(ctx, o)
	})
	a, _, err = access(t, s, k.Digest, "owner-1")
	require.NoError(t, err)
	assert.Equal(t, store.KeyRevoked, a.Key.Status, "the revocation")
	assert.Equal(t, !tm.SCIMEnabled, a.Team.SCIMEnabled, "the team's change")
	assert.False(t, a.Creator.Active, "the creator's change")

	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.DeleteKey(ctx, k.ID) })
	_, _, err = access(t, s, k.Digest, "owner-1")
	assert.ErrorIs(t, err, store.ErrNotFound, "a deleted key")

	again := newKey("key-8", tm.ID) // the same secret again, by another creator
	again.Digest, again.CreatedBy = k.Digest, "owner-2"
	createKeys(t, s, tm.ID, again)
	a, _, err = access(t, s, k.Digest, "owner-1")
	require.NoError(t, err)
	assert.Equal(t, "key-8", a.Key.ID)
	assert.False(t, a.CreatorFound, "the new key's creator is not a user")
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.DeleteKey(ctx, again.ID) })

	moved := newKey("key-9", "team-2") // the same secret, in another team
	moved.Digest = k.Digest
	createKeys(t, s, "team-2", moved)
	a, got, err := access(t, s, k.Digest, "user-2")
	require.NoError(t, err)
	assert.Equal(t, "team-2", a.Key.TeamID)
	assert.Equal(t, "team-2", a.Team.ID)
	assert.Equal(t, "user-2", got.ID, "fn reads the key's new team")
}

// The Tx of a ViewByKey is read-only.
func testViewByKeyReadOnly(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	k := newKey("key-1", tm.ID)
	createKeys(t, s, tm.ID, k)
	err := s.ViewByKey(t.Context(), k.Digest, func(store.Access) error { return nil },
		func(ctx context.Context, tx store.Tx) error {
			assert.Error(t, tx.CreateUser(ctx, newUser("user-1", "one@example.com")), "a write in ViewByKey")
			return nil
		})
	require.NoError(t, err)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "user-1")
		assert.ErrorIs(t, err, store.ErrNotFound, "a write in ViewByKey was kept")
		return nil
	})
}

// A ViewByKey may run fn again when fn makes more than one statement (see the interface); the
// outcome is that of a run in which every statement succeeded, in one snapshot.
func testViewByKeySeveralReads(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createUsers(t, s, tm.ID, newUser("user-1", "one@example.com"), newUser("user-2", "two@example.com"))
	k := newKey("key-1", tm.ID)
	createKeys(t, s, tm.ID, k)
	var u1, u2 store.User
	var n int
	var team store.Team
	runs := 0
	err := s.ViewByKey(t.Context(), k.Digest, func(store.Access) error { return nil },
		func(ctx context.Context, tx store.Tx) error {
			runs++
			var err1, err2, err3, err4 error
			u1, err1 = tx.GetUser(ctx, "user-1")
			u2, err2 = tx.GetUser(ctx, "user-2")
			n, err3 = tx.CountUsers(ctx, store.UserFilter{})
			team, err4 = tx.Team(ctx)
			return errors.Join(err1, err2, err3, err4)
		})
	require.NoError(t, err)
	assert.LessOrEqual(t, runs, 2, "fn runs at most twice")
	assert.Equal(t, "user-1", u1.ID)
	assert.Equal(t, "user-2", u2.ID)
	assert.Equal(t, 2, n)
	assertTeam(t, tm, team)
}
