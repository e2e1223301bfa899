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

// Accounts is the host's account service: people's accounts (global identities keyed by
// email) and the teams each account belongs to. teamscim asks it about an email before a
// create (FindAccount) and tells it every change to a member that the host's accounts must
// mirror: a new member's account or invitation (CreateAccount, SendInvite, Consolidate), an
// account joining or leaving the team (AddToTeam, RemoveFromTeam), and a member's email change
// (ChangeEmail). The rule that refuses to provision a member of another team (409) reads
// Account.Teams, so it is only as fresh as the host's handling of these calls.
//
// FindAccount runs before the change, outside any transaction. The other methods run after the
// change has committed, as jobs of the team's outbox (see the package documentation, Jobs):
// never lost, retried until they succeed, one member's calls one at a time in the order of the
// changes, each bounded by Config.AccountsTimeout. They must be idempotent (a call that timed
// out may have succeeded, and is made again), and must not call the Server.
//
// Accounts is one interface, not an optional extension of a smaller one, on purpose: a host
// whose account service heard of creates and not of leaves, joins or email changes would work
// on stale data without noticing, so every implementation must say what it does with each.
type Accounts interface {
	// FindAccount returns the account whose email is email (compared case-insensitively),
	// and false when there is none.
	FindAccount(ctx context.Context, email string) (Account, bool, error)
	// CreateAccount creates the account of a new member who has none, as a member of the
	// team (outcome 1). An account that exists already is success; it joins the team.
	CreateAccount(ctx context.Context, req AccountRequest) error
	// SendInvite invites an existing account to join the team (outcome 3); the account joins
	// when the person accepts (AddToTeam follows Server.AcceptInvite).
	SendInvite(ctx context.Context, req AccountRequest) error
	// Consolidate moves an account on a captured domain into the team: it leaves its other
	// teams (outcome 2 under domain capture).
	Consolidate(ctx context.Context, req AccountRequest) error
	// AddToTeam records that the account with req.Email is now a member of the team: a
	// create that found the account on a domain the team verified (outcome 2), an accepted
	// invitation, a JIT sign-in, Server.AddMember, a reactivation, or the re-link of a member
	// hidden by DELETE. An account already on the team is success. A host that has no account
	// with that email (a member provisioned before the host had an account service) creates
	// it.
	AddToTeam(ctx context.Context, req AccountRequest) error
	// RemoveFromTeam records that the account with req.Email is no longer a member of the
	// team: a deactivation (active:false, DELETE /Users, Entra ID's soft-delete rename, the
	// deletion of the group that was the member's only route into the team) or
	// Server.RemoveMember. The account itself stays. An account not on the team, or unknown,
	// is success.
	RemoveFromTeam(ctx context.Context, req AccountRequest) error
	// ChangeEmail records that the member's email changed from req.PreviousEmail to
	// req.Email (a SCIM PUT or PATCH of userName): the account moves to the new email. An
	// account already under req.Email, with none left under req.PreviousEmail, is success.
	// When another account already has req.Email, the host decides (merge them, or move the
	// membership to that account); an error holds back the member's later calls until it is
	// resolved.
	ChangeEmail(ctx context.Context, req AccountRequest) error
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
	// PreviousEmail is the email the member had before (ChangeEmail only).
	PreviousEmail string
	// AccountID is the existing account's ID, when FindAccount found it just before (the
	// calls of a create: SendInvite, Consolidate, AddToTeam); empty otherwise.
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
	accountAdd         = "add"
	accountRemove      = "remove"
	accountEmail       = "email"
)

// accountMethods are the Accounts methods that carry out each action.
var accountMethods = map[string]func(Accounts, context.Context, AccountRequest) error{
	accountCreate:      Accounts.CreateAccount,
	accountInvite:      Accounts.SendInvite,
	accountConsolidate: Accounts.Consolidate,
	accountAdd:         Accounts.AddToTeam,
	accountRemove:      Accounts.RemoveFromTeam,
	accountEmail:       Accounts.ChangeEmail,
}

// accountJob is an account job's store.Job.Data.
type accountJob struct {
	Action        string `json:"action"`
	Email         string `json:"email"`
	PreviousEmail string `json:"previousEmail,omitempty"`
	GivenName     string `json:"givenName,omitempty"`
	FamilyName    string `json:"familyName,omitempty"`
	AccountID     string `json:"accountId,omitempty"`
}

// accountCall returns the job of an account call about member u.
func accountCall(action string, u store.User) *accountJob {
	return &accountJob{Action: action, Email: u.UserName, GivenName: u.GivenName, FamilyName: u.FamilyName}
}

