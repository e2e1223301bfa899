// Package store defines the persistence contract of teamscim: a Store holds teams, their SCIM API
// keys, users and groups, and makes each team's writes atomic.
//
// The contract is deliberately small and dumb. Stores store, index and serialise; every product
// rule (seats, deactivation, who may join a group) lives in the root package teamscim, which runs
// its decisions inside one Update so that they cannot race.
//
// # Scope and transactions
//
// Everything except teams and key lookup is scoped to one team. View runs fn read-only against a
// consistent snapshot of the team. Update runs fn and applies all of its writes if fn returns nil
// and none of them otherwise; Updates of the same team are serialised (across processes, for a
// shared database). fn may run more than once (a SQL store retries serialisation failures, and
// may run a View's fn again in a transaction of its own when fn reads more than it expected), so
// it must have no side effects outside tx, and it must not call the Store itself.
//
// A store may call fn before it knows that the team exists, so that it can send fn's first
// statement together with the start of the transaction. For a team that does not exist, every
// Tx method fails and View and Update return an error wrapping ErrNotFound, whatever fn returns.
//
// ViewByKey is a View of the team of an API key, found by the key's digest, in which the
// caller's check sees the key, its team and the key's creator (Access) before fn sees anything:
// a request's authentication and its reads in one transaction, which a SQL store can send in
// one round trip. The access is read afresh by every ViewByKey, in fn's transaction: a revoked
// key, a team that turned SCIM off or a creator who lost the admin role are seen by the next
// one, on any replica. (A store may remember which team a digest belongs to, since a key never
// changes team, but nothing that check decides on.)
//
// # Values and order
//
// Values passed in and returned are copies: changing a returned User never changes the store.
// Lists have a stable order (users, groups, overage records and jobs by ID, members by user ID)
// so that offset paging visits every record exactly once. Times are truncated to the
// millisecond and returned in UTC.
//
// # Derived fields
//
// Some fields are decisions of the root package that a store only keeps and indexes:
// User.Seat (the member holds a paid seat), User.ViaGroups (the member's only route into the
// team is group membership), User.Pending (an invitation not yet accepted). A store never
// computes them; it counts users by Seat (UserFilter.Seat) so that a seat count is one call.
//
// # Attributes beyond the typed fields
//
// User and Group carry the SCIM attributes that rules and indexes use as typed fields
// (userName, externalId, name, displayName, locale, emails and active; displayName and
// externalId). Every other attribute an identity provider sends lives in one field,
// Attributes: a JSON object whose keys are attribute names as the schema spells them
// ("nickName", "phoneNumbers", ...), with each extension's attributes nested in an object under
// the extension's schema URN, and the sub-attributes of a user's name that have no typed field
// (honorificPrefix, honorificSuffix) under "name". The root package decides what goes there and
// writes compact JSON; a store keeps it as a JSON object, reads nothing in it and indexes
// nothing in it. A store may return it re-encoded (PostgreSQL's jsonb reorders keys and changes
// whitespace), so it is compared semantically, never byte for byte. nil and an empty object
// both mean no such attributes, and a store may return either for the other.
//
// # Jobs and overage records
//
// A Job is a host hook call (a workspace hand-over, for example) that the root package commits
// in the same Update as the change that needs it and deletes once the hook succeeds, so that a
// crash between the commit and the call loses nothing. An Overage records a seat admitted
// beyond a team's licence, for billing. Both are plain records to a store. A store may also
// implement JobUpdater, so that a hook's outcome is recorded without the team's lock.
//
// # Deleting a team
//
// Tx.DeleteTeam deletes a team with everything it owns, inside an Update, so that the
// root package decides whether it may (an admin of the team, read in the same transaction)
// under the same lock that serialises the team's other writes.
//
// # Uniqueness
//
// Within a team: User.UserName is unique compared case-insensitively (see Fold);
// Group.DisplayName is unique (case-exact). Violations return an error wrapping ErrConflict.
// API key digests are unique across the store.
//
// User.ExternalID is indexed, not unique: RFC 7643 gives externalId no uniqueness, and real
// clients send one externalId for several users. Any number of users of a team, deleted ones
// included, may share an externalId; UsersByExternalID returns them all. It is compared
// case-exactly, and an empty externalId is not indexed.
//
// The values of User.Emails are indexed too, not unique, compared case-insensitively (Fold):
// UsersByEmail returns every user that has an email with that value.
//
// # Errors
//
// Stores wrap ErrNotFound and ErrConflict with %w; callers test them with errors.Is. A cancelled
// or expired context makes View and Update return an error wrapping ctx.Err().
//
// Conformance: every implementation runs store/storetest.Run.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Sentinel errors. Implementations wrap them with %w and callers check them with errors.Is.
var (
	// ErrNotFound reports that the team, user, group or key does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict reports that a write would break a uniqueness rule (ID, folded userName,
	// group displayName, key digest). externalId is not unique and never conflicts.
	ErrConflict = errors.New("store: conflict")
)

