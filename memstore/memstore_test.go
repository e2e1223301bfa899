package memstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
	"github.com/teamscim/teamscim/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
}

// The tests below pin down memstore's own choices, which the conformance suite leaves open.

func newStore(t *testing.T, teams ...string) *memstore.Store {
	t.Helper()
	s := memstore.New()
	for _, id := range teams {
		require.NoError(t, s.CreateTeam(t.Context(), store.Team{ID: id}))
	}
	return s
}

func TestUpdatesOfDifferentTeamsDoNotWait(t *testing.T) {
	s := newStore(t, "a", "b")
	inA, release := make(chan struct{}), make(chan struct{})
	errA := make(chan error, 1)
	go func() {
		errA <- s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
			close(inA)
			<-release
			return nil
		})
	}()
	<-inA
	done := make(chan error, 1)
	go func() {
		done <- s.Update(t.Context(), "b", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateUser(ctx, store.User{ID: "u", UserName: "u"})
		})
	}()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Error("an Update of team b waited for an Update of team a")
	}
	// A key lookup does not wait for the team's writer either.
	_, err := s.LookupKey(t.Context(), [32]byte{})
	assert.ErrorIs(t, err, store.ErrNotFound)
	close(release)
	require.NoError(t, <-errA)
}

func TestPanicInUpdateWritesNothingAndUnlocks(t *testing.T) {
	s := newStore(t, "a")
	func() {
		defer func() { assert.Equal(t, "boom", recover()) }()
		_ = s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
			require.NoError(t, tx.CreateUser(ctx, store.User{ID: "u", UserName: "u"}))
			panic("boom")
		})
	}()
	err := s.View(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "u")
		assert.ErrorIs(t, err, store.ErrNotFound)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, store.User{ID: "u", UserName: "u"})
	}))
}

func TestTxUnusableAfterFn(t *testing.T) {
	s := newStore(t, "a")
	var leaked store.Tx
	require.NoError(t, s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
		leaked = tx
		return nil
	}))
	assert.Error(t, leaked.CreateUser(t.Context(), store.User{ID: "u", UserName: "u"}))
	_, err := leaked.GetUser(t.Context(), "u")
	assert.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrNotFound)
}

func TestCancelledBeforeCommitWritesNothing(t *testing.T) {
	s := newStore(t, "a")
	ctx, cancel := context.WithCancel(t.Context())
	err := s.Update(ctx, "a", func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, store.User{ID: "u", UserName: "u"}))
		cancel()
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, s.View(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "u")
		assert.ErrorIs(t, err, store.ErrNotFound)
		return nil
	}))
}

func TestBadInputIsAnError(t *testing.T) {
	s := newStore(t, "a")
	ctx := t.Context()
	assert.Error(t, s.CreateTeam(ctx, store.Team{}), "team without ID")
	assert.Error(t, s.View(ctx, "a", nil), "nil fn")
	assert.Error(t, s.Update(ctx, "a", nil), "nil fn")
	var nilCtx context.Context
	assert.Error(t, s.View(nilCtx, "a", func(context.Context, store.Tx) error { return nil }), "nil ctx")
	for name, fn := range map[string]func(ctx context.Context, tx store.Tx) error{
		"user without ID": func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, store.User{UserName: "x"}) },
		"group without ID": func(ctx context.Context, tx store.Tx) error {
			return tx.CreateGroup(ctx, store.Group{DisplayName: "x"})
		},
		"key without ID": func(ctx context.Context, tx store.Tx) error {
			return tx.CreateKey(ctx, store.APIKey{TeamID: "a"})
		},
		"key of another team": func(ctx context.Context, tx store.Tx) error {
			return tx.CreateKey(ctx, store.APIKey{ID: "k", TeamID: "b"})
		},
		"team ID change": func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateTeam(ctx, store.Team{ID: "b"})
		},
	} {
		err := s.Update(ctx, "a", fn)
		assert.Error(t, err, name)
		assert.NotErrorIs(t, err, store.ErrConflict, name)
		assert.NotErrorIs(t, err, store.ErrNotFound, name)
	}
}

