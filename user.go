package teamscim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/google/uuid"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/teamscim/teamscim/store"
)

// errUserNameTaken is the conflict of a create or rename onto a userName the team has.
var errUserNameTaken = &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
	detail: "Another member of the team already has this userName (compared case-insensitively)."}

// userHandler serves the Users resource for the wrapped library.
type userHandler struct{ s *Server }

var _ scim.ResourceHandler = (*userHandler)(nil)

// Create provisions a member: a new one, the re-link of a member hidden by DELETE, or the
// adoption of a member who joined outside SCIM. An email already provisioned answers 409. A
// member created with groups (the request's groups attribute, Postman's "groups to join")
// reaches the team through those groups only (store.User.ViaGroups).
func (h *userHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	s := h.s
	rq := requestOf(r)
	in, err := readUserInput(attrs)
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	if in.UserName == nil {
		return scim.Resource{}, s.scimErr(badRequest(scimerrors.ScimTypeInvalidValue, "userName is required."))
	}
	if err := s.checkUserName(*in.UserName); err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	if in.Active == nil {
		t := true
		in.Active = &t
	}
	look, err := s.lookupAccount(r.Context(), *in.UserName)
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	var out store.User
	err = s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
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
		in.applyTo(&u, true)
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
		out = u
		return nil
	})
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	return s.userResource(r, out), nil
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
	in.applyTo(&u, true)
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
	if err := s.queueAccount(ctx, tx, fx, u, job); err != nil {
		return err
	}
	*out = u
	return joinGroups(ctx, tx, fx, u.ID, groups)
}

// Get returns a visible member.
func (h *userHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	var u store.User
	err := h.s.view(r.Context(), requestOf(r), func(ctx context.Context, tx store.Tx) error {
		var err error
		u, err = visibleUser(ctx, tx, id)
		return err
	})
	if err != nil {
		return scim.Resource{}, h.s.scimErr(err)
	}
	return h.s.userResource(r, u), nil
}

// GetAll is not reached: the Server serves lists itself (see serveList). It answers with the
// same code path for completeness.
func (h *userHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return scim.Page{}, h.s.scimErr(&apiError{status: http.StatusInternalServerError, detail: errInternal.Detail})
}

// Replace applies a PUT: name, userName, externalId, emails, displayName and locale are
// replaced; active is changed only if the body carries it.
func (h *userHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	s := h.s
	in, err := readUserInput(attrs)
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	if in.UserName == nil {
		return scim.Resource{}, s.scimErr(badRequest(scimerrors.ScimTypeInvalidValue, "userName is required."))
	}
	var out store.User
	rq := requestOf(r)
	err = s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		old, err := visibleUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, old.Version); err != nil {
			return err
		}
		next := old
		in.applyTo(&next, true)
		if next, err = s.prepareChange(ctx, tx, old, next); err != nil {
			return err
		}
		out = next
		return s.saveUser(ctx, tx, fx, old, next, EventUserReactivated)
	})
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	return s.userResource(r, out), nil
}

// Patch applies RFC 7644 PATCH operations atomically: all of them or none.
func (h *userHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	s := h.s
	var out store.User
	rq := requestOf(r)
	err := s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		old, err := visibleUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, old.Version); err != nil {
			return err
		}
		attrs := userAttributes(old)
		ops, err := normalizeUserOps(ops, attrs)
		if err != nil {
			return err
		}
		patched, err := scim.ApplyPatch(attrs, ops, s.userSchema, s.enterprise)
		if err != nil {
			return patchError(err)
		}
		in, err := readUserInput(patched)
		if err != nil {
			return err
		}
		if in.UserName == nil {
			return badRequest(scimerrors.ScimTypeMutability, "userName cannot be removed.")
		}
		next := old
		in.applyTo(&next, false)
		if next, err = s.prepareChange(ctx, tx, old, next); err != nil {
			return err
		}
		out = next
		return s.saveUser(ctx, tx, fx, old, next, EventUserReactivated)
	})
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	return s.userResource(r, out), nil
}

// Delete deactivates the member and hides the SCIM resource; the member and their data stay.
func (h *userHandler) Delete(r *http.Request, id string) error {
	s := h.s
	rq := requestOf(r)
	err := s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
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
		return s.saveUser(ctx, tx, fx, old, next, "")
	})
	if err != nil {
		return s.scimErr(err)
	}
	return nil
}

