// Package pgstore is a store.Store on PostgreSQL (through pgx and a pgxpool.Pool), for hosts
// that run several replicas of their identity service on one database.
//
//	pool, err := pgxpool.New(ctx, "postgres://teamscim@db.internal/teamscim")
//	...
//	if err := pgstore.Migrate(ctx, pool); err != nil { ... }
//	srv, err := teamscim.New(teamscim.Config{Store: pgstore.New(pool)})
//
// The schema is plain SQL embedded in the package (migrations/*.sql) and applied by Migrate,
// which is versioned and idempotent. There is no ORM: each method is one round trip to the
// server (a statement, or a pipelined batch of two), except that UpdateUser and UpdateGroup
// take a second one to tell a conflict from a missing record.
//
// # Round trips
//
// A transaction costs no round trip to begin: nothing is sent when View, ViewByKey or Update
// starts, and the start of the transaction (BEGIN, the team's row, and for ViewByKey the key,
// its team and its creator) goes in one pipelined batch with fn's first statement. An Update
// ends with COMMIT, one round trip, so an Update of k statements that each depend on the one
// before takes k+1. A View ends with a ROLLBACK that another goroutine sends once View has
// returned, before it puts the connection back in the pool: the caller does not wait for it.
//
// ViewByKey, which serves a request's first read, goes further: its first attempt sends the
// whole transaction with fn's first statement in one pipelined batch (BEGIN, the start, the
// statement, COMMIT), so a request
// that reads one statement is authenticated and answered in one round trip. If fn makes a
// second statement, that statement fails, and fn runs again in a transaction that stays open,
// as the store contract allows: a request that reads k statements then takes k+2.
//
// The price of sending the start with fn's first statement is that fn runs before the store
// knows that the team exists; if it does not, the statement returns nothing and the call
// returns ErrNotFound, as the store contract allows. If fn sends nothing, the start is still
// sent, alone, to find the team (and to take an Update's lock, or check a ViewByKey's key).
//
// # Serialising Updates: a row lock on the team
//
// Update begins a READ COMMITTED transaction with SELECT ... FOR NO KEY UPDATE on the team's
// row, sent in one batch with fn's first statement, which the database therefore runs once it
// holds the lock; it holds that lock until it commits or rolls back. Updates of one team run
// one after the other, in whichever process they started, and each statement after the lock
// sees every Update committed before it; Updates of different teams lock different rows and
// never wait for each other. The same statement checks that the team exists and reads it.
//
// A row lock was chosen over an advisory lock keyed by the team: it needs no key derivation
// (an advisory key is a 64-bit number, so a hash of the team ID could make two teams wait for
// each other), it cannot be forgotten or leaked (it is released with the transaction, and it is
// visible in pg_locks as a wait on a real row), it is part of the deadlock detector's graph,
// and it costs nothing extra because Update reads the team row anyway. FOR NO KEY UPDATE
// rather than FOR UPDATE leaves the FOR KEY SHARE locks that foreign-key checks take free.
//
// UpdateJobs (store.JobUpdater), which records the outcome of a host hook call, takes no lock
// on the team: ListJobs locks the rows of the jobs it returns (FOR UPDATE), in an Update as
// in UpdateJobs, so that two transactions claiming a member's next job take turns on its row
// and the second sees the first's claim. Those are the only writes made without the team's
// lock, and they touch only jobs, which no check of another method reads.
//
// Because all other writes to a team's rows happen under its lock, the checks a method makes
// before writing cannot be invalidated by another transaction. Writes that could break a uniqueness
// rule are therefore written so that the expected conflict changes no row instead of raising
// an error (INSERT ... ON CONFLICT DO NOTHING, UPDATE ... WHERE NOT EXISTS); the unique indexes
// stay as the backstop. This matters because a failed statement aborts a PostgreSQL
// transaction, and the root package continues after ErrConflict and ErrNotFound.
// If a statement fails anyway, the Tx remembers it: later methods fail, and Update rolls back
// even if fn returns nil.
//
// # Writes sent with the next round trip
//
// Once a transaction has begun (its lock held, its team known to exist), the INSERTs of
// CreateUser and CreateJob, and writes to jobs the transaction has locked through ListJobs,
// return at once and go ahead of the transaction's next statement, or with its COMMIT, as the
// store contract allows: nothing waits for their answer, so a create holds the team's lock
// for two round trips. These INSERTs are plain ones: the root package has looked the userName
// up under the same lock, and a job's ID is fresh, so a conflict is a mistake, and it fails
// the round trip that carries it and the whole transaction (ErrConflict from Update).
//
// # Retries
//
// A serialisation failure or a deadlock (SQLSTATE 40001, 40P01) rolls the transaction back and
// Update runs fn again, up to 10 times with a short randomised back-off; a cancelled or expired
// context is never retried. With READ COMMITTED and the team lock these errors are rare (a
// deadlock needs two teams' Updates creating keys with one digest), but fn must still be
// free of side effects outside tx, as the store contract says.
//
// # Cancellation
//
// Every statement runs with fn's context. A context that ends between statements makes the
// next method fail (and Update roll back, whatever fn returns); one that ends during a
// statement, or while Update waits for the team's lock, makes pgx give up the connection and
// send the server a cancel request, so the transaction is rolled back and its locks released
// at once. Either way Update and View return an error wrapping ctx.Err(), and nothing of the
// transaction remains.
//
// fn must not call the Store (the contract says so): here an Update of the same team inside
// fn would wait for the lock its own transaction holds, and nested calls can exhaust the pool.
//
// # Views and key lookups
//
// View runs fn in a REPEATABLE READ READ ONLY transaction: one MVCC snapshot for all of fn's
// reads, taken without any lock, so Views never wait for Updates and never see half of one.
// LookupKey is a single statement on the key-digest index outside any team transaction; it
// never waits for an Update.
//
// ViewByKey is a View whose start also reads the key (by team and digest) and the user who
// created it, in the same snapshot as fn's reads, and hands them to the caller's check before
// fn's first statement returns: authentication and the request's read in one round trip. To
// send them together it must know the key's team and creator before it reads the key, so a
// Store remembers them for each digest it has found (a key never changes team or creator; at
// most 10,000 digests, then it forgets them all). Nothing it remembers decides anything: the
// key, its status, its team and its creator are read in every ViewByKey, so a revocation on
// any replica is seen by the next request. The first ViewByKey of a digest, or one whose
// remembered key is gone (deleted, or the same secret made another key), finds the key with
// one more statement.
//
// # Indexes and counting
//
// Users are found by ID (the primary key), by folded userName (a unique index on the SHA-256
// of store.Fold(userName), computed in Go so that folding is exactly Go's) and by externalId
// (a non-unique partial index on its SHA-256 that leaves out empty externalIds; the stored
// value is compared too). Group displayNames are unique through a unique index on their
// SHA-256. Digests keep index entries small whatever the length of a value (a B-tree entry
// cannot exceed about 2.7 kB).
//
// CountUsers reads a maintained counter: teamscim_user_counts holds, per team, the number of
// users in each (deleted, active, seat) combination, kept by statement-level triggers on the
// users table in the same transaction as the change (so it follows rollbacks, is consistent
// in a View's snapshot, and stays right whatever writes the table). A count, a seat count
// included, reads at most eight rows whatever the size of the team; ListUsers takes its total
// from it too. An index on the flags would still have to visit every matching user.
//
// Lists page with OFFSET/LIMIT in ID order on the primary key; IDs are COLLATE "C", so the
// order is Go's byte-wise string order. Members are rows (team, group, user): AddMembers and
// RemoveMembers insert or delete only the rows named, in one statement, and report how many
// changed. ListMembers and GroupsOf read the membership primary key and a (team, user, group)
// index.
//
// # Connections
//
// Each View and Update holds one pool connection for the duration of fn (a View until its
// ROLLBACK has been answered, just after it returns). pgx's default
// statement cache is used (prepared statements per connection); behind PgBouncer in
// transaction mode, use a PgBouncer that tracks prepared statements or set
// default_query_exec_mode=exec in the connection string.
//
// # Values
//
// Times are truncated to the millisecond in Go before they are written and returned in UTC;
// the zero time is stored as NULL. Nil and empty slices are stored alike. PostgreSQL text
// cannot hold NUL bytes or invalid UTF-8: a write of such a string fails with an error
// (checked before anything is sent, so the transaction is not aborted), and a lookup by such a
// string finds nothing.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/teamscim/teamscim/store"
)

