package teamscim

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	"github.com/google/uuid"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/teamscim/teamscim/store"
)

// Groups: every member must be a provisioned, active member of the team; membership changes
// are applied as deltas, so their cost does not depend on the group's size.
//
// A group grants its members its roles (store.Group.Roles; RoleDeveloper for groups made over
// SCIM), so adding a support user to it takes a seat and removing a member may free one.
// Removing a member from a group never deactivates them; deleting a group deactivates the
// members whose only route into the team was that group (store.User.ViaGroups) and keeps the
// others.

// errTooManyMembers answers a request that names more members than Config.MaxMemberChanges.
func (s *Server) errTooManyMembers() error {
	return badRequest(scimerrors.ScimTypeTooMany, "A request may change at most %d group members; split it.", s.cfg.MaxMemberChanges)
}

// writeGroup serves POST, PUT, PATCH and DELETE of /Groups. A PATCH answers 204 unless the
// request asks for attributes: echoing every member is O(group size), which IdPs do not need.
func (s *Server) writeGroup(r *http.Request, rq *request, rt routed, body []byte) (written, error) {
	var g store.Group
	var err error
	status := http.StatusOK
	switch rt.kind {
	case routeCreate:
		g, err = s.createGroup(r.Context(), rq, body)
		status = http.StatusCreated
	case routeReplace:
		g, err = s.replaceGroup(r, rq, rt.id, body)
	case routePatch:
		if g, err = s.patchGroup(r, rq, rt.id, body); err == nil && r.URL.Query().Get("attributes") == "" {
			return written{status: http.StatusNoContent}, nil
		}
	default:
		return written{status: http.StatusNoContent}, s.deleteGroup(r, rq, rt.id)
	}
	if err != nil {
		return written{}, err
	}
	out, err := s.renderGroup(r.Context(), rq, g, projectionOf(r))
	if err != nil {
		return written{}, err
	}
	w := written{status: status, body: out, version: g.Version}
	if status == http.StatusCreated {
		w.location = location(rq.baseURL, "Groups", g.ID)
	}
	return w, nil
}

// groupInput is what a checked Group resource says: its typed fields, its members' ids, and
// its other attributes encoded as store.Group.Attributes keeps them.
type groupInput struct {
	displayName, externalID string
	members                 []string
	attributes              []byte
}

// readGroupBody reads a POST or PUT body of /Groups.
func (s *Server) readGroupBody(body []byte) (groupInput, map[string]any, error) {
	m, serr := decodeBody(body)
	if serr != nil {
		return groupInput{}, nil, *serr
	}
	attrs, err := checkResource(s.groups, m, checkWrite)
	if err != nil {
		return groupInput{}, nil, err
	}
	in, err := s.groupInputOf(attrs)
	if err != nil {
		return groupInput{}, nil, err
	}
	if len(in.members) > s.cfg.MaxMemberChanges {
		return groupInput{}, nil, s.errTooManyMembers()
	}
	return in, attrs, nil
}

// groupInputOf splits a checked Group resource into its typed fields, members and others.
func (s *Server) groupInputOf(attrs map[string]any) (groupInput, error) {
	var in groupInput
	in.displayName, _ = attrs["displayName"].(string)
	if strings.TrimSpace(in.displayName) == "" {
		return in, badRequest(scimerrors.ScimTypeInvalidValue, "displayName is required and must not be blank.")
	}
	in.externalID, _ = attrs["externalId"].(string)
	members, err := memberIDs(attrs["members"])
	if err != nil {
		return in, err
	}
	in.members = members
	in.attributes, err = encodeAttributes(without(attrs, "displayName", "externalId", "members"))
	return in, err
}

// createGroup makes a group, with its members if the body lists any.
func (s *Server) createGroup(ctx context.Context, rq *request, body []byte) (store.Group, error) {
	in, _, err := s.readGroupBody(body)
	if err != nil {
		return store.Group{}, err
	}
	var out store.Group
	err = s.update(ctx, rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		out = store.Group{ID: id.String(), DisplayName: in.displayName, ExternalID: in.externalID, Attributes: in.attributes,
			Roles: []string{RoleDeveloper}, Created: fx.now, LastModified: fx.now, Version: 1}
		if err := tx.CreateGroup(ctx, out); err != nil {
			return groupConflict(err)
		}
		fx.event(EventGroupCreated, out.ID, "")
		_, err = s.addMembers(ctx, tx, fx, out, in.members)
		return err
	})
	return out, err
}

