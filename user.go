package teamscim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"reflect"
	"slices"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/google/uuid"

	"github.com/teamscim/teamscim/store"
)

// errUserNameTaken is the conflict of a create or rename onto a userName the team has.
var errUserNameTaken = &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
	detail: "Another member of the team already has this userName (compared case-insensitively)."}

// writeUser serves POST, PUT, PATCH and DELETE of /Users.
func (s *Server) writeUser(r *http.Request, rq *request, rt routed, body []byte) (written, error) {
	var u store.User
	var err error
	status := http.StatusOK
	switch rt.kind {
	case routeCreate:
		u, err = s.createUser(r.Context(), rq, body)
		status = http.StatusCreated
	case routeReplace:
		u, err = s.replaceUser(r, rq, rt.id, body)
	case routePatch:
		u, err = s.patchUser(r, rq, rt.id, body)
	default:
		return written{status: http.StatusNoContent}, s.deleteUser(r, rq, rt.id)
	}
	if err != nil {
		return written{}, err
	}
	buf := getBuf()
	out, err := s.appendUser(*buf, u, rq.baseURL, projectionOf(r))
	if err != nil {
		return written{}, err
	}
	w := written{status: status, body: out, version: u.Version, buf: buf}
	if status == http.StatusCreated {
		w.location = location(rq.baseURL, "Users", u.ID)
	}
	return w, nil
}

// readUserBody reads a POST or PUT body of /Users: the attributes it sets (checked against
// the User schemas) and Postman's groups attribute (the groups to join, on create). A plain
// body (plainUserBody) is read without generic JSON values, and its attributes map is nil:
// only a PUT on a schema with guarded attributes reads that map, and such a schema is never
// read plain.
func (s *Server) readUserBody(body []byte, rq *request) (userInput, map[string]any, error) {
	if s.users.plain {
		if in, ok := plainUserBody(body); ok {
			return in, nil, nil // no attributes beyond the typed ones, and none guarded
		}
	}
	m, serr := decodeBody(body)
	if serr != nil {
		return userInput{}, nil, *serr
	}
	for k, v := range m {
		if strings.EqualFold(k, "groups") { // read-only in the schema; Postman's groups to join
			refs, serr := readGroupRefs(v)
			if serr != nil {
				return userInput{}, nil, *serr
			}
			rq.groups = refs
			delete(m, k)
		}
	}
	attrs, err := checkResource(s.users, m, checkWrite)
	if err != nil {
		return userInput{}, nil, err
	}
	in, err := s.userInputOf(attrs)
	return in, attrs, err
}

// createUser provisions a member: a new one, the re-link of a member hidden by DELETE, or the
// adoption of a member who joined outside SCIM. An email already provisioned answers 409. A
// member created with groups (the request's groups attribute, Postman's "groups to join")
// reaches the team through those groups only (store.User.ViaGroups).
func (s *Server) createUser(ctx context.Context, rq *request, body []byte) (store.User, error) {
	in, _, err := s.readUserBody(body, rq)
	if err != nil {
		return store.User{}, err
	}
	if err := s.checkUserName(*in.UserName); err != nil {
		return store.User{}, err
	}
	if in.Active == nil {
		t := true
		in.Active = &t
	}
	look, err := s.lookupAccount(ctx, *in.UserName)
	if err != nil {
		return store.User{}, err
	}
	var out store.User
	err = s.update(ctx, rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		groups, err := resolveGroups(ctx, tx, rq.groups)
		if err != nil {
			return err
		}
		existing, err := tx.GetUserByUserName(ctx, *in.UserName)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return s.createMember(ctx, tx, fx, in, groups, look, &out)
		case err != nil:
			return err
		case existing.Pending && !existing.Managed:
			return errManualInvite
		case existing.Managed && !existing.Deleted:
			return errUserNameTaken
		}
		// Re-link a member hidden by DELETE, or adopt one who joined outside SCIM (who keeps
		// a route of their own).
		u := existing
		u.Deleted, u.Managed = false, true
		in.applyTo(&u)
		if len(u.Roles) == 0 {
			u.Roles = []string{RoleDeveloper}
		}
		if !onTeam(existing) {
			u.ViaGroups = len(groups) > 0
		}
		u.LastModified, u.Version = fx.now, existing.Version+1
		if err := joinGroups(ctx, tx, fx, u.ID, groups); err != nil {
			return err
		}
		if err := s.saveUser(ctx, tx, fx, existing, u, EventUserProvisioned); err != nil {
			return err
		}
		if onTeam(existing) {
			fx.event(EventUserProvisioned, u.ID, "") // adopted: no change of state, but now provisioned
		}
		fx.outcome(adoptedOrRelinked(existing))
		out = u
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return store.User{}, errUserNameTaken // the store's backstop, reported at commit (store.Tx.CreateUser)
	}
	return out, err
}