var _ store.Store = (*Store)(nil)

// maxAttempts bounds how many times Update runs fn when the database reports a
// serialisation failure or a deadlock.
const maxAttempts = 10

// Store is a store.Store on PostgreSQL. It is safe for concurrent use, by any number of
// processes sharing the database.
type Store struct {
	pool *pgxpool.Pool
	// keyTeams remembers where the key of each digest ViewByKey has found is ([32]byte →
	// keyCheck without its check), and nKeyTeams roughly how many it holds.
	keyTeams  sync.Map
	nKeyTeams atomic.Int64
}

// New returns a Store on pool's database, whose schema Migrate has brought up to date. The
// Store does not own the pool: the caller closes it after the last use of the Store.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Errors that are not store sentinels.
var (
	errReadOnly = errors.New("pgstore: write in a read-only transaction")
	errClosed   = errors.New("pgstore: transaction used after its function returned")
	errNilFunc  = errors.New("pgstore: nil transaction function")
	errNilCtx   = errors.New("pgstore: nil context")
)

func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return errNilCtx
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	return nil
}

// dbErr wraps an error of the database or the connection: a uniqueness violation wraps
// store.ErrConflict, and an error caused by the end of ctx wraps ctx.Err().
func dbErr(ctx context.Context, op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("pgstore: %s: %w (%s)", op, store.ErrConflict, pe.ConstraintName)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("pgstore: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// withCtx returns err, made to wrap ctx.Err() too if ctx has ended: whatever else went
// wrong, callers of View and Update can tell a cancellation by errors.Is.
func withCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("pgstore: %w: %w", cerr, err)
	}
	return err
}

