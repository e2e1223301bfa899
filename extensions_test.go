package teamscim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

const (
	teamUserURN  = "urn:acme:params:scim:schemas:extension:team:2.0:User"
	teamGroupURN = "urn:acme:params:scim:schemas:extension:team:2.0:Group"
)

// withTeamExtensions registers a user extension with every kind of attribute and a group
// extension.
func withTeamExtensions(c *teamscim.Config) {
	c.UserExtensions = []teamscim.Extension{{
		URN: teamUserURN, Name: "Team", Description: "Acme's team data",
		Attributes: []teamscim.Attribute{
			{Name: "costCenter", Required: true, Description: "Where the seat is billed"},
			{Name: "badge", Type: teamscim.TypeInteger, Mutability: teamscim.MutabilityImmutable},
			{Name: "level", Type: teamscim.TypeDecimal},
			{Name: "hired", Type: teamscim.TypeDateTime},
			{Name: "remote", Type: teamscim.TypeBoolean},
			{Name: "tags", MultiValued: true},
			{Name: "sponsor", Type: teamscim.TypeComplex, SubAttributes: []teamscim.Attribute{{Name: "value"}, {Name: "display"}}},
			{Name: "pin", Mutability: teamscim.MutabilityWriteOnly, Returned: teamscim.ReturnedNever},
			{Name: "motto", Returned: teamscim.ReturnedRequest},
			{Name: "score", Type: teamscim.TypeInteger, Mutability: teamscim.MutabilityReadOnly},
		},
	}}
	c.GroupExtensions = []teamscim.Extension{{
		URN: teamGroupURN, Name: "Team group",
		Attributes: []teamscim.Attribute{{Name: "costCenter"}, {Name: "owner", Type: teamscim.TypeReference}},
	}}
}

func TestHostExtensionsInDiscovery(t *testing.T) {
	e := newEnv(t, withTeamExtensions)
	res := e.req(http.MethodGet, "/Schemas", nil)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	ids := map[string]map[string]any{}
	for _, r := range res.body["Resources"].([]any) {
		ids[r.(map[string]any)["id"].(string)] = r.(map[string]any)
	}
	require.Contains(t, ids, teamUserURN)
	require.Contains(t, ids, teamGroupURN)
	require.Contains(t, ids, enterpriseURN)
	attrs := map[string]map[string]any{}
	for _, a := range ids[teamUserURN]["attributes"].([]any) {
		attrs[a.(map[string]any)["name"].(string)] = a.(map[string]any)
	}
	assert.Equal(t, "integer", attrs["badge"]["type"])
	assert.Equal(t, "immutable", attrs["badge"]["mutability"])
	assert.Equal(t, true, attrs["costCenter"]["required"])
	assert.Equal(t, "never", attrs["pin"]["returned"])
	assert.Equal(t, "Acme's team data", ids[teamUserURN]["description"])
	assert.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Schemas/"+teamUserURN, nil).Code)

	for rt, want := range map[string][]any{
		"User":  {map[string]any{"schema": enterpriseURN, "required": false}, map[string]any{"schema": teamUserURN, "required": false}},
		"Group": {map[string]any{"schema": teamGroupURN, "required": false}},
	} {
		res := e.req(http.MethodGet, "/ResourceTypes/"+rt, nil)
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		assert.Equal(t, want, res.body["schemaExtensions"], rt)
	}
}

