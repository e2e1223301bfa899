package pgstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
)

// wait bounds every wait of these tests.
const wait = 20 * time.Second

// newStore returns a store on a fresh schema with team-1 and team-2.
func newStore(t *testing.T) (*pgstore.Store, string) {
	t.Helper()
	schema := pgstore.NewSchema(t)
	st := pgstore.New(pgstore.OpenPool(t, schema))
	for _, id := range []string{"team-1", "team-2"} {
		require.NoError(t, st.CreateTeam(t.Context(), store.Team{ID: id, Name: id, SSOMethods: []string{"saml"}, SCIMEnabled: true}))
	}
	return st, schema
}

func user(id, userName string) store.User {
	now := time.Now()
	return store.User{ID: id, UserName: userName, Active: true, Roles: []string{"developer"}, Created: now, LastModified: now, Version: 1}
}

// holdUpdate starts an Update of teamID that creates a user and then waits until release is
// closed before it returns (and commits). It returns once fn holds the team's lock, and a
// channel that receives Update's result.
func holdUpdate(t *testing.T, st store.Store, teamID string, release <-chan struct{}) <-chan error {
	t.Helper()
	held := make(chan struct{})
	done := make(chan error, 1)
	var once sync.Once
	go func() {
		done <- st.Update(context.Background(), teamID, func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateUser(ctx, user("held", "held@example.com")); err != nil {
				return err
			}
			once.Do(func() { close(held) })
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("the holding Update returned early: %v", err)
	case <-time.After(wait):
		t.Fatal("the holding Update did not start")
	}
	return done
}

// within runs fn and fails the test if it does not return within wait.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatalf("%s waited for an Update of the team", what)
	}
}

// While an Update of a team is open, Views of the team (which see the state before it),
// LookupKey, ViewByKey, UpdateJobs of a member's jobs and Updates of another team all
// proceed; another Update of the same team waits.
func TestViewsAndLookupsDoNotWaitForUpdates(t *testing.T) {
	st, _ := newStore(t)
	key := store.APIKey{ID: "key-1", TeamID: "team-1", Name: "k", Digest: sha256.Sum256([]byte("secret")), Status: store.KeyActive}
	job := store.Job{ID: "job-1", UserID: "member", Kind: "k", Created: time.Now()}
	require.NoError(t, st.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateJob(ctx, job); err != nil {
			return err
		}
		return tx.CreateKey(ctx, key)
	}))

	release := make(chan struct{})
	held := holdUpdate(t, st, "team-1", release)

	var second atomic.Bool
	secondDone := make(chan error, 1)
	go func() {
		secondDone <- st.Update(context.Background(), "team-1", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetUser(ctx, "held") // sent with the lock: runs after the first commits, so it sees its user
			second.Store(true)
			return err
		})
	}()

	within(t, "View", func() {
		require.NoError(t, st.View(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
			n, err := tx.CountUsers(ctx, store.UserFilter{})
			require.NoError(t, err)
			assert.Equal(t, 0, n, "a View sees the state before the open Update")
			_, err = tx.GetUser(ctx, "held")
			assert.ErrorIs(t, err, store.ErrNotFound)
			return nil
		}))
	})
	within(t, "LookupKey", func() {
		_, err := st.LookupKey(t.Context(), key.Digest)
		require.NoError(t, err)
	})
	within(t, "ViewByKey", func() {
		require.NoError(t, st.ViewByKey(t.Context(), key.Digest, func(a store.Access) error {
			assert.Equal(t, "key-1", a.Key.ID)
			return nil
		}, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetUser(ctx, "held")
			assert.ErrorIs(t, err, store.ErrNotFound)
			return nil
		}))
	})
	within(t, "UpdateJobs", func() {
		require.NoError(t, st.UpdateJobs(t.Context(), "team-1", "member", func(ctx context.Context, tx store.JobTx) error {
			jobs, err := tx.ListJobs(ctx, "member")
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			return tx.DeleteJob(ctx, job.ID)
		}))
	})
	within(t, "an Update of another team", func() {
		require.NoError(t, st.Update(t.Context(), "team-2", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateUser(ctx, user("other", "held@example.com"))
		}))
	})
	time.Sleep(100 * time.Millisecond)
	assert.False(t, second.Load(), "a second Update of the team ran while the first was open")

	close(release)
	require.NoError(t, <-held)
	select {
	case err := <-secondDone:
		require.NoError(t, err, "the second Update must see the first one's user")
	case <-time.After(wait):
		t.Fatal("the second Update did not run after the first committed")
	}
}