// retryable reports whether err is a serialisation failure or a deadlock, after which the
// transaction may succeed if run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// ms normalises a time as the store keeps it: truncated to the millisecond, in UTC.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

const teamCols = `id, name, plan, sso_methods, scim_enabled, verified_domains, domain_capture, jit, created`

// CreateTeam implements store.Store.
func (s *Store) CreateTeam(ctx context.Context, t store.Team) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if t.ID == "" {
		return errors.New("pgstore: team has no ID")
	}
	if err := checkTeam(t); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO teamscim_teams (`+teamCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
		t.ID, t.Name, t.Plan, strs(t.SSOMethods), t.SCIMEnabled, strs(t.VerifiedDomains), t.DomainCapture, t.JIT, ts(t.Created))
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("create team %q", t.ID), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: team %q: %w", t.ID, store.ErrConflict)
	}
	return nil
}

// LookupKey implements store.Store with one indexed read outside any transaction of a team.
func (s *Store) LookupKey(ctx context.Context, digest [32]byte) (store.APIKey, error) {
	if err := ctxErr(ctx); err != nil {
		return store.APIKey{}, err
	}
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyCols+` FROM teamscim_keys WHERE digest = $1`, digest[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.APIKey{}, fmt.Errorf("pgstore: key digest: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.APIKey{}, dbErr(ctx, "look up key", err)
	}
	return k, nil
}

// TeamsWithJobs implements store.Store. It reads the jobs' primary key, not every team.
func (s *Store) TeamsWithJobs(ctx context.Context) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT team_id FROM teamscim_jobs ORDER BY team_id`)
	if err != nil {
		return nil, dbErr(ctx, "teams with jobs", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, dbErr(ctx, "teams with jobs", err)
	}
	return ids, nil
}

// View implements store.Store. fn runs in a REPEATABLE READ READ ONLY transaction, which
// starts with fn's first statement (BEGIN, the team's row and the statement go in one round
// trip) and ends after View has returned: the ROLLBACK that ends it is sent by another
// goroutine, which then puts the connection back in the pool, so a View of one statement waits
// for one round trip.
func (s *Store) View(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if fn == nil {
		return errNilFunc
	}
	return s.view(ctx, teamID, nil, fn)
}

// maxKeyTeams bounds the digests whose key a Store remembers (see ViewByKey); beyond it, it
// forgets them all and learns them again.
const maxKeyTeams = 10_000

// errNoKeyInTeam is the refusal of a ViewByKey whose team has no key with the digest (or has
// one with another creator).
var errNoKeyInTeam = fmt.Errorf("pgstore: key digest: %w", store.ErrNotFound)

// ViewByKey implements store.Store. The key, its team and its creator are read in fn's
// transaction, in the round trip that carries fn's first statement (see View), on the team the
// Store remembers for the digest, and the creator by the ID it remembers for it: a key never
// changes team or creator, so the only things remembered are where to look, and everything
// check decides on is read again every time. The first ViewByKey of a digest on a Store finds
// them with one more statement first; so does one whose remembered key is gone (deleted, or
// the same secret made another key).
func (s *Store) ViewByKey(ctx context.Context, digest [32]byte, check func(store.Access) error, fn func(ctx context.Context, tx store.Tx) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if check == nil || fn == nil {
		return errNilFunc
	}
	for {
		v, known := s.keyTeams.Load(digest)
		k, _ := v.(keyCheck)
		if !known {
			var err error
			if k, err = s.findKey(ctx, digest); err != nil {
				return err
			}
			if s.nKeyTeams.Add(1) > maxKeyTeams {
				s.keyTeams.Clear()
				s.nKeyTeams.Store(1)
			}
			s.keyTeams.Store(digest, k)
		}
		k.check = check
		err := s.view(ctx, k.teamID, &k, fn)
		if known && errors.Is(err, errNoKeyInTeam) {
			s.keyTeams.Delete(digest)
			continue
		}
		return err
	}
}

