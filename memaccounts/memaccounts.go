// Package memaccounts is an in-memory account service: a reference teamscim.Accounts that
// keeps people's accounts (global identities keyed by email) in memory and records the
// account calls teamscim makes when members are provisioned.
//
// It exists so that tests and the example server can show Postman's three outcomes of a
// create (a new account, an existing account on a verified domain, an invitation) without a
// real identity service; it lives in its own package because a host never needs it (the host's
// own account service implements teamscim.Accounts).
//
// Every call is idempotent, as teamscim requires: creating an account that exists, inviting
// twice or consolidating twice changes nothing more. FailWith injects failures.
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
	Method string // "CreateAccount", "SendInvite" or "Consolidate"
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

// Calls returns the account calls received so far that succeeded, in order.
func (s *Service) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
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
		a, ok := s.accounts[strings.ToLower(req.Email)]
		if !ok {
			s.next++
			a = &teamscim.Account{ID: fmt.Sprintf("acct-%d", s.next), Email: req.Email}
			s.accounts[strings.ToLower(req.Email)] = a
		}
		if !slices.Contains(a.Teams, req.TeamID) {
			a.Teams = append(a.Teams, req.TeamID)
		}
	})
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
	s.calls = append(s.calls, Call{Method: method, Req: req})
	return nil
}
