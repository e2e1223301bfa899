package teamscim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/teamscim/teamscim/store"
)

// Accounts is the host's account service. Its lookups run before the change, outside any
// transaction; its other methods run after the change has committed, retried until they
// succeed, bounded by Config.AccountsTimeout. They must not call the Server.
type Accounts interface {
	// FindAccount returns the account whose email is email (compared case-insensitively),
	// and false when there is none.
	FindAccount(ctx context.Context, email string) (Account, bool, error)
	// CreateAccount creates the account of a member provisioned without one (outcome 1). It
	// must be idempotent: an account that exists already is success.
	CreateAccount(ctx context.Context, req AccountRequest) error
	// SendInvite invites an existing account to join the team (outcome 3). Idempotent.
	SendInvite(ctx context.Context, req AccountRequest) error
	// Consolidate moves an account on a captured domain into the team (outcome 2 with domain
	// capture). Idempotent.
	Consolidate(ctx context.Context, req AccountRequest) error
}

// Account is a person's account as the host describes it.
type Account struct {
	ID    string
	Email string
	// Teams are the IDs of the teams the account is a member of.
	Teams []string
}

// AccountRequest is what an account call is about.
type AccountRequest struct {
	TeamID string
	// MemberID is the member's SCIM id in the team.
	MemberID   string
	Email      string
	GivenName  string
	FamilyName string
	// AccountID is the existing account's ID (SendInvite, Consolidate).
	AccountID string
	// Attempt is 1 on the first call for this member, 2 on the first retry, and so on.
	Attempt int
}

// DefaultAccountsTimeout bounds each call to Config.Accounts.
const DefaultAccountsTimeout = 10 * time.Second

// Errors of the invitation and JIT API. Each is returned wrapped; test with errors.Is.
var (
	// ErrNotInvited: the email has no pending invitation in the team.
	ErrNotInvited = errors.New("teamscim: no pending invitation for this email")
	// ErrJITDisabled: the team does not provision members just in time at SSO sign-in.
	ErrJITDisabled = errors.New("teamscim: just-in-time provisioning is off for the team")
	// ErrDomainNotCaptured: the team captures its verified domains, and the email is on
	// another domain.
	ErrDomainNotCaptured = errors.New("teamscim: the team captures its verified domains, and this email is on another domain")
	// ErrMemberDeactivated: the member was deactivated (or deleted) by the team's identity
	// provider; signing in does not bring them back.
	ErrMemberDeactivated = errors.New("teamscim: the member was deactivated by the team's identity provider")
)

// jobAccounts is the store.Job kind of account calls.
const jobAccounts = "accounts"

// Account call actions, in accountJob.Action.
const (
	accountCreate      = "create"
	accountInvite      = "invite"
	accountConsolidate = "consolidate"
)

