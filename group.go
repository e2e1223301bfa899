package teamscim

import (
	"context"
	"errors"
	"net/http"
	"net/url"
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
type groupHandler struct{ s *Server }

var _ scim.ResourceHandler = (*groupHandler)(nil)

// Create makes a group, with its members if the body lists any.
func (h *groupHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	s := h.s
	name, ext, err := readGroupFields(attrs)
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	members, err := memberIDs(attrs["members"])
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	var out store.Group
	err = s.store.Update(r.Context(), requestOf(r).teamID, func(ctx context.Context, tx store.Tx) error {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		now := s.now()
		out = store.Group{ID: id.String(), DisplayName: name, ExternalID: ext, Created: now, LastModified: now, Version: 1}
		if err := tx.CreateGroup(ctx, out); err != nil {
			return groupConflict(err)
		}
		return addMembers(ctx, tx, out.ID, members)
	})
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	return s.groupResource(r, out)
}

// Get returns a group and, unless excludedAttributes names them, its members.
func (h *groupHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	var g store.Group
	err := h.s.store.View(r.Context(), requestOf(r).teamID, func(ctx context.Context, tx store.Tx) error {
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
	name, ext, err := readGroupFields(attrs)
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	members, err := memberIDs(attrs["members"])
	if err != nil {
		return scim.Resource{}, s.scimErr(err)
	}
	var out store.Group
	err = s.store.Update(r.Context(), requestOf(r).teamID, func(ctx context.Context, tx store.Tx) error {
		g, err := getGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, g.Version); err != nil {
			return err
		}
		g.DisplayName, g.ExternalID = name, ext
		if err := s.saveGroup(ctx, tx, &g); err != nil {
			return err
		}
		out = g
		return setMembers(ctx, tx, g.ID, members)
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
	var out store.Group
	err := s.store.Update(r.Context(), requestOf(r).teamID, func(ctx context.Context, tx store.Tx) error {
		g, err := getGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.checkIfMatch(r, g.Version); err != nil {
			return err
		}
		changed := false
		for _, op := range ops {
			c, err := applyGroupOp(ctx, tx, &g, op)
			if err != nil {
				return err
			}
			changed = changed || c
		}
		if changed {
			if err := s.saveGroup(ctx, tx, &g); err != nil {
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

// Delete removes the group and its memberships; its members stay on the team.
func (h *groupHandler) Delete(r *http.Request, id string) error {
	err := h.s.store.Update(r.Context(), requestOf(r).teamID, func(ctx context.Context, tx store.Tx) error {
		g, err := getGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := h.s.checkIfMatch(r, g.Version); err != nil {
			return err
		}
		return tx.DeleteGroup(ctx, id)
	})
	if err != nil {
		return h.s.scimErr(err)
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

func (s *Server) saveGroup(ctx context.Context, tx store.Tx, g *store.Group) error {
	g.LastModified, g.Version = s.now(), g.Version+1
	return groupConflict(tx.UpdateGroup(ctx, *g))
}

func groupConflict(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
			detail: "A group with this displayName already exists in the team."}
	}
	return err
}

// applyGroupOp applies one PATCH operation and reports whether the group changed.
func applyGroupOp(ctx context.Context, tx store.Tx, g *store.Group, op scim.PatchOperation) (bool, error) {
	if op.Path == nil {
		m, ok := op.Value.(map[string]any)
		if !ok {
			return false, badRequest(scimerrors.ScimTypeInvalidValue, "A patch operation without a path needs an object value.")
		}
		changed := false
		for k, v := range m {
			p, err := filter.ParsePath([]byte(k))
			if err != nil {
				return false, badRequest(scimerrors.ScimTypeInvalidPath, "A patch value names an unknown attribute.")
			}
			c, err := applyGroupOp(ctx, tx, g, scim.PatchOperation{Op: op.Op, Path: &p, Value: v})
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		return changed, nil
	}
	attr := strings.ToLower(op.Path.AttributePath.AttributeName)
	switch {
	case attr == "displayname" && op.Op != scim.PatchOperationRemove:
		name, ok := op.Value.(string)
		if !ok || strings.TrimSpace(name) == "" {
			return false, badRequest(scimerrors.ScimTypeInvalidValue, "displayName must be a non-empty string.")
		}
		g.DisplayName = name
		return true, nil
	case attr == "displayname":
		return false, badRequest(scimerrors.ScimTypeMutability, "displayName is required and cannot be removed.")
	case attr == "externalid":
		ext, _ := op.Value.(string)
		if op.Op == scim.PatchOperationRemove {
			ext = ""
		}
		g.ExternalID = ext
		return true, nil
	case attr == "members":
		// A member change is a change of the group: its version (the ETag) moves on.
		return true, applyMembersOp(ctx, tx, g.ID, op)
	}
	return false, badRequest(scimerrors.ScimTypeInvalidPath, "Groups support displayName, externalId and members.")
}

// applyMembersOp applies an add, remove or replace on members.
func applyMembersOp(ctx context.Context, tx store.Tx, groupID string, op scim.PatchOperation) error {
	if op.Path.ValueExpression != nil {
		// members[value eq "id"]: only removal is meaningful.
		e, ok := op.Path.ValueExpression.(*filter.AttributeExpression)
		id, isStr := "", false
		if ok {
			id, isStr = e.CompareValue.(string)
		}
		if !ok || !isStr || e.Operator != filter.EQ || !strings.EqualFold(e.AttributePath.AttributeName, "value") || op.Op != scim.PatchOperationRemove {
			return badRequest(scimerrors.ScimTypeInvalidPath, `Member filters must have the form members[value eq "<id>"] and be removed.`)
		}
		_, err := tx.RemoveMembers(ctx, groupID, []string{id})
		return err
	}
	ids, err := memberIDs(op.Value)
	if err != nil {
		return err
	}
	switch op.Op {
	case scim.PatchOperationAdd:
		return addMembers(ctx, tx, groupID, ids)
	case scim.PatchOperationReplace:
		return setMembers(ctx, tx, groupID, ids)
	default: // remove
		if op.Value == nil {
			return setMembers(ctx, tx, groupID, nil)
		}
		_, err := tx.RemoveMembers(ctx, groupID, ids)
		return err
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

// addMembers adds users after checking that each is a provisioned, active member of the
// team; the first one that is not fails the whole request.
func addMembers(ctx context.Context, tx store.Tx, groupID string, ids []string) error {
	for _, id := range ids {
		u, err := tx.GetUser(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Deleted || !u.Active)) {
			return badRequest(scimerrors.ScimTypeInvalidValue,
				"Member %q is not a provisioned, active user of this team: provision the user before adding them to a group.", id)
		}
		if err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.AddMembers(ctx, groupID, ids)
	return err
}

// setMembers makes the group's members exactly ids, writing only the difference.
func setMembers(ctx context.Context, tx store.Tx, groupID string, ids []string) error {
	current, err := tx.ListMembers(ctx, groupID, store.ListOptions{})
	if err != nil {
		return err
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
	if len(remove) > 0 {
		if _, err := tx.RemoveMembers(ctx, groupID, remove); err != nil {
			return err
		}
	}
	return addMembers(ctx, tx, groupID, add)
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
	err := s.store.View(ctx, rq.teamID, func(ctx context.Context, tx store.Tx) error {
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
