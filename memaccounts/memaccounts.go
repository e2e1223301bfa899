// Package memaccounts is an in-memory account service: a reference teamscim.Accounts that
// keeps people's accounts (global identities keyed by email) and the teams each belongs to in
// memory, follows every change teamscim tells it about (new accounts, invitations, joins,
// leaves, email changes), and records the calls.
//
// It exists so that tests and the example server can show Postman's three outcomes of a
// create (a new account, an existing account on a verified domain, an invitation), and the
// host's view of each account after every later change, without a real identity service; it
// lives in its own package because a host never needs it (the host's own account service
// implements teamscim.Accounts).
//
// Accounts are indexed by email (lower-cased), so every call costs the same whatever the
// number of accounts; only Accounts and RemoveTeam read them all. Every call is idempotent, as
// teamscim requires: creating an account that exists, inviting twice, adding to a team twice
// or changing an email twice changes nothing more. FailWith injects failures.
package memaccounts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/teamscim/teamscim"
)

// Service is the in-memory account service. The zero value is not usable; call New. A
// Service is safe for concurrent use.
type Service struct {
	mu       sync.Mutex
	accounts map[string]*teamscim.Account // by lower-cased email
	calls    []Call
	invites  map[string]bool // "team/email" → sent
	fail     func(method string, req teamscim.AccountRequest) error
	next     int
}

// Call is one account call the service received (FindAccount excluded).
type Call struct {
	// Method is the teamscim.Accounts method: "CreateAccount", "SendInvite", "Consolidate",
	// "AddToTeam", "RemoveFromTeam" or "ChangeEmail".
	Method string
	Req    teamscim.AccountRequest
}

var _ teamscim.Accounts = (*Service)(nil)

// New returns an empty Service.
func New() *Service {
	return &Service{accounts: make(map[string]*teamscim.Account), invites: make(map[string]bool)}
}

// Add adds (or replaces) an account. An empty ID gets one.
func (s *Service) Add(a teamscim.Account) teamscim.Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.ID == "" {
		s.next++
		a.ID = fmt.Sprintf("acct-%d", s.next)
	}
	a.Teams = slices.Clone(a.Teams)
	s.accounts[strings.ToLower(a.Email)] = &a
	return a
}

// Account returns a copy of the account with email, and false if there is none.
func (s *Service) Account(email string) (teamscim.Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[strings.ToLower(email)]
	if !ok {
		return teamscim.Account{}, false
	}
	c := *a
	c.Teams = slices.Clone(a.Teams)
	return c, true
}

// Accounts returns copies of every account, ordered by email.
func (s *Service) Accounts() []teamscim.Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]teamscim.Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		c := *a
		c.Teams = slices.Clone(a.Teams)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b teamscim.Account) int {
		return strings.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email))
	})
	return out
}

// KeptCalls is how many of the latest calls the service keeps for Calls: a service that runs
// for long, under a large sync, must not grow with every call.
const KeptCalls = 1000

// Calls returns the latest account calls (at most KeptCalls) that succeeded, in order.
func (s *Service) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls[max(len(s.calls)-KeptCalls, 0):])
}

