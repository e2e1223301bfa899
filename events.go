package teamscim

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/teamscim/teamscim/store"
)

// EventType names an audit event. The names follow Postman's audit log (SCIM key created,
// SCIM user provisioned, ...).
type EventType string

// Audit events. Each is emitted once per real change, after the change has committed; an
// idempotent repeat (deactivating an inactive member) emits nothing.
const (
	EventKeyCreated     EventType = "scim.key.created"
	EventKeyActivated   EventType = "scim.key.activated"
	EventKeyRegenerated EventType = "scim.key.regenerated"
	EventKeyRevoked     EventType = "scim.key.revoked"
	EventKeyDeleted     EventType = "scim.key.deleted"

	EventSCIMEnabled  EventType = "scim.enabled"
	EventSCIMDisabled EventType = "scim.disabled"

	EventUserProvisioned   EventType = "scim.user.provisioned"
	EventUserDeprovisioned EventType = "scim.user.deprovisioned"
	EventUserReactivated   EventType = "scim.user.reactivated"

	EventGroupCreated  EventType = "scim.group.created"
	EventGroupUpdated  EventType = "scim.group.updated"
	EventGroupDeleted  EventType = "scim.group.deleted"
	EventMemberAdded   EventType = "scim.group.member_added"
	EventMemberRemoved EventType = "scim.group.member_removed"

	// EventMemberAddedToTeam: the host added a member with Server.AddMember.
	EventMemberAddedToTeam EventType = "team.member.added"
	// EventMemberRemovedFromTeam: an admin removed a member with Server.RemoveMember.
	EventMemberRemovedFromTeam EventType = "team.member.removed"
	// EventMemberJoinedJIT: a person joined the team at SSO sign-in (Server.SignInWithSSO).
	EventMemberJoinedJIT EventType = "team.member.joined_jit"
	// EventMemberEmailChanged: a member's email (their userName) changed, by a SCIM PUT or
	// PATCH; a change of case only is not a change of email.
	EventMemberEmailChanged EventType = "team.member.email_changed"
	// EventMemberRolesChanged: an admin changed a member's own roles (Server.SetMemberRoles).
	EventMemberRolesChanged EventType = "team.member.roles_changed"

	// EventTeamDeleted: the team and everything it owned were deleted (Server.DeleteTeam).
	// Its Target is the team's ID.
	EventTeamDeleted EventType = "team.deleted"

	EventInviteSent      EventType = "team.invite.sent"
	EventInviteCancelled EventType = "team.invite.cancelled"
	EventInviteAccepted  EventType = "team.invite.accepted"
)

// Event is one audit record. It never carries a secret.
type Event struct {
	Type   EventType
	TeamID string
	// Actor is who acted: "key:<key id>" for a SCIM request, the acting member's ID for a
	// team-admin call.
	Actor string
	// Target is the ID of the user, group or key the event is about.
	Target string
	// Group is the group's ID for member events.
	Group string
	Time  time.Time
}

// EventSink receives audit events. It is called after the change has committed, outside any
// transaction, on the request's goroutine: it should be quick (hand the event to a queue) and
// must not call the Server.
type EventSink interface {
	Event(ctx context.Context, e Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(ctx context.Context, e Event)

// Event calls f(ctx, e).
func (f EventSinkFunc) Event(ctx context.Context, e Event) { f(ctx, e) }

// keyActor is the Actor of events caused by a SCIM request made with key keyID.
func keyActor(keyID string) string { return "key:" + keyID }

// effects collects what one run of an Update's function decided should happen after it
// commits. The function may run more than once (a SQL store retries), so every run gets
// fresh effects and only the last run's are acted on.
type effects struct {
	teamID   string
	actor    string
	now      time.Time
	events   []Event
	jobs     []string      // members whose jobs (workspace hand-overs) run after the commit
	outcomes outcomeCounts // provisioning outcomes, for the metrics (telemetry.go)
	// created are the members this run creates, and claimed the jobs it created claimed for
	// them, which the request runs after the commit (see queueJob).
	created []string
	claimed []store.Job
}

// runJobs asks for userID's jobs to run after the commit.
func (fx *effects) runJobs(userID string) {
	if !slices.Contains(fx.jobs, userID) {
		fx.jobs = append(fx.jobs, userID)
	}
}

// event records an audit event about target.
func (fx *effects) event(t EventType, target, group string) {
	fx.events = append(fx.events, Event{Type: t, TeamID: fx.teamID, Actor: fx.actor, Target: target, Group: group, Time: fx.now})
}

// update runs fn in an Update of teamID on behalf of actor and, once it has committed, emits
// the events fn recorded and runs the jobs it asked for. A job that fails stays in the store
// for a later retry; the change has committed, so the request still succeeds.
func (s *Server) update(ctx context.Context, teamID, actor string, fn func(ctx context.Context, tx store.Tx, fx *effects) error) error {
	var fx *effects
	err := s.store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		fx = &effects{teamID: teamID, actor: actor, now: s.now()}
		return fn(ctx, tx, fx)
	})
	s.tel.updated(ctx, teamID, fx, err)
	if err != nil {
		return err
	}
	for _, e := range fx.events {
		s.cfg.Events.Event(ctx, e)
	}
	for _, j := range fx.claimed {
		if err := s.runJobs(ctx, teamID, j); err != nil && !errors.Is(err, errJobFailed) {
			s.log.Error("teamscim: running a job", "team", teamID, "user", j.UserID, "error", err)
		}
	}
	for _, userID := range fx.jobs {
		if err := s.runUserJobs(ctx, teamID, userID); err != nil && !errors.Is(err, errJobFailed) {
			s.log.Error("teamscim: running workspace hand-over", "team", teamID, "user", userID, "error", err)
		}
	}
	return nil
}