// Fold returns the form in which a userName is compared for uniqueness and lookup: the string
// in lower case (RFC 7643 makes userName case-insensitive). Stores index Fold(UserName); the
// root package never compares userNames any other way.
func Fold(userName string) string {
	return strings.ToLower(userName)
}

// Store is the persistence a host gives teamscim. See the package documentation for the
// contract every method honours.
type Store interface {
	// CreateTeam stores a new team. It returns an error wrapping ErrConflict if a team with
	// the same ID exists.
	CreateTeam(ctx context.Context, t Team) error

	// LookupKey finds an API key, whatever its status, by the SHA-256 digest of its secret.
	// It returns an error wrapping ErrNotFound if no key has that digest. The caller checks
	// the status; a store never sees a secret.
	LookupKey(ctx context.Context, digest [32]byte) (APIKey, error)

	// View runs fn with a read-only transaction on team teamID. It returns an error
	// wrapping ErrNotFound if the team does not exist, and fn's error otherwise.
	View(ctx context.Context, teamID string, fn func(ctx context.Context, tx Tx) error) error

	// ViewByKey runs fn like View on the team of the API key whose SHA-256 digest is digest,
	// once check has accepted what the key gives access to, read in fn's transaction (the
	// same snapshot as fn's reads). The key is found whatever its status: check decides.
	//
	// It returns an error wrapping ErrNotFound, without calling check, if no key has that
	// digest, and check's error, unwrapped, if check refuses; both take precedence over
	// fn's error. A store may call fn before check, so that it can send fn's first read with
	// the key's, but no Tx method returns anything to fn until check has returned nil.
	// check, like fn, may run more than once, and must not call the Store.
	//
	// A store may also end fn's transaction with fn's first statement (a request that reads
	// once is then authenticated and answered in one round trip): if fn makes a second one,
	// that statement fails, and the store runs fn again in a transaction that stays open and
	// keeps only that run's outcome. fn cannot tell that failure from another, so it must
	// act on a failed statement only through its return value and tx.
	ViewByKey(ctx context.Context, digest [32]byte, check func(Access) error, fn func(ctx context.Context, tx Tx) error) error

	// TeamsWithJobs returns the IDs, in ascending order, of the teams that have at least one
	// Job, so that pending hook calls can be retried without reading every team.
	TeamsWithJobs(ctx context.Context) ([]string, error)

	// Update runs fn with a read-write transaction on team teamID and commits fn's writes
	// if and only if fn returns nil. Updates of one team are serialised. fn may run more
	// than once. It returns an error wrapping ErrNotFound if the team does not exist.
	Update(ctx context.Context, teamID string, fn func(ctx context.Context, tx Tx) error) error
}

