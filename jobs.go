package teamscim

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/teamscim/teamscim/store"
)

// errJobFailed marks a hook failure (already recorded on the job).
var errJobFailed = errors.New("teamscim: a call to the host failed; it will be retried")

// errBadJob marks a job the Server cannot run (unreadable data, no hook for its kind).
var errBadJob = errors.New("teamscim: job cannot run")

// queueJob commits, in tx, a job of kind for userID carrying data, and asks for it to run
// after the commit. A job that nothing comes before (the member has no other job) is created
// claimed (see claimNext), and the request runs it without another Update to claim it.
func (s *Server) queueJob(ctx context.Context, tx store.Tx, fx *effects, userID, kind string, data any) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	j := store.Job{ID: id.String(), UserID: userID, Kind: kind, Data: raw, Created: fx.now}
	claimedHere := slices.ContainsFunc(fx.claimed, func(c store.Job) bool { return c.UserID == userID })
	claim := !slices.Contains(fx.jobs, userID) && !claimedHere
	if claim && !slices.Contains(fx.created, userID) { // a member created here has no job yet
		jobs, err := tx.ListJobs(ctx, userID)
		if err != nil {
			return err
		}
		claim = len(jobs) == 0
	}
	if claim {
		j.Attempts, j.NextAttempt = 1, fx.now.Add(2*s.jobTimeout(kind))
	}
	if err := tx.CreateJob(ctx, j); err != nil {
		return err
	}
	switch {
	case claim:
		fx.claimed = append(fx.claimed, j)
	case !claimedHere: // after a job claimed here, runJobs runs the member's next ones in order
		fx.runJobs(userID)
	}
	return nil
}

// pendingJobs notes, in fx, that userID has jobs waiting, so that the request runs them after
// it commits (the next write that touches a member retries what failed before).
func (s *Server) pendingJobs(ctx context.Context, tx store.Tx, fx *effects, userID string) error {
	if s.cfg.Workspaces == nil && s.cfg.Accounts == nil {
		return nil // no hooks, no jobs
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
	var job store.Job
	var ok bool
	err := s.store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		job, ok, err = s.claimNext(ctx, tx, userID)
		return err
	})
	if err != nil || !ok {
		return err
	}
	return s.runJobs(ctx, teamID, job)
}

// runJobs runs a claimed job and then, one by one, the member's next due jobs, each claimed in
// the Update that records the outcome of the one before; it stops at the first that fails.
func (s *Server) runJobs(ctx context.Context, teamID string, job store.Job) error {
	for {
		next, ok, err := s.runJob(ctx, teamID, job)
		if err != nil || !ok {
			return err
		}
		job = next
	}
}

// claimNext takes the member's oldest job if it is due: it counts the attempt and leases the
// job for twice the call timeout, so that no other request starts it meanwhile. ok is false
// when the member has no job, or its oldest job is leased or not due.
func (s *Server) claimNext(ctx context.Context, tx store.JobTx, userID string) (store.Job, bool, error) {
	jobs, err := tx.ListJobs(ctx, userID)
	if err != nil {
		return store.Job{}, false, err
	}
	return s.claimFirst(ctx, tx, jobs)
}

// claimFirst is claimNext for the member's jobs, read in tx.
func (s *Server) claimFirst(ctx context.Context, tx store.JobTx, jobs []store.Job) (store.Job, bool, error) {
	if len(jobs) == 0 {
		return store.Job{}, false, nil
	}
	j := jobs[0] // the oldest: a member's jobs apply in the order of the changes
	now := s.now()
	if now.Before(j.NextAttempt) {
		return store.Job{}, false, nil
	}
	j.Attempts++
	j.NextAttempt = now.Add(2 * s.jobTimeout(j.Kind))
	if err := tx.UpdateJob(ctx, j); err != nil {
		return store.Job{}, false, err
	}
	return j, true, nil
}

