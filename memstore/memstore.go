// Package memstore is an in-memory implementation of store.Store, for tests, demos and
// single-process deployments that can afford to lose their data on restart.
//
//	s := memstore.New()
//	err := s.CreateTeam(ctx, store.Team{ID: "team-1", Name: "Acme"})
//
// # Locking
//
// A store-level RWMutex guards the map of teams and the store-wide index of API key digests.
// Each team has its own RWMutex: View holds the team's read lock and Update its write lock for
// the whole of fn, so Updates of one team are serialised, Views of a team see a consistent
// snapshot, and different teams never wait for each other. LookupKey reads only the store-wide
// digest index; ViewByKey reads it, then views the key's team. Lock order is
// team, then store; nothing holds the store lock while it takes a team lock.
//
// # Transactions
//
// An Update does not copy the team. It stages its writes in an overlay (users, groups and keys
// by ID, the team record, membership changes, and the index entries its writes change, with
// tombstones for entries they remove) that the transaction's own reads consult before the team.
// The externalId and email indexes, which map an externalId or a folded email to the IDs of
// the users that have it (neither is unique), are staged like memberships: per (key, user ID)
// pair, added or removed, so that a rename moves one ID between two sets in O(1). Committed,
// they hold a key's single ID inline and make a set only for a key several users share. The
// email index leaves out the email that folds to the user's own userName (the common single
// email): UsersByEmail finds that one through the userName index, so it costs nothing.
// If fn returns nil the overlay is applied to the team; otherwise it is dropped. The cost of an
// Update is therefore proportional to what fn reads and writes, not to the size of the team
// (the IDs an Update creates are sorted once, when a list needs them or at commit, so an
// Update creating k users costs O(k log k)). The exceptions are inherent: DeleteGroup costs
// O(members) at commit, DeleteUser O(groups of the user), and lists cost what they cost in a
// View.
//
// A DeleteTeam commits by removing the team from the store's map and its keys from the digest
// index (O(keys)), and marks the team gone for the Views and Updates that were waiting for
// its lock; the rest of the team is left to the garbage collector.
//
// fn runs exactly once. If fn panics, the panic propagates and nothing is written.
//
// # Cost of reads
//
// Lookups by ID, folded userName, displayName and digest are map lookups. UsersByExternalID
// and UsersByEmail are map lookups that collect and sort the IDs sharing the key: O(k log k)
// for k such users, whatever the size of the team.
// CountUsers is O(1) (the team keeps a count per Deleted/Active/Seat combination). ListUsers
// and ListGroups walk the IDs in order (kept in an idList), so a page costs O(offset + limit)
// plus the users a filter skips. ListMembers sorts the group's member IDs on every call,
// O(m log m) for m members; GroupsOf sorts the user's group IDs. ListJobs of a user reads an
// index by user and sorts what it returns; ListOverages walks the records in ID order (the
// open ones only, with OverageFilter.Open); TeamsWithJobs visits every team.
//
// # Values
//
// Every value is copied in and out (slices included; User.Attributes and Group.Attributes are
// kept as the bytes given, compact as the root package writes them). Times are truncated to the millisecond
// and converted to UTC when written.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teamscim/teamscim/store"
)

var _ store.Store = (*Store)(nil)

// Store is an in-memory store.Store. The zero value is not usable; call New.
// A Store is safe for concurrent use.
type Store struct {
	mu    sync.RWMutex
	teams map[string]*team
	// keys indexes every committed API key of every team by digest. It holds the key itself,
	// so that LookupKey needs no team lock.
	keys map[[32]byte]store.APIKey
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		teams: make(map[string]*team),
		keys:  make(map[[32]byte]store.APIKey),
	}
}

// team is one team's committed state, guarded by mu.
type team struct {
	id string // immutable copy of rec.ID, readable without mu
	mu sync.RWMutex
	// gone is set, under mu, when an Update deleted the team: a View or Update that took the
	// team from the map before then finds it gone once it has the lock.
	gone bool

	rec  store.Team
	keys map[string]store.APIKey // by key ID

	users      map[string]store.User // by ID
	userByName map[string]string     // store.Fold(UserName) → user ID
	userByExt  multiIndex            // non-empty ExternalID → IDs of the users that have it
	// userByEmail indexes the folded values of the users' emails, except a value that folds
	// to the user's own folded userName: UsersByEmail finds that one through userByName, so
	// that the common single email equal to the userName costs no index entry.
	userByEmail multiIndex
	userIDs     idList
	userCounts  counts

	groups      map[string]store.Group // by ID
	groupByName map[string]string      // DisplayName → group ID
	groupIDs    idList

	members  map[string]map[string]struct{} // group ID → member user IDs
	memberOf map[string]map[string]struct{} // user ID → group IDs

	overages   map[string]store.Overage       // by ID
	overageIDs idList                         // every overage record
	openIDs    idList                         // the records not released
	jobs       map[string]store.Job           // by ID
	jobsOf     map[string]map[string]struct{} // user ID → IDs of the user's jobs
}

// counts holds the number of users in each [Deleted][Active][Seat] combination; all of
// store.UserFilter's fields select on those flags, so any filter's count is a sum of cells.
type counts [2][2][2]int

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// add adds n to u's cell.
func (c *counts) add(u store.User, n int) {
	c[b2i(u.Deleted)][b2i(u.Active)][b2i(u.Seat)] += n
}

// count returns the number of users f matches, counting c plus delta.
func (c *counts) count(delta *counts, f store.UserFilter) int {
	n := 0
	for d := range 2 {
		for a := range 2 {
			for st := range 2 {
				if f.Matches(store.User{Deleted: d == 1, Active: a == 1, Seat: st == 1}) {
					n += c[d][a][st] + delta[d][a][st]
				}
			}
		}
	}
	return n
}

// merge adds delta to c.
func (c *counts) merge(delta *counts) {
	for d := range 2 {
		for a := range 2 {
			for st := range 2 {
				c[d][a][st] += delta[d][a][st]
			}
		}
	}
}

// Errors that are not store sentinels.
var (
	errReadOnly = errors.New("memstore: write in a read-only transaction")
	errClosed   = errors.New("memstore: transaction used after its function returned")
	errNilFunc  = errors.New("memstore: nil transaction function")
	errNilCtx   = errors.New("memstore: nil context")
)