// readGroup reads a group.
func (s *Server) readGroup(ctx context.Context, rq *request, id string) (store.Group, error) {
	var g store.Group
	err := s.view(ctx, rq, func(ctx context.Context, tx store.Tx) error {
		var err error
		g, err = getGroup(ctx, tx, id)
		return err
	})
	return g, err
}

// replaceGroup applies a PUT: displayName, externalId, the other attributes and the whole
// member list.
func (s *Server) replaceGroup(r *http.Request, rq *request, id string, body []byte) (store.Group, error) {
	in, attrs, err := s.readGroupBody(body)
	if err != nil {
		return store.Group{}, err
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
		in := in
		if s.groups.guarded {
			old, err := s.groupAttributes(g)
			if err != nil {
				return err
			}
			if err := s.groups.keepGuarded(old, attrs); err != nil {
				return err
			}
			if in, err = s.groupInputOf(attrs); err != nil {
				return err
			}
		}
		fields := g.DisplayName != in.displayName || g.ExternalID != in.externalID || !sameAttributes(g.Attributes, in.attributes)
		g.DisplayName, g.ExternalID, g.Attributes = in.displayName, in.externalID, in.attributes
		members, err := s.setMembers(ctx, tx, fx, g, in.members)
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
	return out, err
}

// patchGroup applies the operations atomically: member operations as deltas on the store,
// the others to the group's attributes.
func (s *Server) patchGroup(r *http.Request, rq *request, id string, body []byte) (store.Group, error) {
	ops, err := parsePatch(body)
	if err != nil {
		return store.Group{}, err
	}
	memberOps, attrOps, err := splitMemberOps(ops)
	if err != nil {
		return store.Group{}, err
	}
	if countMemberValues(memberOps) > s.cfg.MaxMemberChanges {
		return store.Group{}, s.errTooManyMembers()
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
		fields, members := false, false
		if len(attrOps) > 0 {
			attrs, err := s.groupAttributes(g)
			if err != nil {
				return err
			}
			patched, err := s.applyPatch(s.groups, attrs, attrOps)
			if err != nil {
				return err
			}
			in, err := s.groupInputOf(patched)
			if err != nil {
				return err
			}
			fields = g.DisplayName != in.displayName || g.ExternalID != in.externalID || !sameAttributes(g.Attributes, in.attributes)
			g.DisplayName, g.ExternalID, g.Attributes = in.displayName, in.externalID, in.attributes
		}
		for _, op := range memberOps {
			m, err := s.applyMembersOp(ctx, tx, fx, g, op)
			if err != nil {
				return err
			}
			members = members || m
		}
		if fields || members {
			if err := s.saveGroup(ctx, tx, fx, &g, fields); err != nil {
				return err
			}
		}
		out = g
		return nil
	})
	return out, err
}

// sameAttributes reports whether two encodings of stored attributes hold the same values.
func sameAttributes(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	am, aerr := decodeAttributes(a)
	bm, berr := decodeAttributes(b)
	return aerr == nil && berr == nil && reflect.DeepEqual(am, bm)
}

