package pgstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

// raise makes the database fail the transaction with SQLSTATE code, as it would on a
// serialisation failure or a deadlock.
func raise(ctx context.Context, t *testing.T, txn store.Tx, code string) error {
	t.Helper()
	_, err := txn.(*tx).exec(ctx, "raise", `DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '`+code+`'; END $$`)
	require.Error(t, err)
	return err
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s := New(OpenPool(t, NewSchema(t)))
	require.NoError(t, s.CreateTeam(t.Context(), store.Team{ID: "team-1", Name: "Acme"}))
	return s
}

func testUser(id string) store.User {
	return store.User{ID: id, UserName: id + "@example.com", Active: true, Created: time.Now(), Version: 1}
}

func countAll(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.View(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		return err
	}))
	return n
}

// A serialisation failure or a deadlock rolls back the attempt and runs fn again; the
// writes of the failed attempt are gone, those of the successful one committed once.
func TestUpdateRetriesSerializationFailures(t *testing.T) {
	for _, code := range []string{"40001", "40P01"} {
		t.Run(code, func(t *testing.T) {
			s := newTestStore(t)
			runs := 0
			err := s.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
				runs++
				if err := tx.CreateUser(ctx, testUser("user-1")); err != nil {
					return err
				}
				if runs < 3 {
					return raise(ctx, t, tx, code)
				}
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, 3, runs)
			assert.Equal(t, 1, countAll(t, s))
		})
	}
}

// fn that swallows the failure still gets its transaction retried: the database has given
// it up, whatever fn returns.
func TestUpdateRetriesWhenFnSwallowsTheFailure(t *testing.T) {
	s := newTestStore(t)
	runs := 0
	err := s.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		runs++
		if runs == 1 {
			_ = raise(ctx, t, tx, "40001")
			// Every later use of the aborted transaction fails.
			assert.Error(t, tx.CreateUser(ctx, testUser("user-x")))
			_, err := tx.GetUser(ctx, "user-x")
			assert.Error(t, err)
			return nil
		}
		return tx.CreateUser(ctx, testUser("user-1"))
	})
	require.NoError(t, err)
	assert.Equal(t, 2, runs)
	assert.Equal(t, 1, countAll(t, s))
}

// Retries are bounded, and the last failure is returned.
func TestUpdateRetriesAreBounded(t *testing.T) {
	s := newTestStore(t)
	runs := 0
	err := s.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		runs++
		return raise(ctx, t, tx, "40001")
	})
	var pe *pgconn.PgError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "40001", pe.Code)
	assert.Equal(t, maxAttempts, runs)
}

// Other errors are not retried, and a statement error that fn swallows makes Update fail
// instead of committing half of fn's writes.
func TestUpdateDoesNotRetryOtherErrors(t *testing.T) {
	s := newTestStore(t)
	runs := 0
	err := s.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		runs++
		require.NoError(t, tx.CreateUser(ctx, testUser("user-1")))
		_ = raise(ctx, t, tx, "22012") // division_by_zero
		return nil
	})
	var pe *pgconn.PgError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "22012", pe.Code)
	assert.Equal(t, 1, runs)
	assert.Equal(t, 0, countAll(t, s), "the write before the failed statement")
}

// A context cancelled during the back-off ends the retries.
func TestUpdateRetryHonoursCancellation(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	runs := 0
	err := s.Update(ctx, "team-1", func(ctx context.Context, tx store.Tx) error {
		runs++
		err := raise(ctx, t, tx, "40001")
		cancel()
		return err
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, runs)
}

// A transaction whose server process is killed mid-way (pg_terminate_backend) leaves nothing
// behind, and the store goes on with a fresh connection.
func TestKilledBackendLeavesNothing(t *testing.T) {
	s := newTestStore(t)
	killer := connect(t)
	defer killer.Close(context.Background())
	err := s.Update(t.Context(), "team-1", func(ctx context.Context, txn store.Tx) error {
		require.NoError(t, txn.CreateUser(ctx, testUser("user-1")))
		require.NoError(t, txn.CreateGroup(ctx, store.Group{ID: "g", DisplayName: "Eng"}))
		_, err := txn.AddMembers(ctx, "g", []string{"user-1"})
		require.NoError(t, err)
		pid := txn.(*tx).conn.Conn().PgConn().PID()
		_, err = killer.Exec(ctx, "SELECT pg_terminate_backend($1)", pid)
		require.NoError(t, err)
		return txn.CreateUser(ctx, testUser("user-2"))
	})
	require.Error(t, err)
	assert.False(t, errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound), "%v", err)
	assert.Equal(t, 0, countAll(t, s))
	require.NoError(t, s.View(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetGroup(ctx, "g")
		assert.ErrorIs(t, err, store.ErrNotFound)
		return nil
	}))
	require.NoError(t, s.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, testUser("user-3"))
	}))
	assert.Equal(t, 1, countAll(t, s))
}