func TestUpdateKeyKeepsImmutableFields(t *testing.T) {
	s := newStore(t, "a")
	k := store.APIKey{ID: "k", TeamID: "a", Digest: sha256.Sum256([]byte("s")), Status: store.KeyActive, CreatedBy: "me"}
	require.NoError(t, s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error { return tx.CreateKey(ctx, k) }))
	changed := k
	changed.Digest = sha256.Sum256([]byte("other"))
	changed.CreatedBy = "someone else"
	changed.Status = store.KeyRevoked
	require.NoError(t, s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error { return tx.UpdateKey(ctx, changed) }))
	got, err := s.LookupKey(t.Context(), k.Digest)
	require.NoError(t, err)
	assert.Equal(t, store.KeyRevoked, got.Status)
	assert.Equal(t, "me", got.CreatedBy)
	_, err = s.LookupKey(t.Context(), changed.Digest)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// Two teams' Updates create keys with one digest; the check made by CreateKey passes for
// both, and the commit of the second must fail as a whole.
func TestDigestConflictAtCommit(t *testing.T) {
	s := newStore(t, "a", "b")
	d := sha256.Sum256([]byte("shared"))
	created, release := make(chan struct{}), make(chan struct{})
	errA := make(chan error, 1)
	go func() {
		errA <- s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateKey(ctx, store.APIKey{ID: "ka", TeamID: "a", Digest: d}); err != nil {
				close(created)
				return err
			}
			if err := tx.CreateUser(ctx, store.User{ID: "u", UserName: "u"}); err != nil {
				return err
			}
			close(created)
			<-release
			return nil
		})
	}()
	<-created
	require.NoError(t, s.Update(t.Context(), "b", func(ctx context.Context, tx store.Tx) error {
		return tx.CreateKey(ctx, store.APIKey{ID: "kb", TeamID: "b", Digest: d})
	}))
	close(release)
	assert.ErrorIs(t, <-errA, store.ErrConflict)

	got, err := s.LookupKey(t.Context(), d)
	require.NoError(t, err)
	assert.Equal(t, "b", got.TeamID)
	require.NoError(t, s.View(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "u")
		assert.ErrorIs(t, err, store.ErrNotFound, "the failed commit applied part of the transaction")
		_, err = tx.GetKey(ctx, "ka")
		assert.ErrorIs(t, err, store.ErrNotFound)
		return nil
	}))
}

// The cost of a one-user Update must not grow with the team: compare allocations on a
// small and a large team.
func TestUpdateCostIndependentOfTeamSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10k-user team")
	}
	allocs := func(n int) float64 {
		s := newStore(t, "a")
		require.NoError(t, s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
			for i := range n {
				id := fmt.Sprintf("u%08d", i*7919%n)
				if err := tx.CreateUser(ctx, store.User{ID: id, UserName: id, Active: true}); err != nil {
					return err
				}
			}
			if err := tx.CreateGroup(ctx, store.Group{ID: "g", DisplayName: "g"}); err != nil {
				return err
			}
			_, err := tx.AddMembers(ctx, "g", []string{"u00000001"})
			return err
		}))
		i := 0
		return testing.AllocsPerRun(200, func() {
			i++
			id := fmt.Sprintf("n%08d", i)
			err := s.Update(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
				if err := tx.CreateUser(ctx, store.User{ID: id, UserName: id, Active: true}); err != nil {
					return err
				}
				_, err := tx.AddMembers(ctx, "g", []string{id})
				return err
			})
			if err != nil {
				panic(err)
			}
		})
	}
	small, large := allocs(10), allocs(10_000)
	t.Logf("allocations per one-user Update: %v at 10 users, %v at 10k users", small, large)
	assert.LessOrEqual(t, large, small+3, "a one-user Update allocates more in a large team")
}

func TestErrorsNameTheirSubject(t *testing.T) {
	s := newStore(t, "a")
	err := s.View(t.Context(), "a", func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "u-42")
		return err
	})
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Contains(t, err.Error(), "u-42")
	assert.Contains(t, err.Error(), "memstore")
	err = s.View(t.Context(), "no-such-team", func(context.Context, store.Tx) error { return nil })
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Contains(t, err.Error(), "no-such-team")
}