func TestHostExtensionsOnUsers(t *testing.T) {
	onStores(t, func(t *testing.T, mk func(...func(*teamscim.Config)) *env) {
		e := mk(withTeamExtensions)
		body := `{"userName":"eve@example.com","` + teamUserURN + `":{"costCenter":"CC-7","badge":42,"level":2.5,
			"hired":"2021-06-01T09:00:00Z","remote":"True","tags":["a","b"],"sponsor":{"value":"u-9","display":"Zoe"},
			"pin":"1234","motto":"Ship it","score":99},"urn:unregistered:ext:2.0:User":{"x":1}}`
		res := e.req(http.MethodPost, "/Users", body)
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		id := res.str("id")
		assert.Equal(t, []any{coreUserURN, teamUserURN}, res.body["schemas"], "an unregistered extension is ignored")
		want := map[string]any{"costCenter": "CC-7", "badge": float64(42), "level": 2.5, "hired": "2021-06-01T09:00:00Z",
			"remote": true, "tags": []any{"a", "b"}, "sponsor": map[string]any{"value": "u-9", "display": "Zoe"}}
		assert.Equal(t, want, res.body[teamUserURN], "pin is never returned, motto only on request, score is read-only")
		assert.NotContains(t, res.Body.String(), "urn:unregistered")
		var stored map[string]map[string]any
		require.NoError(t, json.Unmarshal(e.user(id).Attributes, &stored))
		assert.Equal(t, "1234", stored[teamUserURN]["pin"], "a write-only attribute is kept")
		assert.NotContains(t, stored[teamUserURN], "score", "a client's read-only value is not")

		asked := e.req(http.MethodGet, "/Users/"+id+"?attributes="+url.QueryEscape(teamUserURN+":motto,"+teamUserURN+":pin"), nil)
		assert.Equal(t, map[string]any{"motto": "Ship it"}, asked.body[teamUserURN])

		// The host sets the read-only attribute in the store; clients see it and cannot change it.
		require.NoError(t, e.st.Update(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
			u, err := tx.GetUser(ctx, id)
			if err != nil {
				return err
			}
			var m map[string]map[string]any
			if err := json.Unmarshal(u.Attributes, &m); err != nil {
				return err
			}
			m[teamUserURN]["score"] = 99
			u.Attributes, _ = json.Marshal(m)
			return tx.UpdateUser(ctx, u)
		}))
		assert.Equal(t, float64(99), e.req(http.MethodGet, "/Users/"+id, nil).body[teamUserURN].(map[string]any)["score"])
		res = e.req(http.MethodPatch, "/Users/"+id, patchBody(op("replace", teamUserURN+":score", 1)))
		requireSCIMError(t, res, http.StatusBadRequest, "mutability")
		assert.Contains(t, res.str("detail"), teamUserURN+":score is read-only")

		// Immutable: no change by PATCH or PUT; a PUT without it keeps it.
		res = e.req(http.MethodPatch, "/Users/"+id, patchBody(op("replace", teamUserURN+":badge", 7)))
		requireSCIMError(t, res, http.StatusBadRequest, "mutability")
		res = e.req(http.MethodPut, "/Users/"+id, `{"userName":"eve@example.com","`+teamUserURN+`":{"costCenter":"CC-7","badge":7}}`)
		requireSCIMError(t, res, http.StatusBadRequest, "mutability")
		res = e.req(http.MethodPut, "/Users/"+id, `{"userName":"eve@example.com","`+teamUserURN+`":{"costCenter":"CC-8"}}`)
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		assert.Equal(t, map[string]any{"costCenter": "CC-8", "badge": float64(42), "score": float64(99)}, res.body[teamUserURN],
			"PUT keeps the immutable and the read-only attribute")

		// PATCH of the other attributes, by full path, by a dotted sub-attribute and path-less.
		res = e.req(http.MethodPatch, "/Users/"+id, patchBody(
			op("replace", teamUserURN+":costCenter", "CC-9"),
			op("add", teamUserURN+":tags", []any{"c", "c"}),
			op("add", teamUserURN+":sponsor.display", "Zed"),
			op("replace", "", map[string]any{teamUserURN + ":level": 3, "urn:unregistered:ext:2.0:User:x": 1}),
		))
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		assert.Equal(t, map[string]any{"costCenter": "CC-9", "badge": float64(42), "score": float64(99), "level": float64(3),
			"tags": []any{"c"}, "sponsor": map[string]any{"display": "Zed"}}, res.body[teamUserURN])

		// Type, required and sub-attribute checks name the attribute.
		for b, detail := range map[string]string{
			`{"userName":"x@example.com","` + teamUserURN + `":{"costCenter":"C","badge":"many"}}`:       teamUserURN + ":badge must be an integer",
			`{"userName":"x@example.com","` + teamUserURN + `":{"costCenter":"C","hired":"yesterday"}}`:  teamUserURN + ":hired must be a dateTime",
			`{"userName":"x@example.com","` + teamUserURN + `":{"badge":1}}`:                             teamUserURN + ":costCenter is required",
			`{"userName":"x@example.com","` + teamUserURN + `":{"costCenter":"C","sponsor":{"rank":1}}}`: teamUserURN + `:sponsor has no sub-attribute "rank"`,
			`{"userName":"x@example.com","` + teamUserURN + `":"C"}`:                                     teamUserURN + " must be an object",
		} {
			res := e.req(http.MethodPost, "/Users", b)
			requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
			assert.Contains(t, res.str("detail"), detail, b)
		}
		res = e.req(http.MethodPatch, "/Users/"+id, patchBody(op("remove", teamUserURN+":costCenter", nil)))
		requireSCIMError(t, res, http.StatusBadRequest, "mutability")

		// Filters by full URN, typed comparisons included.
		other := e.req(http.MethodPost, "/Users", `{"userName":"fay@example.com","`+teamUserURN+`":{"costCenter":"CC-1","badge":3,"hired":"2019-01-01T00:00:00Z"}}`)
		require.Equal(t, http.StatusCreated, other.Code, other.Body.String())
		for f, want := range map[string][]string{
			teamUserURN + `:costCenter eq "cc-9"`:                {id},
			teamUserURN + `:badge gt 5`:                          {id},
			teamUserURN + `:badge le 3`:                          {other.str("id")},
			teamUserURN + `:hired lt "2020-01-01T00:00:00Z"`:     {other.str("id")},
			teamUserURN + `:sponsor.display eq "zed"`:            {id},
			teamUserURN + `:tags eq "c"`:                         {id},
			`level pr`:                                           {id},
			teamUserURN + `:costCenter pr and not (badge gt 10)`: {other.str("id")},
		} {
			assert.ElementsMatch(t, want, listIDs(t, e.req(http.MethodGet, filterPath(f), nil)), f)
		}
		// costCenter is an attribute of the enterprise extension and of the team's.
		res = e.req(http.MethodGet, filterPath(`costCenter eq "CC-9"`), nil)
		requireSCIMError(t, res, http.StatusBadRequest, "invalidFilter")
		assert.Contains(t, res.str("detail"), "name it with its schema URN")
	})
}