// FailWith makes the account calls call fail first; a non-nil error fails the call. nil
// removes the hook.
func (s *Service) FailWith(fail func(method string, req teamscim.AccountRequest) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// FindAccount implements teamscim.Accounts.
func (s *Service) FindAccount(ctx context.Context, email string) (teamscim.Account, bool, error) {
	if err := ctx.Err(); err != nil {
		return teamscim.Account{}, false, err
	}
	a, ok := s.Account(email)
	return a, ok, nil
}

// CreateAccount implements teamscim.Accounts: the account is created with the team as its
// team; an existing account joins the team.
func (s *Service) CreateAccount(ctx context.Context, req teamscim.AccountRequest) error {
	return s.call(ctx, "CreateAccount", req, func() {
		join(s.account(req.Email), req.TeamID)
	})
}

// account returns the account with email, created if there is none. The caller holds mu.
func (s *Service) account(email string) *teamscim.Account {
	a, ok := s.accounts[strings.ToLower(email)]
	if !ok {
		s.next++
		a = &teamscim.Account{ID: fmt.Sprintf("acct-%d", s.next), Email: email}
		s.accounts[strings.ToLower(email)] = a
	}
	return a
}

// join adds teamID to a's teams; leave removes it.
func join(a *teamscim.Account, teamID string) {
	if !slices.Contains(a.Teams, teamID) {
		a.Teams = append(a.Teams, teamID)
	}
}

func leave(a *teamscim.Account, teamID string) {
	a.Teams = slices.DeleteFunc(a.Teams, func(t string) bool { return t == teamID })
}

// SendInvite implements teamscim.Accounts: it records one invitation per team and email.
func (s *Service) SendInvite(ctx context.Context, req teamscim.AccountRequest) error {
	return s.call(ctx, "SendInvite", req, func() {
		s.invites[req.TeamID+"/"+strings.ToLower(req.Email)] = true
	})
}

// Invited reports whether an invitation to teamID was sent to email.
func (s *Service) Invited(teamID, email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invites[teamID+"/"+strings.ToLower(email)]
}

// Consolidate implements teamscim.Accounts: the account leaves its other teams for this one.
func (s *Service) Consolidate(ctx context.Context, req teamscim.AccountRequest) error {
	return s.call(ctx, "Consolidate", req, func() {
		if a, ok := s.accounts[strings.ToLower(req.Email)]; ok {
			a.Teams = []string{req.TeamID}
		}
	})
}

// AddToTeam implements teamscim.Accounts: the account (created if there is none) joins the
// team.
func (s *Service) AddToTeam(ctx context.Context, req teamscim.AccountRequest) error {
	return s.call(ctx, "AddToTeam", req, func() {
		join(s.account(req.Email), req.TeamID)
	})
}

// RemoveFromTeam implements teamscim.Accounts: the account leaves the team, and stays.
func (s *Service) RemoveFromTeam(ctx context.Context, req teamscim.AccountRequest) error {
	return s.call(ctx, "RemoveFromTeam", req, func() {
		if a, ok := s.accounts[strings.ToLower(req.Email)]; ok {
			leave(a, req.TeamID)
		}
	})
}

// ChangeEmail implements teamscim.Accounts: the account under the previous email moves to the
// new one. If another account has the new email already, that account is the person's from
// now on: the team's membership moves to it, and the old account stays, without the team.
func (s *Service) ChangeEmail(ctx context.Context, req teamscim.AccountRequest) error {
	return s.call(ctx, "ChangeEmail", req, func() {
		from, to := strings.ToLower(req.PreviousEmail), strings.ToLower(req.Email)
		a, ok := s.accounts[from]
		switch {
		case !ok: // moved already, or never known
		case from == to:
			a.Email = req.Email
		case s.accounts[to] == nil:
			delete(s.accounts, from)
			a.Email = req.Email
			s.accounts[to] = a
		default:
			if slices.Contains(a.Teams, req.TeamID) {
				leave(a, req.TeamID)
				join(s.accounts[to], req.TeamID)
			}
		}
	})
}

// RemoveTeam takes a deleted team off every account, as a host does after
// teamscim.Server.DeleteTeam (teamscim makes no account call for a deleted team). It reads
// every account.
func (s *Service) RemoveTeam(teamID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		leave(a, teamID)
	}
}

func (s *Service) call(ctx context.Context, method string, req teamscim.AccountRequest, apply func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(method, req); err != nil {
			return err
		}
	}
	apply()
	if len(s.calls) == 2*KeptCalls { // drop the older half: O(1) a call, amortised
		s.calls = append(s.calls[:0], s.calls[KeptCalls:]...)
	}
	s.calls = append(s.calls, Call{Method: method, Req: req})
	return nil
}
