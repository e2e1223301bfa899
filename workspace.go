package teamscim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/teamscim/teamscim/store"
)

// WorkspaceKind is a workspace's visibility (Postman's workspace types).
type WorkspaceKind string

// Workspace kinds.
const (
	WorkspaceInternal WorkspaceKind = "internal" // every team member can see it (formerly "team")
	WorkspacePublic   WorkspaceKind = "public"   // anyone can see it
	WorkspacePartner  WorkspaceKind = "partner"  // shared with the team's partners
	WorkspacePrivate  WorkspaceKind = "private"  // invite-only within the team
	WorkspacePersonal WorkspaceKind = "personal" // one member's own
)

// WorkspaceRole is a member's role in a workspace.
type WorkspaceRole string

// Workspace roles.
const (
	WorkspaceAdmin  WorkspaceRole = "admin"
	WorkspaceEditor WorkspaceRole = "editor"
	WorkspaceViewer WorkspaceRole = "viewer"
)

// Workspace is one of the team's workspaces as the host describes it to teamscim.
type Workspace struct {
	ID   string
	Kind WorkspaceKind
	// Owner is the ID of the member who created the workspace (their "own" workspace).
	Owner string
	// Members are the workspace's members and their roles.
	Members []WorkspaceMember
}

// WorkspaceMember is a member's role in a workspace.
type WorkspaceMember struct {
	UserID string
	Role   WorkspaceRole
}

// WorkspaceReason is why a plan was made.
type WorkspaceReason string

// Plan reasons.
const (
	WorkspacesOnDeactivation WorkspaceReason = "deactivation"
	WorkspacesOnReactivation WorkspaceReason = "reactivation"
	WorkspacesOnRemoval      WorkspaceReason = "removal"
)

// WorkspaceAction is one step of a plan.
type WorkspaceAction string

// Plan steps.
const (
	// WorkspaceTeamAdmin makes the team the workspace's admin, keeping its kind (its only
	// member was deactivated).
	WorkspaceTeamAdmin WorkspaceAction = "team-admin"
	// WorkspaceRestore gives the member their own workspace back.
	WorkspaceRestore WorkspaceAction = "restore"
	// WorkspaceMemberAccess sets the member's access to what any team member has (their
	// former role is not restored).
	WorkspaceMemberAccess WorkspaceAction = "member-access"
	// WorkspaceDropRole removes the member's role in the workspace for good.
	WorkspaceDropRole WorkspaceAction = "drop-role"
	// WorkspaceTransfer makes WorkspaceChange.To the workspace's owner and admin.
	WorkspaceTransfer WorkspaceAction = "transfer"
)

// WorkspaceChange is one workspace's step of a plan.
type WorkspaceChange struct {
	WorkspaceID string
	Action      WorkspaceAction
	// To is the member who receives the workspace (WorkspaceTransfer only).
	To string
}

// WorkspacePlan is what must happen to a member's workspaces.
type WorkspacePlan struct {
	TeamID string
	UserID string
	Reason WorkspaceReason
	// Attempt is 1 on the first call for this change, 2 on the first retry, and so on.
	Attempt int
	// RevokeSessions asks the host to end the member's sessions in the team.
	RevokeSessions bool
	// Changes are the steps, in the order of the workspaces the host listed.
	Changes []WorkspaceChange
}

// WorkspaceReassigner is the host's workspace service. Its methods are called after the change
// has committed, outside any transaction, with Config.WorkspaceTimeout; they must not call the
// Server.
type WorkspaceReassigner interface {
	// MemberWorkspaces returns the team's workspaces that the member owns or is a member of,
	// with all of their members.
	MemberWorkspaces(ctx context.Context, teamID, userID string) ([]Workspace, error)
	// ApplyWorkspacePlan carries out a plan. It must be idempotent: a plan is retried until a
	// call returns nil.
	ApplyWorkspacePlan(ctx context.Context, plan WorkspacePlan) error
}

// PlanWorkspaces returns the plan of reason for member userID of team teamID, given the
// member's workspaces. transferTo is the admin who receives the member's workspaces on
// removal.
func PlanWorkspaces(teamID, userID string, reason WorkspaceReason, transferTo string, workspaces []Workspace) WorkspacePlan {
	p := WorkspacePlan{TeamID: teamID, UserID: userID, Reason: reason, RevokeSessions: reason != WorkspacesOnReactivation}
	add := func(w Workspace, a WorkspaceAction) {
		c := WorkspaceChange{WorkspaceID: w.ID, Action: a}
		if a == WorkspaceTransfer {
			c.To = transferTo
		}
		p.Changes = append(p.Changes, c)
	}
	for _, w := range workspaces {
		role, member := roleOf(w, userID)
		own := w.Owner == userID
		switch reason {
		case WorkspacesOnDeactivation:
			sole := member && len(w.Members) == 1
			if sole && (w.Kind == WorkspaceInternal || w.Kind == WorkspacePublic || w.Kind == WorkspacePartner) {
				add(w, WorkspaceTeamAdmin)
			}
		case WorkspacesOnReactivation:
			switch {
			case own:
				add(w, WorkspaceRestore)
			case !member:
			case w.Kind == WorkspacePrivate || w.Kind == WorkspacePartner:
				add(w, WorkspaceDropRole)
			case w.Kind == WorkspaceInternal || w.Kind == WorkspacePublic:
				add(w, WorkspaceMemberAccess)
			}
		case WorkspacesOnRemoval:
			switch {
			case own || role == WorkspaceAdmin:
				add(w, WorkspaceTransfer)
				if member {
					add(w, WorkspaceDropRole)
				}
			case member:
				add(w, WorkspaceDropRole)
			}
		}
	}
	return p
}

func roleOf(w Workspace, userID string) (WorkspaceRole, bool) {
	for _, m := range w.Members {
		if m.UserID == userID {
			return m.Role, true
		}
	}
	return "", false
}

// jobWorkspaces is the store.Job kind of workspace hand-overs.
const jobWorkspaces = "workspaces"

// workspaceJob is a workspace job's store.Job.Data.
type workspaceJob struct {
	Reason     WorkspaceReason `json:"reason"`
	TransferTo string          `json:"transferTo,omitempty"`
}

// DefaultWorkspaceTimeout bounds each call to the WorkspaceReassigner.
const DefaultWorkspaceTimeout = 10 * time.Second

// queueWorkspaces commits, in tx, a job for the workspace plan of reason. It does nothing
// without a WorkspaceReassigner.
func (s *Server) queueWorkspaces(ctx context.Context, tx store.Tx, fx *effects, userID string, reason WorkspaceReason, transferTo string) error {
	if s.cfg.Workspaces == nil {
		return nil
	}
	return s.queueJob(ctx, tx, fx, userID, jobWorkspaces, workspaceJob{Reason: reason, TransferTo: transferTo})
}

// callWorkspaces reads the member's workspaces, plans, and applies the plan.
func (s *Server) callWorkspaces(ctx context.Context, teamID string, job store.Job) error {
	var d workspaceJob
	if err := json.Unmarshal(job.Data, &d); err != nil {
		return fmt.Errorf("%w: %w", errBadJob, err)
	}
	ws, err := s.cfg.Workspaces.MemberWorkspaces(ctx, teamID, job.UserID)
	if err != nil {
		return wrapErr(err, "list workspaces")
	}
	plan := PlanWorkspaces(teamID, job.UserID, d.Reason, d.TransferTo, ws)
	plan.Attempt = job.Attempts
	if err := s.cfg.Workspaces.ApplyWorkspacePlan(ctx, plan); err != nil {
		return wrapErr(err, "apply workspace plan")
	}
	return nil
}