// JobUpdater is implemented by a Store that can change one member's jobs without waiting for
// the team's other Updates. It is optional: the root package uses it, when the Store has it,
// to record the outcome of a host hook call (delete the job that succeeded and claim the
// member's next one, or record a failure). That write touches nothing but the member's jobs,
// so it need not queue behind the team's provisioning; without UpdateJobs it is an Update.
type JobUpdater interface {
	// UpdateJobs runs fn with a read-write transaction on the jobs of member userID of team
	// teamID and commits fn's writes if and only if fn returns nil. fn uses only that
	// member's jobs: ListJobs with userID, UpdateJob of one of them (without moving it to
	// another member) and DeleteJob; anything else returns an error.
	//
	// The transaction is serialised with everything that reads those jobs to change them:
	// other UpdateJobs of the member, and Updates of the team that list them (Tx.ListJobs in
	// an Update holds the jobs it returns until the Update ends, and so does JobTx.ListJobs
	// here). It need not wait for the team's other Updates. fn may run more than once. For a
	// team that does not exist, UpdateJobs returns an error wrapping ErrNotFound, or runs fn
	// on no jobs (ListJobs returns none; UpdateJob and DeleteJob return ErrNotFound).
	UpdateJobs(ctx context.Context, teamID, userID string, fn func(ctx context.Context, tx JobTx) error) error
}

// JobTx is what UpdateJobs gives fn: the job methods of Tx, on one member's jobs.
type JobTx interface {
	// UpdateJob replaces a stored job (matched by ID). ErrNotFound if absent.
	UpdateJob(ctx context.Context, j Job) error
	// DeleteJob removes a job. ErrNotFound if absent.
	DeleteJob(ctx context.Context, id string) error
	// ListJobs returns the member's jobs, ordered by ID.
	ListJobs(ctx context.Context, userID string) ([]Job, error)
}