// jobTimeout bounds one call of a job of kind.
func (s *Server) jobTimeout(kind string) time.Duration {
	if kind == jobAccounts {
		return s.cfg.AccountsTimeout
	}
	return s.cfg.WorkspaceTimeout
}

// runJob calls the host for a claimed job and records the outcome: the job is deleted on
// success, and the member's next due job claimed in the same Update (next, ok); it is released
// for the next retry on failure (errJobFailed). A job that cannot run at all (its data
// unreadable, or its hook no longer configured) is dropped with an error in the log.
func (s *Server) runJob(ctx context.Context, teamID string, job store.Job) (next store.Job, ok bool, err error) {
	callErr := s.tel.runJob(ctx, teamID, job, s.callJob)
	if errors.Is(callErr, errBadJob) {
		s.log.Error("teamscim: dropping a job that cannot run", "team", teamID, "job", job.ID, "kind", job.Kind, "error", callErr)
		callErr = nil
	}
	next, ok, err = s.finishJob(ctx, teamID, job, callErr)
	if err != nil {
		return store.Job{}, false, err
	}
	if callErr != nil {
		return store.Job{}, false, errJobFailed
	}
	return next, ok, nil
}

// callJob makes a job's call, bounded by its timeout. A panic in the host's code is a failure
// like any other.
func (s *Server) callJob(ctx context.Context, teamID string, job store.Job) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("teamscim: the host's %s hook panicked: %v", job.Kind, v)
		}
	}()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.jobTimeout(job.Kind))
	defer cancel()
	switch {
	case job.Kind == jobWorkspaces && s.cfg.Workspaces != nil:
		return s.callWorkspaces(cctx, teamID, job)
	case job.Kind == jobAccounts && s.cfg.Accounts != nil:
		return s.callAccounts(cctx, teamID, job)
	}
	return fmt.Errorf("%w: no hook for jobs of kind %q", errBadJob, job.Kind)
}

// finishJob deletes a job that succeeded and claims the member's next due job (see
// claimNext), or records the failure and makes the job due again, in a transaction on the
// member's jobs only (see updateJobs). It runs even when the request's context is done: the
// outcome must not be lost.
func (s *Server) finishJob(ctx context.Context, teamID string, job store.Job, callErr error) (next store.Job, ok bool, err error) {
	ctx = context.WithoutCancel(ctx)
	err = s.updateJobs(ctx, teamID, job.UserID, func(ctx context.Context, tx store.JobTx) error {
		ok = false
		// The member's jobs first: the store holds them from here (see store.JobUpdater), so
		// the writes that follow cannot find them gone, and a SQL store sends them with COMMIT.
		jobs, err := tx.ListJobs(ctx, job.UserID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(jobs, func(j store.Job) bool { return j.ID == job.ID })
		if i < 0 {
			// Gone: the member's or the team's removal took it. Nothing to record; the next
			// job, if any, runs from the change that queued it.
			return nil
		}
		if callErr == nil {
			if err := tx.DeleteJob(ctx, job.ID); err != nil {
				return err
			}
			next, ok, err = s.claimFirst(ctx, tx, slices.Delete(jobs, i, i+1))
			return err
		}
		j := job
		j.LastError = callErr.Error()
		j.NextAttempt = time.Time{}
		return tx.UpdateJob(ctx, j)
	})
	if callErr != nil {
		s.log.Warn("teamscim: a call to the host failed; it will be retried", "team", teamID, "user", job.UserID,
			"kind", job.Kind, "attempt", job.Attempts, "error", callErr)
	}
	return next, ok, err
}

// updateJobs runs fn in a transaction on member userID's jobs: the store's UpdateJobs if it
// has one, so that recording a hook's outcome does not wait for the team's lock behind its
// other writes (a claim there and one in an Update take turns on the job, see
// store.JobUpdater), and an Update of the team otherwise.
func (s *Server) updateJobs(ctx context.Context, teamID, userID string, fn func(ctx context.Context, tx store.JobTx) error) error {
	if s.jobs != nil {
		return s.jobs.UpdateJobs(ctx, teamID, userID, fn)
	}
	return s.store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
}

// RetryPending runs every due job of every team: the workspace hand-overs and account calls
// whose call failed or timed out, or whose Server stopped before making it. A host calls it
// periodically, and at start-up. It returns the number of jobs still pending, and the first
// error of the store (hook failures are not errors here: their jobs stay pending).
func (s *Server) RetryPending(ctx context.Context) (pending int, err error) {
	ctx, done := s.tel.startRetryPending(ctx)
	defer func() { done(pending, err) }()
	teams, err := s.store.TeamsWithJobs(ctx)
	if err != nil {
		return 0, wrapErr(err, "retry pending")
	}
	for _, teamID := range teams {
		var users []string
		err := s.store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
			jobs, err := tx.ListJobs(ctx, "")
			users = users[:0]
			for _, j := range jobs {
				if !slices.Contains(users, j.UserID) {
					users = append(users, j.UserID)
				}
			}
			return err
		})
		if err != nil {
			return pending, wrapErr(err, "retry pending")
		}
		for _, u := range users {
			if err := s.runUserJobs(ctx, teamID, u); err != nil && !errors.Is(err, errJobFailed) {
				return pending, wrapErr(err, "retry pending")
			}
		}
		err = s.store.View(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
			jobs, err := tx.ListJobs(ctx, "")
			pending += len(jobs)
			return err
		})
		if err != nil {
			return pending, wrapErr(err, "retry pending")
		}
	}
	return pending, nil
}