// assertNothingStored checks that team-1 has no user, group, key, job or overage record,
// and its original name, and that the key digest is free.
func assertNothingStored(t *testing.T, st store.Store, digest [32]byte) {
	t.Helper()
	require.NoError(t, st.View(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		tm, err := tx.Team(ctx)
		require.NoError(t, err)
		assert.Equal(t, "team-1", tm.Name, "team")
		n, err := tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		require.NoError(t, err)
		assert.Zero(t, n, "users")
		users, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, users.Items, "users")
		groups, err := tx.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, groups.Items, "groups")
		of, err := tx.GroupsOf(ctx, "u1")
		require.NoError(t, err)
		assert.Empty(t, of, "memberships")
		keys, err := tx.ListKeys(ctx)
		require.NoError(t, err)
		assert.Empty(t, keys, "keys")
		jobs, err := tx.ListJobs(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, jobs, "jobs")
		overs, err := tx.ListOverages(ctx, store.OverageFilter{}, store.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, overs.Items, "overage records")
		return nil
	}))
	_, err := st.LookupKey(t.Context(), digest)
	assert.ErrorIs(t, err, store.ErrNotFound, "the key of the killed transaction")
	ids, err := st.TeamsWithJobs(t.Context())
	require.NoError(t, err)
	assert.Empty(t, ids)
}

// writeEverything makes one write of every kind in tx.
func writeEverything(t *testing.T, ctx context.Context, tx store.Tx, digest [32]byte) {
	require.NoError(t, tx.CreateUser(ctx, user("u1", "u1@example.com")))
	require.NoError(t, tx.CreateGroup(ctx, store.Group{ID: "g1", DisplayName: "Eng"}))
	_, err := tx.AddMembers(ctx, "g1", []string{"u1"})
	require.NoError(t, err)
	require.NoError(t, tx.CreateKey(ctx, store.APIKey{ID: "k1", TeamID: "team-1", Name: "k", Digest: digest, Status: store.KeyActive}))
	require.NoError(t, tx.CreateJob(ctx, store.Job{ID: "j1", UserID: "u1", Kind: "k"}))
	require.NoError(t, tx.CreateOverage(ctx, store.Overage{ID: "o1", UserID: "u1", Policy: "autoflex", Added: time.Now()}))
	tm, err := tx.Team(ctx)
	require.NoError(t, err)
	tm.Name = "renamed"
	require.NoError(t, tx.UpdateTeam(ctx, tm))
}