func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return errNilCtx
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// ms normalises a time as the store keeps it: truncated to the millisecond, in UTC.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

func copyTeam(t store.Team) store.Team {
	t.SSOMethods = slices.Clone(t.SSOMethods)
	t.VerifiedDomains = slices.Clone(t.VerifiedDomains)
	return t
}

func normTeam(t store.Team) store.Team {
	t = copyTeam(t)
	t.Created = ms(t.Created)
	return t
}

func copyUser(u store.User) store.User {
	u.Roles = slices.Clone(u.Roles)
	u.Emails = slices.Clone(u.Emails)
	u.Attributes = slices.Clone(u.Attributes)
	return u
}

// normUser is the copy of u that the store keeps: its own slices, times in milliseconds, and
// its strings packed into one (see packStrings).
func normUser(u store.User) store.User {
	u = copyUser(u)
	u.Created = ms(u.Created)
	u.LastModified = ms(u.LastModified)
	packUser(&u)
	return u
}

// packUser makes u's strings substrings of one string: a stored user is then a few objects
// for the garbage collector to visit, not one per field, which is most of the collector's
// work at 100,000 users, and no string wastes the rest of its size class.
func packUser(u *store.User) {
	n := len(u.ID) + len(u.UserName) + len(u.ExternalID) + len(u.GivenName) + len(u.FamilyName) +
		len(u.MiddleName) + len(u.Formatted) + len(u.DisplayName) + len(u.Locale)
	for _, e := range u.Emails {
		n += len(e.Value) + len(e.Type) + len(e.Display)
	}
	for _, r := range u.Roles {
		n += len(r)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range [...]string{u.ID, u.UserName, u.ExternalID, u.GivenName, u.FamilyName, u.MiddleName,
		u.Formatted, u.DisplayName, u.Locale} {
		b.WriteString(s)
	}
	for _, e := range u.Emails {
		b.WriteString(e.Value)
		b.WriteString(e.Type)
		b.WriteString(e.Display)
	}
	for _, r := range u.Roles {
		b.WriteString(r)
	}
	p := packed{all: b.String()}
	u.ID, u.UserName, u.ExternalID = p.take(u.ID), p.take(u.UserName), p.take(u.ExternalID)
	u.GivenName, u.FamilyName, u.MiddleName = p.take(u.GivenName), p.take(u.FamilyName), p.take(u.MiddleName)
	u.Formatted, u.DisplayName, u.Locale = p.take(u.Formatted), p.take(u.DisplayName), p.take(u.Locale)
	for i := range u.Emails {
		e := &u.Emails[i]
		e.Value, e.Type, e.Display = p.take(e.Value), p.take(e.Type), p.take(e.Display)
	}
	for i, r := range u.Roles {
		u.Roles[i] = p.take(r)
	}
}

// packed hands out, in order, the substrings of all that packUser wrote into it.
type packed struct {
	all string
	at  int
}

// take returns the next len(s) bytes of p.all, which hold a copy of s.
func (p *packed) take(s string) string {
	t := p.all[p.at : p.at+len(s)]
	p.at += len(s)
	return t
}

func copyGroup(g store.Group) store.Group {
	g.Roles = slices.Clone(g.Roles)
	g.Attributes = slices.Clone(g.Attributes)
	return g
}

func normGroup(g store.Group) store.Group {
	g = copyGroup(g)
	g.Created = ms(g.Created)
	g.LastModified = ms(g.LastModified)
	return g
}

func normOverage(o store.Overage) store.Overage {
	o.Added = ms(o.Added)
	o.Released = ms(o.Released)
	return o
}

func copyJob(j store.Job) store.Job {
	j.Data = slices.Clone(j.Data)
	return j
}

func normJob(j store.Job) store.Job {
	j = copyJob(j)
	j.Created = ms(j.Created)
	j.NextAttempt = ms(j.NextAttempt)
	return j
}

func normKey(k store.APIKey) store.APIKey {
	k.Created = ms(k.Created)
	k.LastUsed = ms(k.LastUsed)
	k.Expires = ms(k.Expires)
	return k
}

// CreateTeam implements store.Store.
func (s *Store) CreateTeam(ctx context.Context, t store.Team) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if t.ID == "" {
		return errors.New("memstore: team has no ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.teams[t.ID]; ok {
		return fmt.Errorf("memstore: team %q: %w", t.ID, store.ErrConflict)
	}
	s.teams[t.ID] = &team{
		id:          t.ID,
		rec:         normTeam(t),
		keys:        make(map[string]store.APIKey),
		users:       make(map[string]store.User),
		userByName:  make(map[string]string),
		userByExt:   make(multiIndex),
		userByEmail: make(multiIndex),
		groups:      make(map[string]store.Group),
		groupByName: make(map[string]string),
		members:     make(map[string]map[string]struct{}),
		memberOf:    make(map[string]map[string]struct{}),
		overages:    make(map[string]store.Overage),
		jobs:        make(map[string]store.Job),
		jobsOf:      make(map[string]map[string]struct{}),
	}
	return nil
}

// LookupKey implements store.Store.
func (s *Store) LookupKey(ctx context.Context, digest [32]byte) (store.APIKey, error) {
	if err := ctxErr(ctx); err != nil {
		return store.APIKey{}, err
	}
	s.mu.RLock()
	k, ok := s.keys[digest]
	s.mu.RUnlock()
	if !ok {
		return store.APIKey{}, fmt.Errorf("memstore: key digest: %w", store.ErrNotFound)
	}
	return k, nil
}

// TeamsWithJobs implements store.Store. It visits every team, taking each team's read lock.
func (s *Store) TeamsWithJobs(ctx context.Context) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	teams := make([]*team, 0, len(s.teams))
	for _, t := range s.teams {
		teams = append(teams, t)
	}
	s.mu.RUnlock()
	var ids []string
	for _, t := range teams {
		t.mu.RLock()
		n := len(t.jobs)
		t.mu.RUnlock()
		if n > 0 {
			ids = append(ids, t.id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// goneErr is the error of a use of a team that does not exist (any more).
func goneErr(teamID string) error {
	return fmt.Errorf("memstore: team %q: %w", teamID, store.ErrNotFound)
}

func (s *Store) team(teamID string) (*team, error) {
	s.mu.RLock()
	t, ok := s.teams[teamID]
	s.mu.RUnlock()
	if !ok {
		return nil, goneErr(teamID)
	}
	return t, nil
}

// View implements store.Store. fn runs under the team's read lock.
func (s *Store) View(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if fn == nil {
		return errNilFunc
	}
	t, err := s.team(teamID)
	if err != nil {
		return err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if err := ctxErr(ctx); err != nil { // cancelled while waiting for the lock
		return err
	}
	if t.gone {
		return goneErr(teamID)
	}
	x := &tx{s: s, t: t}
	defer x.closed.Store(true)
	return fn(ctx, x)
}

// ViewByKey implements store.Store: it finds the key's team in the store-wide digest index,
// then, under the team's read lock, reads the key, the team and the key's creator for check
// before fn runs.
func (s *Store) ViewByKey(ctx context.Context, digest [32]byte, check func(store.Access) error, fn func(ctx context.Context, tx store.Tx) error) error {
	if check == nil || fn == nil {
		return errNilFunc
	}
	k, err := s.LookupKey(ctx, digest)
	if err != nil {
		return err
	}
	var denied error
	err = s.View(ctx, k.TeamID, func(ctx context.Context, stx store.Tx) error {
		a, err := access(ctx, stx.(*tx), k.ID, digest)
		if err != nil {
			return err
		}
		if denied = check(a); denied != nil {
			return denied
		}
		return fn(ctx, stx)
	})
	if denied != nil {
		return denied
	}
	return err
}

// access reads, in tx, what the key keyID (whose digest must still be digest) gives access to.
func access(ctx context.Context, x *tx, keyID string, digest [32]byte) (store.Access, error) {
	var a store.Access
	var err error
	if a.Key, err = x.GetKey(ctx, keyID); err != nil || a.Key.Digest != digest {
		return a, fmt.Errorf("memstore: key digest: %w", store.ErrNotFound)
	}
	if a.Team, err = x.Team(ctx); err != nil {
		return a, err
	}
	// Not GetUser: a creator who is not a user (an admin who joined outside SCIM) is the
	// common case, and its ErrNotFound would cost an error value on every request.
	if u, ok := x.user(a.Key.CreatedBy); ok {
		a.Creator, a.CreatorFound = copyUser(u), true
	}
	return a, nil
}

// Update implements store.Store. fn runs once, under the team's write lock; its writes are
// applied if it returns nil and the context is still live.
func (s *Store) Update(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if fn == nil {
		return errNilFunc
	}
	t, err := s.team(teamID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if t.gone {
		return goneErr(teamID)
	}
	x := &tx{s: s, t: t, write: true} // its overlays are made on their first write (put)
	err = func() error {
		defer x.closed.Store(true)
		return fn(ctx, x)
	}()
	if err != nil {
		return err
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	return x.commit()
}

// UpdateJobs implements store.JobUpdater with an Update: in memory, the team's lock is held
// for so short a time that a lighter one would gain nothing. fn's tx has the member's jobs
// only, as the contract says, so that code run on memstore cannot come to rely on more.
func (s *Store) UpdateJobs(ctx context.Context, teamID, userID string, fn func(ctx context.Context, tx store.JobTx) error) error {
	if fn == nil {
		return errNilFunc
	}
	return s.Update(ctx, teamID, func(ctx context.Context, t store.Tx) error {
		return fn(ctx, memberJobs{x: t.(*tx), userID: userID})
	})
}

var _ store.JobUpdater = (*Store)(nil)

// memberJobs is an UpdateJobs transaction: the jobs of one member in an Update.
type memberJobs struct {
	x      *tx
	userID string
}

// UpdateJob implements store.JobTx.
func (m memberJobs) UpdateJob(ctx context.Context, j store.Job) error {
	if err := m.own(ctx, j.ID); err != nil {
		return err
	}
	if j.UserID != m.userID {
		return fmt.Errorf("memstore: job %q: UpdateJobs of member %q cannot give it to another", j.ID, m.userID)
	}
	return m.x.UpdateJob(ctx, j)
}

// DeleteJob implements store.JobTx.
func (m memberJobs) DeleteJob(ctx context.Context, id string) error {
	if err := m.own(ctx, id); err != nil {
		return err
	}
	return m.x.DeleteJob(ctx, id)
}

// ListJobs implements store.JobTx.
func (m memberJobs) ListJobs(ctx context.Context, userID string) ([]store.Job, error) {
	if userID != m.userID {
		return nil, fmt.Errorf("memstore: UpdateJobs of member %q lists that member's jobs only", m.userID)
	}
	return m.x.ListJobs(ctx, userID)
}

// own returns ErrNotFound unless job id is one of the member's.
func (m memberJobs) own(ctx context.Context, id string) error {
	if err := m.x.check(ctx, false); err != nil {
		return err
	}
	if j, ok := m.x.job(id); !ok || j.UserID != m.userID {
		return fmt.Errorf("memstore: job %q of member %q: %w", id, m.userID, store.ErrNotFound)
	}
	return nil
}

// tx is a transaction on one team. Its overlay maps start nil, and a View's stay so, so
// that reads go straight to the team; an Update makes each on its first write. In an Update,
// an entry in an overlay map replaces the team's entry for the same key; an empty ID in an
// index overlay, or a nil record, is a tombstone. The externalId overlay records, per
// externalId and user ID, whether the user has that externalId after the transaction (false
// is a tombstone for a committed pair).
//
// A tx is not safe for concurrent use by several goroutines within fn (a View's tx is, as
// it only reads).
type tx struct {
	s      *Store
	t      *team
	write  bool
	closed atomic.Bool

	rec     *store.Team // the team record, if updated
	deleted bool        // DeleteTeam was called: the commit deletes the team, nothing else

	users       map[string]*store.User // created, updated or (nil) deleted users
	newUserIDs  idSet                  // IDs of created users that the team does not have (some may be deleted again)
	userByName  map[string]string
	userByExt   staged // ExternalID → user ID → has it after the transaction
	userByEmail staged // folded email → user ID → has it after the transaction
	userDelta   counts

	groups      map[string]*store.Group
	newGroupIDs idSet // IDs of groups created here that the team does not have (some may be deleted again)
	groupByName map[string]string

	members map[string]*memberDelta // by group ID

	keys    map[string]*store.APIKey
	digests map[[32]byte]string // digest → key ID of this team

	overages map[string]*store.Overage // created or updated overage records
	jobs     map[string]*store.Job     // created, updated or (nil) deleted jobs
}

// put sets m[k] = v, and makes the map first if it is nil: an Update's overlays start nil and
// only those it writes are made, so that a create does not pay for eleven maps.
func put[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = make(map[K]V)
	}
	(*m)[k] = v
}

// memberDelta is a transaction's change to one group's memberships.
type memberDelta struct {
	// cleared discards the group's committed memberships (the group was deleted).
	cleared bool
	// set records, by user ID, whether the user is a member after the transaction.
	set map[string]bool
}

var _ store.Tx = (*tx)(nil)

// check returns the error a method must return before doing anything, if any.
func (x *tx) check(ctx context.Context, write bool) error {
	if x.closed.Load() {
		return errClosed
	}
	if write && !x.write {
		return errReadOnly
	}
	if x.deleted {
		return goneErr(x.t.id)
	}
	return ctxErr(ctx)
}

// ---- reads through the overlay ----

func (x *tx) team() store.Team {
	if x.rec != nil {
		return *x.rec
	}
	return x.t.rec
}

func (x *tx) user(id string) (store.User, bool) {
	if u, ok := x.users[id]; ok {
		if u == nil {
			return store.User{}, false
		}
		return *u, true
	}
	u, ok := x.t.users[id]
	return u, ok
}

func lookupIndex(overlay, live map[string]string, k string) (string, bool) {
	if id, ok := overlay[k]; ok {
		return id, id != ""
	}
	id, ok := live[k]
	return id, ok
}

// emailKeys returns the keys under which userByEmail indexes u: the folded values of its
// emails, without the one that folds to its folded userName.
func emailKeys(u store.User) []string {
	if len(u.Emails) == 0 {
		return nil
	}
	name := store.Fold(u.UserName)
	var keys []string
	for _, e := range u.Emails {
		if k := store.Fold(e.Value); k != "" && k != name && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// indexUser stages u's externalId and email index entries (has) or their removal.
func (x *tx) indexUser(u store.User, has bool) {
	x.userByExt.set(u.ExternalID, u.ID, has)
	for _, k := range emailKeys(u) {
		x.userByEmail.set(k, u.ID, has)
	}
}

// reindexUser stages the index changes of an update from old to u, if there are any.
func (x *tx) reindexUser(old, u store.User) {
	if old.ExternalID != u.ExternalID {
		x.userByExt.set(old.ExternalID, u.ID, false)
		x.userByExt.set(u.ExternalID, u.ID, true)
	}
	if oldKeys, keys := emailKeys(old), emailKeys(u); !slices.Equal(oldKeys, keys) {
		for _, k := range oldKeys {
			x.userByEmail.set(k, u.ID, false)
		}
		for _, k := range keys {
			x.userByEmail.set(k, u.ID, true)
		}
	}
}

func (x *tx) group(id string) (store.Group, bool) {
	if g, ok := x.groups[id]; ok {
		if g == nil {
			return store.Group{}, false
		}
		return *g, true
	}
	g, ok := x.t.groups[id]
	return g, ok
}

func (x *tx) key(id string) (store.APIKey, bool) {
	if k, ok := x.keys[id]; ok {
		if k == nil {
			return store.APIKey{}, false
		}
		return *k, true
	}
	k, ok := x.t.keys[id]
	return k, ok
}

func (x *tx) isMember(groupID, userID string) bool {
	if d := x.members[groupID]; d != nil {
		if v, ok := d.set[userID]; ok {
			return v
		}
		if d.cleared {
			return false
		}
	}
	_, ok := x.t.members[groupID][userID]
	return ok
}

// delta returns the group's membership delta, creating it.
func (x *tx) delta(groupID string) *memberDelta {
	d := x.members[groupID]
	if d == nil {
		d = &memberDelta{set: make(map[string]bool)}
		put(&x.members, groupID, d)
	}
	return d
}

// ---- team ----

// Team implements store.Tx.
func (x *tx) Team(ctx context.Context) (store.Team, error) {
	if err := x.check(ctx, false); err != nil {
		return store.Team{}, err
	}
	return copyTeam(x.team()), nil
}

// UpdateTeam implements store.Tx. t.ID must be the team's ID.
func (x *tx) UpdateTeam(ctx context.Context, t store.Team) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if t.ID != x.t.id {
		return fmt.Errorf("memstore: team %q: cannot change the ID to %q", x.t.id, t.ID)
	}
	t = normTeam(t)
	x.rec = &t
	return nil
}

// DeleteTeam implements store.Tx. The team goes at commit, with every index entry of its keys.
func (x *tx) DeleteTeam(ctx context.Context) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	x.deleted = true
	return nil
}

// deleteTeam removes the team from the store and marks it gone, for the Views and Updates
// waiting for its lock. The caller holds the team's write lock.
func (x *tx) deleteTeam() {
	s, t := x.s, x.t
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range t.keys {
		if g, ok := s.keys[k.Digest]; ok && g.TeamID == t.id {
			delete(s.keys, k.Digest)
		}
	}
	delete(s.teams, t.id)
	t.gone = true
}

// ---- keys ----

// CreateKey implements store.Tx. k.TeamID must be the team's ID.
func (x *tx) CreateKey(ctx context.Context, k store.APIKey) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if k.ID == "" {
		return errors.New("memstore: key has no ID")
	}
	if k.TeamID != x.t.id {
		return fmt.Errorf("memstore: key %q: team ID %q is not the transaction's team %q", k.ID, k.TeamID, x.t.id)
	}
	if _, ok := x.key(k.ID); ok {
		return fmt.Errorf("memstore: key %q: %w", k.ID, store.ErrConflict)
	}
	if id, ok := x.digests[k.Digest]; ok {
		if id != "" {
			return fmt.Errorf("memstore: key %q: digest: %w", k.ID, store.ErrConflict)
		}
		// Freed by a DeleteKey of this transaction; the store-wide index still holds
		// the deleted key until commit.
	} else {
		x.s.mu.RLock()
		_, taken := x.s.keys[k.Digest]
		x.s.mu.RUnlock()
		if taken {
			return fmt.Errorf("memstore: key %q: digest: %w", k.ID, store.ErrConflict)
		}
	}
	k = normKey(k)
	put(&x.keys, k.ID, &k)
	put(&x.digests, k.Digest, k.ID)
	return nil
}

// GetKey implements store.Tx.
func (x *tx) GetKey(ctx context.Context, id string) (store.APIKey, error) {
	if err := x.check(ctx, false); err != nil {
		return store.APIKey{}, err
	}
	k, ok := x.key(id)
	if !ok {
		return store.APIKey{}, fmt.Errorf("memstore: key %q: %w", id, store.ErrNotFound)
	}
	return k, nil
}

// UpdateKey implements store.Tx. It copies k's Name, Status, LastUsed and Expires onto the
// stored key and ignores k's other fields.
func (x *tx) UpdateKey(ctx context.Context, k store.APIKey) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	old, ok := x.key(k.ID)
	if !ok {
		return fmt.Errorf("memstore: key %q: %w", k.ID, store.ErrNotFound)
	}
	old.Name = k.Name
	old.Status = k.Status
	old.LastUsed = ms(k.LastUsed)
	old.Expires = ms(k.Expires)
	put(&x.keys, k.ID, &old)
	return nil
}

// DeleteKey implements store.Tx.
func (x *tx) DeleteKey(ctx context.Context, id string) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	old, ok := x.key(id)
	if !ok {
		return fmt.Errorf("memstore: key %q: %w", id, store.ErrNotFound)
	}
	put(&x.keys, id, nil)
	put(&x.digests, old.Digest, "")
	return nil
}

// ListKeys implements store.Tx.
func (x *tx) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	out := make([]store.APIKey, 0, len(x.t.keys)+len(x.keys))
	for id, k := range x.t.keys {
		if _, ok := x.keys[id]; !ok {
			out = append(out, k)
		}
	}
	for _, k := range x.keys {
		if k != nil {
			out = append(out, *k)
		}
	}
	slices.SortFunc(out, func(a, b store.APIKey) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ---- users ----

// CreateUser implements store.Tx.
func (x *tx) CreateUser(ctx context.Context, u store.User) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if u.ID == "" {
		return errors.New("memstore: user has no ID")
	}
	if _, ok := x.user(u.ID); ok {
		return fmt.Errorf("memstore: user %q: %w", u.ID, store.ErrConflict)
	}
	folded := store.Fold(u.UserName)
	if _, ok := lookupIndex(x.userByName, x.t.userByName, folded); ok {
		return fmt.Errorf("memstore: user %q: userName %q: %w", u.ID, u.UserName, store.ErrConflict)
	}
	u = normUser(u)
	_, live := x.t.users[u.ID]
	if _, seen := x.users[u.ID]; !live && !seen {
		x.newUserIDs.add(u.ID)
	}
	put(&x.users, u.ID, &u)
	put(&x.userByName, folded, u.ID)
	x.indexUser(u, true)
	x.userDelta.add(u, 1)
	return nil
}

// GetUser implements store.Tx.
func (x *tx) GetUser(ctx context.Context, id string) (store.User, error) {
	if err := x.check(ctx, false); err != nil {
		return store.User{}, err
	}
	u, ok := x.user(id)
	if !ok {
		return store.User{}, fmt.Errorf("memstore: user %q: %w", id, store.ErrNotFound)
	}
	return copyUser(u), nil
}

// GetUserByUserName implements store.Tx.
func (x *tx) GetUserByUserName(ctx context.Context, userName string) (store.User, error) {
	if err := x.check(ctx, false); err != nil {
		return store.User{}, err
	}
	if id, ok := lookupIndex(x.userByName, x.t.userByName, store.Fold(userName)); ok {
		if u, ok := x.user(id); ok {
			return copyUser(u), nil
		}
	}
	return store.User{}, errNoUserName
}

// errNoUserName is GetUserByUserName's ErrNotFound: every create looks the userName up and
// expects this, so it is one value (and names no email address).
var errNoUserName = fmt.Errorf("memstore: no user has that userName: %w", store.ErrNotFound)

// UsersByExternalID implements store.Tx. It costs O(k log k) for the k users that have
// externalID.
func (x *tx) UsersByExternalID(ctx context.Context, externalID string) ([]store.User, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	if externalID == "" {
		return []store.User{}, nil
	}
	ids := lookup(x.t.userByExt, x.userByExt, externalID)
	out := make([]store.User, 0, len(ids))
	for _, id := range ids {
		if u, ok := x.user(id); ok {
			out = append(out, copyUser(u))
		}
	}
	return out, nil
}

// UsersByEmail implements store.Tx. It costs O(k log k) for the k users that have the email.
func (x *tx) UsersByEmail(ctx context.Context, email string) ([]store.User, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	key := store.Fold(email)
	if key == "" {
		return []store.User{}, nil
	}
	ids := lookup(x.t.userByEmail, x.userByEmail, key)
	if id, ok := lookupIndex(x.userByName, x.t.userByName, key); ok {
		// The email that folds to the user's own userName is not in userByEmail.
		if u, ok := x.user(id); ok && slices.ContainsFunc(u.Emails, func(e store.Email) bool { return store.Fold(e.Value) == key }) {
			ids = append(ids, id)
			slices.Sort(ids)
		}
	}
	out := make([]store.User, 0, len(ids))
	for _, id := range ids {
		if u, ok := x.user(id); ok {
			out = append(out, copyUser(u))
		}
	}
	return out, nil
}

// UpdateUser implements store.Tx.
func (x *tx) UpdateUser(ctx context.Context, u store.User) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	old, ok := x.user(u.ID)
	if !ok {
		return fmt.Errorf("memstore: user %q: %w", u.ID, store.ErrNotFound)
	}
	folded, oldFolded := store.Fold(u.UserName), store.Fold(old.UserName)
	if owner, ok := lookupIndex(x.userByName, x.t.userByName, folded); ok && owner != u.ID {
		return fmt.Errorf("memstore: user %q: userName %q: %w", u.ID, u.UserName, store.ErrConflict)
	}
	u = normUser(u)
	if folded != oldFolded {
		put(&x.userByName, oldFolded, "")
		put(&x.userByName, folded, u.ID)
	}
	x.reindexUser(old, u)
	x.userDelta.add(old, -1)
	x.userDelta.add(u, 1)
	put(&x.users, u.ID, &u)
	return nil
}

// DeleteUser implements store.Tx. It costs O(g) for the g groups of the user.
func (x *tx) DeleteUser(ctx context.Context, id string) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	old, ok := x.user(id)
	if !ok {
		return fmt.Errorf("memstore: user %q: %w", id, store.ErrNotFound)
	}
	groups := x.groupsOf(id)
	for _, g := range groups {
		x.delta(g).set[id] = false
	}
	put(&x.userByName, store.Fold(old.UserName), "")
	x.indexUser(old, false)
	x.userDelta.add(old, -1)
	put(&x.users, id, nil) // ListUsers skips it; it may stay in newUserIDs
	return nil
}

// ListUsers implements store.Tx. It walks the users in ID order from the first (or, with
// ListOptions.After, from the cursor, found in O(log n)), so a page costs O(offset + limit)
// plus the users f skips; the total comes from the counts.
func (x *tx) ListUsers(ctx context.Context, f store.UserFilter, o store.ListOptions) (store.Page[store.User], error) {
	if err := x.check(ctx, false); err != nil {
		return store.Page[store.User]{}, err
	}
	total := x.t.userCounts.count(&x.userDelta, f)
	skip := max(o.Offset, 0)
	want := total - skip // matches left after the offset (at most, after a cursor)
	if o.Limit > 0 {
		want = min(want, o.Limit)
	}
	if want <= 0 {
		return store.Page[store.User]{Items: []store.User{}, Total: total}, nil
	}
	items := make([]store.User, 0, want)
	for id := range ascendFrom(&x.t.userIDs, x.newUserIDs.sorted(), o.After) {
		u, ok := x.user(id)
		if !ok || !f.Matches(u) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		items = append(items, copyUser(u))
		if len(items) == want {
			break
		}
	}
	return store.Page[store.User]{Items: items, Total: total}, nil
}

// CountUsers implements store.Tx in O(1).
func (x *tx) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	if err := x.check(ctx, false); err != nil {
		return 0, err
	}
	return x.t.userCounts.count(&x.userDelta, f), nil
}