// createMember provisions a member the team did not have, with the outcome the account lookup
// calls for (active at once, or invited), in the groups asked for.
func (s *Server) createMember(ctx context.Context, tx store.Tx, fx *effects, in userInput, groups []store.Group, look accountLookup, out *store.User) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	u := store.User{ID: id.String(), Managed: true, ViaGroups: len(groups) > 0, Roles: []string{RoleDeveloper},
		Created: fx.now, LastModified: fx.now, Version: 1}
	in.applyTo(&u)
	team, err := tx.Team(ctx)
	if err != nil {
		return err
	}
	pending, job, err := newMemberOutcome(team, u, look)
	if err != nil {
		return err
	}
	if pending && len(groups) > 0 {
		return errPendingInGroup(u.UserName)
	}
	u.Pending = pending
	if err := s.syncSeatWith(ctx, tx, fx, &u, rolesOf(groups)); err != nil {
		return err
	}
	if err := tx.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
		return errUserNameTaken
	} else if err != nil {
		return err
	}
	fx.created = append(fx.created, u.ID)
	fx.event(EventUserProvisioned, u.ID, "")
	if pending {
		fx.event(EventInviteSent, u.ID, "")
	}
	fx.outcome(createdOrInvited(pending))
	if err := s.queueNewAccount(ctx, tx, fx, u, job); err != nil {
		return err
	}
	*out = u
	return joinGroups(ctx, tx, fx, u.ID, groups)
}

// readUser reads a visible member.
func (s *Server) readUser(ctx context.Context, rq *request, id string) (store.User, error) {
	var u store.User
	err := s.view(ctx, rq, func(ctx context.Context, tx store.Tx) error {
		var err error
		u, err = visibleUser(ctx, tx, id)
		return err
	})
	return u, err
}

// replaceUser applies a PUT: every attribute is replaced by the body's (absent ones are
// cleared), except active, which changes only if the body carries it, and read-only ones.
func (s *Server) replaceUser(r *http.Request, rq *request, id string, body []byte) (store.User, error) {
	in, attrs, err := s.readUserBody(body, rq)
	if err != nil {
		return store.User{}, err
	}
	var out store.User
	err = s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		old, err := visibleUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, old.Version); err != nil {
			return err
		}
		in := in
		if s.users.guarded {
			// Read-only attributes stay as they are; immutable ones may not change.
			oldAttrs, err := s.userAttributes(old, false)
			if err != nil {
				return err
			}
			if err := s.users.keepGuarded(oldAttrs, attrs); err != nil {
				return err
			}
			if in, err = s.userInputOf(attrs); err != nil {
				return err
			}
		}
		next := old
		in.applyTo(&next)
		if next, err = s.prepareChange(ctx, tx, old, next); err != nil {
			return err
		}
		out = next
		return s.saveUser(ctx, tx, fx, old, next, EventUserReactivated)
	})
	return out, err
}