// Tx is a transaction on one team. In a View the write methods return an error.
// A Tx must not be used after fn returns.
type Tx interface {
	// Team returns the transaction's team.
	Team(ctx context.Context) (Team, error)
	// UpdateTeam replaces the team's stored fields (its ID cannot change).
	UpdateTeam(ctx context.Context, t Team) error
	// DeleteTeam deletes the transaction's team and everything it owns: its keys, users,
	// groups and memberships, overage records and jobs. The deletion commits with the Update,
	// in one go: then LookupKey no longer finds the team's keys, TeamsWithJobs no longer
	// lists it, and a View or Update of the team (one that was waiting for this Update
	// included) returns ErrNotFound. After DeleteTeam every method of tx returns an error
	// wrapping ErrNotFound; if fn returns an error, nothing is deleted. CreateTeam may use
	// the ID again.
	DeleteTeam(ctx context.Context) error

	// CreateKey stores a new API key of this team (k.TeamID must be the team's ID).
	// ErrConflict if the ID or digest exists.
	CreateKey(ctx context.Context, k APIKey) error
	// GetKey returns the team's key with the given ID, or ErrNotFound.
	GetKey(ctx context.Context, id string) (APIKey, error)
	// UpdateKey replaces a key's mutable fields (name, status, last use, expiry); the
	// digest and team cannot change. ErrNotFound if absent.
	UpdateKey(ctx context.Context, k APIKey) error
	// DeleteKey removes a key, so that LookupKey no longer finds it. ErrNotFound if absent.
	DeleteKey(ctx context.Context, id string) error
	// ListKeys returns the team's keys ordered by ID.
	ListKeys(ctx context.Context) ([]APIKey, error)

	// CreateUser stores a new user. ErrConflict if the ID or the folded userName is taken
	// in the team (an externalId is never taken: several users may share one). Like
	// CreateJob's, the write may be sent later, and its conflict returned by the
	// transaction's next method or by Update, failing the whole transaction: the root
	// package looks the userName up first, under the team's lock, so the uniqueness rule
	// is a backstop there and a create need not wait for its answer.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns the user with the given ID, or ErrNotFound.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUserName returns the user whose folded userName equals Fold(userName),
	// or ErrNotFound. It uses an index: it does not scan the team.
	GetUserByUserName(ctx context.Context, userName string) (User, error)
	// UsersByExternalID returns every user (deleted ones included) whose ExternalID equals
	// externalID exactly, ordered by ID; an empty externalID matches none. No match is not
	// an error: it returns no users and a nil error. It uses an index: it does not scan the
	// team.
	UsersByExternalID(ctx context.Context, externalID string) ([]User, error)
	// UsersByEmail returns every user (deleted ones included) one of whose Emails has a Value
	// whose Fold equals Fold(email), ordered by ID; an empty email matches none. No match is
	// not an error. It uses an index: it does not scan the team.
	UsersByEmail(ctx context.Context, email string) ([]User, error)
	// UpdateUser replaces a stored user (matched by ID). ErrNotFound if absent;
	// ErrConflict if the new folded userName belongs to another user.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes a user and all of their group memberships, and frees their
	// userName; it is the removal of a member from the team (SCIM's DELETE only hides a user,
	// see User.Deleted). Jobs and overage records that name the user are kept. The caller never
	// reuses the ID. ErrNotFound if absent.
	DeleteUser(ctx context.Context, id string) error
	// ListUsers returns the users matching f, ordered by ID, paged by o, with the total
	// number of matches.
	ListUsers(ctx context.Context, f UserFilter, o ListOptions) (Page[User], error)
	// CountUsers returns the number of users matching f.
	CountUsers(ctx context.Context, f UserFilter) (int, error)

	// CreateGroup stores a new group. ErrConflict if the ID or displayName is taken.
	CreateGroup(ctx context.Context, g Group) error
	// GetGroup returns the group with the given ID, or ErrNotFound.
	GetGroup(ctx context.Context, id string) (Group, error)
	// GetGroupByDisplayName returns the group with that exact displayName, or ErrNotFound.
	GetGroupByDisplayName(ctx context.Context, displayName string) (Group, error)
	// UpdateGroup replaces a stored group's fields (matched by ID); memberships are not
	// touched. ErrNotFound if absent; ErrConflict if the displayName belongs to another group.
	UpdateGroup(ctx context.Context, g Group) error
	// DeleteGroup removes a group and all of its memberships. ErrNotFound if absent.
	DeleteGroup(ctx context.Context, id string) error
	// ListGroups returns groups ordered by ID, paged by o, with the total count.
	ListGroups(ctx context.Context, o ListOptions) (Page[Group], error)

	// AddMembers adds users to a group and returns, in ascending order and once each, the
	// IDs that were not members before. Adding an existing member is a no-op. The cost is
	// O(len(userIDs)), not O(group size). ErrNotFound if the group does not exist. The store
	// does not check the user IDs; the root package does.
	AddMembers(ctx context.Context, groupID string, userIDs []string) (added []string, err error)
	// RemoveMembers removes users from a group and returns, in ascending order and once each,
	// the IDs that were members. Removing a non-member is a no-op. ErrNotFound if the group
	// does not exist.
	RemoveMembers(ctx context.Context, groupID string, userIDs []string) (removed []string, err error)
	// ListMembers returns a group's member user IDs ordered by ID, paged by o.
	// ErrNotFound if the group does not exist.
	ListMembers(ctx context.Context, groupID string, o ListOptions) (Page[string], error)
	// GroupsOf returns the IDs, ordered, of the groups the user is a member of.
	GroupsOf(ctx context.Context, userID string) ([]string, error)

	// CreateOverage stores a new overage record. ErrConflict if the ID exists.
	CreateOverage(ctx context.Context, o Overage) error
	// UpdateOverage replaces a stored overage record (matched by ID). ErrNotFound if absent.
	UpdateOverage(ctx context.Context, o Overage) error
	// ListOverages returns the overage records f selects, ordered by ID, paged by o, with
	// the total number of matches.
	ListOverages(ctx context.Context, f OverageFilter, o ListOptions) (Page[Overage], error)

	// CreateJob stores a new job. ErrConflict if the ID exists. A store may send the write
	// later, with the transaction's next statement or its commit, so that nothing waits for
	// it (the root package makes each job ID a fresh UUID): the conflict then fails that
	// method, or Update, and the whole transaction.
	CreateJob(ctx context.Context, j Job) error
	// UpdateJob replaces a stored job (matched by ID). ErrNotFound if absent.
	UpdateJob(ctx context.Context, j Job) error
	// DeleteJob removes a job. ErrNotFound if absent.
	DeleteJob(ctx context.Context, id string) error
	// ListJobs returns the team's jobs for the user userID, or every job of the team when
	// userID is empty, ordered by ID. In an Update, a store that implements JobUpdater
	// holds the jobs it returns until the Update ends (see JobUpdater).
	ListJobs(ctx context.Context, userID string) ([]Job, error)
}

