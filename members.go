package teamscim

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/teamscim/teamscim/store"
)

// Reading a team's members, for the host's settings page: a page at a time, or found by email,
// ID or externalId through the store's indexes, never by scanning the team. Kept apart from
// team.go, which changes members, because these calls only read.

// MemberState is a member's provisioning state, as a settings page shows it.
type MemberState string

// Member states. A member is in exactly one; when several apply, the first listed wins
// (a hidden member is also deactivated, and a deactivated invitee is shown deactivated).
const (
	// MemberHidden: deleted by the identity provider (DELETE /Users): deactivated and absent
	// from SCIM, with the account and its data kept.
	MemberHidden MemberState = "hidden"
	// MemberDeactivated: deprovisioned (active:false). The member cannot sign in and holds no
	// seat.
	MemberDeactivated MemberState = "deactivated"
	// MemberPending: invited and not yet joined (see AcceptInvite). The invitation holds a seat.
	MemberPending MemberState = "pending"
	// MemberActive: on the team and able to sign in.
	MemberActive MemberState = "active"
)

// memberState returns u's state.
func memberState(u store.User) MemberState {
	switch {
	case u.Deleted:
		return MemberHidden
	case !u.Active:
		return MemberDeactivated
	case u.Pending:
		return MemberPending
	}
	return MemberActive
}

// MemberGroup is a group a member belongs to.
type MemberGroup struct {
	ID          string
	DisplayName string
}

// TeamMember is what a settings page shows of a member.
type TeamMember struct {
	ID string
	// Email is the member's userName: their email, unless Config.AllowNonEmailUserNames.
	Email       string
	ExternalID  string
	GivenName   string
	FamilyName  string
	DisplayName string
	State       MemberState
	// Managed is true for members provisioned (or adopted) over SCIM: while SCIM is on, only
	// the identity provider changes them (see CanLeaveTeam).
	Managed bool
	// Seat is true while the member holds a paid seat.
	Seat bool
	// Roles are the member's own team roles; GroupRoles those their groups grant.
	Roles      []string
	GroupRoles []string
	// Groups are the member's groups, ordered by ID.
	Groups       []MemberGroup
	Created      time.Time
	LastModified time.Time
}

// MemberQuery selects members for Members. Its selectors combine: a member is listed when it
// matches every one that is set. Email and ExternalID are looked up in the store's indexes;
// without them the team's members are paged in ID order.
type MemberQuery struct {
	// Email, when not empty, selects the member whose email (userName) equals it, compared
	// case-insensitively.
	Email string
	// ExternalID, when not empty, selects the members whose externalId equals it exactly
	// (several members may share one).
	ExternalID string
	// Active, when non-nil, selects the members whose active flag equals *Active: false
	// selects the deactivated (and, with IncludeHidden, the hidden) members; true the active
	// and pending ones.
	Active *bool
	// IncludeHidden also selects members hidden by DELETE /Users. Default: they are left out,
	// as SCIM leaves them out.
	IncludeHidden bool
	// Offset skips that many matches (below 0 counts as 0).
	Offset int
	// Limit is the page size: 0 or less means DefaultMemberLimit, and more than
	// MaxMemberLimit means MaxMemberLimit.
	Limit int
}

// Page sizes of Members.
const (
	DefaultMemberLimit = 100
	MaxMemberLimit     = 1000
)

// MemberPage is one page of members and how many members the query matches in all.
type MemberPage struct {
	Members []TeamMember
	Total   int
}

