package teamscim

import (
	"context"
	"errors"

	"github.com/teamscim/teamscim/store"
)

// The checks a host's sign-in flow and account page call before letting a member act. Kept
// apart from team.go because they are read-only answers for other pages of the host, not
// team administration.

// Reason says why a check refused. Hosts branch on it (switch d.Reason) to pick their message.
type Reason string

// Reasons of a refusal.
const (
	// ReasonNotMember: no member of the team has this email (or the member was removed).
	ReasonNotMember Reason = "not_member"
	// ReasonPending: the member was invited and has not accepted yet.
	ReasonPending Reason = "pending"
	// ReasonDeactivated: the identity provider deprovisioned the member (active:false); the
	// host shows "This account is deactivated".
	ReasonDeactivated Reason = "deactivated"
	// ReasonHidden: the identity provider deleted the member (DELETE /Users): deactivated and
	// hidden from SCIM, with the account and its data kept.
	ReasonHidden Reason = "hidden"
	// ReasonSCIMManaged: the member is managed by the team's identity provider while SCIM is
	// on; their email, password and membership change only from there.
	ReasonSCIMManaged Reason = "scim_managed"
)

// Decision is the answer of a check: Allowed, or refused for Reason.
type Decision struct {
	Allowed bool
	// Reason is empty when Allowed.
	Reason Reason
}

func allowed() Decision         { return Decision{Allowed: true} }
func refused(r Reason) Decision { return Decision{Reason: r} }

// String returns "allowed" or "refused: <reason>", for logs.
func (d Decision) String() string {
	if d.Allowed {
		return "allowed"
	}
	return "refused: " + string(d.Reason)
}

// memberByEmail reads the team and the member whose userName is email (case-insensitively);
// found is false when there is none.
func (s *Server) memberByEmail(ctx context.Context, teamID, email string) (t store.Team, u store.User, found bool, err error) {
	err = s.store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		if t, err = tx.Team(ctx); err != nil {
			return err
		}
		u, err = tx.GetUserByUserName(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return store.Team{}, store.User{}, false, wrapErr(err, "read member of team %s", teamID)
	}
	return t, u, found, nil
}

// CanSignIn reports whether the member with this email (their userName, compared
// case-insensitively) may sign in to the team: refused for members who are deactivated
// (ReasonDeactivated), deleted by the identity provider (ReasonHidden), invited but not yet
// joined (ReasonPending), or not on the team (ReasonNotMember). A store failure is the error;
// a refusal is not an error.
func (s *Server) CanSignIn(ctx context.Context, teamID, email string) (Decision, error) {
	_, u, found, err := s.memberByEmail(ctx, teamID, email)
	switch {
	case err != nil:
		return Decision{}, err
	case !found:
		return refused(ReasonNotMember), nil
	case u.Deleted:
		return refused(ReasonHidden), nil
	case !u.Active:
		return refused(ReasonDeactivated), nil
	case u.Pending:
		return refused(ReasonPending), nil
	}
	return allowed(), nil
}

// CanLeaveTeam reports whether the member with this email may leave the team by themselves:
// refused for SCIM-managed members while SCIM is on (ReasonSCIMManaged; only an admin can
// remove them, with RemoveMember), and for an email not on the team (ReasonNotMember).
// Members who joined outside SCIM and were never provisioned may leave.
func (s *Server) CanLeaveTeam(ctx context.Context, teamID, email string) (Decision, error) {
	return s.unmanagedOnly(ctx, teamID, email)
}

// CanChangeEmail reports whether the member with this email may change their account email
// themselves: refused for SCIM-managed members while SCIM is on (ReasonSCIMManaged; the
// identity provider changes it, for verified domains only), and for an email not on the team
// (ReasonNotMember).
func (s *Server) CanChangeEmail(ctx context.Context, teamID, email string) (Decision, error) {
	return s.unmanagedOnly(ctx, teamID, email)
}

// CanChangePassword reports whether the member with this email may change their password:
// refused for SCIM-managed members while SCIM is on (ReasonSCIMManaged; they sign in through
// the team's SSO), and for an email not on the team (ReasonNotMember).
func (s *Server) CanChangePassword(ctx context.Context, teamID, email string) (Decision, error) {
	return s.unmanagedOnly(ctx, teamID, email)
}

// unmanagedOnly is the rule of CanLeaveTeam, CanChangeEmail and CanChangePassword. It holds
// for deactivated and hidden members too: the identity provider still manages them and may
// reactivate them.
func (s *Server) unmanagedOnly(ctx context.Context, teamID, email string) (Decision, error) {
	t, u, found, err := s.memberByEmail(ctx, teamID, email)
	switch {
	case err != nil:
		return Decision{}, err
	case !found:
		return refused(ReasonNotMember), nil
	case t.SCIMEnabled && u.Managed:
		return refused(ReasonSCIMManaged), nil
	}
	return allowed(), nil
}
