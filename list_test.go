package teamscim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterEquality(t *testing.T) {
	e := newEnv(t)
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "Jane@Example.com", "externalId": "ext-J", "displayName": "BobIsAmazing",
		"name": map[string]any{"givenName": "Jane", "familyName": "Employee"}})
	require.Equal(t, http.StatusCreated, res.Code)
	id := res.str("id")
	other := e.createUser("other@example.org")

	for f, want := range map[string][]string{
		`userName eq "jane@example.com"`:                                    {id},
		`UserName Eq "JANE@EXAMPLE.COM"`:                                    {id},
		`userName eq "nobody@example.com"`:                                  {},
		`externalId eq "ext-J"`:                                             {id},
		`externalId eq "EXT-J"`:                                             {},
		`id eq "` + id + `"`:                                                {id},
		`displayName eq "BobIsAmazing"`:                                     {id},
		`DisplayName eq "bobisamazing"`:                                     {id},
		`name.familyName eq "Employee"`:                                     {id},
		`userName sw "jane"`:                                                {id},
		`userName ew ".org"`:                                                {other},
		`userName co "@"`:                                                   {id, other},
		`emails[type eq "work"].value eq "jane@example.com"`:                {id},
		`emails[value eq "other@example.org"]`:                              {other},
		`emails.value eq "other@example.org"`:                               {other},
		`userName eq "jane@example.com" and active eq true`:                 {id},
		`userName eq "jane@example.com" and active eq false`:                {},
		`userName eq "jane@example.com" or userName eq "other@example.org"`: {id, other},
		`not (userName eq "jane@example.com")`:                              {other},
		`active eq true`:                                                    {id, other},
		`active eq "True"`:                                                  {id, other},
		`meta.created gt "2000-01-01T00:00:00Z"`:                            {id, other},
		`displayName pr`:                                                    {id},
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "jane@example.com"`: {id},
	} {
		t.Run(f, func(t *testing.T) {
			ids := listIDs(t, e.req(http.MethodGet, filterPath(f), nil))
			slices.Sort(ids)
			w := slices.Clone(want)
			slices.Sort(w)
			assert.Equal(t, w, ids)
		})
	}
}

// E1 / R50: the connection tests answer 200 with an empty ListResponse.
func TestCredentialTestQueries(t *testing.T) {
	e := newEnv(t)
	res := e.req(http.MethodGet, filterPath(`userName eq "6f1c9a0e-2b7e-4a53-9c1e-0f5b8a7d2c11"`), nil)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, "application/scim+json", res.Header().Get("Content-Type"))
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &raw))
	assert.JSONEq(t, `["urn:ietf:params:scim:api:messages:2.0:ListResponse"]`, string(raw["schemas"]))
	assert.Equal(t, "0", string(raw["totalResults"]))
	assert.Equal(t, "[]", string(raw["Resources"]))
	assert.Equal(t, "1", string(raw["startIndex"]))
	assert.Equal(t, "0", string(raw["itemsPerPage"]))

	res = e.req(http.MethodGet, "/Users?startIndex=1&count=2", nil)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, []string{}, listIDs(t, res))
}

// L3, L4, L6: malformed, long or deep filters answer 400 invalidFilter without echoing.
func TestMalformedFilters(t *testing.T) {
	e := newEnv(t)
	e.createUser("someone@example.com")
	deep := ""
	for range 1000 {
		deep += "("
	}
	deep += `userName eq "x"`
	for range 1000 {
		deep += ")"
	}
	long := `userName eq "` + string(make([]byte, 0)) + fmt.Sprintf("%020000d", 0) + `"`
	for _, f := range []string{`userName eq`, `userName eq "a`, `((((`, `userName zz "a"`, `userName eq x`,
		`name.FamilyName eq Employee and (emails.Value co example.com)`, `active gt true`, deep, long,
		`userName eq "a" and`, `[`, `userName eq "a"]`} {
		res := e.req(http.MethodGet, filterPath(f), nil)
		requireSCIMError(t, res, http.StatusBadRequest, "invalidFilter")
		if len(f) > 3 {
			assert.NotContains(t, res.Body.String(), f)
		}
	}
}

// L5: injection-shaped values are literals.
func TestFilterInjectionIsLiteral(t *testing.T) {
	e := newEnv(t)
	e.createUser("a@example.com")
	for _, f := range []string{`userName eq "a\" or \"1\"=\"1"`, `userName eq "x' OR '1'='1"`, `userName eq "%"`,
		`userName eq "_"`, `userName eq "\\"`, `userName eq "*"`} {
		res := e.req(http.MethodGet, filterPath(f), nil)
		assert.Equal(t, []string{}, listIDs(t, res), f)
		assert.EqualValues(t, 0, res.body["totalResults"])
	}
}

// L8: paging.
func TestPaging(t *testing.T) {
	e := newEnv(t)
	var all []string
	for i := range 250 {
		all = append(all, e.createUser(fmt.Sprintf("user%03d@example.com", i)))
	}
	seen := map[string]int{}
	for start := 1; start <= 250; start += 100 {
		res := e.req(http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100", start), nil)
		ids := listIDs(t, res)
		assert.EqualValues(t, 250, res.body["totalResults"])
		assert.EqualValues(t, start, res.body["startIndex"])
		assert.EqualValues(t, len(ids), res.body["itemsPerPage"])
		for _, id := range ids {
			seen[id]++
		}
	}
	require.Len(t, seen, 250)
	for _, id := range all {
		assert.Equal(t, 1, seen[id])
	}

	for q, want := range map[string]struct{ start, n int }{
		"startIndex=0&count=2":   {1, 2},
		"startIndex=-5&count=2":  {1, 2},
		"count=-1":               {1, 0}, // RFC 7644 §3.4.2.4: negative is 0
		"count=-50&startIndex=3": {3, 0},
		"count=1000":             {1, 100},
		"count=0":                {1, 0},
		"startIndex=250":         {250, 1},
		"startIndex=251":         {251, 0},
	} {
		res := e.req(http.MethodGet, "/Users?"+q, nil)
		ids := listIDs(t, res)
		assert.Len(t, ids, want.n, q)
		assert.EqualValues(t, want.start, res.body["startIndex"], q)
		assert.EqualValues(t, 250, res.body["totalResults"], q)
	}
	for _, q := range []string{"count=abc", "startIndex=x"} {
		requireSCIMError(t, e.req(http.MethodGet, "/Users?"+q, nil), http.StatusBadRequest, "invalidValue")
	}
	// A filtered page walks the matches.
	res := e.req(http.MethodGet, "/Users?count=10&startIndex=11&filter="+url.QueryEscape(`userName sw "user1"`), nil)
	assert.Len(t, listIDs(t, res), 10)
	assert.EqualValues(t, 100, res.body["totalResults"])
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("search@example.com")
	e.createUser("other@example.com")
	for _, p := range []string{"/.search", "/Users/.search"} {
		res := e.req(http.MethodPost, p, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"filter":  `userName eq "SEARCH@example.com"`, "startIndex": 1, "count": 10,
			"attributes": []string{"userName"},
		})
		assert.Equal(t, []string{id}, listIDs(t, res), p)
		r0 := res.body["Resources"].([]any)[0].(map[string]any)
		assert.NotContains(t, r0, "name")
	}
	requireSCIMError(t, e.req(http.MethodGet, "/.search", nil), http.StatusMethodNotAllowed, "")
	requireSCIMError(t, e.req(http.MethodPost, "/.search", `{"filter":"userName eq"}`), http.StatusBadRequest, "invalidFilter")
}