// ListOptions pages a list. Offset is 0-based; Limit <= 0 means no limit.
type ListOptions struct {
	Offset int
	Limit  int
	// After, when not empty, starts the list after the item with this ID (keyset paging,
	// so that walking a whole team costs O(n), not O(n²) as growing offsets do); Offset then
	// counts from there. Total is unaffected. ListUsers and ListGroups honour it; the other
	// lists ignore it.
	After string
}

// Page is one page of a list and the total number of items the list has.
type Page[T any] struct {
	Items []T
	Total int
}

// UserFilter selects users by stored state. The zero value selects every user that is not
// deleted.
type UserFilter struct {
	// Active, when non-nil, selects users whose Active equals *Active.
	Active *bool
	// Seat, when non-nil, selects users whose Seat equals *Seat.
	Seat *bool
	// IncludeDeleted also selects users with Deleted set.
	IncludeDeleted bool
}

// Matches reports whether u is selected by f.
func (f UserFilter) Matches(u User) bool {
	if u.Deleted && !f.IncludeDeleted {
		return false
	}
	return (f.Active == nil || *f.Active == u.Active) && (f.Seat == nil || *f.Seat == u.Seat)
}

// OverageFilter selects overage records. The zero value selects all of them.
type OverageFilter struct {
	// Open selects only the records whose Released is zero.
	Open bool
}

// Matches reports whether o is selected by f.
func (f OverageFilter) Matches(o Overage) bool {
	return !f.Open || o.Released.IsZero()
}

// Team is a tenant: the unit that owns users, groups and SCIM API keys.
type Team struct {
	ID   string
	Name string
	// Plan names the team's plan as the host calls it (for example "enterprise"); the root
	// package decides which plans include SCIM.
	Plan string
	// SSOMethods names the single sign-on methods configured for the team (for example
	// "saml"). SCIM can be enabled only with SSO configured.
	SSOMethods []string
	// SCIMEnabled is the team's SCIM provisioning switch.
	SCIMEnabled bool
	// VerifiedDomains are the email domains the team has proven it owns, in lower case.
	VerifiedDomains []string
	// DomainCapture consolidates every account on a verified domain into the team.
	DomainCapture bool
	// JIT turns on SSO just-in-time provisioning: a person who signs in through the team's
	// identity provider joins the team.
	JIT     bool
	Created time.Time
}

// Access is what an API key gives access to, as ViewByKey reads it for its caller's check.
type Access struct {
	// Key is the key the digest names.
	Key APIKey
	// Team is the key's team.
	Team Team
	// Creator is the team's user whose ID is Key.CreatedBy, if CreatorFound. CreatorFound is
	// false when the team has no user with that ID (CreatedBy may name someone who is not a
	// user, an Organization Manager for example).
	Creator      User
	CreatorFound bool
}

// KeyStatus is the state of an API key.
type KeyStatus string

