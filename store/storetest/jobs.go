package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

// jobUpdaterTests run on a store that implements store.JobUpdater, and skip otherwise.
var jobUpdaterTests = []subtest{
	{"MemberJobsOnly", testUpdateJobsMemberOnly},
	{"RollbackAndMissingTeam", testUpdateJobsRollback},
	{"ClaimsTakeTurns", testUpdateJobsClaims},
}

// jobUpdater returns s as a store.JobUpdater, or skips the test.
func jobUpdater(t *testing.T, s store.Store) store.JobUpdater {
	t.Helper()
	ju, ok := s.(store.JobUpdater)
	if !ok {
		t.Skip("the store does not implement store.JobUpdater (it is optional)")
	}
	return ju
}

func testUpdateJobsMemberOnly(t *testing.T, s store.Store) {
	ju := jobUpdater(t, s)
	tm := newTeam(t, s, "team-1")
	j1 := store.Job{ID: "job-1", UserID: "user-1", Kind: "k", Data: []byte(`{"a":1}`), Created: base}
	j2 := store.Job{ID: "job-2", UserID: "user-2", Kind: "k", Created: base}
	j3 := store.Job{ID: "job-3", UserID: "user-1", Kind: "k", Created: base}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, j := range []store.Job{j1, j2, j3} {
			require.NoError(t, tx.CreateJob(ctx, j))
		}
		return nil
	})
	claimed := j3
	claimed.Attempts, claimed.NextAttempt = 1, base.Add(60_000_000_000)
	err := ju.UpdateJobs(t.Context(), tm.ID, "user-1", func(ctx context.Context, tx store.JobTx) error {
		jobs, err := tx.ListJobs(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(j1), storedJob(j3)}, gotJobs(jobs), "the member's jobs, by ID")
		_, err = tx.ListJobs(ctx, "user-2")
		assert.Error(t, err, "another member's jobs")
		_, err = tx.ListJobs(ctx, "")
		assert.Error(t, err, "every job of the team")
		assert.ErrorIs(t, tx.DeleteJob(ctx, j2.ID), store.ErrNotFound, "another member's job")
		assert.ErrorIs(t, tx.DeleteJob(ctx, "no-such-job"), store.ErrNotFound)
		moved := j1
		moved.UserID = "user-2"
		assert.Error(t, tx.UpdateJob(ctx, moved), "a job given to another member")
		other := j2
		other.UserID = "user-1"
		assert.Error(t, tx.UpdateJob(ctx, other), "another member's job taken")
		require.NoError(t, tx.DeleteJob(ctx, j1.ID))
		require.NoError(t, tx.UpdateJob(ctx, claimed))
		jobs, err = tx.ListJobs(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(claimed)}, gotJobs(jobs), "read-your-writes")
		return nil
	})
	// Whether the refused calls above abort the transaction is the store's choice (a SQL
	// store's may be): then nothing commits and UpdateJobs says so. Run the writes again
	// alone when it did.
	if err != nil {
		require.NoError(t, ju.UpdateJobs(t.Context(), tm.ID, "user-1", func(ctx context.Context, tx store.JobTx) error {
			if err := tx.DeleteJob(ctx, j1.ID); err != nil {
				return err
			}
			return tx.UpdateJob(ctx, claimed)
		}))
	}
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(j2), storedJob(claimed)}, gotJobs(jobs), "committed; user-2's job untouched")
		return nil
	})
}

func testUpdateJobsRollback(t *testing.T, s store.Store) {
	ju := jobUpdater(t, s)
	tm := newTeam(t, s, "team-1")
	j := store.Job{ID: "job-1", UserID: "user-1", Kind: "k", Created: base}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.CreateJob(ctx, j) })
	err := ju.UpdateJobs(t.Context(), tm.ID, "user-1", func(ctx context.Context, tx store.JobTx) error {
		require.NoError(t, tx.DeleteJob(ctx, j.ID))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(j)}, gotJobs(jobs), "after a failed UpdateJobs")
		return nil
	})

	// A team that does not exist has no jobs, or is not found.
	err = ju.UpdateJobs(t.Context(), "no-such-team", "user-1", func(ctx context.Context, tx store.JobTx) error {
		jobs, err := tx.ListJobs(ctx, "user-1")
		require.NoError(t, err)
		assert.Empty(t, jobs)
		return tx.DeleteJob(ctx, j.ID)
	})
	assert.ErrorIs(t, err, store.ErrNotFound)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = ju.UpdateJobs(ctx, tm.ID, "user-1", func(context.Context, store.JobTx) error { return nil })
	assert.ErrorIs(t, err, context.Canceled)
}

// testUpdateJobsClaims races claims of one job, half in UpdateJobs and half in Updates of the
// team, the way the root package claims a member's next job: read the member's jobs, and take
// the oldest if nobody has. Exactly one claim may commit.
func testUpdateJobsClaims(t *testing.T, s store.Store) {
	ju := jobUpdater(t, s)
	tm := newTeam(t, s, "team-1")
	for round := range 5 {
		job := store.Job{ID: fmt.Sprintf("job-%d", round), UserID: "user-1", Kind: "k", Created: base}
		mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.CreateJob(ctx, job) })
		claim := func(ctx context.Context, tx store.JobTx, won *bool) error {
			*won = false
			jobs, err := tx.ListJobs(ctx, "user-1")
			if err != nil || len(jobs) == 0 || jobs[0].Attempts > 0 {
				return err
			}
			j := jobs[0]
			j.Attempts++
			*won = true
			return tx.UpdateJob(ctx, j)
		}
		const n = 16
		var claims atomic.Int32
		parallel(n, func(i int) {
			var won bool
			var err error
			if i%2 == 0 {
				err = ju.UpdateJobs(t.Context(), tm.ID, "user-1", func(ctx context.Context, tx store.JobTx) error {
					return claim(ctx, tx, &won)
				})
			} else {
				err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
					return claim(ctx, tx, &won)
				})
			}
			if assert.NoError(t, err) && won {
				claims.Add(1)
			}
		})
		assert.Equal(t, int32(1), claims.Load(), "round %d: claims of one job that committed", round)
		mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
			jobs, err := tx.ListJobs(ctx, "user-1")
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			assert.Equal(t, 1, jobs[0].Attempts, "round %d", round)
			return tx.DeleteJob(ctx, job.ID)
		})
	}
}