// Services a PendingCall is for (PendingCall.Service).
const (
	// ServiceWorkspaces: a workspace hand-over (Config.Workspaces).
	ServiceWorkspaces = jobWorkspaces
	// ServiceAccounts: a call to the account service (Config.Accounts).
	ServiceAccounts = jobAccounts
)

// PendingCall is a call to one of the host's services that a change committed and that has
// not succeeded yet: it failed, timed out, is running, or its Server stopped before making it.
// RetryPending (and the member's next SCIM write) retries it.
type PendingCall struct {
	ID       string
	MemberID string
	// Service is ServiceWorkspaces or ServiceAccounts.
	Service string
	// Action is what the call does: the workspace plan's WorkspaceReason ("deactivation",
	// "reactivation", "removal"), or the account call ("create", "invite", "consolidate",
	// "add", "remove", "email").
	Action string
	// Attempts counts the calls made so far; LastError is the host's error from the last one
	// that failed.
	Attempts  int
	LastError string
	Created   time.Time
	// NextAttempt is the earliest time of the next attempt (zero: as soon as it is retried).
	NextAttempt time.Time
}

// PendingCalls returns the team's pending calls to the host's services, oldest first, for
// the host's settings page (a team has few: each is retried until it succeeds). Like ListKeys
// it takes the Actor and refuses anyone but an admin (ErrNotAdmin).
func (s *Server) PendingCalls(ctx context.Context, teamID string, a Actor) ([]PendingCall, error) {
	var out []PendingCall
	err := s.adminView(ctx, teamID, a, func(ctx context.Context, tx store.Tx) error {
		jobs, err := tx.ListJobs(ctx, "")
		if err != nil {
			return err
		}
		out = make([]PendingCall, 0, len(jobs))
		for _, j := range jobs {
			var d struct {
				Reason string `json:"reason"` // workspaceJob
				Action string `json:"action"` // accountJob
			}
			_ = json.Unmarshal(j.Data, &d) // unreadable data shows no action; running it drops it
			out = append(out, PendingCall{ID: j.ID, MemberID: j.UserID, Service: j.Kind, Action: cmp.Or(d.Reason, d.Action),
				Attempts: j.Attempts, LastError: j.LastError, Created: j.Created, NextAttempt: j.NextAttempt})
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr(err, "pending calls of team %s", teamID)
	}
	return out, nil
}