// ---- groups ----

// CreateGroup implements store.Tx.
func (x *tx) CreateGroup(ctx context.Context, g store.Group) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if g.ID == "" {
		return errors.New("memstore: group has no ID")
	}
	if _, ok := x.group(g.ID); ok {
		return fmt.Errorf("memstore: group %q: %w", g.ID, store.ErrConflict)
	}
	if _, ok := lookupIndex(x.groupByName, x.t.groupByName, g.DisplayName); ok {
		return fmt.Errorf("memstore: group %q: displayName %q: %w", g.ID, g.DisplayName, store.ErrConflict)
	}
	_, live := x.t.groups[g.ID]
	if _, seen := x.groups[g.ID]; !live && !seen {
		x.newGroupIDs.add(g.ID)
	}
	g = normGroup(g)
	put(&x.groups, g.ID, &g)
	put(&x.groupByName, g.DisplayName, g.ID)
	return nil
}

// GetGroup implements store.Tx.
func (x *tx) GetGroup(ctx context.Context, id string) (store.Group, error) {
	if err := x.check(ctx, false); err != nil {
		return store.Group{}, err
	}
	g, ok := x.group(id)
	if !ok {
		return store.Group{}, fmt.Errorf("memstore: group %q: %w", id, store.ErrNotFound)
	}
	return copyGroup(g), nil
}

