package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

var overageTests = []subtest{
	{"CreateListUpdate", testOverageCreateListUpdate},
	{"OpenFilterPaging", testOverageOpenFilterPaging},
	{"ConflictNotFound", testOverageConflictNotFound},
	{"RollbackAndIsolation", testOverageRollbackIsolation},
}

var jobTests = []subtest{
	{"CreateUpdateDeleteList", testJobLifecycle},
	{"TeamsWithJobs", testTeamsWithJobs},
	{"ConflictNotFound", testJobConflictNotFound},
	{"RollbackAndCopies", testJobRollbackCopies},
}

// listOverages returns the overage records f selects, all of them, failing the test on error.
func listOverages(t *testing.T, ctx context.Context, tx store.Tx, f store.OverageFilter) []store.Overage {
	t.Helper()
	p, err := tx.ListOverages(ctx, f, store.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, p.Items, p.Total, "ListOverages without a limit returns every match")
	return nilIfEmpty(p.Items)
}

func storedOverages(os ...store.Overage) []store.Overage {
	out := make([]store.Overage, len(os))
	for i, o := range os {
		out[i] = storedOverage(o)
	}
	return nilIfEmpty(out)
}

func testOverageCreateListUpdate(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	a := store.Overage{ID: "over-2", UserID: "user-1", Policy: "autoflex", Added: base}
	b := store.Overage{ID: "over-1", UserID: "user-2", Policy: "trueup", Added: at(time.Hour + 999*time.Microsecond)}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateOverage(ctx, a))
		require.NoError(t, tx.CreateOverage(ctx, b))
		assert.Equal(t, storedOverages(b, a), listOverages(t, ctx, tx, store.OverageFilter{}), "read-your-writes, by ID")
		return nil
	})
	released := a
	released.Released = at(2*time.Hour + 1500*time.Microsecond)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		got := listOverages(t, ctx, tx, store.OverageFilter{})
		assert.Equal(t, storedOverages(b, a), got)
		if assert.Len(t, got, 2) {
			assert.Equal(t, time.UTC, got[0].Added.Location())
			assert.True(t, got[0].Released.IsZero(), "a zero Released round-trips as zero")
		}
		return nil
	})
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateOverage(ctx, released))
		assert.Equal(t, storedOverages(b), listOverages(t, ctx, tx, store.OverageFilter{Open: true}), "open, within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, storedOverages(b, released), listOverages(t, ctx, tx, store.OverageFilter{}))
		assert.Equal(t, storedOverages(b), listOverages(t, ctx, tx, store.OverageFilter{Open: true}))
		return nil
	})
}

func testOverageOpenFilterPaging(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	var all, open []store.Overage
	for i := range 11 {
		o := store.Overage{ID: fmt.Sprintf("over-%02d", (i*7)%11), UserID: fmt.Sprintf("user-%d", i), Policy: "autoflex",
			Added: at(time.Duration(i) * time.Minute)}
		if i%3 == 0 {
			o.Released = at(time.Hour)
		}
		all = append(all, o)
	}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, o := range all {
			require.NoError(t, tx.CreateOverage(ctx, o))
		}
		return nil
	})
	slices.SortFunc(all, func(a, b store.Overage) int { return cmp.Compare(a.ID, b.ID) })
	for _, o := range all {
		if o.Released.IsZero() {
			open = append(open, o)
		}
	}
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, c := range []struct {
			f    store.OverageFilter
			want []store.Overage
		}{{store.OverageFilter{}, all}, {store.OverageFilter{Open: true}, open}} {
			paged := pageAll(t, len(c.want), 3, func(o store.ListOptions) (store.Page[store.Overage], error) {
				return tx.ListOverages(ctx, c.f, o)
			})
			assert.Equal(t, storedOverages(c.want...), nilIfEmpty(paged), "Open=%v", c.f.Open)
		}
		return nil
	})
}