// patchUser applies RFC 7644 PATCH operations atomically: all of them or none.
func (s *Server) patchUser(r *http.Request, rq *request, id string, body []byte) (store.User, error) {
	ops, err := parsePatch(body)
	if err != nil {
		return store.User{}, err
	}
	var out store.User
	err = s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		old, err := visibleUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, old.Version); err != nil {
			return err
		}
		next, err := s.patchedUser(old, ops)
		if err != nil {
			return err
		}
		if next, err = s.prepareChange(ctx, tx, old, next); err != nil {
			return err
		}
		out = next
		return s.saveUser(ctx, tx, fx, old, next, EventUserReactivated)
	})
	return out, err
}

// patchedUser returns old with ops applied. Operations that only set or clear typed
// attributes by simple paths (Okta's deactivation, Entra's name and userName changes) are
// applied to the fields directly; any other goes through the whole resource, patched with
// the wrapped library's ApplyPatch and checked against the schemas.
func (s *Server) patchedUser(old store.User, ops []patchOp) (store.User, error) {
	if next, ok, err := s.patchTyped(old, ops); ok || err != nil {
		return next, err
	}
	return s.patchGeneral(old, ops)
}

// patchGeneral applies ops to the whole resource of old (see patchedUser).
func (s *Server) patchGeneral(old store.User, ops []patchOp) (store.User, error) {
	attrs, err := s.userAttributes(old, true)
	if err != nil {
		return store.User{}, err
	}
	patched, err := s.applyPatch(s.users, attrs, ops)
	if err != nil {
		return store.User{}, err
	}
	if len(old.Emails) == 0 && reflect.DeepEqual(patched["emails"], emailsOf(old)) {
		delete(patched, "emails") // still the implied userName email: nothing to store
	}
	in, err := s.userInputOf(patched)
	if err != nil {
		return store.User{}, err
	}
	next := old
	in.applyTo(&next)
	return next, nil
}

// deleteUser deactivates the member and hides the SCIM resource; the member and their data
// stay.
func (s *Server) deleteUser(r *http.Request, rq *request, id string) error {
	return s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		old, err := visibleUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, old.Version); err != nil {
			return err
		}
		next := old
		next.Active, next.Deleted = false, true
		next.LastModified, next.Version = fx.now, old.Version+1
		fx.outcome(outcomeHidden)
		return s.saveUser(ctx, tx, fx, old, next, "")
	})
}

// visibleUser returns a member that SCIM may see: hidden (deleted) members answer 404.
func visibleUser(ctx context.Context, tx store.Tx, id string) (store.User, error) {
	u, err := tx.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Deleted) {
		return store.User{}, notFound(id)
	}
	return u, err
}

// prepareChange applies the rules of an update from old to next: userName must stay valid,
// an email change needs both domains verified by the team (checkEmailChange), Entra ID's
// soft-delete rename keeps the stored email, a reactivated member's route into the team is
// their own, and the version moves on.
func (s *Server) prepareChange(ctx context.Context, tx store.Tx, old, next store.User) (store.User, error) {
	if next.UserName != old.UserName {
		if isTombstoneRename(old.UserName, next.UserName) {
			next.UserName = old.UserName
			next.Active = false
		} else if err := s.checkUserName(next.UserName); err != nil {
			return next, err
		} else if err := s.checkEmailChange(ctx, tx, old.UserName, next.UserName); err != nil {
			return next, err
		}
	}
	if !onTeam(old) && onTeam(next) {
		next.ViaGroups = false
	}
	next.LastModified, next.Version = s.now(), old.Version+1
	return next, nil
}

