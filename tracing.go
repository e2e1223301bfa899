package teamscim

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/teamscim/teamscim/store"
)

// Spans of the store's transactions and of the calls to the host's services. New wraps the
// store and the services only when Config.TracerProvider (or, for the services' durations,
// Config.MeterProvider) is set, so that without them nothing changes.
//
// Spans record errors by class (error.type: not_found, conflict, rejected, no_seat, canceled,
// timeout, panic, error), never by message: a store's or a host's error text may quote what a
// member wrote (an email address, a display name). The message goes to Config.Logger, with the
// request's trace ID, where the Server logs it.

// errorClass is the error.type of a span that ended with err.
func errorClass(err error) string {
	var ae *apiError
	var se scimerrors.ScimError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoSeat):
		return "no_seat"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, errHookPanic):
		return "panic"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ae) && ae.status == 404, errors.As(err, &se) && se.Status == 404:
		return "not_found"
	case errors.As(err, &ae) && ae.status == 409, errors.As(err, &se) && se.Status == 409:
		return "conflict"
	case errors.As(err, &ae), errors.As(err, &se):
		return "rejected" // the request's rules refused the change: nothing went wrong
	}
	return "error"
}

// setSpanError records err on span by its class; classes that are not the request's own
// refusals also set the span's status to Error.
func setSpanError(span trace.Span, err error) {
	class := errorClass(err)
	span.SetAttributes(attrErrorType.String(class))
	switch class {
	case "rejected", "no_seat", "not_found":
		return
	}
	span.SetStatus(codes.Error, class)
}

// tracedStore is a store whose transactions and lookups are spans. An Update's span says how
// many times the store ran its function (teamscim.store.attempts, and a "retry" event for
// each run after the first: a SQL store retries on serialisation conflicts), and a conflict
// ends it with error.type "conflict".
type tracedStore struct {
	store.Store
	tracer trace.Tracer
}

func (s tracedStore) start(ctx context.Context, name, teamID string) (context.Context, trace.Span) {
	return startStoreSpan(ctx, s.tracer, name, teamID)
}

// startStoreSpan starts the span of a store call.
func startStoreSpan(ctx context.Context, tracer trace.Tracer, name, teamID string) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	if teamID != "" {
		opts = append(opts, trace.WithAttributes(attrTeam.String(teamID)))
	}
	return tracer.Start(ctx, name, opts...)
}

// runs counts the runs of a read-write transaction's function on its span: a "retry" event
// for each run after the first, and teamscim.store.attempts when it ends.
type runs struct {
	span trace.Span
	n    int
}

// run records one more run.
func (r *runs) run() {
	r.n++
	if r.n > 1 {
		r.span.AddEvent("retry", trace.WithAttributes(attrAttempts.Int(r.n)))
	}
}

// end ends the span with the transaction's outcome.
func (r *runs) end(err error) {
	r.span.SetAttributes(attrAttempts.Int(r.n))
	end(r.span, err)
}

func end(span trace.Span, err error) {
	if err != nil {
		setSpanError(span, err)
	}
	span.End()
}

// View implements store.Store.
func (s tracedStore) View(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	ctx, span := s.start(ctx, "teamscim.store.View", teamID)
	err := s.Store.View(ctx, teamID, fn)
	end(span, err)
	return err
}

// Update implements store.Store.
func (s tracedStore) Update(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	ctx, span := s.start(ctx, "teamscim.store.Update", teamID)
	r := runs{span: span}
	err := s.Store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		r.run()
		return fn(ctx, tx)
	})
	r.end(err)
	return err
}

// tracedJobs is a JobUpdater whose transactions are spans, as tracedStore's Updates are.
type tracedJobs struct {
	store.JobUpdater
	tracer trace.Tracer
}

// UpdateJobs implements store.JobUpdater.
func (s tracedJobs) UpdateJobs(ctx context.Context, teamID, userID string, fn func(ctx context.Context, tx store.JobTx) error) error {
	ctx, span := startStoreSpan(ctx, s.tracer, "teamscim.store.UpdateJobs", teamID)
	r := runs{span: span}
	err := s.JobUpdater.UpdateJobs(ctx, teamID, userID, func(ctx context.Context, tx store.JobTx) error {
		r.run()
		return fn(ctx, tx)
	})
	r.end(err)
	return err
}

// ViewByKey implements store.Store: a request's authentication and its first reads, one span.
func (s tracedStore) ViewByKey(ctx context.Context, digest [32]byte, check func(store.Access) error, fn func(ctx context.Context, tx store.Tx) error) error {
	ctx, span := s.start(ctx, "teamscim.store.ViewByKey", "")
	err := s.Store.ViewByKey(ctx, digest, check, fn)
	end(span, err)
	return err
}

// LookupKey implements store.Store.
func (s tracedStore) LookupKey(ctx context.Context, digest [32]byte) (store.APIKey, error) {
	ctx, span := s.start(ctx, "teamscim.store.LookupKey", "")
	k, err := s.Store.LookupKey(ctx, digest)
	end(span, err)
	return k, err
}

// TeamsWithJobs implements store.Store.
func (s tracedStore) TeamsWithJobs(ctx context.Context) ([]string, error) {
	ctx, span := s.start(ctx, "teamscim.store.TeamsWithJobs", "")
	teams, err := s.Store.TeamsWithJobs(ctx)
	end(span, err)
	return teams, err
}

// CreateTeam implements store.Store.
func (s tracedStore) CreateTeam(ctx context.Context, t store.Team) error {
	ctx, span := s.start(ctx, "teamscim.store.CreateTeam", t.ID)
	err := s.Store.CreateTeam(ctx, t)
	end(span, err)
	return err
}

