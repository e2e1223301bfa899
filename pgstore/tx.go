package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/teamscim/teamscim/store"
)

// tx is a transaction on one team, on a connection of its own. Its methods are safe for
// concurrent use within fn (they take turns on the connection), though nothing gains by it.
//
// Nothing is sent when the transaction opens: its start (BEGIN, the team's row, locked for an
// Update, and a ViewByKey's key and creator) goes in the same round trip as fn's first
// statement (see flight).
type tx struct {
	s      *Store
	conn   *pgxpool.Conn
	teamID string
	write  bool
	key    *keyCheck // a ViewByKey's key, read and checked when the transaction starts
	// jobsOf, set by UpdateJobs, is the member whose jobs are all fn may use: the transaction
	// takes no team lock and reads no team, and the job methods are the only ones that work.
	jobsOf string
	closed atomic.Bool

	mu sync.Mutex // guards everything below, and conn; end takes it too
	// once makes the first round trip carry the whole transaction: in the first attempt of a ViewByKey, and when fn has returned without sending anything. A
	// second statement then sets again and fails with errAgain: fn runs again in a
	// transaction that stays open.
	once  bool
	again bool
	// begun is set once the start of the transaction has been sent.
	begun bool
	// team is the team's record as the transaction sees it (read at the start, replaced by
	// UpdateTeam).
	team store.Team
	// refused is why the transaction gives fn nothing: the team (or a ViewByKey's key) does
	// not exist, or the key's check refused it. View and Update return it, whatever fn
	// returns.
	refused error
	// failed is the first error of a statement or of the connection; the database has
	// aborted the transaction.
	failed error
	// deleted is set by DeleteTeam: the team is gone in this transaction.
	deleted atomic.Bool
	// deferred are writes whose only outcome is an error (CreateUser's and CreateJob's
	// INSERTs, and writes to jobs in lockedJobs), queued by a method that returned at once:
	// they go ahead of the transaction's next round trip (its next statement, or COMMIT),
	// where a failure fails that round trip and the transaction. Under an Update's team lock
	// this saves a round trip per write.
	deferred []deferredStmt
	// lockedJobs are the jobs this write transaction has locked (ListJobs) and not deleted:
	// nobody else can delete one now, so a write to it cannot find it gone, and UpdateJob and
	// DeleteJob defer theirs (see deferred).
	lockedJobs map[string]bool
}

// deferredStmt is a write queued for the transaction's next round trip (tx.deferred).
type deferredStmt struct {
	op, sql string
	args    []any
}

var _ store.Tx = (*tx)(nil)

// errAgain is what fn's second statement returns in a transaction that its first one ended
// (see tx.once): fn runs again, in a transaction that stays open.
var errAgain = errors.New("pgstore: a second statement in a one-round-trip View; it runs again")

// errJobsOnly is what a method other than the job methods returns in an UpdateJobs.
var errJobsOnly = errors.New("pgstore: an UpdateJobs transaction has only the member's jobs")

// check returns the error a method must return before doing anything, if any.
func (x *tx) check(ctx context.Context, write bool) error {
	if x.jobsOf != "" {
		return errJobsOnly
	}
	return x.checkJob(ctx, write)
}

// checkJob is check for the job methods, which an UpdateJobs transaction has too.
func (x *tx) checkJob(ctx context.Context, write bool) error {
	if x.closed.Load() {
		return errClosed
	}
	if write && !x.write {
		return errReadOnly
	}
	if x.deleted.Load() {
		return fmt.Errorf("pgstore: team %q deleted in this transaction: %w", x.teamID, store.ErrNotFound)
	}
	return ctxErr(ctx)
}

// abortedErr is the error of every use of the transaction after a failed statement.
// The caller holds mu, or fn has returned.
func (x *tx) abortedErr() error {
	return fmt.Errorf("pgstore: transaction on team %q aborted by an earlier error: %w", x.teamID, x.failed)
}

// fail records a failed statement and returns its error for op. The caller holds mu.
func (x *tx) fail(ctx context.Context, op string, err error) error {
	if x.failed == nil {
		x.failed = err
	}
	return dbErr(ctx, op, err)
}