// A transaction whose context is cancelled mid-way leaves nothing behind, whether fn notices
// (its next write fails) or returns nil regardless, and the team is not left locked.
func TestCancelledUpdateLeavesNothing(t *testing.T) {
	st, schema := newStore(t)
	digest := sha256.Sum256([]byte("killed"))

	for _, swallow := range []bool{false, true} {
		ctx, cancel := context.WithCancel(t.Context())
		ran := 0
		err := st.Update(ctx, "team-1", func(ctx context.Context, tx store.Tx) error {
			ran++
			writeEverything(t, ctx, tx, digest)
			cancel()
			werr := tx.CreateUser(ctx, user("u2", "u2@example.com"))
			assert.ErrorIs(t, werr, context.Canceled, "a write after the cancellation")
			if swallow {
				return nil
			}
			return werr
		})
		assert.ErrorIs(t, err, context.Canceled, "swallow=%v", swallow)
		assert.Equal(t, 1, ran, "a cancelled Update is not retried")
		assertNothingStored(t, st, digest)
	}

	// Cancelled during a statement: the context ends while CreateKey waits for another
	// transaction (outside the store) that is inserting a key with the same digest.
	blocker, err := pgstore.OpenPool(t, schema).Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback(context.Background()) }()
	contested := sha256.Sum256([]byte("contested"))
	_, err = blocker.Exec(t.Context(), `INSERT INTO teamscim_keys (team_id, id, digest, name, status, created_by)
		VALUES ('team-2', 'blocker', $1, 'b', 'ACTIVE', '')`, contested[:])
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	within(t, "an Update cancelled during a statement", func() {
		err := st.Update(ctx, "team-1", func(ctx context.Context, tx store.Tx) error {
			writeEverything(t, ctx, tx, digest)
			time.AfterFunc(100*time.Millisecond, cancel)
			return tx.CreateKey(ctx, store.APIKey{ID: "k2", TeamID: "team-1", Digest: contested, Status: store.KeyActive})
		})
		assert.ErrorIs(t, err, context.Canceled, "cancelled during a statement")
	})
	assertNothingStored(t, st, digest)

	// The team is not locked: an Update right after succeeds.
	within(t, "an Update after the cancelled ones", func() {
		require.NoError(t, st.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateUser(ctx, user("after", "after@example.com"))
		}))
	})
}

// An Update whose context is cancelled while it waits for the team's lock returns at once
// with context.Canceled, fn's first statement (sent with the lock) having returned nothing,
// and the holder commits as usual.
func TestCancelWhileWaitingForTeamLock(t *testing.T) {
	st, _ := newStore(t)
	release := make(chan struct{})
	held := holdUpdate(t, st, "team-1", release)

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	within(t, "a cancelled Update", func() {
		err := st.Update(ctx, "team-1", func(ctx context.Context, tx store.Tx) error {
			u, err := tx.GetUser(ctx, "held")
			assert.ErrorIs(t, err, context.Canceled, "the statement sent with the lock")
			assert.Zero(t, u)
			return err
		})
		assert.ErrorIs(t, err, context.Canceled)
	})

	close(release)
	require.NoError(t, <-held)
	require.NoError(t, st.View(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetUser(ctx, "held")
		return err
	}))
}

// Two Updates of two teams that create keys with the same two digests in opposite orders
// deadlock in the database; the one PostgreSQL aborts runs again (and then finds both digests
// taken), instead of failing with the deadlock.
func TestDeadlockIsRetried(t *testing.T) {
	st, _ := newStore(t)
	d1, d2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	key := func(team, id string, d [32]byte) store.APIKey {
		return store.APIKey{ID: id, TeamID: team, Name: id, Digest: d, Status: store.KeyActive}
	}
	var runs [2]atomic.Int32
	firstDone := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var once [2]sync.Once
	update := func(i int, team string, first, second [32]byte) error {
		return st.Update(t.Context(), team, func(ctx context.Context, tx store.Tx) error {
			runs[i].Add(1)
			if err := tx.CreateKey(ctx, key(team, "a", first)); err != nil {
				return err
			}
			once[i].Do(func() { close(firstDone[i]) })
			select { // both hold their first digest before either asks for the second
			case <-firstDone[1-i]:
			case <-time.After(wait):
				return errors.New("the other Update did not start")
			}
			return tx.CreateKey(ctx, key(team, "b", second))
		})
	}
	var errs [2]error
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = update(0, "team-1", d1, d2) })
	wg.Go(func() { errs[1] = update(1, "team-2", d2, d1) })
	wg.Wait()

	for i, err := range errs {
		var pe *pgconn.PgError
		assert.False(t, errors.As(err, &pe) && pe.Code == "40P01", "update %d failed with the deadlock: %v", i, err)
	}
	// One committed both keys; the other ran again and conflicted on a digest.
	winner, loser := 0, 1
	if errs[0] != nil {
		winner, loser = 1, 0
	}
	require.NoError(t, errs[winner])
	assert.ErrorIs(t, errs[loser], store.ErrConflict)
	assert.Equal(t, int32(1), runs[winner].Load(), "runs of the Update that committed")
	assert.Equal(t, int32(2), runs[loser].Load(), "runs of the Update the deadlock aborted")
	for _, d := range [][32]byte{d1, d2} {
		k, err := st.LookupKey(t.Context(), d)
		require.NoError(t, err)
		assert.Equal(t, []string{"team-1", "team-2"}[winner], k.TeamID)
	}
}