// GetGroupByDisplayName implements store.Tx.
func (x *tx) GetGroupByDisplayName(ctx context.Context, displayName string) (store.Group, error) {
	if err := x.check(ctx, false); err != nil {
		return store.Group{}, err
	}
	if id, ok := lookupIndex(x.groupByName, x.t.groupByName, displayName); ok {
		if g, ok := x.group(id); ok {
			return copyGroup(g), nil
		}
	}
	return store.Group{}, fmt.Errorf("memstore: group displayName %q: %w", displayName, store.ErrNotFound)
}

// UpdateGroup implements store.Tx.
func (x *tx) UpdateGroup(ctx context.Context, g store.Group) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	old, ok := x.group(g.ID)
	if !ok {
		return fmt.Errorf("memstore: group %q: %w", g.ID, store.ErrNotFound)
	}
	if owner, ok := lookupIndex(x.groupByName, x.t.groupByName, g.DisplayName); ok && owner != g.ID {
		return fmt.Errorf("memstore: group %q: displayName %q: %w", g.ID, g.DisplayName, store.ErrConflict)
	}
	g = normGroup(g)
	if g.DisplayName != old.DisplayName {
		put(&x.groupByName, old.DisplayName, "")
		put(&x.groupByName, g.DisplayName, g.ID)
	}
	put(&x.groups, g.ID, &g)
	return nil
}