// Key states.
const (
	KeyActive  KeyStatus = "ACTIVE"
	KeyRevoked KeyStatus = "REVOKED"
)

// APIKey is a SCIM API key. The store holds only the SHA-256 digest of its secret.
type APIKey struct {
	ID     string
	TeamID string
	Name   string
	Digest [32]byte
	Status KeyStatus
	// CreatedBy identifies the team member who generated the key.
	CreatedBy string
	Created   time.Time
	// LastUsed is the time of the last authenticated request (zero if never used).
	LastUsed time.Time
	// Expires is the key's expiry (zero: never).
	Expires time.Time
}

// User is a team member as SCIM sees it.
type User struct {
	ID string
	// UserName is the IdP's userName (the member's email) exactly as last sent.
	UserName   string
	ExternalID string
	GivenName  string
	FamilyName string
	MiddleName string
	Formatted  string
	// DisplayName is echoed to clients; it has no effect.
	DisplayName string
	Locale      string
	// Emails are the addresses the IdP sent, in order. Empty means the userName is the
	// member's only (work, primary) email.
	Emails []Email
	// Attributes holds the user's other SCIM attributes as a JSON object (see the package
	// documentation); nil when there are none.
	Attributes json.RawMessage
	// Active is false for deactivated (deprovisioned) members.
	Active bool
	// Deleted marks a member hidden by DELETE /Users: the account and its data remain,
	// but the SCIM resource answers 404 and is absent from lists until re-linked.
	Deleted bool
	// Managed is true for members provisioned (or adopted) through SCIM.
	Managed bool
	// Pending is true for a member who was invited and has not accepted yet.
	Pending bool
	// Seat is true while the member holds a paid seat (decided by the root package).
	Seat bool
	// ViaGroups is true when the member's only route into the team is membership of SCIM
	// groups (provisioned with groups, not on their own), so that deleting their last group
	// deactivates them. The zero value is the safe one: a route of their own.
	ViaGroups bool
	// Roles are the member's own team roles (for example "developer"); groups may grant
	// more (Group.Roles).
	Roles        []string
	Created      time.Time
	LastModified time.Time
	// Version increases with every change; it feeds meta.version.
	Version int64
}

// Email is one entry of a user's emails attribute.
type Email struct {
	Value   string
	Type    string
	Display string
	Primary bool
}

// Group is a team's user group. Its members are stored apart (AddMembers, ListMembers) so that
// membership changes cost O(changes).
type Group struct {
	ID          string
	DisplayName string
	ExternalID  string
	// Attributes holds the group's other SCIM attributes (those of extensions) as a JSON
	// object (see the package documentation); nil when there are none.
	Attributes json.RawMessage
	// Roles are the team roles the group grants its members.
	Roles        []string
	Created      time.Time
	LastModified time.Time
	Version      int64
}

// Overage records one seat admitted beyond the team's licence (Auto-Flex, True-up), for the
// host's billing.
type Overage struct {
	ID     string
	UserID string
	// Policy names the seat policy that admitted the seat (for example "autoflex").
	Policy string
	// Added is when the seat was admitted.
	Added time.Time
	// Released is when the team went back within its licence for this seat (zero: it has
	// not).
	Released time.Time
}

// Job is a host hook call that must run after the change that needs it has committed (for
// example the workspace hand-over of a deactivation). The root package creates it in the
// change's Update and deletes it once the hook has succeeded.
type Job struct {
	ID     string
	UserID string
	// Kind names the hook (for example "workspaces.deactivate").
	Kind string
	// Data is what the hook needs, encoded by the root package; stores keep it verbatim.
	Data []byte
	// Attempts counts the calls made so far.
	Attempts int
	// LastError is the error of the last failed attempt.
	LastError string
	Created   time.Time
	// NextAttempt is the earliest time of the next attempt (zero: now).
	NextAttempt time.Time
}