func TestHostExtensionsOnGroups(t *testing.T) {
	onStores(t, func(t *testing.T, mk func(...func(*teamscim.Config)) *env) {
		e := mk(withTeamExtensions)
		uid := e.createUser("member@example.com")
		res := e.req(http.MethodPost, "/Groups", `{"displayName":"Platform","members":[{"value":"`+uid+`"}],
			"`+teamGroupURN+`":{"costCenter":"CC-1","owner":"https://example.com/owner"}}`)
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		gid := res.str("id")
		assert.Equal(t, []any{"urn:ietf:params:scim:schemas:core:2.0:Group", teamGroupURN}, res.body["schemas"])
		assert.Equal(t, map[string]any{"costCenter": "CC-1", "owner": "https://example.com/owner"}, res.body[teamGroupURN])

		res = e.req(http.MethodPatch, "/Groups/"+gid, patchBody(op("replace", teamGroupURN+":costCenter", "CC-2"),
			op("add", "members", []any{map[string]any{"value": uid}})))
		require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
		g, err := e.group(gid)
		require.NoError(t, err)
		assert.JSONEq(t, `{"`+teamGroupURN+`":{"costCenter":"CC-2","owner":"https://example.com/owner"}}`, string(g.Attributes))
		assert.Equal(t, int64(2), g.Version)

		got := e.req(http.MethodGet, "/Groups/"+gid+"?excludedAttributes=members", nil)
		assert.Equal(t, "CC-2", got.body[teamGroupURN].(map[string]any)["costCenter"])
		assert.NotContains(t, got.body, "members")
		list := e.req(http.MethodGet, "/Groups?filter="+url.QueryEscape(teamGroupURN+`:costCenter eq "CC-2"`), nil)
		assert.Equal(t, []string{gid}, listIDs(t, list))
		assert.Equal(t, got.body["schemas"], list.body["Resources"].([]any)[0].(map[string]any)["schemas"])
		assert.Equal(t, []string{gid}, listIDs(t, e.req(http.MethodGet, "/Groups?filter="+url.QueryEscape(`members.value eq "`+uid+`"`), nil)))

		res = e.req(http.MethodPatch, "/Groups/"+gid, patchBody(op("remove", teamGroupURN, nil)))
		require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
		g, err = e.group(gid)
		require.NoError(t, err)
		assert.Empty(t, canonicalAttrs(t, g.Attributes))

		res = e.req(http.MethodPut, "/Groups/"+gid, `{"displayName":"Platform","`+teamGroupURN+`":{"owner":5}}`)
		requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
		assert.Contains(t, res.str("detail"), teamGroupURN+":owner must be a string")
	})
}