// DeleteGroup implements store.Tx. It costs O(1) here and O(members) at commit.
func (x *tx) DeleteGroup(ctx context.Context, id string) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	old, ok := x.group(id)
	if !ok {
		return fmt.Errorf("memstore: group %q: %w", id, store.ErrNotFound)
	}
	put(&x.groups, id, nil) // ListGroups skips it; it may stay in newGroupIDs
	put(&x.groupByName, old.DisplayName, "")
	put(&x.members, id, &memberDelta{cleared: true, set: make(map[string]bool)})
	return nil
}

// ListGroups implements store.Tx. A page costs O(offset + limit).
func (x *tx) ListGroups(ctx context.Context, o store.ListOptions) (store.Page[store.Group], error) {
	if err := x.check(ctx, false); err != nil {
		return store.Page[store.Group]{}, err
	}
	total := len(x.t.groups)
	for id, g := range x.groups {
		_, live := x.t.groups[id]
		switch {
		case g != nil && !live:
			total++
		case g == nil && live:
			total--
		}
	}
	skip := max(o.Offset, 0)
	want := total - skip
	if o.Limit > 0 {
		want = min(want, o.Limit)
	}
	if want <= 0 {
		return store.Page[store.Group]{Items: []store.Group{}, Total: total}, nil
	}
	items := make([]store.Group, 0, want)
	for id := range ascendFrom(&x.t.groupIDs, x.newGroupIDs.sorted(), o.After) {
		g, ok := x.group(id)
		if !ok {
			continue // deleted in this transaction
		}
		if skip > 0 {
			skip--
			continue
		}
		items = append(items, copyGroup(g))
		if len(items) == want {
			break
		}
	}
	return store.Page[store.Group]{Items: items, Total: total}, nil
}

