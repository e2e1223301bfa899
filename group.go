package teamscim

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/google/uuid"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/teamscim/teamscim/store"
)

// groupHandler serves the Groups resource for the wrapped library. Every member must be a
// provisioned, active member of the team; membership changes are applied as deltas, so their
// cost does not depend on the group's size.
//
// A group grants its members its roles (store.Group.Roles; RoleDeveloper for groups made over
// SCIM), so adding a support user to it takes a seat and removing a member may free one.
// Removing a member from a group never deactivates them; deleting a group deactivates the
// members whose only route into the team was that group (store.User.ViaGroups) and keeps the
// others.
type groupHandler struct{ s *Server }

var _ scim.ResourceHandler = (*groupHandler)(nil)

// errTooManyMembers answers a request that names more members than Config.MaxMemberChanges.
func (s *Server) errTooManyMembers() error {
	return badRequest(scimerrors.ScimTypeTooMany, "A request may change at most %d group members; split it.", s.cfg.MaxMemberChanges)
}

// Create makes a group, with its members if the body lists any.
func (h *groupHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	s := h.s
	rq := requestOf(r)
	name, ext, err := readGroupFields(attrs)
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	members, err := memberIDs(attrs["members"])
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	if len(members) > s.cfg.MaxMemberChanges {
		return scim.Resource{}, s.scimErr(s.errTooManyMembers())
	}
	var out store.Group
	err = s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		out = store.Group{ID: id.String(), DisplayName: name, ExternalID: ext, Roles: []string{RoleDeveloper},
			Created: fx.now, LastModified: fx.now, Version: 1}
		if err := tx.CreateGroup(ctx, out); err != nil {
			return groupConflict(err)
		}
		fx.event(EventGroupCreated, out.ID, "")
		_, err = s.addMembers(ctx, tx, fx, out, members)
		return err
	})
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	return s.groupResource(r, out)
}

// Get returns a group and, unless excludedAttributes names them, its members.
func (h *groupHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	var g store.Group
	err := h.s.view(r.Context(), requestOf(r), func(ctx context.Context, tx store.Tx) error {
		var err error
		g, err = getGroup(ctx, tx, id)
		return err
	})
	if err != nil {
		return scim.Resource{}, h.s.scimErr(err)
	}
	return h.s.groupResource(r, g)
}

// GetAll is not reached: the Server serves lists itself (see serveList).
func (h *groupHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return scim.Page{}, h.s.scimErr(&apiError{status: http.StatusInternalServerError, detail: errInternal.Detail})
}

// Replace applies a PUT: displayName, externalId and the whole member list.
func (h *groupHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	s := h.s
	rq := requestOf(r)
	name, ext, err := readGroupFields(attrs)
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	members, err := memberIDs(attrs["members"])
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	if len(members) > s.cfg.MaxMemberChanges {
		return scim.Resource{}, s.scimErr(s.errTooManyMembers())
	}
	var out store.Group
	err = s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		g, err := getGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, g.Version); err != nil {
			return err
		}
		fields := g.DisplayName != name || g.ExternalID != ext
		g.DisplayName, g.ExternalID = name, ext
		members, err := s.setMembers(ctx, tx, fx, g, members)
		if err != nil {
			return err
		}
		if fields || members {
			if err := s.saveGroup(ctx, tx, fx, &g, fields); err != nil {
				return err
			}
		}
		out = g
		return nil
	})
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	return s.groupResource(r, out)
}

// Patch applies the operations atomically. It answers 204 unless the request asks for
// attributes: echoing every member is O(group size), which IdPs do not need.
func (h *groupHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	s := h.s
	rq := requestOf(r)
	if countMemberValues(ops) > s.cfg.MaxMemberChanges {
		return scim.Resource{}, s.scimErr(s.errTooManyMembers())
	}
	var out store.Group
	err := s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		g, err := getGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, g.Version); err != nil {
			return err
		}
		fields, members := false, false
		for _, op := range ops {
			f, m, err := s.applyGroupOp(ctx, tx, fx, &g, op)
			if err != nil {
				return err
			}
			fields, members = fields || f, members || m
		}
		if fields || members {
			if err := s.saveGroup(ctx, tx, fx, &g, fields); err != nil {
				return err
			}
		}
		out = g
		return nil
	})
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	if r.URL.Query().Get("attributes") == "" {
		return scim.Resource{}, nil // the wrapped library answers 204
	}
	return s.groupResource(r, out)
}

