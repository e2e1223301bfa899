package teamscim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

// members reads a group's stored members, sorted.
func (e *env) members(groupID string) []string {
	e.t.Helper()
	var ids []string
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		pg, err := tx.ListMembers(ctx, groupID, store.ListOptions{})
		ids = pg.Items
		return err
	}))
	slices.Sort(ids)
	if ids == nil {
		ids = []string{}
	}
	return ids
}

func (e *env) group(id string) (store.Group, error) {
	var g store.Group
	err := e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		g, err = tx.GetGroup(ctx, id)
		return err
	})
	return g, err
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func (e *env) createGroup(name string, memberIDs ...string) string {
	e.t.Helper()
	members := []map[string]any{}
	for _, id := range memberIDs {
		members = append(members, map[string]any{"value": id})
	}
	res := e.req(http.MethodPost, "/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name, "members": members})
	require.Equal(e.t, http.StatusCreated, res.Code, res.Body.String())
	return res.str("id")
}

// Okta group push (A.2 O7-O11).
func TestOktaGroupPush(t *testing.T) {
	e := newEnv(t)
	u1, u2 := e.createUser("a@example.com"), e.createUser("b@example.com")
	res := e.req(http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	gid := res.str("id")
	assert.Equal(t, "http://scim.example.com/scim/v2/Groups/"+gid, res.Header().Get("Location"))
	assert.Equal(t, []any{}, res.body["members"])

	// O8: rename with the group's own id inside the value.
	res = e.req(http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"`+gid+`","displayName":"Test SCIMv2 renamed"}}]}`)
	require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
	g, err := e.group(gid)
	require.NoError(t, err)
	assert.Equal(t, "Test SCIMv2 renamed", g.DisplayName)

	// O10: full membership push, then O9: remove one by filter and add another.
	res = e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "path": "members",
		"value": []map[string]any{{"value": u1, "display": "a@example.com"}}}))
	require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
	assert.Equal(t, []string{u1}, e.members(gid))
	res = e.req(http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+u1+`\"]"},{"op":"add","path":"members","value":[{"value":"`+u2+`","display":"b@example.com"}]}]}`)
	require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
	assert.Equal(t, []string{u2}, e.members(gid))

	got := e.req(http.MethodGet, "/Groups/"+gid, nil)
	require.Equal(t, http.StatusOK, got.Code)
	m0 := got.body["members"].([]any)[0].(map[string]any)
	assert.Equal(t, u2, m0["value"])
	assert.Equal(t, "b@example.com", m0["display"])

	// Asking for attributes gets the resource back instead of 204.
	res = e.req(http.MethodPatch, "/Groups/"+gid+"?attributes=displayName", patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": u1}}}))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "Test SCIMv2 renamed", res.str("displayName"))
	assert.Equal(t, sorted(u1, u2), e.members(gid))

	// O11.
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Groups/"+gid, nil).Code)
	_, err = e.group(gid)
	assert.ErrorIs(t, err, store.ErrNotFound)
	requireSCIMError(t, e.req(http.MethodGet, "/Groups/"+gid, nil), http.StatusNotFound, "")
	assert.True(t, e.user(u1).Active, "deleting a group keeps its members on the team")
}

// Entra ID groups (A.3 E8-E12).
func TestEntraGroups(t *testing.T) {
	e := newEnv(t)
	u1, u2 := e.createUser("a@contoso.com"), e.createUser("b@contoso.com")
	res := e.req(http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Engineering","meta":{"resourceType":"Group"}}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	gid := res.str("id")
	assert.Equal(t, "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", res.str("externalId"))

	list := e.req(http.MethodGet, "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Engineering"`), nil)
	assert.Equal(t, []string{gid}, listIDs(t, list))
	assert.NotContains(t, list.body["Resources"].([]any)[0], "members")
	one := e.req(http.MethodGet, "/Groups/"+gid+"?excludedAttributes=members", nil)
	assert.NotContains(t, one.body, "members")

	res = e.req(http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+u1+`"},{"$ref":null,"value":"`+u2+`"}]}]}`)
	require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
	assert.Equal(t, sorted(u1, u2), e.members(gid))
	res = e.req(http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"`+u1+`"}]}]}`)
	require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
	assert.Equal(t, []string{u2}, e.members(gid))
	res = e.req(http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"Engineering EMEA"}]}`)
	require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
	g, _ := e.group(gid)
	assert.Equal(t, "Engineering EMEA", g.DisplayName)
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, "/Groups?filter="+url.QueryEscape(`displayName eq "Engineering"`), nil)))
}