// Members returns a page of the team's members that q selects, ordered by ID, with their
// groups and roles, for the host's settings page. It reads the page's members, their groups,
// and an index when q has Email or ExternalID: its cost follows the page's size, not the
// team's (beyond the offset, which a store may walk). Like ListKeys it shows people's data to
// an admin, so it takes the Actor and refuses anyone else (ErrNotAdmin).
func (s *Server) Members(ctx context.Context, teamID string, a Actor, q MemberQuery) (MemberPage, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultMemberLimit
	case limit > MaxMemberLimit:
		limit = MaxMemberLimit
	}
	offset := max(q.Offset, 0)
	f := store.UserFilter{Active: q.Active, IncludeDeleted: q.IncludeHidden}
	var page MemberPage
	err := s.adminView(ctx, teamID, a, func(ctx context.Context, tx store.Tx) error {
		var users []store.User
		switch {
		case q.Email != "" || q.ExternalID != "":
			found, err := membersByIndex(ctx, tx, q)
			if err != nil {
				return err
			}
			found = slices.DeleteFunc(found, func(u store.User) bool {
				return !f.Matches(u) || (q.ExternalID != "" && u.ExternalID != q.ExternalID)
			})
			page.Total = len(found)
			users = found[min(offset, len(found)):min(offset+limit, len(found))]
		default:
			pg, err := tx.ListUsers(ctx, f, store.ListOptions{Offset: offset, Limit: limit})
			if err != nil {
				return err
			}
			page.Total, users = pg.Total, pg.Items
		}
		groups := map[string]store.Group{} // the page's groups, each read once
		page.Members = make([]TeamMember, 0, len(users))
		for _, u := range users {
			m, err := teamMember(ctx, tx, u, groups)
			if err != nil {
				return err
			}
			page.Members = append(page.Members, m)
		}
		return nil
	})
	if err != nil {
		return MemberPage{}, wrapErr(err, "list members of team %s", teamID)
	}
	return page, nil
}

// membersByIndex returns the users q's Email (or, without it, ExternalID) finds.
func membersByIndex(ctx context.Context, tx store.Tx, q MemberQuery) ([]store.User, error) {
	if q.Email == "" {
		return tx.UsersByExternalID(ctx, q.ExternalID)
	}
	u, err := tx.GetUserByUserName(ctx, q.Email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []store.User{u}, nil
}

// Member returns the team's member memberID, whatever their state, with their groups and
// roles; an error wrapping store.ErrNotFound when the team has no such member (a removed
// member included). It takes the Actor, as Members does.
func (s *Server) Member(ctx context.Context, teamID string, a Actor, memberID string) (TeamMember, error) {
	var m TeamMember
	err := s.adminView(ctx, teamID, a, func(ctx context.Context, tx store.Tx) error {
		u, err := tx.GetUser(ctx, memberID)
		if err != nil {
			return err
		}
		m, err = teamMember(ctx, tx, u, map[string]store.Group{})
		return err
	})
	if err != nil {
		return TeamMember{}, wrapErr(err, "member %s of team %s", memberID, teamID)
	}
	return m, nil
}

// teamMember describes u with their groups, reading each group not yet in groups.
func teamMember(ctx context.Context, tx store.Tx, u store.User, groups map[string]store.Group) (TeamMember, error) {
	m := TeamMember{ID: u.ID, Email: u.UserName, ExternalID: u.ExternalID, GivenName: u.GivenName,
		FamilyName: u.FamilyName, DisplayName: u.DisplayName, State: memberState(u), Managed: u.Managed,
		Seat: u.Seat, Roles: slices.Clone(u.Roles), Created: u.Created, LastModified: u.LastModified}
	ids, err := tx.GroupsOf(ctx, u.ID)
	if err != nil {
		return TeamMember{}, err
	}
	for _, id := range ids {
		g, ok := groups[id]
		if !ok {
			if g, err = tx.GetGroup(ctx, id); err != nil {
				return TeamMember{}, err
			}
			groups[id] = g
		}
		m.Groups = append(m.Groups, MemberGroup{ID: g.ID, DisplayName: g.DisplayName})
		for _, r := range g.Roles {
			if !slices.Contains(m.GroupRoles, r) {
				m.GroupRoles = append(m.GroupRoles, r)
			}
		}
	}
	return m, nil
}