// Delete removes the group and its memberships. Members whose only route into the team was
// this group are deactivated (their seat freed, their workspace hand-over queued); the others
// stay, losing only the roles the group granted.
func (h *groupHandler) Delete(r *http.Request, id string) error {
	s := h.s
	rq := requestOf(r)
	err := s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		g, err := getGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, g.Version); err != nil {
			return err
		}
		members, err := tx.ListMembers(ctx, g.ID, store.ListOptions{})
		if err != nil {
			return err
		}
		if _, err := s.removeMembers(ctx, tx, fx, g, members.Items, true); err != nil {
			return err
		}
		fx.event(EventGroupDeleted, g.ID, "")
		return tx.DeleteGroup(ctx, g.ID)
	})
	if err != nil {
		return s.scimErr(err)
	}
	return nil
}

func getGroup(ctx context.Context, tx store.Tx, id string) (store.Group, error) {
	g, err := tx.GetGroup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return g, notFound(id)
	}
	return g, err
}

// saveGroup writes a changed group: its version (its ETag) moves on whether its own fields or
// its members changed; "group updated" is recorded when its own fields did (member changes
// record their own events).
func (s *Server) saveGroup(ctx context.Context, tx store.Tx, fx *effects, g *store.Group, fields bool) error {
	g.LastModified, g.Version = fx.now, g.Version+1
	if err := tx.UpdateGroup(ctx, *g); err != nil {
		return groupConflict(err)
	}
	if fields {
		fx.event(EventGroupUpdated, g.ID, "")
	}
	return nil
}

func groupConflict(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
			detail: "A group with this displayName already exists in the team."}
	}
	return err
}

// countMemberValues counts the member values a PATCH names, for the Config.MaxMemberChanges
// cap.
func countMemberValues(ops []scim.PatchOperation) int {
	n := 0
	for _, op := range ops {
		switch {
		case op.Path == nil:
			if m, ok := op.Value.(map[string]any); ok {
				if v, ok := lookup(m, "members"); ok {
					n += len(asList(v))
				}
			}
		case strings.EqualFold(op.Path.AttributePath.AttributeName, "members"):
			if op.Path.ValueExpression != nil || op.Value == nil {
				n++
			} else {
				n += len(asList(op.Value))
			}
		}
	}
	return n
}

// applyGroupOp applies one PATCH operation and reports whether it changed the group's own
// fields, and whether it changed its members (either moves the group's version, its ETag).
func (s *Server) applyGroupOp(ctx context.Context, tx store.Tx, fx *effects, g *store.Group, op scim.PatchOperation) (fields, members bool, err error) {
	if op.Path == nil {
		m, ok := op.Value.(map[string]any)
		if !ok {
			return false, false, badRequest(scimerrors.ScimTypeInvalidValue, "A patch operation without a path needs an object value.")
		}
		for k, v := range m {
			p, err := parsePath(k)
			if err != nil {
				return false, false, badRequest(scimerrors.ScimTypeInvalidPath, "A patch value names an unknown attribute.")
			}
			f, mc, err := s.applyGroupOp(ctx, tx, fx, g, scim.PatchOperation{Op: op.Op, Path: &p, Value: v})
			if err != nil {
				return false, false, err
			}
			fields, members = fields || f, members || mc
		}
		return fields, members, nil
	}
	attr := strings.ToLower(op.Path.AttributePath.AttributeName)
	switch {
	case attr == "displayname" && op.Op != scim.PatchOperationRemove:
		name, ok := op.Value.(string)
		if !ok || strings.TrimSpace(name) == "" {
			return false, false, badRequest(scimerrors.ScimTypeInvalidValue, "displayName must be a non-empty string.")
		}
		changed := g.DisplayName != name
		g.DisplayName = name
		return changed, false, nil
	case attr == "displayname":
		return false, false, badRequest(scimerrors.ScimTypeMutability, "displayName is required and cannot be removed.")
	case attr == "externalid":
		ext, _ := op.Value.(string)
		if op.Op == scim.PatchOperationRemove {
			ext = ""
		}
		changed := g.ExternalID != ext
		g.ExternalID = ext
		return changed, false, nil
	case attr == "members":
		members, err := s.applyMembersOp(ctx, tx, fx, *g, op)
		return false, members, err
	}
	return false, false, badRequest(scimerrors.ScimTypeInvalidPath, "Groups support displayName, externalId and members.")
}