// flight sends, in one round trip: the start of the transaction if it has not been sent yet,
// and the statements queue adds (all of the transaction, if x.once). It reads the start's results and has a ViewByKey's check accept the key before it
// hands the statements' results to read, so that fn sees nothing of a team that does not
// exist or of a key that check refuses. The caller holds mu; queue and read may be nil.
func (x *tx) flight(ctx context.Context, op string, queue func(*pgx.Batch), read func(pgx.BatchResults) error) error {
	switch {
	case x.refused != nil:
		return x.refused
	case x.failed != nil:
		return x.abortedErr()
	case x.once && x.begun:
		x.again = true
		return errAgain
	}
	start := !x.begun
	b := &pgx.Batch{}
	if start {
		x.queueStart(b)
	}
	deferred := x.deferred
	x.deferred = nil
	for _, d := range deferred {
		b.Queue(d.sql, d.args...)
	}
	if queue != nil {
		queue(b)
	}
	if x.once {
		b.Queue("COMMIT") // the whole transaction goes in this round trip
	}
	x.begun = true
	br := x.conn.SendBatch(ctx, b)
	var err error
	if start {
		err = x.readStart(br)
	}
	for _, d := range deferred {
		if err != nil || x.refused != nil {
			break
		}
		if _, derr := br.Exec(); derr != nil {
			err = dbErr(ctx, d.op, derr) // the op that failed, with ErrConflict for a duplicate
		}
	}
	if err == nil && x.refused == nil && read != nil {
		err = read(br)
	}
	if err == nil && x.refused == nil && x.once {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	switch {
	case x.refused != nil:
		return x.refused // the statements sent with the start may fail for want of the team
	case err != nil:
		return x.fail(ctx, op, err)
	}
	return nil
}

// queueStart queues the start of the transaction: its isolation level, and the team's row
// (locked for an Update, which serialises Updates of the team from here to the end of the
// transaction), or for a ViewByKey the key with its team, and the user who created the key,
// by the ID the Store remembers for the key (readStart checks it against the key's: a plain
// ID keeps the statement the same as GetUser's, and its plan on the primary key). A
// transaction sent whole (x.once) is BEGIN ... COMMIT in one batch: the isolation level needs
// the BEGIN (without it the batch is no transaction block, and PostgreSQL up to 16 ignores a
// SET TRANSACTION there, with a warning).
func (x *tx) queueStart(b *pgx.Batch) {
	const begin = "BEGIN"
	switch {
	case x.jobsOf != "":
		b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`) // no team: the job rows' locks suffice
	case x.write:
		b.Queue(begin + ` ISOLATION LEVEL READ COMMITTED`)
		b.Queue(`SELECT `+teamCols+` FROM teamscim_teams WHERE id = $1 FOR NO KEY UPDATE`, x.teamID)
	case x.key != nil:
		b.Queue(begin + ` ISOLATION LEVEL REPEATABLE READ READ ONLY`)
		b.Queue(`SELECT k.*, t.* FROM (SELECT `+keyCols+` FROM teamscim_keys WHERE team_id = $1 AND digest = $2) k,
			(SELECT `+teamCols+` FROM teamscim_teams WHERE id = $1) t`, x.teamID, x.key.digest[:])
		b.Queue(getUserSQL, x.teamID, x.key.createdBy)
	default:
		b.Queue(begin + ` ISOLATION LEVEL REPEATABLE READ READ ONLY`)
		b.Queue(`SELECT `+teamCols+` FROM teamscim_teams WHERE id = $1`, x.teamID)
	}
}

// readStart reads the results of queueStart's statements, and sets refused if the team (or
// the key) does not exist or the key's check refuses it.
func (x *tx) readStart(br pgx.BatchResults) error {
	if _, err := br.Exec(); err != nil || x.jobsOf != "" {
		return err
	}
	if x.key == nil {
		team, err := scanTeam(br.QueryRow())
		if errors.Is(err, pgx.ErrNoRows) {
			x.refused = fmt.Errorf("pgstore: team %q: %w", x.teamID, store.ErrNotFound)
			return nil
		}
		x.team = team
		return err
	}
	var a store.Access
	var err error
	a.Key, a.Team, err = scanKeyTeam(br.QueryRow())
	noKey := errors.Is(err, pgx.ErrNoRows)
	if err != nil && !noKey {
		return err
	}
	x.team = a.Team
	a.Creator, err = scanUser(br.QueryRow())
	a.CreatorFound = err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if noKey || a.Key.CreatedBy != x.key.createdBy {
		x.refused = errNoKeyInTeam
	} else {
		x.refused = x.key.check(a)
	}
	return nil
}

// send is flight for fn's statements, which fail once fn has returned. The caller holds mu.
func (x *tx) send(ctx context.Context, op string, queue func(*pgx.Batch), read func(pgx.BatchResults) error) error {
	if x.closed.Load() {
		return errClosed
	}
	return x.flight(ctx, op, queue, read)
}

// execOne runs a statement that changes one row of the team; changing none is notFound.
func (x *tx) execOne(ctx context.Context, notFound error, op, sql string, args ...any) error {
	tag, err := x.exec(ctx, op, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound
	}
	return nil
}

// exec runs a statement.
func (x *tx) exec(ctx context.Context, op, sql string, args ...any) (pgconn.CommandTag, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var tag pgconn.CommandTag
	err := x.send(ctx, op, func(b *pgx.Batch) { b.Queue(sql, args...) }, func(br pgx.BatchResults) error {
		var err error
		tag, err = br.Exec()
		return err
	})
	return tag, err
}

// queryRow runs a query of at most one row and scans it with scan. It returns
// pgx.ErrNoRows, unwrapped, when there is no row (which does not abort the transaction).
func queryRow[T any](ctx context.Context, x *tx, op string, scan func(scanner) (T, error), sql string, args ...any) (T, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var v, zero T
	noRows := false
	err := x.send(ctx, op, func(b *pgx.Batch) { b.Queue(sql, args...) }, func(br pgx.BatchResults) error {
		var err error
		v, err = scan(br.QueryRow())
		if errors.Is(err, pgx.ErrNoRows) {
			noRows, err = true, nil
		}
		return err
	})
	switch {
	case err != nil:
		return zero, err
	case noRows:
		return zero, pgx.ErrNoRows
	}
	return v, nil
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, x *tx, op string, scan func(scanner) (T, error), sql string, args ...any) ([]T, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []T
	err := x.send(ctx, op, func(b *pgx.Batch) { b.Queue(sql, args...) }, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err == nil {
			out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countThenPage runs a count and a page query in one round trip, and returns the count and
// the page.
func countThenPage[T any](ctx context.Context, x *tx, op string, scan func(scanner) (T, error),
	countSQL string, countArgs []any, pageSQL string, pageArgs []any) (store.Page[T], error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var total int64
	var items []T
	err := x.send(ctx, op, func(b *pgx.Batch) {
		b.Queue(countSQL, countArgs...)
		b.Queue(pageSQL, pageArgs...)
	}, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&total); err != nil {
			return err
		}
		rows, err := br.Query()
		if err == nil {
			items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
		}
		return err
	})
	if err != nil {
		return store.Page[T]{}, err
	}
	if items == nil {
		items = []T{}
	}
	return store.Page[T]{Items: items, Total: int(total)}, nil
}

// page returns the OFFSET and LIMIT arguments of o (a NULL limit is no limit).
func page(o store.ListOptions) (offset int64, limit *int64) {
	if o.Limit > 0 {
		l := int64(o.Limit)
		limit = &l
	}
	return int64(max(o.Offset, 0)), limit
}

// ---- team ----

// Team implements store.Tx. The team is read when the transaction starts (now, if fn reads
// it before anything else).
func (x *tx) Team(ctx context.Context) (store.Team, error) {
	if err := x.check(ctx, false); err != nil {
		return store.Team{}, err
	}
	x.mu.Lock()
	if !x.begun {
		x.once = false // fn reads the team first: the transaction stays open for what follows
		if err := x.send(ctx, "begin", nil, nil); err != nil {
			x.mu.Unlock()
			return store.Team{}, err
		}
	}
	t, refused := x.team, x.refused
	x.mu.Unlock()
	if refused != nil {
		return store.Team{}, refused
	}
	t.SSOMethods = slices.Clone(t.SSOMethods)
	t.VerifiedDomains = slices.Clone(t.VerifiedDomains)
	return t, nil
}

// UpdateTeam implements store.Tx. t.ID must be the team's ID.
func (x *tx) UpdateTeam(ctx context.Context, t store.Team) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if t.ID != x.teamID {
		return fmt.Errorf("pgstore: team %q: cannot change the ID to %q", x.teamID, t.ID)
	}
	if err := checkTeam(t); err != nil {
		return err
	}
	_, err := x.exec(ctx, "update team", `UPDATE teamscim_teams SET name = $2, plan = $3, sso_methods = $4,
		scim_enabled = $5, verified_domains = $6, domain_capture = $7, jit = $8, created = $9 WHERE id = $1`,
		t.ID, t.Name, t.Plan, strs(t.SSOMethods), t.SCIMEnabled, strs(t.VerifiedDomains), t.DomainCapture, t.JIT, ts(t.Created))
	if err != nil {
		return err
	}
	t.SSOMethods = slices.Clone(t.SSOMethods)
	t.VerifiedDomains = slices.Clone(t.VerifiedDomains)
	t.Created = ms(t.Created)
	x.mu.Lock()
	x.team = t
	x.mu.Unlock()
	return nil
}

// DeleteTeam implements store.Tx: one pipelined batch deletes the team's rows from every
// table, the team's row last (the other tables refer to it), in the transaction that holds the
// team's lock. Updates waiting for that lock find no team once it commits.
func (x *tx) DeleteTeam(ctx context.Context) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	tables := []string{"teamscim_members", "teamscim_groups", "teamscim_users", "teamscim_user_counts",
		"teamscim_keys", "teamscim_overages", "teamscim_jobs"}
	err := x.send(ctx, "delete team", func(b *pgx.Batch) {
		for _, table := range tables {
			b.Queue(`DELETE FROM `+table+` WHERE team_id = $1`, x.teamID)
		}
		b.Queue(`DELETE FROM teamscim_teams WHERE id = $1`, x.teamID)
	}, func(br pgx.BatchResults) error {
		for range len(tables) + 1 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	x.deleted.Store(true)
	return nil
}

// ---- keys ----

// CreateKey implements store.Tx. k.TeamID must be the team's ID. A digest another
// transaction is creating makes CreateKey wait for that transaction's end: the digest is
// reserved only if it commits.
func (x *tx) CreateKey(ctx context.Context, k store.APIKey) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if k.ID == "" {
		return errors.New("pgstore: key has no ID")
	}
	if k.TeamID != x.teamID {
		return fmt.Errorf("pgstore: key %q: team ID %q is not the transaction's team %q", k.ID, k.TeamID, x.teamID)
	}
	if err := checkStrings("key", k.ID, k.Name, string(k.Status), k.CreatedBy); err != nil {
		return err
	}
	tag, err := x.exec(ctx, "create key", `INSERT INTO teamscim_keys (`+keyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		x.teamID, k.ID, k.Digest[:], k.Name, string(k.Status), k.CreatedBy, ts(k.Created), ts(k.LastUsed), ts(k.Expires))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: key %q: ID or digest: %w", k.ID, store.ErrConflict)
	}
	return nil
}

// GetKey implements store.Tx.
func (x *tx) GetKey(ctx context.Context, id string) (store.APIKey, error) {
	if err := x.check(ctx, false); err != nil {
		return store.APIKey{}, err
	}
	notFound := fmt.Errorf("pgstore: key %q: %w", id, store.ErrNotFound)
	if !storable(id) {
		return store.APIKey{}, notFound
	}
	k, err := queryRow(ctx, x, "get key", scanKey, `SELECT `+keyCols+` FROM teamscim_keys WHERE team_id = $1 AND id = $2`, x.teamID, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.APIKey{}, notFound
	}
	return k, err
}

// UpdateKey implements store.Tx. It writes k's Name, Status, LastUsed and Expires and
// ignores k's other fields.
func (x *tx) UpdateKey(ctx context.Context, k store.APIKey) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if err := checkStrings("key", k.Name, string(k.Status)); err != nil {
		return err
	}
	notFound := fmt.Errorf("pgstore: key %q: %w", k.ID, store.ErrNotFound)
	if !storable(k.ID) {
		return notFound
	}
	return x.execOne(ctx, notFound, "update key", `UPDATE teamscim_keys SET name = $3, status = $4, last_used = $5, expires = $6
		WHERE team_id = $1 AND id = $2`, x.teamID, k.ID, k.Name, string(k.Status), ts(k.LastUsed), ts(k.Expires))
}

// DeleteKey implements store.Tx.
func (x *tx) DeleteKey(ctx context.Context, id string) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	notFound := fmt.Errorf("pgstore: key %q: %w", id, store.ErrNotFound)
	if !storable(id) {
		return notFound
	}
	return x.execOne(ctx, notFound, "delete key", `DELETE FROM teamscim_keys WHERE team_id = $1 AND id = $2`, x.teamID, id)
}

// ListKeys implements store.Tx.
func (x *tx) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	return queryAll(ctx, x, "list keys", scanKey, `SELECT `+keyCols+` FROM teamscim_keys WHERE team_id = $1 ORDER BY id`, x.teamID)
}

// ---- users ----

// CreateUser implements store.Tx. Its INSERT is deferred (see tx.deferred): it goes with the
// transaction's next statement or its COMMIT, so that a create holds the team's lock for one
// round trip less. An ID or a folded userName that is taken fails that round trip, and the
// transaction, with ErrConflict, as the store contract allows; the root package has looked
// the userName up under the same lock, so this happens only by mistake.
func (x *tx) CreateUser(ctx context.Context, u store.User) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if u.ID == "" {
		return errors.New("pgstore: user has no ID")
	}
	if err := checkUser(u); err != nil {
		return err
	}
	const insert = `INSERT INTO teamscim_users (team_id, user_name_key, external_id_key, email_keys, ` + userCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`
	args := []any{x.teamID, userNameKey(u.UserName), externalIDKey(u.ExternalID), emailKeys(u.Emails),
		u.ID, u.UserName, u.ExternalID, u.GivenName, u.FamilyName, u.MiddleName, u.Formatted, u.DisplayName, u.Locale,
		toEmails(u.Emails), u.Active, u.Deleted, u.Managed, u.Pending, u.Seat, u.ViaGroups, slices.Clone(strs(u.Roles)),
		ts(u.Created), ts(u.LastModified), u.Version, slices.Clone(toAttributes(u.Attributes))}
	if deferred, err := x.deferWrite(fmt.Sprintf("create user %q", u.ID), insert, args...); deferred || err != nil {
		return err
	}
	tag, err := x.exec(ctx, "create user", insert+` ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: user %q: ID or userName %q: %w", u.ID, u.UserName, store.ErrConflict)
	}
	return nil
}

// deferWrite queues a write for the transaction's next round trip (see tx.deferred), if the
// transaction has begun: its lock is held, and the team exists. If not, deferred is false
// and the caller sends the write now, so that the team's absence fails this method, as the
// store contract says, and its lock is taken here. The arguments must not change
// afterwards: the caller passes copies of anything it shares.
func (x *tx) deferWrite(op, sql string, args ...any) (deferred bool, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.refused != nil:
		return false, x.refused
	case x.failed != nil:
		return false, x.abortedErr()
	case !x.begun || x.once:
		return false, nil
	}
	x.deferred = append(x.deferred, deferredStmt{op: op, sql: sql, args: args})
	return true, nil
}

// getUserSQL reads the user of the team $1 with the ID $2.
const getUserSQL = `SELECT ` + userCols + ` FROM teamscim_users WHERE team_id = $1 AND id = $2`

// GetUser implements store.Tx.
func (x *tx) GetUser(ctx context.Context, id string) (store.User, error) {
	if err := x.check(ctx, false); err != nil {
		return store.User{}, err
	}
	notFound := fmt.Errorf("pgstore: user %q: %w", id, store.ErrNotFound)
	if !storable(id) {
		return store.User{}, notFound
	}
	u, err := queryRow(ctx, x, "get user", scanUser, getUserSQL, x.teamID, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, notFound
	}
	return u, err
}

// GetUserByUserName implements store.Tx through the unique index on the folded userName's
// digest.
func (x *tx) GetUserByUserName(ctx context.Context, userName string) (store.User, error) {
	if err := x.check(ctx, false); err != nil {
		return store.User{}, err
	}
	u, err := queryRow(ctx, x, "get user by userName", scanUser,
		`SELECT `+userCols+` FROM teamscim_users WHERE team_id = $1 AND user_name_key = $2`, x.teamID, userNameKey(userName))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && store.Fold(u.UserName) != store.Fold(userName)) {
		return store.User{}, fmt.Errorf("pgstore: userName %q: %w", userName, store.ErrNotFound)
	}
	return u, err
}

// UsersByExternalID implements store.Tx through the externalId index.
func (x *tx) UsersByExternalID(ctx context.Context, externalID string) ([]store.User, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	if externalID == "" || !storable(externalID) {
		return []store.User{}, nil
	}
	users, err := queryAll(ctx, x, "users by externalId", scanUser, `SELECT `+userCols+` FROM teamscim_users
		WHERE team_id = $1 AND external_id_key = $2 AND external_id = $3 ORDER BY id`,
		x.teamID, externalIDKey(externalID), externalID)
	if err == nil && users == nil {
		users = []store.User{}
	}
	return users, err
}

// UsersByEmail implements store.Tx through the index of the users' folded email digests.
func (x *tx) UsersByEmail(ctx context.Context, email string) ([]store.User, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	key := store.Fold(email)
	if key == "" || !storable(email) {
		return []store.User{}, nil
	}
	users, err := queryAll(ctx, x, "users by email", scanUser, `SELECT `+userCols+` FROM teamscim_users
		WHERE team_id = $1 AND email_keys @> ARRAY[$2::bytea] ORDER BY id`, x.teamID, digestOf(key))
	if err != nil {
		return nil, err
	}
	out := []store.User{}
	for _, u := range users { // a digest match is checked against the values themselves
		if slices.ContainsFunc(u.Emails, func(e store.Email) bool { return store.Fold(e.Value) == key }) {
			out = append(out, u)
		}
	}
	return out, nil
}

// UpdateUser implements store.Tx.
func (x *tx) UpdateUser(ctx context.Context, u store.User) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	notFound := fmt.Errorf("pgstore: user %q: %w", u.ID, store.ErrNotFound)
	if !storable(u.ID) {
		return notFound
	}
	if err := checkUser(u); err != nil {
		return err
	}
	nameKey := userNameKey(u.UserName)
	// The NOT EXISTS makes a rename onto another user's userName change nothing instead of
	// failing on the unique index (which would abort the transaction).
	tag, err := x.exec(ctx, "update user", `UPDATE teamscim_users SET user_name_key = $3, external_id_key = $4,
		user_name = $5, external_id = $6, given_name = $7, family_name = $8, middle_name = $9, formatted = $10,
		display_name = $11, locale = $12, emails = $13, active = $14, deleted = $15, managed = $16, pending = $17,
		seat = $18, via_groups = $19, roles = $20, created = $21, last_modified = $22, version = $23,
		attributes = $24, email_keys = $25
		WHERE team_id = $1 AND id = $2 AND NOT EXISTS (
			SELECT 1 FROM teamscim_users o WHERE o.team_id = $1 AND o.user_name_key = $3 AND o.id <> $2)`,
		x.teamID, u.ID, nameKey, externalIDKey(u.ExternalID),
		u.UserName, u.ExternalID, u.GivenName, u.FamilyName, u.MiddleName, u.Formatted, u.DisplayName, u.Locale,
		toEmails(u.Emails), u.Active, u.Deleted, u.Managed, u.Pending, u.Seat, u.ViaGroups, strs(u.Roles),
		ts(u.Created), ts(u.LastModified), u.Version, toAttributes(u.Attributes), emailKeys(u.Emails))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	exists, err := queryRow(ctx, x, "update user", scanBool,
		`SELECT EXISTS (SELECT 1 FROM teamscim_users WHERE team_id = $1 AND id = $2)`, x.teamID, u.ID)
	switch {
	case err != nil:
		return err
	case !exists:
		return notFound
	default:
		return fmt.Errorf("pgstore: user %q: userName %q: %w", u.ID, u.UserName, store.ErrConflict)
	}
}

func scanBool(r scanner) (bool, error) {
	var b bool
	err := r.Scan(&b)
	return b, err
}

// DeleteUser implements store.Tx: one statement deletes the user and their memberships.
func (x *tx) DeleteUser(ctx context.Context, id string) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	notFound := fmt.Errorf("pgstore: user %q: %w", id, store.ErrNotFound)
	if !storable(id) {
		return notFound
	}
	n, err := queryRow(ctx, x, "delete user", scanInt, `WITH u AS (
			DELETE FROM teamscim_users WHERE team_id = $1 AND id = $2 RETURNING id
		), m AS (
			DELETE FROM teamscim_members WHERE team_id = $1 AND user_id IN (SELECT id FROM u)
		)
		SELECT count(*) FROM u`, x.teamID, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

func scanInt(r scanner) (int64, error) {
	var n int64
	err := r.Scan(&n)
	return n, err
}

// userFilterSQL selects the rows of a users table (or of the counts) that f matches, with
// the team as $1 and f's fields as $2 (IncludeDeleted), $3 (Active) and $4 (Seat).
const userFilterSQL = `team_id = $1 AND ($2 OR NOT deleted) AND ($3::boolean IS NULL OR active = $3)
	AND ($4::boolean IS NULL OR seat = $4)`

// ListUsers implements store.Tx. The total comes from the maintained counts; the page is
// read in ID order on the primary key.
func (x *tx) ListUsers(ctx context.Context, f store.UserFilter, o store.ListOptions) (store.Page[store.User], error) {
	if err := x.check(ctx, false); err != nil {
		return store.Page[store.User]{}, err
	}
	offset, limit := page(o)
	args := []any{x.teamID, f.IncludeDeleted, f.Active, f.Seat}
	return countThenPage(ctx, x, "list users", scanUser,
		`SELECT coalesce(sum(n), 0)::bigint FROM teamscim_user_counts WHERE `+userFilterSQL, args,
		`SELECT `+userCols+` FROM teamscim_users WHERE `+userFilterSQL+` AND id > $7 ORDER BY id OFFSET $5 LIMIT $6`,
		append(args, offset, limit, o.After))
}

// CountUsers implements store.Tx: it sums at most eight rows of the maintained counts.
func (x *tx) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	if err := x.check(ctx, false); err != nil {
		return 0, err
	}
	n, err := queryRow(ctx, x, "count users", scanInt,
		`SELECT coalesce(sum(n), 0)::bigint FROM teamscim_user_counts WHERE `+userFilterSQL,
		x.teamID, f.IncludeDeleted, f.Active, f.Seat)
	return int(n), err
}

// ---- groups ----

// CreateGroup implements store.Tx.
func (x *tx) CreateGroup(ctx context.Context, g store.Group) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if g.ID == "" {
		return errors.New("pgstore: group has no ID")
	}
	if err := checkGroup(g); err != nil {
		return err
	}
	tag, err := x.exec(ctx, "create group", `INSERT INTO teamscim_groups (team_id, display_name_key, `+groupCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		x.teamID, digestOf(g.DisplayName), g.ID, g.DisplayName, g.ExternalID, strs(g.Roles),
		ts(g.Created), ts(g.LastModified), g.Version, toAttributes(g.Attributes))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: group %q: ID or displayName %q: %w", g.ID, g.DisplayName, store.ErrConflict)
	}
	return nil
}

// GetGroup implements store.Tx.
func (x *tx) GetGroup(ctx context.Context, id string) (store.Group, error) {
	if err := x.check(ctx, false); err != nil {
		return store.Group{}, err
	}
	notFound := fmt.Errorf("pgstore: group %q: %w", id, store.ErrNotFound)
	if !storable(id) {
		return store.Group{}, notFound
	}
	g, err := queryRow(ctx, x, "get group", scanGroup,
		`SELECT `+groupCols+` FROM teamscim_groups WHERE team_id = $1 AND id = $2`, x.teamID, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Group{}, notFound
	}
	return g, err
}

// GetGroupByDisplayName implements store.Tx through the unique index on the displayName's
// digest.
func (x *tx) GetGroupByDisplayName(ctx context.Context, displayName string) (store.Group, error) {
	if err := x.check(ctx, false); err != nil {
		return store.Group{}, err
	}
	g, err := queryRow(ctx, x, "get group by displayName", scanGroup,
		`SELECT `+groupCols+` FROM teamscim_groups WHERE team_id = $1 AND display_name_key = $2`,
		x.teamID, digestOf(displayName))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && g.DisplayName != displayName) {
		return store.Group{}, fmt.Errorf("pgstore: group displayName %q: %w", displayName, store.ErrNotFound)
	}
	return g, err
}

// UpdateGroup implements store.Tx. Memberships are not touched.
func (x *tx) UpdateGroup(ctx context.Context, g store.Group) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	notFound := fmt.Errorf("pgstore: group %q: %w", g.ID, store.ErrNotFound)
	if !storable(g.ID) {
		return notFound
	}
	if err := checkGroup(g); err != nil {
		return err
	}
	key := digestOf(g.DisplayName)
	tag, err := x.exec(ctx, "update group", `UPDATE teamscim_groups SET display_name_key = $3, display_name = $4,
		external_id = $5, roles = $6, created = $7, last_modified = $8, version = $9, attributes = $10
		WHERE team_id = $1 AND id = $2 AND NOT EXISTS (
			SELECT 1 FROM teamscim_groups o WHERE o.team_id = $1 AND o.display_name_key = $3 AND o.id <> $2)`,
		x.teamID, g.ID, key, g.DisplayName, g.ExternalID, strs(g.Roles), ts(g.Created), ts(g.LastModified), g.Version,
		toAttributes(g.Attributes))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	exists, err := queryRow(ctx, x, "update group", scanBool,
		`SELECT EXISTS (SELECT 1 FROM teamscim_groups WHERE team_id = $1 AND id = $2)`, x.teamID, g.ID)
	switch {
	case err != nil:
		return err
	case !exists:
		return notFound
	default:
		return fmt.Errorf("pgstore: group %q: displayName %q: %w", g.ID, g.DisplayName, store.ErrConflict)
	}
}

// DeleteGroup implements store.Tx. Its memberships go with it (ON DELETE CASCADE), at a
// cost of O(members).
func (x *tx) DeleteGroup(ctx context.Context, id string) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	notFound := fmt.Errorf("pgstore: group %q: %w", id, store.ErrNotFound)
	if !storable(id) {
		return notFound
	}
	return x.execOne(ctx, notFound, "delete group", `DELETE FROM teamscim_groups WHERE team_id = $1 AND id = $2`, x.teamID, id)
}

// ListGroups implements store.Tx.
func (x *tx) ListGroups(ctx context.Context, o store.ListOptions) (store.Page[store.Group], error) {
	if err := x.check(ctx, false); err != nil {
		return store.Page[store.Group]{}, err
	}
	offset, limit := page(o)
	return countThenPage(ctx, x, "list groups", scanGroup,
		`SELECT count(*) FROM teamscim_groups WHERE team_id = $1`, []any{x.teamID},
		`SELECT `+groupCols+` FROM teamscim_groups WHERE team_id = $1 AND id > $4 ORDER BY id OFFSET $2 LIMIT $3`,
		[]any{x.teamID, offset, limit, o.After})
}

// ---- members ----

// memberChange is the result of AddMembers and RemoveMembers: whether the group exists and
// how many memberships changed.
type memberChange struct {
	exists  bool
	changed []string // the user IDs added or removed, in ascending order
}

func scanMemberChange(r scanner) (memberChange, error) {
	var c memberChange
	err := r.Scan(&c.exists, &c.changed)
	return c, err
}

// checkIDs returns an error if an ID of ids cannot be stored.
func checkIDs(ids []string) error { return checkStrings("user IDs", ids...) }

// AddMembers implements store.Tx with one INSERT of the new rows, returning their user IDs:
// O(len(userIDs)).
func (x *tx) AddMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	if err := x.check(ctx, true); err != nil {
		return nil, err
	}
	notFound := fmt.Errorf("pgstore: group %q: %w", groupID, store.ErrNotFound)
	if !storable(groupID) {
		return nil, notFound
	}
	if err := checkIDs(userIDs); err != nil {
		return nil, err
	}
	c, err := queryRow(ctx, x, "add members", scanMemberChange, `WITH g AS (
			SELECT 1 FROM teamscim_groups WHERE team_id = $1 AND id = $2
		), ins AS (
			INSERT INTO teamscim_members (team_id, group_id, user_id)
			SELECT $1, $2, u FROM unnest($3::text[]) AS u WHERE EXISTS (SELECT 1 FROM g)
			ON CONFLICT DO NOTHING
			RETURNING user_id
		)
		SELECT EXISTS (SELECT 1 FROM g), array(SELECT user_id FROM ins ORDER BY user_id)`, x.teamID, groupID, strs(userIDs))
	if err != nil {
		return nil, err
	}
	if !c.exists {
		return nil, notFound
	}
	return c.changed, nil
}

// RemoveMembers implements store.Tx with one DELETE of the rows named, returning their user
// IDs: O(len(userIDs)).
func (x *tx) RemoveMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	if err := x.check(ctx, true); err != nil {
		return nil, err
	}
	notFound := fmt.Errorf("pgstore: group %q: %w", groupID, store.ErrNotFound)
	if !storable(groupID) {
		return nil, notFound
	}
	if err := checkIDs(userIDs); err != nil {
		return nil, err
	}
	c, err := queryRow(ctx, x, "remove members", scanMemberChange, `WITH g AS (
			SELECT 1 FROM teamscim_groups WHERE team_id = $1 AND id = $2
		), del AS (
			DELETE FROM teamscim_members WHERE team_id = $1 AND group_id = $2 AND user_id = ANY ($3::text[])
			RETURNING user_id
		)
		SELECT EXISTS (SELECT 1 FROM g), array(SELECT user_id FROM del ORDER BY user_id)`, x.teamID, groupID, strs(userIDs))
	if err != nil {
		return nil, err
	}
	if !c.exists {
		return nil, notFound
	}
	return c.changed, nil
}

// memberPage is a page of members and whether the group exists.
type memberPage struct {
	exists bool
	page   store.Page[string]
}

func scanMemberPage(r scanner) (memberPage, error) {
	var p memberPage
	var total int64
	err := r.Scan(&p.exists, &total, &p.page.Items)
	p.page.Total = int(total)
	return p, err
}

// ListMembers implements store.Tx in one statement on the membership primary key.
func (x *tx) ListMembers(ctx context.Context, groupID string, o store.ListOptions) (store.Page[string], error) {
	if err := x.check(ctx, false); err != nil {
		return store.Page[string]{}, err
	}
	notFound := fmt.Errorf("pgstore: group %q: %w", groupID, store.ErrNotFound)
	if !storable(groupID) {
		return store.Page[string]{}, notFound
	}
	offset, limit := page(o)
	p, err := queryRow(ctx, x, "list members", scanMemberPage, `SELECT
			EXISTS (SELECT 1 FROM teamscim_groups WHERE team_id = $1 AND id = $2),
			(SELECT count(*) FROM teamscim_members WHERE team_id = $1 AND group_id = $2),
			ARRAY (SELECT user_id FROM teamscim_members WHERE team_id = $1 AND group_id = $2
				ORDER BY user_id OFFSET $3 LIMIT $4)`, x.teamID, groupID, offset, limit)
	if err != nil {
		return store.Page[string]{}, err
	}
	if !p.exists {
		return store.Page[string]{}, notFound
	}
	return p.page, nil
}

// GroupsOf implements store.Tx through the (team, user, group) index.
func (x *tx) GroupsOf(ctx context.Context, userID string) ([]string, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	if !storable(userID) {
		return []string{}, nil
	}
	ids, err := queryAll(ctx, x, "groups of user", scanString,
		`SELECT group_id FROM teamscim_members WHERE team_id = $1 AND user_id = $2 ORDER BY group_id`, x.teamID, userID)
	if err == nil && ids == nil {
		ids = []string{}
	}
	return ids, err
}

func scanString(r scanner) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

// ---- overage records ----

// CreateOverage implements store.Tx.
func (x *tx) CreateOverage(ctx context.Context, o store.Overage) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if o.ID == "" {
		return errors.New("pgstore: overage record has no ID")
	}
	if err := checkStrings("overage record", o.ID, o.UserID, o.Policy); err != nil {
		return err
	}
	tag, err := x.exec(ctx, "create overage record", `INSERT INTO teamscim_overages (team_id, `+overageCols+`)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		x.teamID, o.ID, o.UserID, o.Policy, ts(o.Added), ts(o.Released))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: overage record %q: %w", o.ID, store.ErrConflict)
	}
	return nil
}

// UpdateOverage implements store.Tx.
func (x *tx) UpdateOverage(ctx context.Context, o store.Overage) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	notFound := fmt.Errorf("pgstore: overage record %q: %w", o.ID, store.ErrNotFound)
	if !storable(o.ID) {
		return notFound
	}
	if err := checkStrings("overage record", o.UserID, o.Policy); err != nil {
		return err
	}
	return x.execOne(ctx, notFound, "update overage record", `UPDATE teamscim_overages SET user_id = $3, policy = $4,
		added = $5, released = $6 WHERE team_id = $1 AND id = $2`,
		x.teamID, o.ID, o.UserID, o.Policy, ts(o.Added), ts(o.Released))
}

// ListOverages implements store.Tx.
func (x *tx) ListOverages(ctx context.Context, f store.OverageFilter, o store.ListOptions) (store.Page[store.Overage], error) {
	if err := x.check(ctx, false); err != nil {
		return store.Page[store.Overage]{}, err
	}
	offset, limit := page(o)
	const where = `team_id = $1 AND (NOT $2 OR released IS NULL)`
	return countThenPage(ctx, x, "list overage records", scanOverage,
		`SELECT count(*) FROM teamscim_overages WHERE `+where, []any{x.teamID, f.Open},
		`SELECT `+overageCols+` FROM teamscim_overages WHERE `+where+` ORDER BY id OFFSET $3 LIMIT $4`,
		[]any{x.teamID, f.Open, offset, limit})
}

// ---- jobs ----

// CreateJob implements store.Tx. Its INSERT is deferred, as CreateUser's is.
func (x *tx) CreateJob(ctx context.Context, j store.Job) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if j.ID == "" {
		return errors.New("pgstore: job has no ID")
	}
	if err := checkStrings("job", j.ID, j.UserID, j.Kind, j.LastError); err != nil {
		return err
	}
	const insert = `INSERT INTO teamscim_jobs (team_id, ` + jobCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	args := []any{x.teamID, j.ID, j.UserID, j.Kind, slices.Clone(bytesOf(j.Data)), int64(j.Attempts), j.LastError,
		ts(j.Created), ts(j.NextAttempt)}
	if deferred, err := x.deferWrite(fmt.Sprintf("create job %q", j.ID), insert, args...); deferred || err != nil {
		return err
	}
	tag, err := x.exec(ctx, "create job", insert+` ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: job %q: %w", j.ID, store.ErrConflict)
	}
	return nil
}

// UpdateJob implements store.Tx and store.JobTx.
func (x *tx) UpdateJob(ctx context.Context, j store.Job) error {
	if err := x.checkJob(ctx, true); err != nil {
		return err
	}
	if x.jobsOf != "" && j.UserID != x.jobsOf {
		return fmt.Errorf("pgstore: job %q: UpdateJobs of member %q cannot give it to another", j.ID, x.jobsOf)
	}
	notFound := fmt.Errorf("pgstore: job %q: %w", j.ID, store.ErrNotFound)
	if !storable(j.ID) {
		return notFound
	}
	if err := checkStrings("job", j.UserID, j.Kind, j.LastError); err != nil {
		return err
	}
	where := `team_id = $1 AND id = $2`
	if x.jobsOf != "" {
		where += ` AND user_id = $3` // the member's job, and it stays theirs
	}
	update := `UPDATE teamscim_jobs SET user_id = $3, kind = $4, data = $5, attempts = $6,
		last_error = $7, created = $8, next_attempt = $9 WHERE ` + where
	if x.jobLocked(j.ID, false) {
		_, err := x.deferWrite(fmt.Sprintf("update job %q", j.ID), update,
			x.teamID, j.ID, j.UserID, j.Kind, slices.Clone(bytesOf(j.Data)), int64(j.Attempts), j.LastError, ts(j.Created), ts(j.NextAttempt))
		return err
	}
	return x.execOne(ctx, notFound, "update job", update,
		x.teamID, j.ID, j.UserID, j.Kind, bytesOf(j.Data), int64(j.Attempts), j.LastError, ts(j.Created), ts(j.NextAttempt))
}

// DeleteJob implements store.Tx and store.JobTx.
func (x *tx) DeleteJob(ctx context.Context, id string) error {
	if err := x.checkJob(ctx, true); err != nil {
		return err
	}
	notFound := fmt.Errorf("pgstore: job %q: %w", id, store.ErrNotFound)
	if !storable(id) {
		return notFound
	}
	del, args := `DELETE FROM teamscim_jobs WHERE team_id = $1 AND id = $2`, []any{x.teamID, id}
	if x.jobsOf != "" {
		del, args = del+` AND user_id = $3`, append(args, x.jobsOf)
	}
	if x.jobLocked(id, true) {
		_, err := x.deferWrite(fmt.Sprintf("delete job %q", id), del, args...)
		return err
	}
	return x.execOne(ctx, notFound, "delete job", del, args...)
}

// jobLocked reports whether the transaction holds job id's row (see tx.lockedJobs), and
// forgets it if forget is set (the job is being deleted).
func (x *tx) jobLocked(id string, forget bool) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	locked := x.lockedJobs[id]
	if locked && forget {
		delete(x.lockedJobs, id)
	}
	return locked
}

// ListJobs implements store.Tx and store.JobTx. In a write transaction it locks the jobs it
// returns (FOR UPDATE) until the transaction ends: two transactions that read a member's jobs
// to claim one take turns, whether or not they hold the team's lock (see Store.UpdateJobs).
func (x *tx) ListJobs(ctx context.Context, userID string) ([]store.Job, error) {
	if err := x.checkJob(ctx, false); err != nil {
		return nil, err
	}
	if x.jobsOf != "" && userID != x.jobsOf {
		return nil, fmt.Errorf("pgstore: UpdateJobs of member %q lists that member's jobs only", x.jobsOf)
	}
	lock := ""
	if x.write {
		lock = ` FOR UPDATE`
	}
	var jobs []store.Job
	var err error
	if userID == "" {
		jobs, err = queryAll(ctx, x, "list jobs", scanJob,
			`SELECT `+jobCols+` FROM teamscim_jobs WHERE team_id = $1 ORDER BY id`+lock, x.teamID)
	} else {
		if !storable(userID) {
			return []store.Job{}, nil
		}
		jobs, err = queryAll(ctx, x, "list jobs", scanJob,
			`SELECT `+jobCols+` FROM teamscim_jobs WHERE team_id = $1 AND user_id = $2 ORDER BY id`+lock, x.teamID, userID)
	}
	if err == nil && jobs == nil {
		jobs = []store.Job{}
	}
	if err == nil && x.write && len(jobs) > 0 {
		x.mu.Lock()
		if x.lockedJobs == nil {
			x.lockedJobs = make(map[string]bool, len(jobs))
		}
		for _, j := range jobs {
			x.lockedJobs[j.ID] = true
		}
		x.mu.Unlock()
	}
	return jobs, err
}