// onHostTeam reports whether u's account is a member of the team in the host's eyes: on the
// team (active, not hidden) and not waiting for an invitation to be accepted.
func onHostTeam(u store.User) bool { return onTeam(u) && !u.Pending }

// mirrorAccount records, and with Config.Accounts queues the account calls for, what a change
// of member old into next means for their account: an email change, then joining or leaving
// the team. old.ID is empty for a member the change creates.
func (s *Server) mirrorAccount(ctx context.Context, tx store.Tx, fx *effects, old, next store.User) error {
	var jobs []*accountJob
	if old.ID != "" && store.Fold(old.UserName) != store.Fold(next.UserName) {
		fx.event(EventMemberEmailChanged, next.ID, "")
		j := accountCall(accountEmail, next)
		j.PreviousEmail = old.UserName
		jobs = append(jobs, j)
	}
	switch was, is := old.ID != "" && onHostTeam(old), onHostTeam(next); {
	case is && !was:
		jobs = append(jobs, accountCall(accountAdd, next))
	case was && !is:
		jobs = append(jobs, accountCall(accountRemove, next))
	}
	for _, j := range jobs {
		if err := s.queueAccount(ctx, tx, fx, next, j); err != nil {
			return err
		}
	}
	return nil
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

// errOtherTeam answers a create for an account of another team on an unverified domain.
var errOtherTeam = &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
	detail: "This person is a member of another team, on an email domain this team has not verified: verify the domain, or have them leave the other team."}

// errPendingInGroup answers a group placement of a member whose invite is pending: they join
// groups once they have joined the team.
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
	if !look.found {
		return false, accountCall(accountCreate, u), nil
	}
	verified := domainVerified(team, u.UserName)
	otherTeam := slices.ContainsFunc(look.account.Teams, func(t string) bool { return t != team.ID })
	var j *accountJob
	switch {
	case verified && otherTeam && team.DomainCapture:
		j = accountCall(accountConsolidate, u)
	case verified:
		j = accountCall(accountAdd, u) // joins at once, no invite
	case otherTeam:
		return false, nil, errOtherTeam
	default:
		j, pending = accountCall(accountInvite, u), true
	}
	j.AccountID = look.account.ID
	return pending, j, nil
}

// joinsTeam reports whether an account call of a create puts the account on the team.
func joinsTeam(action string) bool {
	return action == accountCreate || action == accountConsolidate || action == accountAdd
}

// queueAccount commits the account call job for member u. It does nothing without
// Config.Accounts, or without a job.
func (s *Server) queueAccount(ctx context.Context, tx store.Tx, fx *effects, u store.User, job *accountJob) error {
	if job == nil || s.cfg.Accounts == nil {
		return nil
	}
	return s.queueJob(ctx, tx, fx, u.ID, jobAccounts, *job)
}

// queueNewAccount queues, for a member u that a create makes, the account call of the
// create's outcome; a member created inactive is not on the team, so an account the call put
// on it is taken off again.
func (s *Server) queueNewAccount(ctx context.Context, tx store.Tx, fx *effects, u store.User, job *accountJob) error {
	if job == nil || onHostTeam(u) || !joinsTeam(job.Action) {
		return s.queueAccount(ctx, tx, fx, u, job)
	}
	if job.Action == accountAdd {
		return nil
	}
	if err := s.queueAccount(ctx, tx, fx, u, job); err != nil {
		return err
	}
	return s.queueAccount(ctx, tx, fx, u, accountCall(accountRemove, u))
}

// callAccounts makes an account job's call.
func (s *Server) callAccounts(ctx context.Context, teamID string, job store.Job) error {
	var d accountJob
	if err := json.Unmarshal(job.Data, &d); err != nil {
		return fmt.Errorf("%w: %w", errBadJob, err)
	}
	req := AccountRequest{TeamID: teamID, MemberID: job.UserID, Email: d.Email, PreviousEmail: d.PreviousEmail,
		GivenName: d.GivenName, FamilyName: d.FamilyName, AccountID: d.AccountID, Attempt: job.Attempts}
	call, ok := accountMethods[d.Action]
	if !ok {
		return fmt.Errorf("%w: unknown account action %q", errBadJob, d.Action)
	}
	if err := call(s.cfg.Accounts, ctx, req); err != nil {
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
	old := u
	u.Pending = false
	u.LastModified, u.Version = fx.now, u.Version+1
	if err := tx.UpdateUser(ctx, u); err != nil {
		return store.User{}, err
	}
	fx.event(EventInviteAccepted, u.ID, "")
	return u, s.mirrorAccount(ctx, tx, fx, old, u)
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