func testOverageConflictNotFound(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	o := store.Overage{ID: "over-1", UserID: "user-1", Policy: "autoflex", Added: base}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.CreateOverage(ctx, o) })
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		dup := o
		dup.UserID = "user-2"
		return tx.CreateOverage(ctx, dup)
	})
	assert.ErrorIs(t, err, store.ErrConflict)
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateOverage(ctx, store.Overage{ID: "no-such-record", Released: base})
	})
	assert.ErrorIs(t, err, store.ErrNotFound)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, storedOverages(o), listOverages(t, ctx, tx, store.OverageFilter{}))
		return nil
	})
}

func testOverageRollbackIsolation(t *testing.T, s store.Store) {
	a := newTeam(t, s, "team-a")
	b := newTeam(t, s, "team-b")
	o := store.Overage{ID: "over-1", UserID: "user-1", Policy: "autoflex", Added: base}
	mustUpdate(t, s, a.ID, func(ctx context.Context, tx store.Tx) error { return tx.CreateOverage(ctx, o) })
	err := s.Update(t.Context(), a.ID, func(ctx context.Context, tx store.Tx) error {
		rel := o
		rel.Released = at(time.Hour)
		require.NoError(t, tx.UpdateOverage(ctx, rel))
		require.NoError(t, tx.CreateOverage(ctx, store.Overage{ID: "over-2", UserID: "user-2", Added: base}))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	mustView(t, s, a.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Equal(t, storedOverages(o), listOverages(t, ctx, tx, store.OverageFilter{Open: true}), "after a failed Update")
		return nil
	})
	mustView(t, s, b.ID, func(ctx context.Context, tx store.Tx) error {
		assert.Empty(t, listOverages(t, ctx, tx, store.OverageFilter{}), "another team's overage records")
		return nil
	})
}

func testJobLifecycle(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	j1 := store.Job{ID: "job-2", UserID: "user-1", Kind: "workspaces.deactivate", Data: []byte(`{"a":1}`),
		Created: base, NextAttempt: at(time.Minute + 999*time.Microsecond)}
	j2 := store.Job{ID: "job-1", UserID: "user-2", Kind: "workspaces.reactivate", Created: at(time.Second)}
	j3 := store.Job{ID: "job-3", UserID: "user-1", Kind: "workspaces.reactivate", Created: at(2 * time.Second)}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		for _, j := range []store.Job{j1, j2, j3} {
			require.NoError(t, tx.CreateJob(ctx, j))
		}
		jobs, err := tx.ListJobs(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(j1), storedJob(j3)}, gotJobs(jobs), "read-your-writes")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(j2), storedJob(j1), storedJob(j3)}, gotJobs(jobs), "every job, by ID")
		jobs, err = tx.ListJobs(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(j1), storedJob(j3)}, gotJobs(jobs), "a user's jobs, by ID")
		assert.Equal(t, time.UTC, jobs[0].Created.Location())
		jobs, err = tx.ListJobs(ctx, "user-3")
		require.NoError(t, err)
		assert.Empty(t, jobs, "a user without jobs")
		return nil
	})

	retried := j1
	retried.Attempts, retried.LastError, retried.NextAttempt = 2, "hook timed out", at(time.Hour)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.UpdateJob(ctx, retried))
		require.NoError(t, tx.DeleteJob(ctx, j2.ID))
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(retried), storedJob(j3)}, gotJobs(jobs), "within the Update")
		return nil
	})
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(retried), storedJob(j3)}, gotJobs(jobs))
		return nil
	})

	// A job moved to another user is listed under that user only.
	moved := j3
	moved.UserID = "user-2"
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.UpdateJob(ctx, moved) })
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(retried)}, gotJobs(jobs), "user-1 after the move")
		jobs, err = tx.ListJobs(ctx, "user-2")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(moved)}, gotJobs(jobs), "user-2 after the move")
		return nil
	})
}