// OneLogin (A.4 L4-L6).
func TestOneLoginGroups(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser("peter@example.com")
	res := e.req(http.MethodPost, "/Groups", `{"displayName":"Group C","schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	gid := res.str("id")
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"value":[{"value":"`+uid+`"}],"op":"add","path":"members"}]}`).Code)
	assert.Equal(t, []string{uid}, e.members(gid))
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"value":[{"value":"`+uid+`"}],"op":"remove","path":"members"}]}`).Code)
	assert.Equal(t, []string{}, e.members(gid))
	assert.Equal(t, []string{gid}, listIDs(t, e.req(http.MethodGet, "/Groups?count=100&startIndex=1", nil)))
}

// R38, G5: members must be provisioned, active users of the team, and a PATCH is atomic.
func TestGroupMembersMustBeProvisioned(t *testing.T) {
	e := newEnv(t)
	u1 := e.createUser("a@example.com")
	inactive := e.createUser("off@example.com")
	e.req(http.MethodPatch, "/Users/"+inactive, deactivateOkta(false))
	deleted := e.createUser("gone@example.com")
	e.req(http.MethodDelete, "/Users/"+deleted, nil)
	otherTeam, otherKey, _ := e.newTeam("Other")
	_ = otherTeam
	foreign := e.reqAuth(http.MethodPost, "/Users", map[string]any{"userName": "x@example.com"}, "Bearer "+otherKey).str("id")
	gid := e.createGroup("Eng", u1)

	for name, bad := range map[string]string{"unknown": "string id 1", "inactive": inactive, "deleted": deleted, "other team": foreign} {
		t.Run(name, func(t *testing.T) {
			res := e.req(http.MethodPatch, "/Groups/"+gid, patchBody(
				map[string]any{"op": "replace", "path": "displayName", "value": "Renamed"},
				map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": bad}}},
			))
			requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
			assert.Contains(t, res.str("detail"), bad)
			g, _ := e.group(gid)
			assert.Equal(t, "Eng", g.DisplayName, "nothing of the request is applied")
			assert.Equal(t, []string{u1}, e.members(gid))

			res = e.req(http.MethodPost, "/Groups", map[string]any{"displayName": "New " + name, "members": []map[string]any{{"value": bad}}})
			requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
			res = e.req(http.MethodPut, "/Groups/"+gid, map[string]any{"displayName": "Eng", "members": []map[string]any{{"value": bad}}})
			requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
			assert.Equal(t, []string{u1}, e.members(gid))
		})
	}
	assert.Equal(t, []string{gid}, listIDs(t, e.req(http.MethodGet, "/Groups", nil)))
}

func TestGroupDisplayNameUnique(t *testing.T) {
	e := newEnv(t)
	e.createGroup("Eng")
	other := e.createGroup("Ops")
	requireSCIMError(t, e.req(http.MethodPost, "/Groups", map[string]any{"displayName": "Eng"}), http.StatusConflict, "uniqueness")
	requireSCIMError(t, e.req(http.MethodPatch, "/Groups/"+other, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Eng"})), http.StatusConflict, "uniqueness")
	requireSCIMError(t, e.req(http.MethodPost, "/Groups", map[string]any{"displayName": ""}), http.StatusBadRequest, "")
	g, _ := e.group(other)
	assert.Equal(t, "Ops", g.DisplayName)
}

// G4: adding an existing member and removing a non-member are harmless no-ops.
func TestGroupMemberOpsAreIdempotent(t *testing.T) {
	e := newEnv(t)
	u1, u2 := e.createUser("a@example.com"), e.createUser("b@example.com")
	gid := e.createGroup("Eng", u1)
	for _, body := range []map[string]any{
		patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": u1}, {"value": u1}}}),
		patchBody(map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", u2)}),
		patchBody(map[string]any{"op": "remove", "path": "members", "value": []map[string]any{{"value": u2}}}),
	} {
		require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid, body).Code)
		assert.Equal(t, []string{u1}, e.members(gid))
	}
	// Microsoft's "remove all".
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": "members"})).Code)
	assert.Equal(t, []string{}, e.members(gid))
}

// A deactivated or hidden member leaves every group and is not restored on reactivation.
func TestDeactivationLeavesGroups(t *testing.T) {
	e := newEnv(t)
	u1, u2 := e.createUser("a@example.com"), e.createUser("b@example.com")
	g1, g2 := e.createGroup("One", u1, u2), e.createGroup("Two", u1)
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u1, deactivateOkta(false)).Code)
	assert.Equal(t, []string{u2}, e.members(g1))
	assert.Equal(t, []string{}, e.members(g2))
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+u1, deactivateOkta(true)).Code)
	assert.Equal(t, []string{}, e.members(g2), "reactivation does not restore memberships")
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+u2, nil).Code)
	assert.Equal(t, []string{}, e.members(g1))
}

func TestGroupPut(t *testing.T) {
	e := newEnv(t)
	u1, u2, u3 := e.createUser("a@example.com"), e.createUser("b@example.com"), e.createUser("c@example.com")
	gid := e.createGroup("Eng", u1, u2)
	res := e.req(http.MethodPut, "/Groups/"+gid, map[string]any{"id": gid, "displayName": "putName", "externalId": "x1",
		"members": []map[string]any{{"value": u2}, {"value": u3}}})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "putName", res.str("displayName"))
	assert.Equal(t, sorted(u2, u3), e.members(gid))
	g, _ := e.group(gid)
	assert.Equal(t, "x1", g.ExternalID)
}

// G1: concurrent adds of different members to one group lose nothing.
func TestConcurrentGroupAdds(t *testing.T) {
	e := newEnv(t)
	const n = 100
	ids := make([]string, n)
	for i := range n {
		ids[i] = e.createUser(fmt.Sprintf("m%03d@example.com", i))
	}
	gid := e.createGroup("Big")
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.req(http.MethodPatch, "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": id}}}))
			assert.Equal(t, http.StatusNoContent, res.Code)
		}()
	}
	wg.Wait()
	assert.Equal(t, sorted(ids...), e.members(gid))
}