// findKey returns where the key with the digest is: its team and its creator's ID.
func (s *Store) findKey(ctx context.Context, digest [32]byte) (keyCheck, error) {
	k := keyCheck{digest: digest}
	err := s.pool.QueryRow(ctx, `SELECT team_id, created_by FROM teamscim_keys WHERE digest = $1`, digest[:]).Scan(&k.teamID, &k.createdBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, fmt.Errorf("pgstore: key digest: %w", store.ErrNotFound)
	}
	if err != nil {
		return k, dbErr(ctx, "look up key", err)
	}
	return k, nil
}

// keyCheck is the key whose access a ViewByKey reads when its transaction starts (by its
// digest, its team and its creator's ID, which never change), and the caller's check of it.
type keyCheck struct {
	digest            [32]byte
	teamID, createdBy string
	check             func(store.Access) error
}

// view runs fn in a View of teamID, after key's check if key is not nil. A ViewByKey's first
// attempt sends the whole transaction with fn's first statement (BEGIN, the start, the
// statement, COMMIT: one round trip); if fn makes a second statement, that one fails and fn
// runs again in a transaction that stays open.
func (s *Store) view(ctx context.Context, teamID string, key *keyCheck, fn func(ctx context.Context, tx store.Tx) error) error {
	for once := key != nil; ; once = false {
		x, err := s.open(ctx, teamID, false, key)
		if err != nil {
			return err
		}
		x.once = once
		err = x.runView(ctx, fn)
		if !x.again {
			return err
		}
	}
}

// runView runs fn once and ends the transaction: at once if it has ended already, else with
// a ROLLBACK sent by another goroutine, so that View returns without waiting for it. If fn
// sent nothing, the start is sent anyway (with COMMIT): the team (and the key) must exist and
// pass the check.
func (x *tx) runView(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	ferr := x.call(ctx, fn)
	x.mu.Lock()
	defer func() {
		open := x.conn.Conn().PgConn().TxStatus() != 'I'
		x.mu.Unlock()
		if open {
			go x.end(ctx)
		} else {
			x.end(ctx)
		}
	}()
	if x.again {
		return nil
	}
	if !x.begun && x.failed == nil {
		x.once = true
		_ = x.flight(ctx, "begin", nil, nil) // a failure is in x.failed or x.refused
	}
	switch {
	case x.refused != nil:
		return x.refused
	case ferr != nil:
		return withCtx(ctx, ferr)
	case x.failed != nil:
		return withCtx(ctx, x.abortedErr())
	}
	return nil
}

// Update implements store.Store. fn runs in a READ COMMITTED transaction that holds a row
// lock on the team; it runs again after a serialisation failure or a deadlock, at most
// maxAttempts times in all.
func (s *Store) Update(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if fn == nil {
		return errNilFunc
	}
	return s.retry(ctx, teamID, func() error { return s.update(ctx, teamID, fn) })
}