// applyMembersOp applies an add, remove or replace on members and reports whether the
// membership changed.
func (s *Server) applyMembersOp(ctx context.Context, tx store.Tx, fx *effects, g store.Group, op scim.PatchOperation) (bool, error) {
	if op.Path.ValueExpression != nil {
		// members[value eq "id"]: only removal is meaningful.
		e, ok := op.Path.ValueExpression.(*filter.AttributeExpression)
		id, isStr := "", false
		if ok {
			id, isStr = e.CompareValue.(string)
		}
		if !ok || !isStr || e.Operator != filter.EQ || !strings.EqualFold(e.AttributePath.AttributeName, "value") || op.Op != scim.PatchOperationRemove {
			return false, badRequest(scimerrors.ScimTypeInvalidPath, `Member filters must have the form members[value eq "<id>"] and be removed.`)
		}
		return s.removeMembers(ctx, tx, fx, g, []string{id}, false)
	}
	ids, err := memberIDs(op.Value)
	if err != nil {
		return false, err
	}
	switch op.Op {
	case scim.PatchOperationAdd:
		return s.addMembers(ctx, tx, fx, g, ids)
	case scim.PatchOperationReplace:
		return s.setMembers(ctx, tx, fx, g, ids)
	default: // remove
		if op.Value == nil {
			return s.setMembers(ctx, tx, fx, g, nil)
		}
		return s.removeMembers(ctx, tx, fx, g, ids, false)
	}
}

// memberIDs reads the ids of a members value: a list of {"value": id, ...} objects (a single
// object is read as a list of one).
func memberIDs(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	ids := make([]string, 0, len(list))
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, `members must be objects of the form {"value": "<user id>"}.`)
		}
		id, _ := lookup(m, "value")
		s, ok := id.(string)
		if !ok || s == "" {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, `Every member needs a "value" with a user id.`)
		}
		ids = append(ids, s)
	}
	return ids, nil
}

// grantsSeat reports whether a group's roles hold a seat; grantsSupport whether they make a
// support user.
func grantsSeat(g store.Group) bool    { return slices.ContainsFunc(g.Roles, isSeatRole) }
func grantsSupport(g store.Group) bool { return slices.ContainsFunc(g.Roles, isSupportRole) }

// addMembers adds users to g after checking that each is a provisioned, active member of the
// team (the first one that is not fails the whole request). A member the group's roles give
// a seat takes it (refused: 403, and nothing of the request applies).
func (s *Server) addMembers(ctx context.Context, tx store.Tx, fx *effects, g store.Group, ids []string) (bool, error) {
	if len(ids) == 0 {
		return false, nil
	}
	users := make(map[string]store.User, len(ids))
	for _, id := range ids {
		u, err := tx.GetUser(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Deleted || !u.Active)) {
			return false, badRequest(scimerrors.ScimTypeInvalidValue,
				"Member %q is not a provisioned, active user of this team: provision the user before adding them to a group.", id)
		}
		if err != nil {
			return false, err
		}
		if u.Pending {
			return false, errPendingInGroup(id)
		}
		users[id] = u
	}
	added, err := tx.AddMembers(ctx, g.ID, ids)
	if err != nil {
		return false, err
	}
	for _, id := range added {
		fx.event(EventMemberAdded, id, g.ID)
		u := users[id]
		if u.Seat || !(grantsSeat(g) || grantsSupport(g)) {
			continue
		}
		if err := s.syncSeat(ctx, tx, fx, &u); err != nil {
			return false, err
		}
		if u.Seat {
			if err := tx.UpdateUser(ctx, u); err != nil {
				return false, err
			}
		}
	}
	return len(added) > 0, nil
}