// scimErr converts err for the wrapped library, which needs a ScimError value.
func (s *Server) scimErr(err error) error { return s.scimError(err) }

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
	case joining:
		if err := s.syncSeat(ctx, tx, fx, &next); err != nil {
			return err
		}
		if err := s.queueWorkspaces(ctx, tx, fx, next.ID, WorkspacesOnReactivation, ""); err != nil {
			return err
		}
		fx.event(joinEvent, next.ID, "")
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
	return nil
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

// userInput is what a request body says about a user; nil fields were absent.
type userInput struct {
	UserName, ExternalID                         *string
	GivenName, FamilyName, MiddleName, Formatted *string
	DisplayName, Locale                          *string
	Emails                                       *[]store.Email
	Active                                       *bool
}

// applyTo copies the input onto u. With full (PUT, POST) absent optional attributes are
// cleared; active is only ever changed when present.
func (in userInput) applyTo(u *store.User, full bool) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		} else if full {
			*dst = ""
		}
	}
	if in.UserName != nil {
		u.UserName = *in.UserName
	}
	set(&u.ExternalID, in.ExternalID)
	set(&u.GivenName, in.GivenName)
	set(&u.FamilyName, in.FamilyName)
	set(&u.MiddleName, in.MiddleName)
	set(&u.Formatted, in.Formatted)
	set(&u.DisplayName, in.DisplayName)
	set(&u.Locale, in.Locale)
	if in.Emails != nil {
		u.Emails = *in.Emails
	} else if full {
		u.Emails = nil
	}
	if in.Active != nil {
		u.Active = *in.Active
	}
}

// readUserInput reads validated attributes (canonical names, as the wrapped library or
// ApplyPatch produce them). Attributes teamscim does not keep are ignored.
func readUserInput(attrs scim.ResourceAttributes) (userInput, error) {
	var in userInput
	str := func(name string, v any) (*string, error) {
		if v == nil {
			return nil, nil
		}
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s must be a string.", name)
		}
		return &s, nil
	}
	var err error
	for k, v := range attrs {
		switch k {
		case "userName":
			in.UserName, err = str(k, v)
		case "externalId":
			in.ExternalID, err = str(k, v)
		case "displayName":
			in.DisplayName, err = str(k, v)
		case "locale":
			in.Locale, err = str(k, v)
		case "active":
			if v == nil {
				continue
			}
			b, ok := v.(bool)
			if !ok {
				return in, badRequest(scimerrors.ScimTypeInvalidValue, "active must be a boolean.")
			}
			in.Active = &b
		case "name":
			if v == nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return in, badRequest(scimerrors.ScimTypeInvalidValue, "name must be an object.")
			}
			for nk, nv := range m {
				switch nk {
				case "givenName":
					in.GivenName, err = str("name.givenName", nv)
				case "familyName":
					in.FamilyName, err = str("name.familyName", nv)
				case "middleName":
					in.MiddleName, err = str("name.middleName", nv)
				case "formatted":
					in.Formatted, err = str("name.formatted", nv)
				}
				if err != nil {
					return in, err
				}
			}
			for _, p := range []**string{&in.GivenName, &in.FamilyName, &in.MiddleName, &in.Formatted} {
				if *p == nil {
					*p = new(string)
				}
			}
		case "emails":
			emails, err := readEmails(v)
			if err != nil {
				return in, err
			}
			in.Emails = &emails
		}
		if err != nil {
			return in, err
		}
	}
	return in, nil
}

func readEmails(v any) ([]store.Email, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]store.Email, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "emails must be a list of objects.")
		}
		var em store.Email
		for k, v := range m {
			switch k {
			case "value":
				em.Value, _ = v.(string)
			case "type":
				em.Type, _ = v.(string)
			case "primary":
				em.Primary, _ = v.(bool)
			}
		}
		if em.Value != "" {
			out = append(out, em)
		}
	}
	return out, nil
}

// userAttributes renders u as SCIM attributes (without id, schemas and meta, which the
// wrapped library adds, and with externalId, which PATCH may target).
func userAttributes(u store.User) scim.ResourceAttributes {
	name := map[string]any{"givenName": u.GivenName, "familyName": u.FamilyName}
	if u.MiddleName != "" {
		name["middleName"] = u.MiddleName
	}
	if u.Formatted != "" {
		name["formatted"] = u.Formatted
	}
	a := scim.ResourceAttributes{
		"userName": u.UserName,
		"name":     name,
		"active":   u.Active,
		"emails":   emailsOf(u),
	}
	if u.DisplayName != "" {
		a["displayName"] = u.DisplayName
	}
	if u.Locale != "" {
		a["locale"] = u.Locale
	}
	if u.ExternalID != "" {
		a["externalId"] = u.ExternalID
	}
	return a
}

