package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var concurrencyTests = []subtest{
	{"SameUserName", testConcurrentSameUserName},
	{"CountThenCreate", testConcurrentCountThenCreate},
	{"AddMembers", testConcurrentAddMembers},
	{"ViewsDuringUpdates", testConcurrentViews},
}

// errFull is returned by the transactions of CountThenCreate that find no seat.
var errFull = errors.New("storetest: no seat left")

// parallel runs fn(i) for i in [0, n) on n goroutines released at once, and waits for them.
// fn must not call t.FailNow (require); assert is fine.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// casing returns s with the case of its letters chosen by the bits of i.
func casing(s string, i int) string {
	var b strings.Builder
	for j, r := range s {
		if i>>(j%16)&1 == 1 {
			b.WriteString(strings.ToUpper(string(r)))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func testConcurrentSameUserName(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	const n = 50
	errs := make([]error, n)
	parallel(n, func(i int) {
		u := newUser(fmt.Sprintf("user-%02d", i), casing("race@example.com", i))
		errs[i] = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateUser(ctx, u)
		})
	})
	ok, conflicts := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("goroutine %d: unexpected error %v", i, err)
		}
	}
	assert.Equal(t, 1, ok, "successful creates")
	assert.Equal(t, n-1, conflicts, "conflicts")
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Equal(t, 1, c)
		_, err = tx.GetUserByUserName(ctx, "RACE@example.com")
		assert.NoError(t, err)
		return nil
	})
}

func testConcurrentCountThenCreate(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	// An inactive user does not take a seat.
	idle := newUser("idle", "idle@example.com")
	idle.Active = false
	createUsers(t, s, tm.ID, idle)

	const n, seats = 40, 7
	errs := make([]error, n)
	parallel(n, func(i int) {
		u := newUser(fmt.Sprintf("user-%02d", i), fmt.Sprintf("user-%02d@example.com", i))
		errs[i] = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
			c, err := tx.CountUsers(ctx, store.UserFilter{Active: ptr(true)})
			if err != nil {
				return err
			}
			if c >= seats {
				return errFull
			}
			return tx.CreateUser(ctx, u)
		})
	})
	ok, full := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errFull):
			full++
		default:
			t.Errorf("goroutine %d: unexpected error %v", i, err)
		}
	}
	assert.Equal(t, seats, ok, "Updates that found a seat: a count and the create it allows must be atomic")
	assert.Equal(t, n-seats, full)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.CountUsers(ctx, store.UserFilter{Active: ptr(true)})
		require.NoError(t, err)
		assert.Equal(t, seats, c)
		c, err = tx.CountUsers(ctx, store.UserFilter{})
		require.NoError(t, err)
		assert.Equal(t, seats+1, c)
		return nil
	})
}

func testConcurrentAddMembers(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"))
	const n = 100
	added := make([][]string, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		errs[i] = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
			var err error
			added[i], err = tx.AddMembers(ctx, "group-1", []string{fmt.Sprintf("user-%03d", i)})
			return err
		})
	})
	for i := range n {
		assert.NoError(t, errs[i], "goroutine %d", i)
		assert.Equal(t, []string{fmt.Sprintf("user-%03d", i)}, added[i], "goroutine %d", i)
	}
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		p, err := tx.ListMembers(ctx, "group-1", store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, n, p.Total)
		assert.Len(t, p.Items, n)
		return nil
	})
}

// testConcurrentViews runs Updates that each keep an invariant (every user is a member of the
// group; the key is active exactly when the team's name says so) while Views and LookupKeys
// check that they never see a transaction half-applied.
func testConcurrentViews(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	createGroups(t, s, tm.ID, newGroup("group-1", "Eng"))
	key := newKey("key-1", tm.ID)
	createKeys(t, s, tm.ID, key)

	const writers, readers, perWriter = 4, 4, 20
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := fmt.Sprintf("user-%d-%02d", w, i)
				revoke := (w+i)%2 == 0
				err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
					if err := tx.CreateUser(ctx, newUser(id, id+"@example.com")); err != nil {
						return err
					}
					if _, err := tx.AddMembers(ctx, "group-1", []string{id}); err != nil {
						return err
					}
					team, err := tx.Team(ctx)
					if err != nil {
						return err
					}
					k, err := tx.GetKey(ctx, key.ID)
					if err != nil {
						return err
					}
					team.Name, k.Status = "active", store.KeyActive
					if revoke {
						team.Name, k.Status = "revoked", store.KeyRevoked
					}
					if err := tx.UpdateTeam(ctx, team); err != nil {
						return err
					}
					return tx.UpdateKey(ctx, k)
				})
				assert.NoError(t, err, "writer %d", w)
			}
		})
	}
	var readerWG sync.WaitGroup
	for r := range readers {
		readerWG.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if r == 0 {
					k, err := s.LookupKey(t.Context(), key.Digest)
					if assert.NoError(t, err, "LookupKey") {
						assert.Contains(t, []store.KeyStatus{store.KeyActive, store.KeyRevoked}, k.Status)
					}
					continue
				}
				err := s.View(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
					users, err := tx.CountUsers(ctx, store.UserFilter{})
					if err != nil {
						return err
					}
					list, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{})
					if err != nil {
						return err
					}
					members, err := tx.ListMembers(ctx, "group-1", store.ListOptions{})
					if err != nil {
						return err
					}
					assert.Equal(t, users, list.Total, "CountUsers and ListUsers in one View")
					assert.Len(t, list.Items, users, "ListUsers in one View")
					assert.Equal(t, users, members.Total, "a View saw a user without its membership")
					team, err := tx.Team(ctx)
					if err != nil {
						return err
					}
					k, err := tx.GetKey(ctx, key.ID)
					if err != nil {
						return err
					}
					if team.Name != "Team team-1" { // not yet updated
						assert.Equal(t, team.Name == "revoked", k.Status == store.KeyRevoked, "a View saw a half-applied Update")
					}
					return nil
				})
				assert.NoError(t, err, "View")
			}
		})
	}
	wg.Wait()
	close(done)
	readerWG.Wait()

	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.CountUsers(ctx, store.UserFilter{})
		require.NoError(t, err)
		assert.Equal(t, writers*perWriter, c)
		p, err := tx.ListMembers(ctx, "group-1", store.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, writers*perWriter, p.Total)
		return nil
	})
}
