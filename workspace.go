package teamscim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/teamscim/teamscim/store"
)

// Workspaces
//
// A team's workspaces live in the host. When a member is deactivated, reactivated or removed
// from the team, teamscim decides what must happen to their workspaces (a WorkspacePlan, from
// Postman's rules) and hands the plan to the host's WorkspaceReassigner, which applies it:
//
//   - deactivation: every internal, public or partner workspace where the member is the only
//     member keeps its kind and the team becomes its admin; other members keep their roles
//     (nobody is promoted); the member's sessions in the team are revoked;
//   - reactivation: the member's own workspaces are theirs again; their former roles in
//     private and partner workspaces are not restored (even read access goes); in internal and
//     public workspaces they get the access any member has;
//   - removal from the team (Server.RemoveMember, an admin action, not SCIM): the workspaces
//     the member owns or administers are transferred to a named admin, every role the member
//     had goes, and their sessions are revoked. Re-adding them later restores nothing.
//
// # Never lost
//
// The plan is carried out after the change has committed, never inside a store transaction. The
// change commits a store.Job with it, so a host that crashes between the commit and the call
// loses nothing. After the commit the Server runs the job; a failed or timed-out call leaves it
// in the store, and it is retried by the next SCIM write that touches the member (IdPs retry)
// and by Server.RetryPending, which a host calls periodically. A member's jobs run one at a
// time, in the order of the changes, and a job is not started twice at once. The reassigner must
// therefore be idempotent; WorkspacePlan.Attempt says which attempt a call is.

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

// jobKind is the store.Job kind of workspace hand-overs.
const jobKind = "workspaces"

// jobData is a workspace job's store.Job.Data.
type jobData struct {
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
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	data, err := json.Marshal(jobData{Reason: reason, TransferTo: transferTo})
	if err != nil {
		return err
	}
	if err := tx.CreateJob(ctx, store.Job{ID: id.String(), UserID: userID, Kind: jobKind, Data: data, Created: fx.now}); err != nil {
		return err
	}
	fx.runJobs(userID)
	return nil
}

// pendingJobs notes, in fx, that userID has jobs waiting, so that the request runs them after
// it commits (the next write that touches a member retries what failed before).
func (s *Server) pendingJobs(ctx context.Context, tx store.Tx, fx *effects, userID string) error {
	if s.cfg.Workspaces == nil {
		return nil
	}
	jobs, err := tx.ListJobs(ctx, userID)
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		fx.runJobs(userID)
	}
	return nil
}

// runUserJobs runs the due jobs of one member in order, stopping at the first that fails.
func (s *Server) runUserJobs(ctx context.Context, teamID, userID string) error {
	for {
		job, ok, err := s.claimJob(ctx, teamID, userID)
		if err != nil || !ok {
			return err
		}
		if err := s.runJob(ctx, teamID, job); err != nil {
			return err
		}
	}
}

// errJobFailed marks a hook failure (already recorded on the job).
var errJobFailed = errors.New("teamscim: workspace hand-over failed; it will be retried")

// claimJob takes the member's oldest job if it is due: it counts the attempt and leases the
// job for twice the call timeout, so that no other request starts it meanwhile. ok is false
// when the member has no job, or its oldest job is leased or not due.
func (s *Server) claimJob(ctx context.Context, teamID, userID string) (store.Job, bool, error) {
	var job store.Job
	var ok bool
	err := s.store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		ok = false
		jobs, err := tx.ListJobs(ctx, userID)
		if err != nil || len(jobs) == 0 {
			return err
		}
		// The oldest job first: a member's hand-overs must apply in the order of the changes.
		j := jobs[0]
		now := s.now()
		if now.Before(j.NextAttempt) {
			return nil
		}
		j.Attempts++
		j.NextAttempt = now.Add(2 * s.cfg.WorkspaceTimeout)
		if err := tx.UpdateJob(ctx, j); err != nil {
			return err
		}
		job, ok = j, true
		return nil
	})
	return job, ok, err
}

