// Package memworkspace is an in-memory workspace service: a reference
// teamscim.WorkspaceReassigner that keeps a team's workspaces in memory and applies the plans
// teamscim makes when a member is deactivated, reactivated or removed.
//
// It exists so that tests and the example server can show the effect of Postman's workspace
// rules without a real workspace service; it lives in its own package because a host never
// needs it (the host's own workspace service implements teamscim.WorkspaceReassigner).
//
// Applying a plan is idempotent: applying it twice leaves the workspaces as applying it once
// (teamscim retries a plan until a call succeeds). FailWith injects failures, including in the
// middle of a plan, so tests can show a retry finishing the job.
package memworkspace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/teamscim/teamscim"
)

// Workspace is a workspace as the service keeps it.
type Workspace struct {
	teamscim.Workspace
	// TeamAdmin is true once the team administers the workspace (its only member was
	// deactivated).
	TeamAdmin bool
}

// Service is the in-memory workspace service. The zero value is not usable; call New. A
// Service is safe for concurrent use.
//
// Its workspaces are indexed by team and ID and by member, so that Create, Workspace,
// MemberWorkspaces and ApplyWorkspacePlan cost what the member's own workspaces cost, however
// many workspaces and members the team has: a host that copies this package keeps a
// provisioning flat at any team size. Only Workspaces, which returns them all, reads the team.
type Service struct {
	mu       sync.Mutex
	teams    map[string]*teamSpaces // by team ID
	sessions map[string]int         // "team/user" → sessions revoked
	applied  []teamscim.WorkspacePlan
	fail     func(plan teamscim.WorkspacePlan, step int) error
}

// teamSpaces is one team's workspaces and their indexes.
type teamSpaces struct {
	byID  map[string]*entry
	order []*entry // creation order
	// of maps a user ID to the workspaces they own or are a member of, in no order: a
	// member has few, so a slice is smaller than a set and as quick.
	of map[string][]*entry
}

// entry is a workspace and its place in the creation order.
type entry struct {
	w   Workspace
	seq int
}

// users calls fn for the owner and each member of e (a user may be both).
func (e *entry) users(fn func(userID string)) {
	fn(e.w.Owner)
	for _, m := range e.w.Members {
		fn(m.UserID)
	}
}

// unindex removes e from the member index; index adds it back. A change to e's owner or
// members is made between the two, at a cost of e's members, not the team's.
func (t *teamSpaces) unindex(e *entry) {
	e.users(func(id string) {
		if i := slices.Index(t.of[id], e); i >= 0 {
			if len(t.of[id]) == 1 {
				delete(t.of, id)
			} else {
				t.of[id] = slices.Delete(t.of[id], i, i+1)
			}
		}
	})
}

func (t *teamSpaces) index(e *entry) {
	e.users(func(id string) {
		if !slices.Contains(t.of[id], e) {
			t.of[id] = append(t.of[id], e)
		}
	})
}

var _ teamscim.WorkspaceReassigner = (*Service)(nil)

// New returns an empty Service.
func New() *Service {
	return &Service{teams: make(map[string]*teamSpaces), sessions: make(map[string]int)}
}

// ErrDuplicate is returned by Create for a workspace ID the team already has.
var ErrDuplicate = errors.New("memworkspace: workspace exists")

// Create adds a workspace to a team.
func (s *Service) Create(teamID string, w teamscim.Workspace) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.teams[teamID]
	if t == nil {
		t = &teamSpaces{byID: make(map[string]*entry), of: make(map[string][]*entry)}
		s.teams[teamID] = t
	}
	if _, ok := t.byID[w.ID]; ok {
		return fmt.Errorf("%w: %s", ErrDuplicate, w.ID)
	}
	w.Members = slices.Clone(w.Members)
	e := &entry{w: Workspace{Workspace: w}, seq: len(t.order)}
	t.byID[w.ID] = e
	t.order = append(t.order, e)
	t.index(e)
	return nil
}

// copyOf returns a copy of w that shares no slice with it.
func copyOf(w Workspace) Workspace {
	w.Members = slices.Clone(w.Members)
	return w
}

// Workspaces returns copies of a team's workspaces, in creation order.
func (s *Service) Workspaces(teamID string) []Workspace {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Workspace{}
	if t := s.teams[teamID]; t != nil {
		out = make([]Workspace, 0, len(t.order))
		for _, e := range t.order {
			out = append(out, copyOf(e.w))
		}
	}
	return out
}