// saveUser writes next over old, with everything a change of the member's state implies.
//
//   - Leaving the team (deactivation, DELETE, Entra's tombstone rename): the member leaves every
//     group, frees their seat, their workspace hand-over is queued, and "de-provisioned" is
//     recorded.
//   - Joining it again (reactivation, the re-link of a hidden member): the member takes a seat
//     (refused: 403, nothing changes), the reactivation hand-over is queued, and joinEvent is
//     recorded.
//   - Anything else (a profile change, an idempotent repeat) changes no seat and records
//     nothing.
//
// An email change, and leaving or joining, are mirrored to the host's accounts (mirrorAccount).
//
// Workspace hand-overs of the member that failed before are run again after the commit.
func (s *Server) saveUser(ctx context.Context, tx store.Tx, fx *effects, old, next store.User, joinEvent EventType) error {
	leaving, joining := onTeam(old) && !onTeam(next), !onTeam(old) && onTeam(next)
	switch {
	case leaving:
		if err := s.leaveGroups(ctx, tx, fx, next.ID); err != nil {
			return err
		}
		if err := s.syncSeatWith(ctx, tx, fx, &next, nil); err != nil {
			return err
		}
		if err := s.queueWorkspaces(ctx, tx, fx, next.ID, WorkspacesOnDeactivation, ""); err != nil {
			return err
		}
		fx.event(EventUserDeprovisioned, next.ID, "")
		fx.outcome(deactivation(next))
	case joining:
		if err := s.syncSeat(ctx, tx, fx, &next); err != nil {
			return err
		}
		if err := s.queueWorkspaces(ctx, tx, fx, next.ID, WorkspacesOnReactivation, ""); err != nil {
			return err
		}
		fx.event(joinEvent, next.ID, "")
		fx.outcome(reactivation(joinEvent))
	default:
		if err := s.pendingJobs(ctx, tx, fx, next.ID); err != nil {
			return err
		}
	}
	if err := tx.UpdateUser(ctx, next); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUserNameTaken
		}
		return err
	}
	return s.mirrorAccount(ctx, tx, fx, old, next)
}

// leaveGroups takes the member out of every group, recording each removal.
func (s *Server) leaveGroups(ctx context.Context, tx store.Tx, fx *effects, userID string) error {
	groups, err := tx.GroupsOf(ctx, userID)
	if err != nil {
		return err
	}
	for _, g := range groups {
		removed, err := tx.RemoveMembers(ctx, g, []string{userID})
		if err != nil {
			return err
		}
		if len(removed) > 0 {
			fx.event(EventMemberRemoved, userID, g)
		}
	}
	return nil
}

// isTombstoneRename reports whether next is Entra ID's soft-delete rename of old: 32 hex
// digits (the object id) followed by the old userName.
func isTombstoneRename(old, next string) bool {
	if len(next) != len(old)+32 || !strings.EqualFold(next[32:], old) {
		return false
	}
	for _, c := range next[:32] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// checkUserName enforces that a userName is present and, unless configured otherwise, an
// email address.
func (s *Server) checkUserName(name string) error {
	if strings.TrimSpace(name) == "" {
		return badRequest(scimerrors.ScimTypeInvalidValue, "userName is required.")
	}
	if s.cfg.AllowNonEmailUserNames {
		return nil
	}
	if !isEmail(name) {
		return badRequest(scimerrors.ScimTypeInvalidValue, "userName must be a valid email address.")
	}
	return nil
}

func isEmail(v string) bool {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" {
		return false
	}
	_, domain, ok := strings.Cut(v, "@")
	return ok && strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".")
}

// userInput is what a checked resource says about a user: its typed fields (nil: absent)
// and the other attributes, encoded as store.User.Attributes keeps them.
type userInput struct {
	UserName, ExternalID                         *string
	GivenName, FamilyName, MiddleName, Formatted *string
	DisplayName, Locale                          *string
	Emails                                       []store.Email
	Active                                       *bool
	Attributes                                   []byte
}

// applyTo makes u the resource the input describes: absent attributes are cleared, except
// active, which is only ever changed when present (and userName, which is required).
func (in userInput) applyTo(u *store.User) {
	str := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	if in.UserName != nil {
		u.UserName = *in.UserName
	}
	u.ExternalID, u.DisplayName, u.Locale = str(in.ExternalID), str(in.DisplayName), str(in.Locale)
	u.GivenName, u.FamilyName = str(in.GivenName), str(in.FamilyName)
	u.MiddleName, u.Formatted = str(in.MiddleName), str(in.Formatted)
	u.Emails = in.Emails
	u.Attributes = in.Attributes
	if in.Active != nil {
		u.Active = *in.Active
	}
}