// removeMembers takes users out of g. A member who loses the last role that held their seat
// frees it. With deleting (the group is being deleted), a member whose only route into the
// team was g is deactivated.
func (s *Server) removeMembers(ctx context.Context, tx store.Tx, fx *effects, g store.Group, ids []string, deleting bool) (bool, error) {
	if len(ids) == 0 {
		return false, nil
	}
	removed, err := tx.RemoveMembers(ctx, g.ID, ids)
	if err != nil {
		return false, err
	}
	for _, id := range removed {
		fx.event(EventMemberRemoved, id, g.ID)
		u, err := tx.GetUser(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // a member id of a user the team no longer has
		}
		if err != nil {
			return false, err
		}
		if deleting && u.ViaGroups && onTeam(u) {
			others, err := tx.GroupsOf(ctx, id)
			if err != nil {
				return false, err
			}
			if len(others) == 0 {
				next := u
				next.Active = false
				next.LastModified, next.Version = fx.now, u.Version+1
				if err := s.saveUser(ctx, tx, fx, u, next, ""); err != nil {
					return false, err
				}
				continue
			}
		}
		if u.Seat && grantsSeat(g) && !slices.ContainsFunc(u.Roles, isSeatRole) {
			if err := s.syncSeat(ctx, tx, fx, &u); err != nil {
				return false, err
			}
			if err := tx.UpdateUser(ctx, u); err != nil {
				return false, err
			}
		}
	}
	return len(removed) > 0, nil
}

// setMembers makes the group's members exactly ids, writing only the difference.
func (s *Server) setMembers(ctx context.Context, tx store.Tx, fx *effects, g store.Group, ids []string) (bool, error) {
	current, err := tx.ListMembers(ctx, g.ID, store.ListOptions{})
	if err != nil {
		return false, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var remove, add []string
	have := make(map[string]bool, len(current.Items))
	for _, id := range current.Items {
		have[id] = true
		if !want[id] {
			remove = append(remove, id)
		}
	}
	for _, id := range ids {
		if !have[id] {
			add = append(add, id)
			have[id] = true
		}
	}
	removed, err := s.removeMembers(ctx, tx, fx, g, remove, false)
	if err != nil {
		return false, err
	}
	added, err := s.addMembers(ctx, tx, fx, g, add)
	return removed || added, err
}

// groupRef names a group in a user's groups attribute: by id or by displayName.
type groupRef struct{ id, name string }

// readGroupRefs reads the groups attribute of POST /Users: a list of group names, or of
// objects with the group's id as "value" (or its name as "display").
func readGroupRefs(v any) ([]groupRef, *scimerrors.ScimError) {
	bad := &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue,
		Detail: `groups must be a list of group names or of {"value": "<group id>"} objects.`}
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, bad
	}
	refs := make([]groupRef, 0, len(list))
	for _, el := range list {
		switch e := el.(type) {
		case string:
			if strings.TrimSpace(e) == "" {
				return nil, bad
			}
			refs = append(refs, groupRef{name: e})
		case map[string]any:
			id, _ := lookup(e, "value")
			name, _ := lookup(e, "display")
			ref := groupRef{}
			ref.id, _ = id.(string)
			ref.name, _ = name.(string)
			if ref.id == "" && ref.name == "" {
				return nil, bad
			}
			refs = append(refs, ref)
		default:
			return nil, bad
		}
	}
	return refs, nil
}