// retry runs once, and again after a serialisation failure or a deadlock, at most
// maxAttempts times in all, with a short randomised back-off in between.
func (s *Store) retry(ctx context.Context, teamID string, once func() error) error {
	for attempt := 1; ; attempt++ {
		err := once()
		if err == nil || !retryable(err) || ctx.Err() != nil || attempt == maxAttempts {
			return withCtx(ctx, err)
		}
		// Back off for a random time that grows with the attempts: 0-2 ms, 0-4 ms, ...
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("pgstore: update team %q: %w: %w", teamID, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// update runs fn once in a transaction of its own. The team's lock is taken by the first
// round trip fn makes, together with fn's first statement; if fn makes none, the transaction
// is sent whole (BEGIN, the lock, COMMIT) so that the team must still exist.
func (s *Store) update(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	x, err := s.open(ctx, teamID, true, nil)
	if err != nil {
		return err
	}
	defer x.end(ctx)
	ferr := x.call(ctx, fn)
	x.mu.Lock()
	defer x.mu.Unlock()
	if ferr != nil {
		x.deferred = nil // fn failed: its writes must not reach the database
	}
	if !x.begun && x.failed == nil {
		x.once = true
		_ = x.flight(ctx, "begin", nil, nil)
	}
	return x.finish(ctx, ferr)
}

// finish ends a write transaction whose fn returned ferr: it returns why the call fails, or
// commits. The caller holds mu.
func (x *tx) finish(ctx context.Context, ferr error) error {
	switch {
	case x.refused != nil:
		return x.refused
	case x.failed != nil && retryable(x.failed):
		// fn's result was computed in a transaction the database has given up.
		return x.abortedErr()
	case ferr != nil:
		return ferr
	case x.failed != nil:
		// fn went on after a failed statement; the transaction cannot commit.
		return x.abortedErr()
	case x.once:
		return nil // committed with the start
	case !x.begun && len(x.deferred) == 0:
		return nil // an UpdateJobs whose fn sent nothing: there is nothing to commit
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	return x.commit(ctx)
}

// UpdateJobs implements store.JobUpdater. fn runs in a READ COMMITTED transaction that takes
// no lock on the team: ListJobs locks the member's jobs it returns (FOR UPDATE), as it does in
// an Update, so a claim made here and one made in an Update take turns on the job's row, and
// each sees the other's outcome once it has the lock. Deleting or updating a job locks its
// row too. Rows are locked in the order of their IDs everywhere, so UpdateJobs and Updates
// do not deadlock over them; if they did, the transaction would run again, as an Update's
// does.
//
// A host hook's outcome (the job deleted, the member's next job claimed) is recorded this
// way, so it does not wait behind the team's creates, which hold the team's lock.
func (s *Store) UpdateJobs(ctx context.Context, teamID, userID string, fn func(ctx context.Context, tx store.JobTx) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if fn == nil {
		return errNilFunc
	}
	if !storable(userID) || userID == "" {
		return fmt.Errorf("pgstore: jobs of member %q: %w", userID, store.ErrNotFound)
	}
	return s.retry(ctx, teamID, func() error { return s.updateJobs(ctx, teamID, userID, fn) })
}

// updateJobs runs fn once in a transaction of its own on member userID's jobs.
func (s *Store) updateJobs(ctx context.Context, teamID, userID string, fn func(ctx context.Context, tx store.JobTx) error) error {
	x, err := s.open(ctx, teamID, true, nil)
	if err != nil {
		return err
	}
	x.jobsOf = userID
	defer x.end(ctx)
	ferr := x.call(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
	x.mu.Lock()
	defer x.mu.Unlock()
	if ferr != nil {
		x.deferred = nil // fn failed: its writes must not reach the database
	}
	return x.finish(ctx, ferr)
}

var _ store.JobUpdater = (*Store)(nil)

// open acquires a connection for a transaction on teamID. Nothing is sent yet: the start of the
// transaction goes with its first statement (see flight).
func (s *Store) open(ctx context.Context, teamID string, write bool, key *keyCheck) (*tx, error) {
	if !storable(teamID) {
		return nil, fmt.Errorf("pgstore: team %q: %w", teamID, store.ErrNotFound)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, dbErr(ctx, "acquire a connection", err)
	}
	return &tx{s: s, conn: conn, teamID: teamID, write: write, key: key}, nil
}

// call runs fn with x, after which x may no longer be used by fn.
func (x *tx) call(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	defer x.closed.Store(true)
	return fn(ctx, x)
}

// commit commits the transaction, in one round trip with its deferred writes. The connection
// goes back to the pool in end. The caller holds mu.
func (x *tx) commit(ctx context.Context) error {
	var tag pgconn.CommandTag
	err := x.flight(ctx, fmt.Sprintf("commit on team %q", x.teamID), func(b *pgx.Batch) { b.Queue("COMMIT") },
		func(br pgx.BatchResults) error {
			var err error
			tag, err = br.Exec()
			return err
		})
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return fmt.Errorf("pgstore: commit on team %q: the transaction was rolled back", x.teamID)
	}
	return nil
}

// end rolls back the transaction if it is still open and returns the connection to the pool
// (which discards a connection that is broken or still in a transaction).
func (x *tx) end(ctx context.Context) {
	x.mu.Lock() // a method still running (on a goroutine fn left behind) finishes first
	defer x.mu.Unlock()
	if pc := x.conn.Conn().PgConn(); !pc.IsClosed() && pc.TxStatus() != 'I' {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = x.conn.Exec(rctx, "ROLLBACK")
		cancel()
	}
	x.conn.Release()
}