// accountJob is an account job's store.Job.Data.
type accountJob struct {
	Action     string `json:"action"`
	Email      string `json:"email"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	AccountID  string `json:"accountId,omitempty"`
}

// accountLookup is what FindAccount said about a create's email, before the create's Update.
type accountLookup struct {
	checked bool // Config.Accounts is set and was asked
	found   bool
	account Account
}

// lookupAccount asks the host about email when it has an account service.
func (s *Server) lookupAccount(ctx context.Context, email string) (accountLookup, error) {
	if s.cfg.Accounts == nil {
		return accountLookup{}, nil
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.AccountsTimeout)
	defer cancel()
	a, found, err := s.cfg.Accounts.FindAccount(actx, email)
	if err != nil {
		return accountLookup{}, wrapErr(err, "find account")
	}
	return accountLookup{checked: true, found: found, account: a}, nil
}

// errManualInvite answers a create for an email that an admin invited by hand.
var errManualInvite = &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
	detail: "This email has a pending invite to the team that was sent outside SCIM: remove the pending invite in the team's settings, then retry."}

// errOtherTeam answers a create for an account of another team on an unverified domain (R18).
var errOtherTeam = &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
	detail: "This person is a member of another team, on an email domain this team has not verified: verify the domain, or have them leave the other team."}

// errPendingInGroup answers a group placement of a member whose invite is pending (R22).
func errPendingInGroup(id string) error {
	return badRequest(scimerrors.ScimTypeInvalidValue,
		"Member %q has not accepted the invitation to the team yet: they can join groups once they have.", id)
}

// newMemberOutcome decides, for a create that makes a new member u of team, the outcome of
// the account lookup: whether the member is pending, and the account call to queue ("" for
// none).
func newMemberOutcome(team store.Team, u store.User, look accountLookup) (pending bool, job *accountJob, err error) {
	if !look.checked {
		return false, nil, nil
	}
	base := accountJob{Email: u.UserName, GivenName: u.GivenName, FamilyName: u.FamilyName}
	if !look.found {
		base.Action = accountCreate
		return false, &base, nil
	}
	base.AccountID = look.account.ID
	verified := domainVerified(team, u.UserName)
	otherTeam := slices.ContainsFunc(look.account.Teams, func(t string) bool { return t != team.ID })
	switch {
	case verified && otherTeam && team.DomainCapture:
		base.Action = accountConsolidate
		return false, &base, nil
	case verified:
		return false, nil, nil // outcome 2: joins at once, nothing to ask the host
	case otherTeam:
		return false, nil, errOtherTeam
	}
	base.Action = accountInvite
	return true, &base, nil
}

// queueAccount commits the account call job for member u.
func (s *Server) queueAccount(ctx context.Context, tx store.Tx, fx *effects, u store.User, job *accountJob) error {
	if job == nil {
		return nil
	}
	return s.queueJob(ctx, tx, fx, u.ID, jobAccounts, *job)
}

// callAccounts makes an account job's call.
func (s *Server) callAccounts(ctx context.Context, teamID string, job store.Job) error {
	var d accountJob
	if err := json.Unmarshal(job.Data, &d); err != nil {
		return fmt.Errorf("%w: %w", errBadJob, err)
	}
	req := AccountRequest{TeamID: teamID, MemberID: job.UserID, Email: d.Email, GivenName: d.GivenName,
		FamilyName: d.FamilyName, AccountID: d.AccountID, Attempt: job.Attempts}
	var err error
	switch d.Action {
	case accountCreate:
		err = s.cfg.Accounts.CreateAccount(ctx, req)
	case accountInvite:
		err = s.cfg.Accounts.SendInvite(ctx, req)
	case accountConsolidate:
		err = s.cfg.Accounts.Consolidate(ctx, req)
	default:
		return fmt.Errorf("%w: unknown account action %q", errBadJob, d.Action)
	}
	if err != nil {
		return wrapErr(err, "accounts %s", d.Action)
	}
	return nil
}

// InviteMember records an invitation an admin sends outside SCIM: a pending member who is
// not SCIM-managed and joins when the host calls AcceptInvite. The invitation reserves a seat
// (ErrNoSeat when the seat policy refuses). The host sends the email itself. A POST /Users for
// the same email answers 409 until the invitation is cancelled (CancelInvite) or accepted.
func (s *Server) InviteMember(ctx context.Context, teamID string, a Actor, m Member) (store.User, error) {
	if !isEmail(m.Email) {
		return store.User{}, fmt.Errorf("%w: %q is not an email address", ErrInvalidArgument, m.Email)
	}
	var u store.User
	err := s.adminUpdate(ctx, teamID, a, func(ctx context.Context, tx store.Tx, fx *effects, _ store.Team) error {
		var err error
		if u, err = s.createHostMember(ctx, tx, fx, m, true); err != nil {
			return err
		}
		fx.event(EventInviteSent, u.ID, "")
		return nil
	})
	if err != nil {
		return store.User{}, wrapErr(err, "invite %s to team %s", m.Email, teamID)
	}
	return u, nil
}

// invitee returns the team's pending member with email, or ErrNotInvited.
func invitee(ctx context.Context, tx store.Tx, email string) (store.User, error) {
	u, err := tx.GetUserByUserName(ctx, email)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Pending) {
		return store.User{}, ErrNotInvited
	}
	return u, err
}

// CancelInvite withdraws a pending invitation (made by hand or by a SCIM create) and frees its
// seat. ErrNotInvited when the email has none.
func (s *Server) CancelInvite(ctx context.Context, teamID string, a Actor, email string) error {
	err := s.adminUpdate(ctx, teamID, a, func(ctx context.Context, tx store.Tx, fx *effects, _ store.Team) error {
		u, err := invitee(ctx, tx, email)
		if err != nil {
			return err
		}
		if u.Seat {
			if err := s.releaseOverage(ctx, tx, fx); err != nil {
				return err
			}
		}
		if err := tx.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		fx.event(EventInviteCancelled, u.ID, "")
		return nil
	})
	if err != nil {
		return wrapErr(err, "cancel the invitation of %s to team %s", email, teamID)
	}
	return nil
}

// AcceptInvite is the host's call when an invited person accepts: the pending member joins
// (with the active state their provisioning asked for). It returns the member. ErrNotInvited
// when the email has no pending invitation.
func (s *Server) AcceptInvite(ctx context.Context, teamID, email string) (store.User, error) {
	var u store.User
	err := s.update(ctx, teamID, "", func(ctx context.Context, tx store.Tx, fx *effects) error {
		var err error
		u, err = s.acceptInvite(ctx, tx, fx, email)
		return err
	})
	if err != nil {
		return store.User{}, wrapErr(err, "accept the invitation of %s to team %s", email, teamID)
	}
	return u, nil
}

func (s *Server) acceptInvite(ctx context.Context, tx store.Tx, fx *effects, email string) (store.User, error) {
	u, err := invitee(ctx, tx, email)
	if err != nil {
		return store.User{}, err
	}
	u.Pending = false
	u.LastModified, u.Version = fx.now, u.Version+1
	if err := tx.UpdateUser(ctx, u); err != nil {
		return store.User{}, err
	}
	fx.event(EventInviteAccepted, u.ID, "")
	return u, nil
}

// SSOUser is a person who signed in through the team's identity provider.
type SSOUser struct {
	Email      string
	GivenName  string
	FamilyName string
}

// SignInWithSSO is the host's call when a person signs in through the team's identity
// provider. A member of the team is returned as they are (a pending invitee joins: signing in
// accepts the invitation). Someone new is added as an active member who is not SCIM-managed
// (a later POST /Users adopts them), when the team's JIT is on (ErrJITDisabled otherwise) and,
// with domain capture on, their email is on a verified domain (ErrDomainNotCaptured
// otherwise); the seat policy applies (ErrNoSeat). A member the identity provider deactivated
// or deleted is refused (ErrMemberDeactivated).
func (s *Server) SignInWithSSO(ctx context.Context, teamID string, p SSOUser) (store.User, error) {
	if !isEmail(p.Email) {
		return store.User{}, fmt.Errorf("%w: %q is not an email address", ErrInvalidArgument, p.Email)
	}
	var u store.User
	err := s.update(ctx, teamID, "", func(ctx context.Context, tx store.Tx, fx *effects) error {
		team, err := tx.Team(ctx)
		if err != nil {
			return err
		}
		existing, err := tx.GetUserByUserName(ctx, p.Email)
		switch {
		case err == nil && existing.Pending:
			u, err = s.acceptInvite(ctx, tx, fx, p.Email)
			return err
		case err == nil && onTeam(existing):
			u = existing
			return nil
		case err == nil:
			return ErrMemberDeactivated
		case !errors.Is(err, store.ErrNotFound):
			return err
		case !team.JIT:
			return ErrJITDisabled
		case team.DomainCapture && !domainVerified(team, p.Email):
			return ErrDomainNotCaptured
		}
		if u, err = s.createHostMember(ctx, tx, fx, Member{Email: p.Email, GivenName: p.GivenName, FamilyName: p.FamilyName}, false); err != nil {
			return err
		}
		fx.event(EventMemberJoinedJIT, u.ID, "")
		return nil
	})
	if err != nil {
		return store.User{}, wrapErr(err, "SSO sign-in of %s to team %s", p.Email, teamID)
	}
	return u, nil
}

// ErrNoVerifiedDomain: domain capture needs at least one verified domain.
var ErrNoVerifiedDomain = errors.New("teamscim: domain capture needs a verified domain")

// SetJIT turns SSO just-in-time provisioning on or off for the team (see SignInWithSSO).
func (s *Server) SetJIT(ctx context.Context, teamID string, a Actor, on bool) error {
	err := s.adminUpdate(ctx, teamID, a, func(ctx context.Context, tx store.Tx, fx *effects, t store.Team) error {
		if t.JIT == on {
			return nil
		}
		t.JIT = on
		return tx.UpdateTeam(ctx, t)
	})
	if err != nil {
		return wrapErr(err, "set JIT of team %s", teamID)
	}
	return nil
}

// SetDomainCapture turns domain capture on or off for the team: with it on, accounts on the
// team's verified domains that belong to another team are consolidated into this one when
// they are provisioned, and SSO sign-ins from other domains are refused
// (ErrDomainNotCaptured). It needs a verified domain (ErrNoVerifiedDomain).
func (s *Server) SetDomainCapture(ctx context.Context, teamID string, a Actor, on bool) error {
	err := s.adminUpdate(ctx, teamID, a, func(ctx context.Context, tx store.Tx, fx *effects, t store.Team) error {
		if t.DomainCapture == on {
			return nil
		}
		if on && len(t.VerifiedDomains) == 0 {
			return ErrNoVerifiedDomain
		}
		t.DomainCapture = on
		return tx.UpdateTeam(ctx, t)
	})
	if err != nil {
		return wrapErr(err, "set domain capture of team %s", teamID)
	}
	return nil
}