// ---- members ----

func (x *tx) groupExists(groupID string) error {
	if _, ok := x.group(groupID); !ok {
		return fmt.Errorf("memstore: group %q: %w", groupID, store.ErrNotFound)
	}
	return nil
}

// AddMembers implements store.Tx in O(k log k) for k = len(userIDs).
func (x *tx) AddMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	if err := x.check(ctx, true); err != nil {
		return nil, err
	}
	if err := x.groupExists(groupID); err != nil {
		return nil, err
	}
	added := []string{}
	for _, u := range userIDs {
		if !x.isMember(groupID, u) {
			x.delta(groupID).set[u] = true
			added = append(added, u)
		}
	}
	slices.Sort(added)
	return added, nil
}

// RemoveMembers implements store.Tx in O(k log k) for k = len(userIDs).
func (x *tx) RemoveMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	if err := x.check(ctx, true); err != nil {
		return nil, err
	}
	if err := x.groupExists(groupID); err != nil {
		return nil, err
	}
	removed := []string{}
	for _, u := range userIDs {
		if x.isMember(groupID, u) {
			x.delta(groupID).set[u] = false
			removed = append(removed, u)
		}
	}
	slices.Sort(removed)
	return removed, nil
}

// ListMembers implements store.Tx. It collects and sorts all of the group's member IDs on
// every call: O(m log m) for m members, whatever the page.
func (x *tx) ListMembers(ctx context.Context, groupID string, o store.ListOptions) (store.Page[string], error) {
	if err := x.check(ctx, false); err != nil {
		return store.Page[string]{}, err
	}
	if err := x.groupExists(groupID); err != nil {
		return store.Page[string]{}, err
	}
	live := x.t.members[groupID]
	d := x.members[groupID]
	ids := make([]string, 0, len(live))
	if d == nil || !d.cleared {
		for u := range live {
			if d != nil {
				if v, ok := d.set[u]; ok && !v {
					continue
				}
			}
			ids = append(ids, u)
		}
	}
	if d != nil {
		for u, v := range d.set {
			if _, isLive := live[u]; v && (d.cleared || !isLive) {
				ids = append(ids, u)
			}
		}
	}
	slices.Sort(ids)
	total := len(ids)
	lo := min(max(o.Offset, 0), total)
	hi := total
	if o.Limit > 0 {
		hi = min(lo+o.Limit, total)
	}
	return store.Page[string]{Items: slices.Clone(ids[lo:hi:hi]), Total: total}, nil
}

