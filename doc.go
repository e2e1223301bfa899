// Package teamscim gives a team product SCIM 2.0 provisioning (RFC 7643, RFC 7644) the way
// Postman runs it for its Enterprise teams: identity providers (Okta, Microsoft Entra ID,
// OneLogin, or a script) create, update, deactivate and reactivate a team's members, and the
// library enforces the team's rules while doing it.
//
// A host supplies persistence (a store.Store; package memstore serves tests and demos) and gets
// back a *Server, an http.Handler that speaks SCIM at any prefix:
//
//	srv, err := teamscim.New(teamscim.Config{Store: memstore.New()})
//	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
//
// The same *Server offers the team-admin operations a host's settings page calls, each on
// behalf of an Actor whose role it checks (create and delete a team, record its SSO methods
// and verified domains, enable SCIM, generate, list, revoke, re-activate, regenerate and delete
// SCIM API keys, add members, change their roles, remove them), the reads that page shows
// (Members, Member, ListKeys, SeatReport, PendingCalls), the checks its sign-in and account
// pages call (CanSignIn, CanLeaveTeam, CanChangeEmail, CanChangePassword), and an audit trail
// (Config.Events). The example server (examples/server) has such a settings page, built on
// exactly these calls.
//
// # Authentication
//
// Every request carries a SCIM API key in the Authorization header, as "Bearer <key>" (the
// scheme is case-insensitive) or as the raw key (Okta's header-auth app). The key picks the
// team; ids of another team's resources answer 404. A missing, malformed, unknown, revoked or
// expired key answers 401 with WWW-Authenticate: Bearer; a team whose SCIM switch is off or
// whose plan does not include SCIM answers 403, and so does a key whose creator is no longer an
// active admin of the team. Keys are stored only as SHA-256 digests and checked against the
// store on every request, so a revocation takes effect on the very next request: a GET's key is
// read and checked in the same transaction as its first read (store.Store.ViewByKey: one round
// trip on pgstore), any other request's before its body is read.
//
// # Users
//
// userName is the member's email (Config.AllowNonEmailUserNames relaxes this for generic SCIM
// clients) and is unique in a team compared case-insensitively. Deprovisioning is deactivation
// (active:false): the member and their data stay, they remain listed with active:false, and a
// later active:true reactivates them. DELETE /Users/{id} deactivates and hides the resource:
// it then answers 404 and is absent from lists, and a later POST with the same userName
// re-links the same member (201). A member who joined the team outside SCIM is adopted by a
// POST with their email. A deactivated or hidden member leaves every group; reactivation does
// not restore group memberships (the IdP adds them again). Passwords are accepted and dropped:
// never stored, returned, logged or handed to the host.
//
// # Attributes
//
// Every attribute the schemas define is kept, returned (honouring attributes and
// excludedAttributes), patchable and filterable: the core User schema (RFC 7643 §4.1), the
// enterprise User extension (§4.3, manager included), the Group schema, and the extensions a
// host registers (Config.UserExtensions, Config.GroupExtensions; see Extension). The attributes
// rules and indexes use are typed fields of store.User (userName, active, emails, externalId,
// name, displayName, locale); the others are one JSON object, store.User.Attributes (and
// store.Group.Attributes). Bodies are checked against the schemas: a wrong type, an unknown
// sub-attribute, a missing required attribute answer 400 naming the attribute; attributes and
// extension URNs no schema of the Server defines are ignored. A response lists an extension's
// URN in schemas only when the resource has attributes of it.
//
// PATCH (RFC 7644 §3.5.2) works on every attribute, with and without paths, with value
// filters, on sub-attributes, applied by the wrapped library's ApplyPatch on the whole resource
// (operations on typed fields by simple paths, such as Okta's deactivation, are applied to the
// fields directly). Filters work on every attribute; those no index answers examine the whole
// team, within Config.MaxFilterScan.
//
// # Groups
//
// A group's members must be provisioned, active members of the team who have joined (not
// invited and pending); the first that is not fails the whole request with 400, and nothing of
// it applies. Membership changes are store deltas, so their cost does not depend on the
// group's size; a request may name at most Config.MaxMemberChanges members. A group grants its
// members its roles (the developer role for groups made over SCIM): adding a support user
// takes a seat, and leaving a group drops the roles it granted but never deactivates.
//
// Provenance: a member created by POST /Users reaches the team on their own; one created with
// Postman's groups attribute (the groups to join) reaches it only through those groups.
// DELETE /Groups deactivates exactly the members whose only route into the team was that
// group, and keeps the others. A deactivated or hidden member leaves every group, and
// reactivation does not put them back: the IdP adds them again if it wants them there.
//
// # Seats
//
// A member holds a paid seat while they are on the team (active, or invited and not yet
// joined: an invitation reserves its seat so that provisioning cannot oversubscribe) and their
// roles, their own or granted by their groups, include RoleDeveloper or RoleSuperAdmin.
// Members who hold only RoleAdmin and/or RoleBilling are support users: the first
// MaxSupportUsers of them take no seat; a support user beyond those takes one like anybody
// else (and keeps it until their roles or state change, even if a free support place opens).
//
// A seat is taken by POST /Users, by a reactivation (PATCH or PUT active:true, a POST that
// re-links a member hidden by DELETE), by a group that grants RoleDeveloper to a support user,
// and by the host's AddMember and SetMemberRoles. It is freed by a deactivation, a DELETE, a
// removal from the team, or the loss of the last seat-holding role. Taking a seat asks the
// Server's SeatPolicy inside the team's store Update, so two requests can never both take the
// last seat; a refusal answers 403 "no available seats" and changes nothing.
//
// # Workspaces
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
// The plan is carried out after the change has committed, never inside a store transaction
// (see Jobs): the change commits a job with it, so a host that crashes between the commit
// and the call loses nothing; a failed or timed-out call is retried by the next SCIM write
// that touches the member (IdPs retry) and by Server.RetryPending. A member's jobs run one at a
// time, in the order of the changes. The reassigner must therefore be idempotent;
// WorkspacePlan.Attempt says which attempt a call is.
//
// # Accounts
//
// A person's account is a global identity keyed by email, which may exist before and outside
// the team; the host owns accounts, through Config.Accounts. With it, POST /Users (a create
// that makes a new member) has Postman's three outcomes:
//
//  1. no account with that email: the member is active at once, and the host creates the
//     account as a member of the team (Accounts.CreateAccount);
//  2. an account exists on an email domain the team verified: the member is active at once, no
//     invite, and the account joins the team (Accounts.AddToTeam); with the team's domain
//     capture on, an account that belongs to another team is consolidated into this one
//     instead (Accounts.Consolidate);
//  3. an account exists on a domain the team has not verified: the host sends an invite
//     (Accounts.SendInvite) and the membership is pending until the person accepts, which the
//     host reports with Server.AcceptInvite.
//
// An account that is a member of another team on a domain this team has not verified is not
// provisioned: 409, and nothing changes. A pending invite an admin made by hand
// (Server.InviteMember) for the same email answers 409 with a detail telling the admin to
// remove it (Server.CancelInvite), after which the IdP's retry succeeds.
//
// A pending member, over SCIM, is the resource the IdP created, with the active it asked for
// (the IdP sees its request applied; the member cannot sign in until they accept, see
// CanSignIn). It reserves its seat at invitation, so provisioning cannot oversubscribe;
// cancelling the invite frees it. It cannot be placed in a group until it has joined: 400.
//
// The host's accounts then hear of every later change they must mirror, so that each
// account's teams, which the other-team rule above reads, stay true: the account joins the
// team (Accounts.AddToTeam) when an invitation is accepted, at a JIT sign-in, by AddMember,
// and when a member is reactivated or re-linked after a DELETE; it leaves the team
// (Accounts.RemoveFromTeam) when the member is deactivated, hidden by DELETE, loses the only
// group that brought them in, or is removed; and a change of the member's email (a SCIM PUT or
// PATCH of userName) moves the account to the new email (Accounts.ChangeEmail). Each change is
// also an audit event. Deleting the team (Server.DeleteTeam) makes no account call: the host,
// which asked for it, takes the team off its accounts itself.
//
// The account calls run after the membership has committed, as jobs (see Jobs): never
// inside a transaction, never lost, retried until they succeed, a member's in the order of
// the changes. They must be idempotent. Without Config.Accounts every new member is active at
// once and no host call is made.
//
// SSO just-in-time provisioning: Server.SignInWithSSO is the host's call for "this person
// signed in through the team's identity provider". With the team's JIT on, it adds them as an
// active member (the seat policy applies); a later POST /Users for the same email adopts that
// member (201, the same member, now SCIM-managed) instead of answering 409, and a sign-in that
// races a SCIM create for the same person ends with one member.
//
// # Jobs
//
// Some changes need a call to the host once they have committed: the workspace hand-over of a
// deactivation, reactivation or removal (Config.Workspaces), and the account calls that keep
// the host's accounts in step with the team (Config.Accounts: create the account, send the
// invite, consolidate it, join or leave the team, change its email). Such calls never run inside a store transaction, and they must not be lost when the
// call fails or the process stops between the commit and the call. So the change commits a
// store.Job in its own Update, and the Server runs the job after the commit:
//
//   - the job is claimed first (its attempt counted, and leased for twice the call timeout, so
//     that no other request or Server starts it meanwhile);
//   - the call is bounded by the hook's timeout; a panic in the host's code is a failure;
//   - on success the job is deleted; on failure its error is recorded and it is due again.
//
// A member's jobs run one at a time, oldest first, and a failed job holds back the member's
// later ones, so hand-overs apply in the order of the changes. Failed jobs are retried by the
// next SCIM write that touches the member, and by RetryPending. Hooks must be idempotent; each
// call is told which attempt it is.
//
// # Leniency
//
// Input is read generously, because IdPs differ: attribute names and PATCH op names are
// case-insensitive; "True"/"False" strings are booleans; unknown attributes and schema URIs
// (extensions the Server does not have included) are ignored; read-only id and meta in bodies
// are ignored; Entra ID's dotted and URN-qualified keys in a path-less PATCH, its manager sent
// as an id or a one-element list, and its replace of `emails[type eq "work"].value` before a
// work email exists (which adds it) are understood; application/json and
// application/scim+json are both accepted; resource paths are case-insensitive and one
// trailing slash is ignored. A PUT without active leaves active unchanged. Entra ID's
// soft-delete rename of userName to "<32 hex><email>" deactivates without changing the email.
//
// # Versions and rate limits
//
// Every resource carries meta.version (W/"<n>"), and single-resource answers carry it as the
// ETag header. If-Match on PUT, PATCH and DELETE is checked inside the Update that applies the
// change (stale: 412, nothing changed); If-None-Match on GET of a resource answers 304 when it
// matches. A group's version moves with its members too. Config.RateLimit gives each team read
// and write budgets (429 with Retry-After beyond them); it is off by default.
//
// # Observability
//
// Config.MeterProvider and Config.TracerProvider (OpenTelemetry; the package imports only its
// API, the host brings the SDK and exporters) receive what a host's HTTP middleware cannot
// see: a duration histogram of SCIM requests by operation ("users.create", "groups.patch",
// ...), status and scimType; provisioning outcomes (created, invited, adopted, relinked,
// deactivated, reactivated, hidden, refused for a seat); authentication failures by reason;
// 429s by class; job calls, pending jobs and the age of the oldest; the duration of every call
// to the host's services; and, for the teams Config.SeatMetrics chooses, seats in use and
// licensed. A span per request, named by operation and continuing the caller's trace
// (Config.Propagator, W3C traceparent by default), has children for the store's View and
// Update (retries counted), every host call, and jobs; RetryPending has its own. Metrics carry
// team IDs only with Config.MetricTeamIDs; nothing carries a secret, a body or an email
// address. Without providers nothing is measured and the request path is unchanged.
//
// Every failed request is logged through Config.Logger, at Info for a 4xx (except the 404 of a
// GET of one resource: an identity provider's existence check) and Warn for a 5xx, with its
// operation, status, scimType, detail (or authentication failure reason), team, key ID and
// trace ID; successful requests at Debug.
//
// # Errors
//
// Every error response is a SCIM error body (urn:ietf:params:scim:api:messages:2.0:Error) with
// status as a string, content type application/scim+json and, where RFC 7644 defines one, a
// scimType. A 400's detail names the attribute or the operation and what was expected, never
// the value. Internal errors answer 500 with a fixed detail; the cause goes to Config.Logger.
//
// This package wraps github.com/elimity-com/scim for the schema definitions (and their
// /Schemas and /ResourceTypes endpoints) and PATCH application (ApplyPatch). It serves every
// request of Users and Groups itself: the hot IdP queries (userName eq, externalId eq, id eq,
// emails.value eq) are answered from store indexes, bodies are decoded and checked once with
// errors that say what is wrong, and resources are rendered without reflection (ETags, 304).
package teamscim