// Hook names: span names and the teamscim.hook attribute of teamscim.hook.duration.
const (
	hookFindAccount      = "accounts.find_account"
	hookCreateAccount    = "accounts.create_account"
	hookSendInvite       = "accounts.send_invite"
	hookConsolidate      = "accounts.consolidate"
	hookAddToTeam        = "accounts.add_to_team"
	hookRemoveFromTeam   = "accounts.remove_from_team"
	hookChangeEmail      = "accounts.change_email"
	hookMemberWorkspaces = "workspaces.member_workspaces"
	hookApplyPlan        = "workspaces.apply_plan"
)

// errHookPanic marks a host hook that panicked (see callJob).
var errHookPanic = errors.New("teamscim: the host's hook panicked")

// hookCall starts the span of a call to the host; the function returned, deferred with the
// call's error and recover(), ends it and records its duration (a panic is recorded, then
// goes on: callJob recovers it).
func (t *telemetry) hookCall(ctx context.Context, hook, teamID string, attempt int) (context.Context, func(error, any)) {
	var span trace.Span
	if t.tracer != nil {
		kv := make([]attribute.KeyValue, 0, 3)
		kv = append(kv, attrHook.String(hook))
		if teamID != "" {
			kv = append(kv, attrTeam.String(teamID))
		}
		if attempt > 0 {
			kv = append(kv, attrJobAttempt.Int(attempt))
		}
		ctx, span = t.tracer.Start(ctx, hook, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(kv...))
	}
	start := time.Now()
	return ctx, func(err error, panicked any) {
		if panicked != nil {
			err = errHookPanic
		}
		if t.metrics {
			kv := t.teamAttr([]attribute.KeyValue{attrHook.String(hook)}, teamID)
			if err != nil {
				kv = append(kv, attrErrorType.String(errorClass(err)))
			}
			t.hookDuration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(kv...))
		}
		if span != nil {
			end(span, err)
		}
		if panicked != nil {
			panic(panicked)
		}
	}
}

// observedWorkspaces is the host's WorkspaceReassigner with a span and a duration per call.
type observedWorkspaces struct {
	WorkspaceReassigner
	t *telemetry
}

// MemberWorkspaces implements WorkspaceReassigner.
func (w observedWorkspaces) MemberWorkspaces(ctx context.Context, teamID, userID string) (ws []Workspace, err error) {
	ctx, done := w.t.hookCall(ctx, hookMemberWorkspaces, teamID, 0)
	defer func() { done(err, recover()) }()
	return w.WorkspaceReassigner.MemberWorkspaces(ctx, teamID, userID)
}

// ApplyWorkspacePlan implements WorkspaceReassigner.
func (w observedWorkspaces) ApplyWorkspacePlan(ctx context.Context, plan WorkspacePlan) (err error) {
	ctx, done := w.t.hookCall(ctx, hookApplyPlan, plan.TeamID, plan.Attempt)
	defer func() { done(err, recover()) }()
	return w.WorkspaceReassigner.ApplyWorkspacePlan(ctx, plan)
}

// observedAccounts is the host's Accounts with a span and a duration per call.
type observedAccounts struct {
	Accounts
	t *telemetry
}

// FindAccount implements Accounts.
func (a observedAccounts) FindAccount(ctx context.Context, email string) (acc Account, found bool, err error) {
	ctx, done := a.t.hookCall(ctx, hookFindAccount, "", 0)
	defer func() { done(err, recover()) }()
	return a.Accounts.FindAccount(ctx, email)
}

// CreateAccount implements Accounts.
func (a observedAccounts) CreateAccount(ctx context.Context, req AccountRequest) (err error) {
	ctx, done := a.t.hookCall(ctx, hookCreateAccount, req.TeamID, req.Attempt)
	defer func() { done(err, recover()) }()
	return a.Accounts.CreateAccount(ctx, req)
}

// SendInvite implements Accounts.
func (a observedAccounts) SendInvite(ctx context.Context, req AccountRequest) (err error) {
	ctx, done := a.t.hookCall(ctx, hookSendInvite, req.TeamID, req.Attempt)
	defer func() { done(err, recover()) }()
	return a.Accounts.SendInvite(ctx, req)
}

// Consolidate implements Accounts.
func (a observedAccounts) Consolidate(ctx context.Context, req AccountRequest) (err error) {
	ctx, done := a.t.hookCall(ctx, hookConsolidate, req.TeamID, req.Attempt)
	defer func() { done(err, recover()) }()
	return a.Accounts.Consolidate(ctx, req)
}

// AddToTeam implements Accounts.
func (a observedAccounts) AddToTeam(ctx context.Context, req AccountRequest) (err error) {
	ctx, done := a.t.hookCall(ctx, hookAddToTeam, req.TeamID, req.Attempt)
	defer func() { done(err, recover()) }()
	return a.Accounts.AddToTeam(ctx, req)
}

// RemoveFromTeam implements Accounts.
func (a observedAccounts) RemoveFromTeam(ctx context.Context, req AccountRequest) (err error) {
	ctx, done := a.t.hookCall(ctx, hookRemoveFromTeam, req.TeamID, req.Attempt)
	defer func() { done(err, recover()) }()
	return a.Accounts.RemoveFromTeam(ctx, req)
}

// ChangeEmail implements Accounts.
func (a observedAccounts) ChangeEmail(ctx context.Context, req AccountRequest) (err error) {
	ctx, done := a.t.hookCall(ctx, hookChangeEmail, req.TeamID, req.Attempt)
	defer func() { done(err, recover()) }()
	return a.Accounts.ChangeEmail(ctx, req)
}
