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
// shared database). fn may run more than once (a SQL store retries serialisation failures), so it
// must have no side effects outside tx, and it must not call the Store itself.
//
// # Values and order
//
// Values passed in and returned are copies: changing a returned User never changes the store.
// Lists have a stable order (users and groups by ID, members by user ID) so that offset paging
// visits every record exactly once. Times are truncated to the millisecond and returned in UTC.
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
// # Errors
//
// Stores wrap ErrNotFound and ErrConflict with %w; callers test them with errors.Is. A cancelled
// or expired context makes View and Update return an error wrapping ctx.Err().
//
// Conformance: every implementation runs store/storetest.Run.
package store

import (
	"context"
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

	// Update runs fn with a read-write transaction on team teamID and commits fn's writes
	// if and only if fn returns nil. Updates of one team are serialised. fn may run more
	// than once. It returns an error wrapping ErrNotFound if the team does not exist.
	Update(ctx context.Context, teamID string, fn func(ctx context.Context, tx Tx) error) error
}

// Tx is a transaction on one team. In a View the write methods return an error.
// A Tx must not be used after fn returns.
type Tx interface {
	// Team returns the transaction's team.
	Team(ctx context.Context) (Team, error)
	// UpdateTeam replaces the team's stored fields (its ID cannot change).
	UpdateTeam(ctx context.Context, t Team) error

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
	// in the team (an externalId is never taken: several users may share one).
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
	// UpdateUser replaces a stored user (matched by ID). ErrNotFound if absent;
	// ErrConflict if the new folded userName belongs to another user.
	UpdateUser(ctx context.Context, u User) error
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

	// AddMembers adds users to a group and returns how many were not members before.
	// Adding an existing member is a no-op. The cost is O(len(userIDs)), not O(group size).
	// ErrNotFound if the group does not exist. The store does not check the user IDs;
	// the root package does.
	AddMembers(ctx context.Context, groupID string, userIDs []string) (added int, err error)
	// RemoveMembers removes users from a group and returns how many were members.
	// Removing a non-member is a no-op. ErrNotFound if the group does not exist.
	RemoveMembers(ctx context.Context, groupID string, userIDs []string) (removed int, err error)
	// ListMembers returns a group's member user IDs ordered by ID, paged by o.
	// ErrNotFound if the group does not exist.
	ListMembers(ctx context.Context, groupID string, o ListOptions) (Page[string], error)
	// GroupsOf returns the IDs, ordered, of the groups the user is a member of.
	GroupsOf(ctx context.Context, userID string) ([]string, error)
}

// ListOptions pages a list. Offset is 0-based; Limit <= 0 means no limit.
type ListOptions struct {
	Offset int
	Limit  int
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
	// IncludeDeleted also selects users with Deleted set.
	IncludeDeleted bool
}

// Matches reports whether u is selected by f.
func (f UserFilter) Matches(u User) bool {
	if u.Deleted && !f.IncludeDeleted {
		return false
	}
	return f.Active == nil || *f.Active == u.Active
}

// Team is a tenant: the unit that owns users, groups and SCIM API keys.
type Team struct {
	ID   string
	Name string
	// SSOMethods names the single sign-on methods configured for the team (for example
	// "saml"). SCIM can be enabled only with SSO configured.
	SSOMethods []string
	// SCIMEnabled is the team's SCIM provisioning switch.
	SCIMEnabled bool
	Created     time.Time
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
	// Active is false for deactivated (deprovisioned) members.
	Active bool
	// Deleted marks a member hidden by DELETE /Users: the account and its data remain,
	// but the SCIM resource answers 404 and is absent from lists until re-linked.
	Deleted bool
	// Managed is true for members provisioned (or adopted) through SCIM.
	Managed bool
	// Roles are the member's team roles (for example "developer").
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
	Primary bool
}

// Group is a team's user group. Its members are stored apart (AddMembers, ListMembers) so that
// membership changes cost O(changes).
type Group struct {
	ID           string
	DisplayName  string
	ExternalID   string
	Created      time.Time
	LastModified time.Time
	Version      int64
}