// canonicalAttrs decodes stored attributes ({} and nil are none).
func canonicalAttrs(t *testing.T, raw []byte) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &m))
	}
	return m
}

func TestHostExtensionConfigErrors(t *testing.T) {
	for name, ext := range map[string]teamscim.Extension{
		"not a URN":           {URN: "acme:team", Attributes: []teamscim.Attribute{{Name: "a"}}},
		"the enterprise URN":  {URN: enterpriseURN, Attributes: []teamscim.Attribute{{Name: "a"}}},
		"no attributes":       {URN: teamUserURN},
		"bad name":            {URN: teamUserURN, Attributes: []teamscim.Attribute{{Name: "a b"}}},
		"duplicate name":      {URN: teamUserURN, Attributes: []teamscim.Attribute{{Name: "a"}, {Name: "A"}}},
		"unknown type":        {URN: teamUserURN, Attributes: []teamscim.Attribute{{Name: "a", Type: "money"}}},
		"complex without sub": {URN: teamUserURN, Attributes: []teamscim.Attribute{{Name: "a", Type: teamscim.TypeComplex}}},
		"nested complex": {URN: teamUserURN, Attributes: []teamscim.Attribute{{Name: "a", Type: teamscim.TypeComplex,
			SubAttributes: []teamscim.Attribute{{Name: "b", Type: teamscim.TypeComplex, SubAttributes: []teamscim.Attribute{{Name: "c"}}}}}}},
		"required read-only": {URN: teamUserURN, Attributes: []teamscim.Attribute{{Name: "a", Required: true, Mutability: teamscim.MutabilityReadOnly}}},
		"unknown mutability": {URN: teamUserURN, Attributes: []teamscim.Attribute{{Name: "a", Mutability: "sometimes"}}},
	} {
		_, err := teamscim.New(teamscim.Config{Store: memstore.New(), UserExtensions: []teamscim.Extension{ext}})
		assert.Error(t, err, name)
	}
	_, err := teamscim.New(teamscim.Config{Store: memstore.New(), GroupExtensions: []teamscim.Extension{
		{URN: teamGroupURN, Attributes: []teamscim.Attribute{{Name: "a"}}},
		{URN: teamGroupURN, Attributes: []teamscim.Attribute{{Name: "b"}}},
	}})
	assert.ErrorContains(t, err, "Config.GroupExtensions[1]")
}