// nameFields are the sub-attributes of a user's name that store.User holds in fields.
var nameFields = []string{"givenName", "familyName", "middleName", "formatted"}

// userInputOf splits a checked User resource (checkResource's output) into the fields
// store.User holds and the other attributes (store.User.Attributes).
func (s *Server) userInputOf(attrs map[string]any) (userInput, error) {
	var in userInput
	str := func(v any) *string {
		if s, ok := v.(string); ok {
			return &s
		}
		return nil
	}
	rest := make(map[string]any, len(attrs))
	for k, v := range attrs {
		switch k {
		case "userName":
			in.UserName = str(v)
		case "externalId":
			in.ExternalID = str(v)
		case "displayName":
			in.DisplayName = str(v)
		case "locale":
			in.Locale = str(v)
		case "active":
			if b, ok := v.(bool); ok {
				in.Active = &b
			}
		case "name":
			name, _ := v.(map[string]any)
			other := make(map[string]any, len(name))
			for nk, nv := range name {
				switch nk {
				case "givenName":
					in.GivenName = str(nv)
				case "familyName":
					in.FamilyName = str(nv)
				case "middleName":
					in.MiddleName = str(nv)
				case "formatted":
					in.Formatted = str(nv)
				default:
					other[nk] = nv
				}
			}
			if len(other) > 0 {
				rest["name"] = other
			}
		case "emails":
			list, _ := v.([]any)
			for _, el := range list {
				em, _ := el.(map[string]any)
				e := store.Email{}
				e.Value, _ = em["value"].(string)
				e.Type, _ = em["type"].(string)
				e.Display, _ = em["display"].(string)
				e.Primary, _ = em["primary"].(bool)
				if e.Value != "" {
					in.Emails = append(in.Emails, e)
				}
			}
		default:
			rest[k] = v
		}
	}
	if in.UserName == nil {
		return in, badRequest(scimerrors.ScimTypeInvalidValue, "userName is required.")
	}
	var err error
	in.Attributes, err = encodeAttributes(rest)
	return in, err
}

// userTyped returns the attributes of u that store.User holds in fields: userName, active,
// emails (the userName as the primary work email when none were sent: Okta's conformance test
// reads emails[0].value), and name, displayName, locale and externalId when they have values.
func userTyped(u store.User) map[string]any {
	a := make(map[string]any, 12)
	putTyped(a, make(map[string]any, 4), u)
	a["emails"] = emailsOf(u)
	return a
}

// putTyped puts u's typed attributes other than emails into m, the parts of its name into
// name (which goes into m only if u has one).
func putTyped(m, name map[string]any, u store.User) {
	m["userName"] = u.UserName
	m["active"] = u.Active
	for i, v := range [...]string{u.GivenName, u.FamilyName, u.MiddleName, u.Formatted} {
		if v != "" {
			name[nameFields[i]] = v
		}
	}
	if len(name) > 0 {
		m["name"] = name
	}
	if u.DisplayName != "" {
		m["displayName"] = u.DisplayName
	}
	if u.Locale != "" {
		m["locale"] = u.Locale
	}
	if u.ExternalID != "" {
		m["externalId"] = u.ExternalID
	}
}

// userAttributes returns every attribute of u, decoded: the typed ones and the stored others
// (numbers as the schema types them). With defaultEmail false, a user without emails has none
// (the userName is not one).
func (s *Server) userAttributes(u store.User, defaultEmail bool) (map[string]any, error) {
	a := userTyped(u)
	if !defaultEmail && len(u.Emails) == 0 {
		delete(a, "emails")
	}
	if err := s.users.withStored(a, u.Attributes, true); err != nil {
		return nil, err
	}
	return a, nil
}