// Workspace returns a copy of one workspace, and false if the team has no such workspace.
func (s *Service) Workspace(teamID, id string) (Workspace, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.find(teamID, id); e != nil {
		return copyOf(e.w), true
	}
	return Workspace{}, false
}

// SessionsRevoked returns how many times a member's sessions in the team were revoked.
func (s *Service) SessionsRevoked(teamID, userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[teamID+"/"+userID]
}

// KeptPlans is how many of the latest plans the service keeps for Applied: a service that runs
// for long, under a large sync, must not grow with every plan.
const KeptPlans = 1000

// Applied returns the latest plans (at most KeptPlans) applied successfully, in order.
func (s *Service) Applied() []teamscim.WorkspacePlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.applied[max(len(s.applied)-KeptPlans, 0):])
}

// FailWith makes ApplyWorkspacePlan call fail before each step of a plan (step 0 is the first
// change, len(plan.Changes) the session revocation and the end of the plan); a non-nil error
// stops the plan there, with the earlier steps applied. nil removes the hook.
func (s *Service) FailWith(fail func(plan teamscim.WorkspacePlan, step int) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// MemberWorkspaces implements teamscim.WorkspaceReassigner.
func (s *Service) MemberWorkspaces(ctx context.Context, teamID, userID string) ([]teamscim.Workspace, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.teams[teamID]
	if t == nil {
		return nil, nil
	}
	mine := slices.Clone(t.of[userID])
	slices.SortFunc(mine, func(a, b *entry) int { return a.seq - b.seq })
	out := make([]teamscim.Workspace, 0, len(mine))
	for _, e := range mine {
		out = append(out, copyOf(e.w).Workspace)
	}
	return out, nil
}

// ApplyWorkspacePlan implements teamscim.WorkspaceReassigner.
func (s *Service) ApplyWorkspacePlan(ctx context.Context, plan teamscim.WorkspacePlan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range plan.Changes {
		if err := s.check(ctx, plan, i); err != nil {
			return err
		}
		e := s.find(plan.TeamID, c.WorkspaceID)
		if e == nil {
			continue // deleted meanwhile: nothing to do
		}
		t, w := s.teams[plan.TeamID], &e.w
		t.unindex(e)
		switch c.Action {
		case teamscim.WorkspaceTeamAdmin:
			w.TeamAdmin = true
		case teamscim.WorkspaceRestore:
			w.TeamAdmin = false
			setRole(w, plan.UserID, teamscim.WorkspaceAdmin)
		case teamscim.WorkspaceMemberAccess, teamscim.WorkspaceDropRole:
			// Any member's access to an internal or public workspace comes from its kind,
			// not from a role: both drop the member's own role.
			w.Members = slices.DeleteFunc(w.Members, func(m teamscim.WorkspaceMember) bool { return m.UserID == plan.UserID })
		case teamscim.WorkspaceTransfer:
			w.Owner = c.To
			setRole(w, c.To, teamscim.WorkspaceAdmin)
		default:
			t.index(e)
			return fmt.Errorf("memworkspace: unknown action %q", c.Action)
		}
		t.index(e)
	}
	if err := s.check(ctx, plan, len(plan.Changes)); err != nil {
		return err
	}
	if plan.RevokeSessions {
		s.sessions[plan.TeamID+"/"+plan.UserID]++
	}
	if len(s.applied) == 2*KeptPlans { // drop the older half: O(1) a plan, amortised
		s.applied = append(s.applied[:0], s.applied[KeptPlans:]...)
	}
	s.applied = append(s.applied, plan)
	return nil
}

func (s *Service) check(ctx context.Context, plan teamscim.WorkspacePlan, step int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.fail != nil {
		return s.fail(plan, step)
	}
	return nil
}

// find returns the team's workspace id, or nil. The caller holds mu.
func (s *Service) find(teamID, id string) *entry {
	if t := s.teams[teamID]; t != nil {
		return t.byID[id]
	}
	return nil
}

func setRole(w *Workspace, userID string, role teamscim.WorkspaceRole) {
	for i, m := range w.Members {
		if m.UserID == userID {
			w.Members[i].Role = role
			return
		}
	}
	w.Members = append(w.Members, teamscim.WorkspaceMember{UserID: userID, Role: role})
}