// Migrate is idempotent and safe to run from several replicas at once.
func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	schema := pgstore.NewSchema(t) // migrated once already
	pools := []*pgstore.Store{}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		pool := pgstore.OpenPool(t, schema)
		pools = append(pools, pgstore.New(pool))
		wg.Go(func() { errs[i] = pgstore.Migrate(t.Context(), pool) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	pool := pgstore.OpenPool(t, schema)
	var versions []int32
	rows, err := pool.Query(t.Context(), "SELECT version FROM teamscim_migrations ORDER BY version")
	require.NoError(t, err)
	for rows.Next() {
		var v int32
		require.NoError(t, rows.Scan(&v))
		versions = append(versions, v)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, versions)
	assert.Equal(t, int32(pgstore.SchemaVersion()), versions[len(versions)-1])
	assert.Equal(t, int32(1), versions[0])
	for i := 1; i < len(versions); i++ {
		assert.Less(t, versions[i-1], versions[i], "each version once, in order")
	}
	// The migrated schema works from every pool.
	require.NoError(t, pools[3].CreateTeam(t.Context(), store.Team{ID: "team-1"}))
}

// Values PostgreSQL cannot store as text fail the write with an error before anything is
// sent, so the transaction goes on; lookups by them find nothing. Long values are indexed.
func TestUnstorableAndLongValues(t *testing.T) {
	st, _ := newStore(t)
	long := strings.Repeat("a", 10_000) + "@Example.com"
	err := st.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		err := tx.CreateUser(ctx, user("nul", "a\x00b@example.com"))
		assert.Error(t, err, "a userName with a NUL byte")
		assert.NotErrorIs(t, err, store.ErrConflict)
		assert.Error(t, tx.CreateUser(ctx, user("bad\xff", "bad@example.com")), "an ID that is not UTF-8")
		_, err = tx.GetUser(ctx, "a\x00b")
		assert.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.GetUserByUserName(ctx, "bad\xffname")
		assert.ErrorIs(t, err, store.ErrNotFound)
		// The transaction is still usable.
		require.NoError(t, tx.CreateUser(ctx, user("long", long)))
		require.NoError(t, tx.CreateGroup(ctx, store.Group{ID: "g", DisplayName: long}))
		u := user("long-ext", "ext@example.com")
		u.ExternalID = long
		return tx.CreateUser(ctx, u)
	})
	require.NoError(t, err)
	err = st.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, user("long-2", strings.ToUpper(long)))
	})
	assert.ErrorIs(t, err, store.ErrConflict, "long userNames are unique case-insensitively")
	require.NoError(t, st.View(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetUserByUserName(ctx, strings.ToUpper(long))
		require.NoError(t, err)
		assert.Equal(t, "long", got.ID)
		g, err := tx.GetGroupByDisplayName(ctx, long)
		require.NoError(t, err)
		assert.Equal(t, "g", g.ID)
		byExt, err := tx.UsersByExternalID(ctx, long)
		require.NoError(t, err)
		require.Len(t, byExt, 1)
		assert.Equal(t, "long-ext", byExt[0].ID)
		return nil
	}))
}