// runJob calls the reassigner for a claimed job and records the outcome: the job is deleted
// on success and released for the next retry on failure.
func (s *Server) runJob(ctx context.Context, teamID string, job store.Job) error {
	var d jobData
	if err := json.Unmarshal(job.Data, &d); err != nil {
		s.log.Error("teamscim: unreadable workspace job; dropping it", "team", teamID, "job", job.ID, "error", err)
		return s.finishJob(ctx, teamID, job, nil)
	}
	callErr := s.callWorkspaces(ctx, teamID, job, d)
	if err := s.finishJob(ctx, teamID, job, callErr); err != nil {
		return err
	}
	if callErr != nil {
		return errJobFailed
	}
	return nil
}

// callWorkspaces reads the member's workspaces, plans, and applies the plan, each call bounded
// by the timeout. A panic in the host's code is a failure like any other.
func (s *Server) callWorkspaces(ctx context.Context, teamID string, job store.Job, d jobData) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("teamscim: workspace reassigner panicked: %v", v)
		}
	}()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WorkspaceTimeout)
	defer cancel()
	ws, err := s.cfg.Workspaces.MemberWorkspaces(wctx, teamID, job.UserID)
	if err != nil {
		return fmt.Errorf("teamscim: list workspaces: %w", err)
	}
	plan := PlanWorkspaces(teamID, job.UserID, d.Reason, d.TransferTo, ws)
	plan.Attempt = job.Attempts
	if err := s.cfg.Workspaces.ApplyWorkspacePlan(wctx, plan); err != nil {
		return fmt.Errorf("teamscim: apply workspace plan: %w", err)
	}
	return nil
}

// finishJob deletes a job that succeeded, or records the failure and makes the job due again.
// It runs even when the request's context is done: the outcome must not be lost.
func (s *Server) finishJob(ctx context.Context, teamID string, job store.Job, callErr error) error {
	ctx = context.WithoutCancel(ctx)
	err := s.store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		if callErr == nil {
			err := tx.DeleteJob(ctx, job.ID)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		j := job
		j.LastError = callErr.Error()
		j.NextAttempt = time.Time{}
		err := tx.UpdateJob(ctx, j)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if callErr != nil {
		s.log.Warn("teamscim: workspace hand-over failed; it will be retried", "team", teamID, "user", job.UserID,
			"attempt", job.Attempts, "error", callErr)
	}
	return err
}

// RetryPending runs every due workspace hand-over of every team (those whose call failed or
// timed out, or whose Server stopped before making it). A host calls it periodically, and at
// start-up. It returns the number of hand-overs that are still pending, and the first error
// of the store (hook failures are not errors here: they stay pending).
func (s *Server) RetryPending(ctx context.Context) (pending int, err error) {
	if s.cfg.Workspaces == nil {
		return 0, nil
	}
	teams, err := s.store.TeamsWithJobs(ctx)
	if err != nil {
		return 0, fmt.Errorf("teamscim: retry pending: %w", err)
	}
	for _, teamID := range teams {
		var users []string
		err := s.store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
			jobs, err := tx.ListJobs(ctx, "")
			users = users[:0]
			for _, j := range jobs {
				if j.Kind == jobKind && !slices.Contains(users, j.UserID) {
					users = append(users, j.UserID)
				}
			}
			return err
		})
		if err != nil {
			return pending, fmt.Errorf("teamscim: retry pending: %w", err)
		}
		for _, u := range users {
			if err := s.runUserJobs(ctx, teamID, u); err != nil && !errors.Is(err, errJobFailed) {
				return pending, fmt.Errorf("teamscim: retry pending: %w", err)
			}
		}
		err = s.store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
			jobs, err := tx.ListJobs(ctx, "")
			pending += len(jobs)
			return err
		})
		if err != nil {
			return pending, fmt.Errorf("teamscim: retry pending: %w", err)
		}
	}
	return pending, nil
}