// emailsOf returns the emails attribute: the ones stored, or the userName as the primary
// work email (Okta's conformance test reads emails[0].value).
func emailsOf(u store.User) []any {
	if len(u.Emails) == 0 {
		return []any{map[string]any{"value": u.UserName, "type": "work", "primary": true}}
	}
	out := make([]any, len(u.Emails))
	for i, e := range u.Emails {
		m := map[string]any{"value": e.Value}
		if e.Type != "" {
			m["type"] = e.Type
		}
		if e.Primary {
			m["primary"] = true
		}
		out[i] = m
	}
	return out
}

// userResource renders u for the wrapped library, projected by the request's attributes and
// excludedAttributes parameters.
func (s *Server) userResource(r *http.Request, u store.User) scim.Resource {
	attrs := userAttributes(u)
	delete(attrs, "externalId")
	q := r.URL.Query()
	project(attrs, splitAttrs(q.Get("attributes")), splitAttrs(q.Get("excludedAttributes")))
	res := scim.Resource{ID: u.ID, Attributes: attrs, Meta: metaOf(u.Created, u.LastModified, u.Version)}
	if u.ExternalID != "" {
		res.ExternalID = optional.NewString(u.ExternalID)
	}
	return res
}

func metaOf(created, modified time.Time, version int64) scim.Meta {
	c, m := created, modified
	return scim.Meta{Created: &c, LastModified: &m, Version: fmt.Sprintf(`W/"%d"`, version)}
}

// patchError turns an error of ApplyPatch into a client error: ApplyPatch reports bad paths
// and values with plain errors.
func patchError(err error) error {
	var se scimerrors.ScimError
	if errors.As(err, &se) {
		return se
	}
	return badRequest(scimerrors.ScimTypeInvalidValue, "The patch operation cannot be applied to this resource.")
}

// normalizeUserOps prepares validated PATCH operations for ApplyPatch:
//   - a path-less add or replace becomes one operation per value key, so that keys such as
//     "name.givenName" or "urn:...:User:employeeNumber" (Entra ID) reach their targets;
//   - an add or replace of emails[type eq "work"].value when no work email exists adds one
//     (Entra ID sends this when a user first gets an email).
func normalizeUserOps(ops []scim.PatchOperation, attrs scim.ResourceAttributes) ([]scim.PatchOperation, error) {
	out := make([]scim.PatchOperation, 0, len(ops))
	for _, op := range ops {
		if op.Path == nil && op.Op != scim.PatchOperationRemove {
			m, ok := op.Value.(map[string]any)
			if !ok {
				return nil, badRequest(scimerrors.ScimTypeInvalidValue, "A patch operation without a path needs an object value.")
			}
			for k, v := range m {
				p, err := parsePath(k)
				if err != nil {
					return nil, badRequest(scimerrors.ScimTypeInvalidPath, "A patch value names an unknown attribute.")
				}
				out = append(out, scim.PatchOperation{Op: op.Op, Path: &p, Value: v})
			}
			continue
		}
		if op.Path != nil && op.Path.ValueExpression != nil && op.Path.SubAttribute != nil && op.Op != scim.PatchOperationRemove {
			if added, ok := addMissingElement(op, attrs); ok {
				out = append(out, added)
				continue
			}
		}
		out = append(out, op)
	}
	return out, nil
}

// addMissingElement turns attr[sub2 eq "x"].sub = v into an add of {sub2: "x", sub: v} to
// attr when no element of attr matches the filter.
func addMissingElement(op scim.PatchOperation, attrs scim.ResourceAttributes) (scim.PatchOperation, bool) {
	e, ok := op.Path.ValueExpression.(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil {
		return op, false
	}
	lit, isStr := e.CompareValue.(string)
	if !isStr {
		return op, false
	}
	name := op.Path.AttributePath.AttributeName
	if v, ok := lookup(attrs, name); ok {
		for _, el := range asList(v) {
			if m, ok := el.(map[string]any); ok && matches(e, m) {
				return op, false
			}
		}
	}
	p := filter.Path{AttributePath: filter.AttributePath{AttributeName: name, URIPrefix: op.Path.AttributePath.URIPrefix}}
	elem := map[string]any{e.AttributePath.AttributeName: lit, *op.Path.SubAttribute: op.Value}
	return scim.PatchOperation{Op: scim.PatchOperationAdd, Path: &p, Value: []any{elem}}, true
}
