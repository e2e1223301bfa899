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
type Service struct {
	mu         sync.Mutex
	workspaces map[string][]*Workspace // by team ID, in creation order
	sessions   map[string]int          // "team/user" → sessions revoked
	applied    []teamscim.WorkspacePlan
	fail       func(plan teamscim.WorkspacePlan, step int) error
}

var _ teamscim.WorkspaceReassigner = (*Service)(nil)

// New returns an empty Service.
func New() *Service {
	return &Service{workspaces: make(map[string][]*Workspace), sessions: make(map[string]int)}
}

// ErrDuplicate is returned by Create for a workspace ID the team already has.
var ErrDuplicate = errors.New("memworkspace: workspace exists")

// Create adds a workspace to a team.
func (s *Service) Create(teamID string, w teamscim.Workspace) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.workspaces[teamID] {
		if x.ID == w.ID {
			return fmt.Errorf("%w: %s", ErrDuplicate, w.ID)
		}
	}
	w.Members = slices.Clone(w.Members)
	s.workspaces[teamID] = append(s.workspaces[teamID], &Workspace{Workspace: w})
	return nil
}

// Workspaces returns copies of a team's workspaces, in creation order.
func (s *Service) Workspaces(teamID string) []Workspace {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Workspace, 0, len(s.workspaces[teamID]))
	for _, w := range s.workspaces[teamID] {
		c := *w
		c.Members = slices.Clone(w.Members)
		out = append(out, c)
	}
	return out
}

// Workspace returns a copy of one workspace, and false if the team has no such workspace.
func (s *Service) Workspace(teamID, id string) (Workspace, bool) {
	for _, w := range s.Workspaces(teamID) {
		if w.ID == id {
			return w, true
		}
	}
	return Workspace{}, false
}

// SessionsRevoked returns how many times a member's sessions in the team were revoked.
func (s *Service) SessionsRevoked(teamID, userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[teamID+"/"+userID]
}

// Applied returns the plans applied successfully so far, in order.
func (s *Service) Applied() []teamscim.WorkspacePlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.applied)
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
	var out []teamscim.Workspace
	for _, w := range s.workspaces[teamID] {
		if w.Owner == userID || slices.ContainsFunc(w.Members, func(m teamscim.WorkspaceMember) bool { return m.UserID == userID }) {
			c := w.Workspace
			c.Members = slices.Clone(w.Members)
			out = append(out, c)
		}
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
		w := s.find(plan.TeamID, c.WorkspaceID)
		if w == nil {
			continue // deleted meanwhile: nothing to do
		}
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
			return fmt.Errorf("memworkspace: unknown action %q", c.Action)
		}
	}
	if err := s.check(ctx, plan, len(plan.Changes)); err != nil {
		return err
	}
	if plan.RevokeSessions {
		s.sessions[plan.TeamID+"/"+plan.UserID]++
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

func (s *Service) find(teamID, id string) *Workspace {
	for _, w := range s.workspaces[teamID] {
		if w.ID == id {
			return w
		}
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
