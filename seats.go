package teamscim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/teamscim/teamscim/store"
)

// MaxSupportUsers is how many support users (members who hold only the admin and/or billing
// roles) a team may have without paying for their seats.
const MaxSupportUsers = 2

// SeatDecision is a SeatPolicy's answer to "may the team take one more seat?".
type SeatDecision int

const (
	// SeatRefused refuses the seat: the request that needed it answers 403 and changes
	// nothing.
	SeatRefused SeatDecision = iota
	// SeatAdmitted admits the seat within the team's licence.
	SeatAdmitted
	// SeatAdmittedOverage admits the seat beyond the team's licence; the Server records it
	// (store.Overage) for the host's billing.
	SeatAdmittedOverage
)

// SeatUsage is what a SeatPolicy decides on: the team and its seats before the one asked for.
type SeatUsage struct {
	Team store.Team
	// InUse is the number of seats the team's members hold.
	InUse int
	// Overage is how many of them were admitted beyond the licence and are still counted so
	// (open store.Overage records).
	Overage int
}

// SeatPolicy decides whether a team may take one more seat. It runs inside the team's store
// Update, so the usage it sees cannot change under it: it must be fast and must not call the
// Server. An error fails the request with a generic 500 and changes nothing.
type SeatPolicy interface {
	Admit(ctx context.Context, u SeatUsage) (SeatDecision, error)
}

// SeatPolicyFunc adapts a function to SeatPolicy.
type SeatPolicyFunc func(ctx context.Context, u SeatUsage) (SeatDecision, error)

// Admit calls f(ctx, u).
func (f SeatPolicyFunc) Admit(ctx context.Context, u SeatUsage) (SeatDecision, error) {
	return f(ctx, u)
}

// SeatLicense is implemented by policies that know how many seats a team has bought; the
// usage report (Server.SeatReport) shows it. The built-in policies implement it.
type SeatLicense interface {
	// Licensed returns the number of seats the team has bought; 0 means no limit.
	Licensed(team store.Team) int
}

// seatPolicy is a built-in policy: a licence of n seats and what happens beyond it.
type seatPolicy struct {
	name    string // recorded in store.Overage.Policy
	n       int
	overage bool // admit beyond n (Auto-Flex, True-up) instead of refusing
}

// Unlimited admits every seat. It is the default policy.
var Unlimited SeatPolicy = seatPolicy{name: "unlimited"}

// SeatLimit refuses a seat once n are in use.
func SeatLimit(n int) SeatPolicy { return seatPolicy{name: "limit", n: max(n, 0)} }

// AutoFlex admits seats beyond n and records each one beyond the licence with the time it was
// added, for monthly or quarterly billing (Postman's Auto-Flex).
func AutoFlex(n int) SeatPolicy { return seatPolicy{name: "autoflex", n: max(n, 0), overage: true} }

// TrueUp admits seats beyond n and records each one beyond the licence for reconciliation at
// renewal (Postman's True-up).
func TrueUp(n int) SeatPolicy { return seatPolicy{name: "trueup", n: max(n, 0), overage: true} }

func (p seatPolicy) Admit(_ context.Context, u SeatUsage) (SeatDecision, error) {
	switch {
	case p.name == "unlimited" || u.InUse < p.n:
		return SeatAdmitted, nil
	case p.overage:
		return SeatAdmittedOverage, nil
	}
	return SeatRefused, nil
}

func (p seatPolicy) Licensed(store.Team) int { return p.n }

func (p seatPolicy) String() string {
	if p.name == "unlimited" {
		return "unlimited"
	}
	return fmt.Sprintf("%s(%d)", p.name, p.n)
}

// policyName names a policy in overage records.
func policyName(p SeatPolicy) string {
	if sp, ok := p.(seatPolicy); ok {
		return sp.name
	}
	return "custom"
}

// Errors of the seat and role API. Each is returned wrapped; test with errors.Is.
var (
	// ErrNoSeat: the team's seat policy refused the seat the change needed.
	ErrNoSeat = errors.New("teamscim: no available seats")
)

// errNoSeat is the client's view of a refused seat: 403 without a scimType (Postman documents
// no status for it and lists 403 among a create's errors).
var errNoSeat = &apiError{status: http.StatusForbidden, detail: "no available seats"}