// emailsOf returns the emails attribute: the ones stored, or the userName as the primary
// work email.
func emailsOf(u store.User) []any {
	if len(u.Emails) == 0 {
		return []any{map[string]any{"value": u.UserName, "type": "work", "primary": true}}
	}
	out := make([]any, len(u.Emails))
	for i, e := range u.Emails {
		m := make(map[string]any, 4)
		putEmail(m, e)
		out[i] = m
	}
	return out
}

// putEmail puts an email's sub-attributes into m (those with values).
func putEmail(m map[string]any, e store.Email) {
	m["value"] = e.Value
	if e.Type != "" {
		m["type"] = e.Type
	}
	if e.Display != "" {
		m["display"] = e.Display
	}
	if e.Primary {
		m["primary"] = true
	}
}

// userOutput returns u as a response's resource: its attributes, id, schemas and meta,
// projected by p.
func (s *Server) userOutput(u store.User, baseURL string, p projection) (map[string]any, error) {
	m := userTyped(u)
	if err := s.users.withStored(m, u.Attributes, !p.none() || s.users.special); err != nil {
		return nil, err
	}
	meta := appendMeta(make([]byte, 0, 192+len(baseURL)), "User", u.Created, u.LastModified, baseURL, "Users", u.ID, u.Version)
	s.users.finish(m, u.ID, meta, p)
	return m, nil
}

// appendUser appends u, encoded as a response's resource, to b. Without a projection to apply
// it writes the typed fields straight into b, in the order encoding/json sorts a map's keys,
// and copies the stored attributes as they are; the result is byte for byte what encoding
// userOutput's map gives (TestAppendUserMatchesMap), without building the map. A GET, the
// userName eq check and every list page are answered this way.
func (s *Server) appendUser(b []byte, u store.User, baseURL string, p projection) ([]byte, error) {
	direct := p.none() && !s.users.special
	var stored map[string]json.RawMessage
	if direct && len(u.Attributes) > 0 {
		var err error
		if stored, err = rawAttributes(u.Attributes); err != nil {
			return nil, err
		}
		for k := range stored {
			// A stored name's extra parts join the typed ones: that merge is the general path's.
			direct = direct && !typedKey(k)
		}
	}
	if !direct {
		m, err := s.userOutput(u, baseURL, p)
		if err != nil {
			return nil, err
		}
		return appendObject(b, m)
	}
	var small [24]string
	keys := append(small[:0], userKeys[:]...)
	for k := range stored {
		keys = append(keys, k)
	}
	if len(stored) > 0 {
		slices.Sort(keys)
	}
	b = append(b, '{')
	first := true
	for _, k := range keys {
		mark := len(b)
		if !first {
			b = append(b, ',')
		}
		if raw, ok := stored[k]; ok {
			b = appendString(b, k)
			b = append(b, ':')
			b = append(b, raw...)
			first = false
			continue
		}
		b = append(b, '"') // one of userKeys: nothing to escape
		b = append(b, k...)
		b = append(b, '"', ':')
		switch k {
		case "active":
			b = strconv.AppendBool(b, u.Active)
		case "displayName", "externalId", "locale":
			v := u.DisplayName
			if k == "externalId" {
				v = u.ExternalID
			} else if k == "locale" {
				v = u.Locale
			}
			if v == "" {
				b = b[:mark]
				continue
			}
			b = appendString(b, v)
		case "emails":
			b = appendEmails(b, u)
		case "id":
			b = appendString(b, u.ID)
		case "meta":
			b = appendMeta(b, "User", u.Created, u.LastModified, baseURL, "Users", u.ID, u.Version)
		case "name":
			if u.GivenName == "" && u.FamilyName == "" && u.MiddleName == "" && u.Formatted == "" {
				b = b[:mark]
				continue
			}
			b = appendName(b, u)
		case "schemas":
			b = append(b, '[')
			b = appendString(b, s.users.core.urn)
			for _, e := range s.users.exts {
				if _, ok := stored[e.urn]; ok {
					b = append(b, ',')
					b = appendString(b, e.urn)
				}
			}
			b = append(b, ']')
		case "userName":
			b = appendString(b, u.UserName)
		}
		first = false
	}
	return append(b, '}'), nil
}