// GroupsOf implements store.Tx.
func (x *tx) GroupsOf(ctx context.Context, userID string) ([]string, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	return x.groupsOf(userID), nil
}

// groupsOf returns the IDs of the groups userID is a member of after the transaction's writes.
func (x *tx) groupsOf(userID string) []string {
	live := x.t.memberOf[userID]
	out := make([]string, 0, len(live))
	for g := range live {
		if x.isMember(g, userID) {
			out = append(out, g)
		}
	}
	for g, d := range x.members {
		if _, isLive := live[g]; d.set[userID] && !isLive {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// ---- overage records ----

func (x *tx) overage(id string) (store.Overage, bool) {
	if o, ok := x.overages[id]; ok {
		return *o, true
	}
	o, ok := x.t.overages[id]
	return o, ok
}

// CreateOverage implements store.Tx.
func (x *tx) CreateOverage(ctx context.Context, o store.Overage) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if o.ID == "" {
		return errors.New("memstore: overage record has no ID")
	}
	if _, ok := x.overage(o.ID); ok {
		return fmt.Errorf("memstore: overage %q: %w", o.ID, store.ErrConflict)
	}
	o = normOverage(o)
	put(&x.overages, o.ID, &o)
	return nil
}

// UpdateOverage implements store.Tx.
func (x *tx) UpdateOverage(ctx context.Context, o store.Overage) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if _, ok := x.overage(o.ID); !ok {
		return fmt.Errorf("memstore: overage %q: %w", o.ID, store.ErrNotFound)
	}
	o = normOverage(o)
	put(&x.overages, o.ID, &o)
	return nil
}

// ListOverages implements store.Tx. It walks the records in ID order (only the open ones for
// OverageFilter.Open), so a page costs O(offset + limit) plus what this transaction changed.
func (x *tx) ListOverages(ctx context.Context, f store.OverageFilter, o store.ListOptions) (store.Page[store.Overage], error) {
	if err := x.check(ctx, false); err != nil {
		return store.Page[store.Overage]{}, err
	}
	live, total := &x.t.overageIDs, x.t.overageIDs.Len()
	if f.Open {
		live, total = &x.t.openIDs, x.t.openIDs.Len()
	}
	// extra: the IDs this transaction makes match that the live list lacks.
	var extra []string
	for id, r := range x.overages {
		old, committed := x.t.overages[id]
		was, is := committed && f.Matches(old), f.Matches(*r)
		switch {
		case is && !was:
			extra = append(extra, id)
			total++
		case was && !is:
			total--
		}
	}
	slices.Sort(extra)
	skip := max(o.Offset, 0)
	want := total - skip
	if o.Limit > 0 {
		want = min(want, o.Limit)
	}
	items := []store.Overage{}
	if want <= 0 {
		return store.Page[store.Overage]{Items: items, Total: total}, nil
	}
	for id := range ascend(live, extra) {
		r, _ := x.overage(id)
		if !f.Matches(r) {
			continue // released by this transaction
		}
		if skip > 0 {
			skip--
			continue
		}
		items = append(items, r)
		if len(items) == want {
			break
		}
	}
	return store.Page[store.Overage]{Items: items, Total: total}, nil
}

// pageSlice returns the page o selects of items, a sorted slice the caller owns.
func pageSlice[T any](items []T, o store.ListOptions) store.Page[T] {
	total := len(items)
	lo := min(max(o.Offset, 0), total)
	hi := total
	if o.Limit > 0 {
		hi = min(lo+o.Limit, total)
	}
	return store.Page[T]{Items: items[lo:hi:hi], Total: total}
}

// ---- jobs ----

func (x *tx) job(id string) (store.Job, bool) {
	if j, ok := x.jobs[id]; ok {
		if j == nil {
			return store.Job{}, false
		}
		return *j, true
	}
	j, ok := x.t.jobs[id]
	return j, ok
}

// CreateJob implements store.Tx.
func (x *tx) CreateJob(ctx context.Context, j store.Job) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if j.ID == "" {
		return errors.New("memstore: job has no ID")
	}
	if _, ok := x.job(j.ID); ok {
		return fmt.Errorf("memstore: job %q: %w", j.ID, store.ErrConflict)
	}
	j = normJob(j)
	put(&x.jobs, j.ID, &j)
	return nil
}