// isSeatRole reports whether a role holds a seat.
func isSeatRole(r string) bool { return r == RoleDeveloper || r == RoleSuperAdmin }

// isSupportRole reports whether a role is one of the support roles.
func isSupportRole(r string) bool { return r == RoleAdmin || r == RoleBilling }

// groupRoles returns the roles u's groups grant.
func groupRoles(ctx context.Context, tx store.Tx, userID string) ([]string, error) {
	groups, err := tx.GroupsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	var roles []string
	for _, id := range groups {
		g, err := tx.GetGroup(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, r := range g.Roles {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	return roles, nil
}

// onTeam reports whether u counts as a member of the team for seats: active or invited, and
// not hidden by DELETE.
func onTeam(u store.User) bool { return u.Active && !u.Deleted }

// wantsSeat reports whether u, whose groups grant groupRoles, holds a seat.
func wantsSeat(u store.User, groupRoles []string) bool {
	return onTeam(u) && (slices.ContainsFunc(u.Roles, isSeatRole) || slices.ContainsFunc(groupRoles, isSeatRole))
}

// isSupportUser reports whether u is a support user: on the team, with a support role and no
// seat-holding role of their own or from their groups.
func isSupportUser(u store.User, groupRoles []string) bool {
	return onTeam(u) && !wantsSeat(u, groupRoles) &&
		(slices.ContainsFunc(u.Roles, isSupportRole) || slices.ContainsFunc(groupRoles, isSupportRole))
}

// syncSeat sets u.Seat to what u's state and roles call for, asking the seat policy when u
// takes a seat and recording or releasing overage. u is the state about to be written; the
// caller writes it. It returns ErrNoSeat (wrapped in the client error) when the policy refuses.
func (s *Server) syncSeat(ctx context.Context, tx store.Tx, fx *effects, u *store.User) error {
	roles, err := groupRoles(ctx, tx, u.ID)
	if err != nil {
		return err
	}
	return s.syncSeatWith(ctx, tx, fx, u, roles)
}

// syncSeatWith is syncSeat for a caller that knows the roles u's groups grant.
func (s *Server) syncSeatWith(ctx context.Context, tx store.Tx, fx *effects, u *store.User, roles []string) error {
	want := wantsSeat(*u, roles)
	if !want && isSupportUser(*u, roles) {
		free, err := freeSupportUsers(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		want = free >= MaxSupportUsers
	}
	switch {
	case want && !u.Seat:
		if err := s.takeSeat(ctx, tx, fx, u.ID); err != nil {
			return err
		}
	case !want && u.Seat:
		if err := s.releaseOverage(ctx, tx, fx); err != nil {
			return err
		}
	}
	u.Seat = want
	return nil
}

// takeSeat asks the policy for one more seat for userID and records an overage seat. The
// default policy admits every seat without counting.
func (s *Server) takeSeat(ctx context.Context, tx store.Tx, fx *effects, userID string) error {
	if s.cfg.Seats == Unlimited {
		return nil
	}
	team, err := tx.Team(ctx)
	if err != nil {
		return err
	}
	inUse, err := tx.CountUsers(ctx, store.UserFilter{Seat: ptrTo(true)})
	if err != nil {
		return err
	}
	open, err := tx.ListOverages(ctx, store.OverageFilter{Open: true}, store.ListOptions{Limit: 1})
	if err != nil {
		return err
	}
	d, err := s.cfg.Seats.Admit(ctx, SeatUsage{Team: team, InUse: inUse, Overage: open.Total})
	if err != nil {
		return wrapErr(err, "seat policy")
	}
	switch d {
	case SeatAdmitted:
		return nil
	case SeatAdmittedOverage:
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		return tx.CreateOverage(ctx, store.Overage{ID: id.String(), UserID: userID, Policy: policyName(s.cfg.Seats), Added: fx.now})
	}
	return fmt.Errorf("%w: %w", errNoSeat, ErrNoSeat)
}

// releaseOverage marks the newest open overage seat released: a freed seat is the team's
// last one beyond its licence, if it has any.
func (s *Server) releaseOverage(ctx context.Context, tx store.Tx, fx *effects) error {
	open, err := tx.ListOverages(ctx, store.OverageFilter{Open: true}, store.ListOptions{Limit: 1})
	if err != nil || open.Total == 0 {
		return err
	}
	last, err := tx.ListOverages(ctx, store.OverageFilter{Open: true}, store.ListOptions{Offset: open.Total - 1, Limit: 1})
	if err != nil {
		return err
	}
	o := last.Items[0]
	o.Released = fx.now
	return tx.UpdateOverage(ctx, o)
}

// freeSupportUsers counts the team's support users other than userID who take no seat. It
// lists the team's active members without a seat, who are few.
func freeSupportUsers(ctx context.Context, tx store.Tx, userID string) (int, error) {
	n := 0
	err := eachUser(ctx, tx, store.UserFilter{Active: ptrTo(true), Seat: ptrTo(false)}, func(o store.User) error {
		if o.ID == userID {
			return nil
		}
		r, err := groupRoles(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		if isSupportUser(o, r) {
			n++
		}
		return nil
	})
	return n, err
}

// eachUser calls fn for every user f selects, in pages.
func eachUser(ctx context.Context, tx store.Tx, f store.UserFilter, fn func(store.User) error) error {
	for off := 0; ; off += scanChunk {
		pg, err := tx.ListUsers(ctx, f, store.ListOptions{Offset: off, Limit: scanChunk})
		if err != nil {
			return err
		}
		for _, u := range pg.Items {
			if err := fn(u); err != nil {
				return err
			}
		}
		if len(pg.Items) < scanChunk {
			return nil
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

// SeatReport is a team's seat usage, for the host's billing page.
type SeatReport struct {
	TeamID string
	// Policy describes the seat policy (for example "autoflex(50)").
	Policy string
	// Licensed is the number of seats bought (0: no limit, or a policy that does not say).
	Licensed int
	// InUse is the number of seats held now.
	InUse int
	// Overage lists every seat admitted beyond the licence, released ones included, oldest
	// first.
	Overage []store.Overage
	// OpenOverage is how many of Overage are not released.
	OpenOverage int
}

// SeatReport returns the team's seat usage.
func (s *Server) SeatReport(ctx context.Context, teamID string) (SeatReport, error) {
	rep := SeatReport{TeamID: teamID, Policy: fmt.Sprint(s.cfg.Seats)}
	err := s.store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		team, err := tx.Team(ctx)
		if err != nil {
			return err
		}
		if l, ok := s.cfg.Seats.(SeatLicense); ok {
			rep.Licensed = l.Licensed(team)
		}
		if rep.InUse, err = tx.CountUsers(ctx, store.UserFilter{Seat: ptrTo(true)}); err != nil {
			return err
		}
		all, err := tx.ListOverages(ctx, store.OverageFilter{}, store.ListOptions{})
		if err != nil {
			return err
		}
		rep.Overage = all.Items
		rep.OpenOverage = 0
		for _, o := range all.Items {
			if o.Released.IsZero() {
				rep.OpenOverage++
			}
		}
		return nil
	})
	if err != nil {
		return SeatReport{}, wrapErr(err, "seat report for team %s", teamID)
	}
	return rep, nil
}

// SetMemberRoles replaces a member's own team roles (groups may grant more), as an admin a
// does. It takes or frees the seat the new roles call for (ErrNoSeat when the policy refuses).
// Emits EventMemberRolesChanged; setting the roles a member has already is harmless and emits
// nothing.
func (s *Server) SetMemberRoles(ctx context.Context, teamID string, a Actor, memberID string, roles []string) error {
	if slices.Contains(roles, "") {
		return fmt.Errorf("%w: a role is empty", ErrInvalidArgument)
	}
	roles = slices.Compact(slices.Sorted(slices.Values(roles)))
	err := s.adminUpdate(ctx, teamID, a, func(ctx context.Context, tx store.Tx, fx *effects, _ store.Team) error {
		u, err := tx.GetUser(ctx, memberID)
		if err != nil {
			return err
		}
		if slices.Equal(u.Roles, roles) {
			return nil
		}
		u.Roles = roles
		gr, err := groupRoles(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if err := s.syncSeatWith(ctx, tx, fx, &u, gr); err != nil {
			return err
		}
		u.LastModified, u.Version = fx.now, u.Version+1
		fx.event(EventMemberRolesChanged, u.ID, "")
		return tx.UpdateUser(ctx, u)
	})
	if err != nil {
		return wrapErr(err, "set roles of member %s", memberID)
	}
	return nil
}