// userKeys are the keys appendUser writes from a user's fields, sorted.
var userKeys = [...]string{"active", "displayName", "emails", "externalId", "id", "locale", "meta", "name", "schemas", "userName"}

// typedKey reports whether k is one of userKeys.
func typedKey(k string) bool {
	for _, t := range userKeys {
		if k == t {
			return true
		}
	}
	return false
}

// appendName appends u's name object (its parts that have values, keys sorted).
func appendName(b []byte, u store.User) []byte {
	b = append(b, '{')
	sep := false
	for _, f := range [...]struct{ k, v string }{
		{"familyName", u.FamilyName}, {"formatted", u.Formatted}, {"givenName", u.GivenName}, {"middleName", u.MiddleName},
	} {
		if f.v == "" {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.k...)
		b = append(b, `":`...)
		b = appendString(b, f.v)
		sep = true
	}
	return append(b, '}')
}

// appendEmails appends u's emails attribute as emailsOf gives it.
func appendEmails(b []byte, u store.User) []byte {
	if len(u.Emails) == 0 {
		b = append(b, `[{"primary":true,"type":"work","value":`...)
		b = appendString(b, u.UserName)
		return append(b, "}]"...)
	}
	b = append(b, '[')
	for i, e := range u.Emails {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if e.Display != "" {
			b = append(b, `"display":`...)
			b = appendString(b, e.Display)
			b = append(b, ',')
		}
		if e.Primary {
			b = append(b, `"primary":true,`...)
		}
		if e.Type != "" {
			b = append(b, `"type":`...)
			b = appendString(b, e.Type)
			b = append(b, ',')
		}
		b = append(b, `"value":`...)
		b = appendString(b, e.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// patchTyped applies ops to old's fields directly when every operation sets or clears one of
// active, userName, externalId, displayName, locale or a typed part of name, by a simple path
// or a key of a path-less value, with a value of the attribute's type. It reports false when
// an operation needs the general path (which also words the errors).
func (s *Server) patchTyped(old store.User, ops []patchOp) (store.User, bool, error) {
	next := old
	for _, op := range ops {
		if op.path != "" {
			if !setTyped(&next, op.op, op.path, op.value) {
				return old, false, nil
			}
			continue
		}
		obj, ok := op.value.(map[string]any)
		if !ok {
			return old, false, nil
		}
		for k, v := range obj {
			switch strings.ToLower(k) {
			case "id", "meta", "schemas", "password":
				continue
			}
			if !setTyped(&next, op.op, k, v) {
				return old, false, nil
			}
		}
	}
	return next, true, nil
}

// setTyped applies one add, replace or remove to a typed field of u, if path names one and
// the operation can be applied there without the schema's help.
func setTyped(u *store.User, op, path string, value any) bool {
	if op == "add" && value == nil {
		return false // the general path makes it the no-op it is
	}
	remove := op == "remove" || value == nil
	if strings.EqualFold(path, "active") {
		b, ok := stringBool(value).(bool)
		if remove || !ok {
			return false
		}
		u.Active = b
		return true
	}
	var field *string
	switch strings.ToLower(path) {
	case "username":
		if remove {
			return false // required: the general path answers
		}
		field = &u.UserName
	case "externalid":
		field = &u.ExternalID
	case "displayname":
		field = &u.DisplayName
	case "locale":
		field = &u.Locale
	case "name.givenname":
		field = &u.GivenName
	case "name.familyname":
		field = &u.FamilyName
	case "name.middlename":
		field = &u.MiddleName
	case "name.formatted":
		field = &u.Formatted
	default:
		return false
	}
	if remove {
		*field = ""
		return true
	}
	str, ok := value.(string)
	if !ok {
		return false
	}
	*field = str
	return true
}