// UpdateJob implements store.Tx.
func (x *tx) UpdateJob(ctx context.Context, j store.Job) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if _, ok := x.job(j.ID); !ok {
		return fmt.Errorf("memstore: job %q: %w", j.ID, store.ErrNotFound)
	}
	j = normJob(j)
	put(&x.jobs, j.ID, &j)
	return nil
}

// DeleteJob implements store.Tx.
func (x *tx) DeleteJob(ctx context.Context, id string) error {
	if err := x.check(ctx, true); err != nil {
		return err
	}
	if _, ok := x.job(id); !ok {
		return fmt.Errorf("memstore: job %q: %w", id, store.ErrNotFound)
	}
	put(&x.jobs, id, nil)
	return nil
}

// ListJobs implements store.Tx. For one user it costs O(k log k) for the user's k jobs plus
// the jobs this transaction changed (the team keeps an index by user); for the whole team,
// O(j log j) for its j jobs.
func (x *tx) ListJobs(ctx context.Context, userID string) ([]store.Job, error) {
	if err := x.check(ctx, false); err != nil {
		return nil, err
	}
	keep := func(j store.Job) bool { return userID == "" || j.UserID == userID }
	var out []store.Job
	if userID == "" {
		out = make([]store.Job, 0, len(x.t.jobs)+len(x.jobs))
		for id, j := range x.t.jobs {
			if _, ok := x.jobs[id]; !ok {
				out = append(out, copyJob(j))
			}
		}
	} else {
		out = make([]store.Job, 0, len(x.t.jobsOf[userID])+len(x.jobs))
		for id := range x.t.jobsOf[userID] {
			if _, ok := x.jobs[id]; !ok {
				out = append(out, copyJob(x.t.jobs[id]))
			}
		}
	}
	for _, j := range x.jobs {
		if j != nil && keep(*j) {
			out = append(out, copyJob(*j))
		}
	}
	slices.SortFunc(out, func(a, b store.Job) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ---- commit ----

// commit applies the overlay to the team. The caller holds the team's write lock. The only
// check left to make is that no other team has committed a key with one of the digests this
// transaction creates since CreateKey looked; it is made before anything is applied.
func (x *tx) commit() error {
	t := x.t
	if x.deleted {
		x.deleteTeam()
		return nil
	}
	if len(x.keys) > 0 {
		if err := x.commitKeys(); err != nil {
			return err
		}
	}
	if x.rec != nil {
		t.rec = *x.rec
	}

	for id, u := range x.users {
		if u == nil {
			if _, ok := t.users[id]; ok {
				delete(t.users, id)
				t.userIDs.Remove(id)
			}
			continue
		}
		if _, ok := t.users[id]; !ok {
			t.userIDs.Insert(id)
		}
		t.users[id] = *u
	}
	applyIndex(t.userByName, x.userByName)
	x.userByExt.apply(t.userByExt)
	x.userByEmail.apply(t.userByEmail)
	t.userCounts.merge(&x.userDelta)

	for id, g := range x.groups {
		if g == nil {
			if _, ok := t.groups[id]; ok {
				delete(t.groups, id)
				t.groupIDs.Remove(id)
			}
			continue
		}
		t.groups[id] = *g
		t.groupIDs.Insert(id)
	}
	applyIndex(t.groupByName, x.groupByName)

	for g, d := range x.members {
		if d.cleared {
			for u := range t.members[g] {
				unlink(t.memberOf, u, g)
			}
			delete(t.members, g)
		}
		for u, member := range d.set {
			if member {
				link(t.members, g, u)
				link(t.memberOf, u, g)
			} else {
				unlink(t.members, g, u)
				unlink(t.memberOf, u, g)
			}
		}
	}

	for id, o := range x.overages {
		t.overages[id] = *o
		t.overageIDs.Insert(id)
		if o.Released.IsZero() {
			t.openIDs.Insert(id)
		} else {
			t.openIDs.Remove(id)
		}
	}
	for id, j := range x.jobs {
		if old, ok := t.jobs[id]; ok {
			unlink(t.jobsOf, old.UserID, id)
		}
		if j == nil {
			delete(t.jobs, id)
		} else {
			t.jobs[id] = *j
			link(t.jobsOf, j.UserID, id)
		}
	}
	return nil
}

// commitKeys applies the key changes to the team and to the store-wide digest index.
func (x *tx) commitKeys() error {
	s, t := x.s, x.t
	s.mu.Lock()
	defer s.mu.Unlock()
	for d, id := range x.digests {
		if id == "" {
			continue
		}
		// This team's keys cannot have changed since CreateKey (we hold its lock), so an
		// entry of this team is one this transaction deletes; another team's is a conflict.
		if k, ok := s.keys[d]; ok && k.TeamID != t.id {
			return fmt.Errorf("memstore: key %q: digest: %w", id, store.ErrConflict)
		}
	}
	for id, k := range x.keys {
		if k != nil {
			continue
		}
		old, ok := t.keys[id]
		if !ok {
			continue // created and deleted in this transaction
		}
		delete(t.keys, id)
		if g, ok := s.keys[old.Digest]; ok && g.TeamID == t.id && g.ID == id {
			delete(s.keys, old.Digest)
		}
	}
	for id, k := range x.keys {
		if k != nil {
			t.keys[id] = *k
			s.keys[k.Digest] = *k
		}
	}
	return nil
}

// applyIndex applies an index overlay (empty ID: removed) to a committed index.
func applyIndex(live, overlay map[string]string) {
	for k, id := range overlay {
		if id == "" {
			delete(live, k)
		} else {
			live[k] = id
		}
	}
}

func link(m map[string]map[string]struct{}, a, b string) {
	set := m[a]
	if set == nil {
		set = make(map[string]struct{})
		m[a] = set
	}
	set[b] = struct{}{}
}

func unlink(m map[string]map[string]struct{}, a, b string) {
	set, ok := m[a]
	if !ok {
		return
	}
	delete(set, b)
	if len(set) == 0 {
		delete(m, a)
	}
}