// resolveGroups finds the groups refs name; a group the team does not have fails the request.
func resolveGroups(ctx context.Context, tx store.Tx, refs []groupRef) ([]store.Group, error) {
	var out []store.Group
	for _, ref := range refs {
		var g store.Group
		var err error
		if ref.id != "" {
			g, err = tx.GetGroup(ctx, ref.id)
		} else {
			g, err = tx.GetGroupByDisplayName(ctx, ref.name)
		}
		if errors.Is(err, store.ErrNotFound) {
			name := ref.id
			if name == "" {
				name = ref.name
			}
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "Group %q does not exist in this team: push the group first.", name)
		}
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o store.Group) bool { return o.ID == g.ID }) {
			out = append(out, g)
		}
	}
	return out, nil
}

// rolesOf returns the roles groups grant.
func rolesOf(groups []store.Group) []string {
	var roles []string
	for _, g := range groups {
		for _, r := range g.Roles {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	return roles
}

// joinGroups makes a member who is being provisioned a member of groups.
func joinGroups(ctx context.Context, tx store.Tx, fx *effects, userID string, groups []store.Group) error {
	for _, g := range groups {
		added, err := tx.AddMembers(ctx, g.ID, []string{userID})
		if err != nil {
			return err
		}
		if len(added) > 0 {
			fx.event(EventMemberAdded, userID, g.ID)
		}
	}
	return nil
}

func readGroupFields(attrs scim.ResourceAttributes) (name, externalID string, err error) {
	name, _ = attrs["displayName"].(string)
	if strings.TrimSpace(name) == "" {
		return "", "", badRequest(scimerrors.ScimTypeInvalidValue, "displayName is required.")
	}
	externalID, _ = attrs["externalId"].(string)
	return name, externalID, nil
}

// groupResource renders a group for the wrapped library, with its members unless the
// request excludes them or asks only for other attributes.
func (s *Server) groupResource(r *http.Request, g store.Group) (scim.Resource, error) {
	q := r.URL.Query()
	attrs, err := s.groupAttributes(r.Context(), requestOf(r), g, wantsMembers(splitAttrs(q.Get("attributes")), splitAttrs(q.Get("excludedAttributes"))))
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	delete(attrs, "externalId")
	project(attrs, splitAttrs(q.Get("attributes")), splitAttrs(q.Get("excludedAttributes")))
	res := scim.Resource{ID: g.ID, Attributes: attrs, Meta: metaOf(g.Created, g.LastModified, g.Version)}
	if g.ExternalID != "" {
		res.ExternalID = optional.NewString(g.ExternalID)
	}
	return res, nil
}

// wantsMembers reports whether a projection returns members.
func wantsMembers(attributes, excluded []string) bool {
	for _, a := range excluded {
		if attr, _ := attrName(a); attr == "members" {
			return false
		}
	}
	if len(attributes) == 0 {
		return true
	}
	for _, a := range attributes {
		if attr, _ := attrName(a); attr == "members" {
			return true
		}
	}
	return false
}

// groupAttributes renders g's attributes; members are read in their own View.
func (s *Server) groupAttributes(ctx context.Context, rq *request, g store.Group, withMembers bool) (scim.ResourceAttributes, error) {
	a := scim.ResourceAttributes{"displayName": g.DisplayName}
	if g.ExternalID != "" {
		a["externalId"] = g.ExternalID
	}
	if !withMembers {
		return a, nil
	}
	members := []any{}
	err := s.view(ctx, rq, func(ctx context.Context, tx store.Tx) error {
		pg, err := tx.ListMembers(ctx, g.ID, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, id := range pg.Items {
			m := map[string]any{"value": id, "type": "User", "$ref": rq.baseURL + "/Users/" + url.PathEscape(id)}
			if u, err := tx.GetUser(ctx, id); err == nil {
				m["display"] = u.UserName
			}
			members = append(members, m)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		err = nil // deleted meanwhile: render without members
	}
	a["members"] = members
	return a, err
}