// deleteGroup removes the group and its memberships. Members whose only route into the team
// was this group are deactivated (their seat freed, their workspace hand-over queued); the
// others stay, losing only the roles the group granted.
func (s *Server) deleteGroup(r *http.Request, rq *request, id string) error {
	return s.update(r.Context(), rq.teamID, rq.actor(), func(ctx context.Context, tx store.Tx, fx *effects) error {
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

// memberOp is a PATCH operation on a group's members.
type memberOp struct {
	op     string
	filter filter.Expression // members[…]: nil for the whole attribute
	value  any
	n      int
}

// splitMemberOps separates the operations on members (a path on members, or the members key
// of a path-less value) from the others.
func splitMemberOps(ops []patchOp) ([]memberOp, []patchOp, error) {
	var members []memberOp
	var others []patchOp
	for _, op := range ops {
		if op.path == "" {
			obj, ok := op.value.(map[string]any)
			if !ok {
				others = append(others, op) // applyPatch words the error
				continue
			}
			rest := make(map[string]any, len(obj))
			for k, v := range obj {
				if strings.EqualFold(k, "members") {
					members = append(members, memberOp{op: op.op, value: v, n: op.n})
				} else {
					rest[k] = v
				}
			}
			if len(rest) > 0 {
				op.value = rest
				others = append(others, op)
			}
			continue
		}
		name, _, _ := strings.Cut(op.path, "[")
		if !strings.EqualFold(strings.TrimSpace(name), "members") && !strings.EqualFold(name, schema.GroupSchema+":members") {
			others = append(others, op)
			continue
		}
		p, err := parsePath(op.path)
		if err != nil {
			return nil, nil, badRequest(scimerrors.ScimTypeInvalidPath, "%s.path is not a valid attribute path (RFC 7644 §3.5.2).", op.where())
		}
		if p.AttributePath.SubAttribute != nil || p.SubAttribute != nil {
			return nil, nil, badRequest(scimerrors.ScimTypeMutability, "%s: a member's sub-attributes are immutable: add or remove the member.", op.where())
		}
		members = append(members, memberOp{op: op.op, filter: p.ValueExpression, value: op.value, n: op.n})
	}
	return members, others, nil
}

// countMemberValues counts the member values member operations name, for the
// Config.MaxMemberChanges cap.
func countMemberValues(ops []memberOp) int {
	n := 0
	for _, op := range ops {
		if op.filter != nil || op.value == nil {
			n++
		} else {
			n += len(asList(op.value))
		}
	}
	return n
}

// applyMembersOp applies an add, remove or replace on members and reports whether the
// membership changed.
func (s *Server) applyMembersOp(ctx context.Context, tx store.Tx, fx *effects, g store.Group, op memberOp) (bool, error) {
	if op.filter != nil {
		// members[value eq "id"]: only removal is meaningful.
		e, ok := op.filter.(*filter.AttributeExpression)
		id, isStr := "", false
		if ok {
			id, isStr = e.CompareValue.(string)
		}
		if !ok || !isStr || e.Operator != filter.EQ || !strings.EqualFold(e.AttributePath.AttributeName, "value") || op.op != scim.PatchOperationRemove {
			return false, badRequest(scimerrors.ScimTypeInvalidPath, `Operations[%d]: member filters must have the form members[value eq "<id>"] and be removed.`, op.n)
		}
		return s.removeMembers(ctx, tx, fx, g, []string{id}, false)
	}
	ids, err := memberIDs(op.value)
	if err != nil {
		return false, err
	}
	switch op.op {
	case scim.PatchOperationAdd:
		return s.addMembers(ctx, tx, fx, g, ids)
	case scim.PatchOperationReplace:
		return s.setMembers(ctx, tx, fx, g, ids)
	default: // remove
		if op.value == nil {
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

// groupAttributes returns g's attributes other than members, decoded.
func (s *Server) groupAttributes(g store.Group) (map[string]any, error) {
	a := map[string]any{"displayName": g.DisplayName}
	if g.ExternalID != "" {
		a["externalId"] = g.ExternalID
	}
	if err := s.groups.withStored(a, g.Attributes, true); err != nil {
		return nil, err
	}
	return a, nil
}

// groupOutput returns g as a response's resource, with its members unless the projection
// leaves them out (they are read in their own View).
func (s *Server) groupOutput(ctx context.Context, rq *request, g store.Group, p projection) (map[string]any, error) {
	m := map[string]any{"displayName": g.DisplayName}
	if g.ExternalID != "" {
		m["externalId"] = g.ExternalID
	}
	if err := s.groups.withStored(m, g.Attributes, !p.none() || s.groups.special); err != nil {
		return nil, err
	}
	if s.wantsMembers(p) {
		members, err := s.memberValues(ctx, rq, g)
		if err != nil {
			return nil, err
		}
		m["members"] = members
	}
	meta := appendMeta(make([]byte, 0, 192+len(rq.baseURL)), "Group", g.Created, g.LastModified, rq.baseURL, "Groups", g.ID, g.Version)
	s.groups.finish(m, g.ID, meta, p)
	return m, nil
}

// renderGroup encodes g as a response's resource.
func (s *Server) renderGroup(ctx context.Context, rq *request, g store.Group, p projection) ([]byte, error) {
	m, err := s.groupOutput(ctx, rq, g, p)
	if err != nil {
		return nil, err
	}
	return appendObject(make([]byte, 0, 512+len(g.Attributes)), m)
}

// memberValues reads g's members as the members attribute: value, type, $ref and display (the
// user's userName).
func (s *Server) memberValues(ctx context.Context, rq *request, g store.Group) ([]any, error) {
	members := []any{}
	err := s.view(ctx, rq, func(ctx context.Context, tx store.Tx) error {
		pg, err := tx.ListMembers(ctx, g.ID, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, id := range pg.Items {
			m := map[string]any{"value": id, "type": "User", "$ref": location(rq.baseURL, "Users", id)}
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
	return members, err
}