func testTeamsWithJobs(t *testing.T, s store.Store) {
	ids, err := s.TeamsWithJobs(t.Context())
	require.NoError(t, err)
	assert.Empty(t, ids, "an empty store")
	for _, id := range []string{"team-c", "team-a", "team-b"} {
		newTeam(t, s, id)
	}
	job := func(id string) store.Job { return store.Job{ID: id, UserID: "user-1", Kind: "k", Created: base} }
	mustUpdate(t, s, "team-c", func(ctx context.Context, tx store.Tx) error { return tx.CreateJob(ctx, job("job-1")) })
	mustUpdate(t, s, "team-a", func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateJob(ctx, job("job-1")))
		return tx.CreateJob(ctx, job("job-2"))
	})
	// A job created and deleted, and one of a failed Update, leave no trace.
	mustUpdate(t, s, "team-b", func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateJob(ctx, job("job-1")))
		return tx.DeleteJob(ctx, "job-1")
	})
	err = s.Update(t.Context(), "team-b", func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.CreateJob(ctx, job("job-2")))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	ids, err = s.TeamsWithJobs(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"team-a", "team-c"}, ids)

	mustUpdate(t, s, "team-a", func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.DeleteJob(ctx, "job-1"))
		return tx.DeleteJob(ctx, "job-2")
	})
	ids, err = s.TeamsWithJobs(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"team-c"}, ids)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.TeamsWithJobs(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func testJobConflictNotFound(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	j := store.Job{ID: "job-1", UserID: "user-1", Kind: "k", Created: base}
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.CreateJob(ctx, j) })
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.CreateJob(ctx, j) })
	assert.ErrorIs(t, err, store.ErrConflict)
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateJob(ctx, store.Job{ID: "no-such-job"})
	})
	assert.ErrorIs(t, err, store.ErrNotFound)
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error { return tx.DeleteJob(ctx, "no-such-job") })
	assert.ErrorIs(t, err, store.ErrNotFound)
	// A job listed, then deleted, is gone for the rest of the Update too (a store may send the
	// writes to jobs it has listed later: they cannot miss).
	err = s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, j.UserID)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		require.NoError(t, tx.DeleteJob(ctx, j.ID))
		assert.ErrorIs(t, tx.DeleteJob(ctx, j.ID), store.ErrNotFound, "deleted twice")
		assert.ErrorIs(t, tx.UpdateJob(ctx, j), store.ErrNotFound, "updated once deleted")
		jobs, err = tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, jobs)
		return errBoom
	})
	assert.ErrorIs(t, err, errBoom)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{storedJob(j)}, gotJobs(jobs))
		return nil
	})
}

func testJobRollbackCopies(t *testing.T, s store.Store) {
	tm := newTeam(t, s, "team-1")
	j := store.Job{ID: "job-1", UserID: "user-1", Kind: "k", Data: []byte("data"), Created: base}
	want := storedJob(j)
	mustUpdate(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		in := j
		in.Data = []byte("data")
		require.NoError(t, tx.CreateJob(ctx, in))
		in.Data[0] = 'X' // the caller's slice, after CreateJob
		return nil
	})
	err := s.Update(t.Context(), tm.ID, func(ctx context.Context, tx store.Tx) error {
		upd := j
		upd.Attempts = 5
		require.NoError(t, tx.UpdateJob(ctx, upd))
		require.NoError(t, tx.CreateJob(ctx, store.Job{ID: "job-2", UserID: "user-1", Kind: "k", Created: base}))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	mustView(t, s, tm.ID, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{want}, gotJobs(jobs), "after a failed Update; Data copied in")
		if len(jobs) == 1 {
			jobs[0].Data[0] = 'Y'
		}
		jobs, err = tx.ListJobs(ctx, "user-1")
		require.NoError(t, err)
		assert.Equal(t, []store.Job{want}, gotJobs(jobs), "ListJobs returned the store's Data")
		return nil
	})
}
