package teamscim_test

// Issue 13: every attribute of the User schema (RFC 7643 §4.1), the enterprise extension
// (§4.3) and the Group schema is kept, returned, patched and filtered, through the public
// handler, on memstore and (with TEAMSCIM_PG_DSN) on pgstore.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/pgtest"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
)

const (
	coreUserURN   = "urn:ietf:params:scim:schemas:core:2.0:User"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// onStores runs fn with an env constructor on memstore and on pgstore (which needs
// TEAMSCIM_PG_DSN; without it that half skips, and fails with CI=true).
func onStores(t *testing.T, fn func(t *testing.T, mk func(...func(*teamscim.Config)) *env)) {
	t.Run("memstore", func(t *testing.T) {
		fn(t, func(c ...func(*teamscim.Config)) *env { return newEnvOn(t, memstore.New(), c...) })
	})
	t.Run("pgstore", func(t *testing.T) {
		pool := pgtest.Pool(t, pgtest.Schema(t))
		require.NoError(t, pgstore.Migrate(context.Background(), pool))
		fn(t, func(c ...func(*teamscim.Config)) *env { return newEnvOn(t, pgstore.New(pool), c...) })
	})
}

// decodeJSON decodes a JSON document written in a test.
func decodeJSON(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &m), doc)
	return m
}

// attributesOf returns a resource's attributes without id, meta and schemas.
func attributesOf(m map[string]any) map[string]any {
	out := maps.Clone(m)
	delete(out, "id")
	delete(out, "meta")
	delete(out, "schemas")
	return out
}

// fullUser is a user with every attribute of the core User schema and the enterprise
// extension (RFC 7643 §8.3's example, plus what the example leaves out).
const fullUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "userName": "bjensen@example.com",
  "externalId": "701984",
  "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
           "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
  "displayName": "Babs Jensen",
  "nickName": "Babs",
  "profileUrl": "https://login.example.com/bjensen",
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
             {"value": "babs@jensen.org", "type": "home", "display": "Babs at home"}],
  "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA",
                 "postalCode": "91608", "country": "USA", "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true},
                {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood", "region": "CA",
                 "postalCode": "91608", "country": "USA"}],
  "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
  "ims": [{"value": "someaimhandle", "type": "aim"}],
  "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
  "userType": "Employee",
  "title": "Tour Guide — 导游 <&>",
  "preferredLanguage": "en-US",
  "locale": "en-US",
  "timezone": "America/Los_Angeles",
  "active": true,
  "password": "t1meMa$heen",
  "entitlements": [{"value": "deploy", "display": "Deploy"}],
  "roles": [{"value": "admin", "display": "Admin", "type": "app", "primary": true}],
  "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
    "division": "Theme Park", "department": "Tour Operations",
    "manager": {"value": "26118915-6090-4610-87a4-0a8bb1b1d1e9", "$ref": "../Users/26118915-6090-4610-87a4-0a8bb1b1d1e9"}
  }
}`

// fullUserReturned is what the Server returns for fullUser: the same attributes, without the
// password.
func fullUserReturned(t *testing.T) map[string]any {
	m := attributesOf(decodeJSON(t, fullUser))
	delete(m, "password")
	return m
}

func TestUserKeepsEveryAttribute(t *testing.T) {
	onStores(t, func(t *testing.T, mk func(...func(*teamscim.Config)) *env) {
		e := mk()
		// readOnly manager.displayName is dropped (RFC 7643 §7); "True" is a boolean.
		body := strings.Replace(fullUser, `"$ref": "../Users/26118915-6090-4610-87a4-0a8bb1b1d1e9"`,
			`"$ref": "../Users/26118915-6090-4610-87a4-0a8bb1b1d1e9", "displayName": "John Smith"`, 1)
		body = strings.Replace(body, `"primary": true}],
  "x509`, `"primary": "True"}],
  "x509`, 1)
		res := e.req(http.MethodPost, "/Users", body)
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		id := res.str("id")
		want := fullUserReturned(t)
		assert.Equal(t, want, attributesOf(res.body), "201 answer")
		assert.Equal(t, []any{coreUserURN, enterpriseURN}, res.body["schemas"])
		assert.NotContains(t, res.Body.String(), "t1meMa$heen")
		assert.NotContains(t, strings.ToLower(res.Body.String()), "password")
		assert.Contains(t, res.Body.String(), `<&>`, "strings are not HTML-escaped")

		got := e.req(http.MethodGet, "/Users/"+id, nil)
		require.Equal(t, http.StatusOK, got.Code)
		assert.Equal(t, want, attributesOf(got.body), "GET")
		assert.Equal(t, res.body["schemas"], got.body["schemas"])

		// The typed fields hold what rules use; the rest is in Attributes, once.
		u := e.user(id)
		assert.Equal(t, "bjensen@example.com", u.UserName)
		assert.Equal(t, "Barbara", u.GivenName)
		assert.Equal(t, "Jane", u.MiddleName)
		assert.Equal(t, []store.Email{{Value: "bjensen@example.com", Type: "work", Primary: true},
			{Value: "babs@jensen.org", Type: "home", Display: "Babs at home"}}, u.Emails)
		var rest map[string]any
		require.NoError(t, json.Unmarshal(u.Attributes, &rest))
		assert.Equal(t, map[string]any{"honorificPrefix": "Ms.", "honorificSuffix": "III"}, rest["name"])
		for _, k := range []string{"userName", "emails", "active", "password", "displayName", "externalId"} {
			assert.NotContains(t, rest, k)
		}
		assert.Equal(t, "Tour Operations", rest[enterpriseURN].(map[string]any)["department"])
		assert.NotContains(t, string(u.Attributes), "John Smith", "read-only manager.displayName is not kept")

		// Lists and .search return the same resource, with the same schemas.
		for _, list := range []response{
			e.req(http.MethodGet, filterPath(`userName eq "bjensen@example.com"`), nil),
			e.req(http.MethodPost, "/Users/.search", map[string]any{"filter": `externalId eq "701984"`}),
			e.req(http.MethodGet, "/Users", nil),
		} {
			require.Equal(t, http.StatusOK, list.Code, list.Body.String())
			items := list.body["Resources"].([]any)
			require.Len(t, items, 1)
			item := items[0].(map[string]any)
			assert.Equal(t, want, attributesOf(item), "list item")
			assert.Equal(t, got.body["schemas"], item["schemas"], "list items carry the schemas a GET does")
			assert.Equal(t, got.body["meta"], item["meta"])
		}

		// A PUT of the same resource keeps it; one without the extension drops it.
		put := e.req(http.MethodPut, "/Users/"+id, fullUser)
		require.Equal(t, http.StatusOK, put.Code, put.Body.String())
		assert.Equal(t, want, attributesOf(put.body), "PUT answer")
		plain := decodeJSON(t, fullUser)
		delete(plain, enterpriseURN)
		delete(plain, "phoneNumbers")
		put = e.req(http.MethodPut, "/Users/"+id, plain)
		require.Equal(t, http.StatusOK, put.Code, put.Body.String())
		assert.Equal(t, []any{coreUserURN}, put.body["schemas"])
		assert.NotContains(t, put.body, "phoneNumbers")
		assert.NotContains(t, put.body, enterpriseURN)
		assert.Equal(t, "Babs", e.req(http.MethodGet, "/Users/"+id, nil).body["nickName"])
	})
}

// A user created with nothing but a userName has no name object and only the core schema,
// in a GET and in a list alike (issue 15 item 4).
func TestSparseUserRendering(t *testing.T) {
	e := newEnv(t)
	res := e.req(http.MethodPost, "/Users", `{"userName":"sparse@example.com"}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	for _, m := range []map[string]any{res.body, e.req(http.MethodGet, "/Users/"+res.str("id"), nil).body,
		e.req(http.MethodGet, "/Users", nil).body["Resources"].([]any)[0].(map[string]any)} {
		assert.NotContains(t, m, "name")
		assert.Equal(t, []any{coreUserURN}, m["schemas"])
		assert.Equal(t, []any{map[string]any{"value": "sparse@example.com", "type": "work", "primary": true}}, m["emails"])
	}
	// One enterprise attribute lists the extension.
	res = e.req(http.MethodPost, "/Users", `{"userName":"ent@example.com","name":{"familyName":"Ent"},`+
		`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":{"Department":"X"}}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, []any{coreUserURN, enterpriseURN}, res.body["schemas"])
	assert.Equal(t, map[string]any{"department": "X"}, res.body[enterpriseURN], "URN and names in any case")
	assert.Equal(t, map[string]any{"familyName": "Ent"}, res.body["name"], "no empty name parts")
	list := e.req(http.MethodGet, filterPath(`userName eq "ent@example.com"`), nil).body["Resources"].([]any)
	assert.Equal(t, res.body["schemas"], list[0].(map[string]any)["schemas"])
}

func TestProjectionOfEveryAttribute(t *testing.T) {
	e := newEnv(t)
	res := e.req(http.MethodPost, "/Users", fullUser)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	id := res.str("id")
	get := func(q string) map[string]any {
		r := e.req(http.MethodGet, "/Users/"+id+"?"+q, nil)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		return r.body
	}
	m := get("attributes=" + url.QueryEscape("title,addresses.locality,"+enterpriseURN+":department,name.honorificPrefix"))
	assert.Equal(t, map[string]any{"title": "Tour Guide — 导游 <&>",
		"addresses":   []any{map[string]any{"locality": "Hollywood"}, map[string]any{"locality": "Hollywood"}},
		enterpriseURN: map[string]any{"department": "Tour Operations"}, "name": map[string]any{"honorificPrefix": "Ms."}},
		attributesOf(m))
	assert.Equal(t, id, m["id"])
	assert.Equal(t, []any{coreUserURN, enterpriseURN}, m["schemas"], "schemas follow the resource, not the projection")

	m = get("attributes=" + url.QueryEscape(enterpriseURN))
	assert.Equal(t, []string{enterpriseURN}, slices.Collect(maps.Keys(attributesOf(m))))
	assert.Len(t, m[enterpriseURN], 6)

	m = get("excludedAttributes=" + url.QueryEscape("phoneNumbers,"+enterpriseURN+":manager,name.honorificSuffix,ims,Photos"))
	want := fullUserReturned(t)
	delete(want, "phoneNumbers")
	delete(want, "ims")
	delete(want, "photos")
	delete(want[enterpriseURN].(map[string]any), "manager")
	delete(want["name"].(map[string]any), "honorificSuffix")
	assert.Equal(t, want, attributesOf(m))

	list := e.req(http.MethodGet, "/Users?attributes="+url.QueryEscape("urn:ietf:params:scim:schemas:core:2.0:User:nickName"), nil)
	assert.Equal(t, map[string]any{"nickName": "Babs"}, attributesOf(list.body["Resources"].([]any)[0].(map[string]any)))
}

// patchBase is the user each PATCH case starts from.
const patchBase = `{"userName":"pat@example.com","displayName":"Pat","nickName":"P","title":"Engineer",
 "name":{"givenName":"Pat","familyName":"Lee","middleName":"Q"},
 "emails":[{"value":"pat@example.com","type":"work","primary":true},{"value":"pat@old.example","type":"home"}],
 "phoneNumbers":[{"value":"111","type":"work","primary":true},{"value":"222","type":"mobile"},{"value":"333","type":"fax"}],
 "addresses":[{"type":"work","locality":"Berlin","postalCode":"10115","country":"DE"}],
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"m-1"}}}`

func op(o, path string, value any) map[string]any {
	m := map[string]any{"op": o}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

// TestPatchEveryForm applies each PATCH form of RFC 7644 §3.5.2 (and the IdPs' variants) to
// patchBase and checks the answer, a later GET and, for refusals, that nothing changed.
func TestPatchEveryForm(t *testing.T) {
	ent := func(m map[string]any) map[string]any { e, _ := m[enterpriseURN].(map[string]any); return e }
	phones := func(m map[string]any) []any { l, _ := m["phoneNumbers"].([]any); return l }
	phone := func(m map[string]any, typ string) map[string]any {
		for _, p := range phones(m) {
			if p.(map[string]any)["type"] == typ {
				return p.(map[string]any)
			}
		}
		return nil
	}
	cases := []struct {
		name     string
		ops      []map[string]any
		status   int
		scimType string
		detail   string // a fragment of the error detail
		check    func(t *testing.T, got map[string]any, u store.User)
	}{
		{name: "add without path", ops: []map[string]any{op("add", "", map[string]any{"title": "Lead",
			"phoneNumbers": []any{map[string]any{"value": "444", "type": "other"}}})},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, "Lead", got["title"])
				assert.Len(t, phones(got), 4)
			}},
		{name: "replace without path merges a complex attribute", ops: []map[string]any{op("replace", "", map[string]any{
			"nickName": "Patty", "name": map[string]any{"givenName": "Patricia"}})},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.Equal(t, "Patty", got["nickName"])
				assert.Equal(t, map[string]any{"givenName": "Patricia", "familyName": "Lee", "middleName": "Q"}, got["name"])
				assert.Equal(t, "Patricia", u.GivenName)
			}},
		{name: "replace nickName", ops: []map[string]any{op("replace", "nickName", "Patty")},
			check: func(t *testing.T, got map[string]any, _ store.User) { assert.Equal(t, "Patty", got["nickName"]) }},
		{name: "remove displayName", ops: []map[string]any{op("remove", "displayName", nil)},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.NotContains(t, got, "displayName")
				assert.Empty(t, u.DisplayName)
			}},
		{name: "remove emails", ops: []map[string]any{op("remove", "emails", nil)},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.Empty(t, u.Emails)
				assert.Equal(t, []any{map[string]any{"value": u.UserName, "type": "work", "primary": true}}, got["emails"],
					"with no emails the userName is the implied one")
			}},
		{name: "remove a whole multi-valued attribute", ops: []map[string]any{op("remove", "phoneNumbers", nil)},
			check: func(t *testing.T, got map[string]any, _ store.User) { assert.NotContains(t, got, "phoneNumbers") }},
		{name: "replace through a value filter", ops: []map[string]any{op("replace", `phoneNumbers[type eq "work"].value`, "999")},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, "999", phone(got, "work")["value"])
				assert.Equal(t, "222", phone(got, "mobile")["value"])
			}},
		{name: "replace a sub-attribute of an address", ops: []map[string]any{op("replace", `addresses[type eq "work"].locality`, "Munich")},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, []any{map[string]any{"type": "work", "locality": "Munich", "postalCode": "10115", "country": "DE"}}, got["addresses"])
			}},
		{name: "remove the values a filter matches", ops: []map[string]any{op("remove", `emails[value ew "@old.example"]`, nil)},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.Equal(t, []store.Email{{Value: "pat@example.com", Type: "work", Primary: true}}, u.Emails)
			}},
		{name: "remove some values", ops: []map[string]any{op("remove", `phoneNumbers[type eq "fax" or type eq "mobile"]`, nil)},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, []any{map[string]any{"value": "111", "type": "work", "primary": true}}, got["phoneNumbers"])
			}},
		{name: "remove a sub-attribute", ops: []map[string]any{op("remove", "name.middleName", nil), op("remove", `addresses[type eq "work"].postalCode`, nil)},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.Equal(t, map[string]any{"givenName": "Pat", "familyName": "Lee"}, got["name"])
				assert.Empty(t, u.MiddleName)
				assert.Equal(t, []any{map[string]any{"type": "work", "locality": "Berlin", "country": "DE"}}, got["addresses"])
			}},
		{name: "remove a sub-attribute of every value", ops: []map[string]any{op("remove", "phoneNumbers.primary", nil)},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				for _, p := range phones(got) {
					assert.NotContains(t, p, "primary")
				}
			}},
		{name: "replace through a filter that matches nothing", ops: []map[string]any{op("replace", `emails[type eq "other"].value`, "x@example.com")},
			status: http.StatusBadRequest, scimType: "noTarget", detail: "emails"},
		{name: "replace of a work value that does not exist adds it (Entra)",
			ops: []map[string]any{op("remove", `emails[type eq "work"]`, nil), op("Replace", `emails[type eq "work"].value`, "new@example.com")},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.Equal(t, []store.Email{{Value: "pat@old.example", Type: "home"}, {Value: "new@example.com", Type: "work"}}, u.Emails)
			}},
		{name: "add through a filter that matches nothing adds the value", ops: []map[string]any{op("add", `ims[type eq "xmpp"].value`, "pat@jabber.example")},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, []any{map[string]any{"type": "xmpp", "value": "pat@jabber.example"}}, got["ims"])
			}},
		{name: "a new primary value clears the others", ops: []map[string]any{op("add", "phoneNumbers", []any{map[string]any{"value": "555", "type": "home", "primary": true}})},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, true, phone(got, "home")["primary"])
				assert.Equal(t, false, phone(got, "work")["primary"])
			}},
		{name: "primary set through a filter, as a string, with a capitalised op",
			ops: []map[string]any{op("Replace", `phoneNumbers[type eq "mobile"].primary`, "True")},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, true, phone(got, "mobile")["primary"])
				assert.Equal(t, false, phone(got, "work")["primary"])
			}},
		{name: "adding a value already there changes nothing", ops: []map[string]any{op("add", "emails", []any{map[string]any{"value": "pat@example.com", "type": "work", "primary": true}})},
			check: func(t *testing.T, got map[string]any, u store.User) { assert.Len(t, u.Emails, 2) }},
		{name: "read-only attribute", ops: []map[string]any{op("replace", "groups", []any{map[string]any{"value": "g"}})},
			status: http.StatusBadRequest, scimType: "mutability", detail: "groups is read-only"},
		{name: "read-only sub-attribute", ops: []map[string]any{op("replace", enterpriseURN+":manager.displayName", "Boss")},
			status: http.StatusBadRequest, scimType: "mutability", detail: "manager.displayName is read-only"},
		{name: "remove a required attribute", ops: []map[string]any{op("remove", "userName", nil)},
			status: http.StatusBadRequest, scimType: "mutability", detail: "userName is required"},
		{name: "Entra's URN-qualified and dotted keys in a path-less replace", ops: []map[string]any{op("replace", "", map[string]any{
			enterpriseURN + ":department": "Ops", "name.familyName": "Li", enterpriseURN + ":manager": "m-2", "password": "pw"})},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.Equal(t, map[string]any{"department": "Ops", "manager": map[string]any{"value": "m-2"}}, ent(got))
				assert.Equal(t, "Li", u.FamilyName)
				assert.NotContains(t, string(u.Attributes), "pw")
			}},
		{name: "Entra's manager as a list", ops: []map[string]any{op("Add", "manager", []any{map[string]any{"$ref": "../Users/m-3", "value": "m-3"}})},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, map[string]any{"$ref": "../Users/m-3", "value": "m-3"}, ent(got)["manager"])
			}},
		{name: "remove the manager", ops: []map[string]any{op("Remove", enterpriseURN+":manager", nil)},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, map[string]any{"department": "R&D"}, ent(got))
			}},
		{name: "remove the whole extension", ops: []map[string]any{op("remove", enterpriseURN, nil)},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.NotContains(t, got, enterpriseURN)
				assert.Equal(t, []any{coreUserURN}, got["schemas"])
			}},
		{name: "replace of an extension object by its URN", ops: []map[string]any{op("replace", "", map[string]any{
			enterpriseURN: map[string]any{"costCenter": "77"}})},
			check: func(t *testing.T, got map[string]any, _ store.User) {
				assert.Equal(t, map[string]any{"department": "R&D", "manager": map[string]any{"value": "m-1"}, "costCenter": "77"}, ent(got))
			}},
		{name: "names in any case", ops: []map[string]any{op("replace", `PhoneNumbers[Type eq "work"].Value`, "000"), op("replace", "NAME.GIVENNAME", "P.")},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.Equal(t, "000", phone(got, "work")["value"])
				assert.Equal(t, "P.", u.GivenName)
			}},
		{name: "a filter with and, on a sub-attribute", ops: []map[string]any{op("replace", `emails[type eq "work" and value co "@example"].display`, "Work")},
			check: func(t *testing.T, got map[string]any, u store.User) { assert.Equal(t, "Work", u.Emails[0].Display) }},
		{name: "a null value unassigns", ops: []map[string]any{op("replace", "", map[string]any{"title": nil})},
			check: func(t *testing.T, got map[string]any, _ store.User) { assert.NotContains(t, got, "title") }},
		{name: "adding null changes nothing", ops: []map[string]any{op("add", "", map[string]any{"title": nil, "emails": nil}),
			op("add", "", map[string]any{"displayName": nil})},
			check: func(t *testing.T, got map[string]any, u store.User) {
				assert.Equal(t, "Engineer", got["title"])
				assert.Equal(t, "Pat", u.DisplayName)
				assert.Len(t, u.Emails, 2)
			}},
		{name: "wrong type", ops: []map[string]any{op("replace", "title", 5)},
			status: http.StatusBadRequest, scimType: "invalidValue", detail: "title must be a string"},
		{name: "unknown sub-attribute in a value", ops: []map[string]any{op("add", "addresses", []any{map[string]any{"planet": "Mars"}})},
			status: http.StatusBadRequest, scimType: "invalidValue", detail: `addresses has no sub-attribute "planet"`},
		{name: "unknown sub-attribute in a path", ops: []map[string]any{op("replace", "name.nick", "x")},
			status: http.StatusBadRequest, scimType: "invalidPath", detail: `name has no sub-attribute "nick"`},
		{name: "unknown attribute in a path", ops: []map[string]any{op("replace", "favouriteColour", "x")},
			status: http.StatusBadRequest, scimType: "invalidPath", detail: `"favouriteColour"`},
		{name: "unregistered extension in a path", ops: []map[string]any{op("replace", "urn:example:ext:2.0:User:x", "x")},
			status: http.StatusBadRequest, scimType: "invalidPath", detail: "schema this resource type does not have"},
		{name: "unknown attributes and extensions in a path-less value are ignored", ops: []map[string]any{op("replace", "", map[string]any{
			"favouriteColour": "x", "urn:example:ext:2.0:User": map[string]any{"x": 1}, "title": "Kept"})},
			check: func(t *testing.T, got map[string]any, _ store.User) { assert.Equal(t, "Kept", got["title"]) }},
		{name: "the second operation fails: nothing applies", ops: []map[string]any{op("replace", "title", "Changed"), op("remove", "userName", nil)},
			status: http.StatusBadRequest, scimType: "mutability", detail: "Operations[1]"},
	}
	onStores(t, func(t *testing.T, mk func(...func(*teamscim.Config)) *env) {
		e := mk()
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.t = t
				base := decodeJSON(t, patchBase)
				base["userName"] = fmt.Sprintf("pat%d@example.com", i)
				created := e.req(http.MethodPost, "/Users", base)
				require.Equal(t, http.StatusCreated, created.Code, created.Body.String())
				id := created.str("id")
				before := e.user(id)
				res := e.req(http.MethodPatch, "/Users/"+id, patchBody(c.ops...))
				if c.status != 0 {
					requireSCIMError(t, res, c.status, c.scimType)
					assert.Contains(t, res.str("detail"), c.detail)
					assert.Equal(t, before, e.user(id), "a refused PATCH changes nothing")
					return
				}
				require.Equal(t, http.StatusOK, res.Code, res.Body.String())
				got := e.req(http.MethodGet, "/Users/"+id, nil)
				require.Equal(t, http.StatusOK, got.Code)
				assert.Equal(t, attributesOf(res.body), attributesOf(got.body), "the answer is the stored resource")
				u := e.user(id)
				assert.Equal(t, before.Version+1, u.Version)
				c.check(t, got.body, u)
			})
		}
	})
}

// TestFilterEveryAttribute filters on sub-attributes, extension attributes by URN, every
// operator, grouping and value paths.
func TestFilterEveryAttribute(t *testing.T) {
	onStores(t, func(t *testing.T, mk func(...func(*teamscim.Config)) *env) {
		e := mk()
		users := map[string]string{
			"ann": `{"userName":"ann@example.com","title":"Engineer","nickName":"Annie","name":{"givenName":"Ann","honorificPrefix":"Dr."},
				"emails":[{"value":"ann@example.com","type":"work","primary":true},{"value":"ann@home.example","type":"home"}],
				"addresses":[{"type":"work","locality":"Berlin"}],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","employeeNumber":"100","manager":{"value":"boss"}}}`,
			"bob": `{"userName":"bob@example.com","title":"Manager","name":{"givenName":"Bob"},
				"addresses":[{"type":"home","locality":"Munich"}],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","employeeNumber":"200"}}`,
			"cy": `{"userName":"cy@example.com","active":false,"emails":[{"value":"cy@other.example","type":"work"}]}`,
		}
		ids := map[string]string{}
		for _, name := range []string{"ann", "bob", "cy"} {
			res := e.req(http.MethodPost, "/Users", users[name])
			require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
			ids[res.str("id")] = name
		}
		for f, want := range map[string][]string{
			`title eq "engineer"`: {"ann"},
			`title ne "Engineer"`: {"bob", "cy"},
			`title co "nag"`:      {"bob"},
			`nickName sw "An"`:    {"ann"},
			`title ew "ER"`:       {"ann", "bob"},
			`nickName pr`:         {"ann"},
			`not (title pr)`:      {"cy"},
			`title gt "F"`:        {"bob"},
			`title ge "Engineer" and title le "Engineer"`:                                 {"ann"},
			`title lt "F" or active eq false`:                                             {"ann", "cy"},
			`(title eq "Manager" or title eq "Engineer") and name.givenName sw "b"`:       {"bob"},
			`name.honorificPrefix eq "Dr."`:                                               {"ann"},
			`addresses.locality eq "munich"`:                                              {"bob"},
			`addresses[type eq "work" and locality eq "Berlin"]`:                          {"ann"},
			`emails[type eq "work" and value co "@"]`:                                     {"ann", "bob", "cy"},
			`emails[type eq "home"]`:                                                      {"ann"},
			`emails.value eq "ANN@home.example"`:                                          {"ann"},
			`emails.value eq "bob@example.com"`:                                           {"bob"},
			`emails[type eq "work"].value eq "cy@other.example"`:                          {"cy"},
			enterpriseURN + `:department eq "sales"`:                                      {"bob"},
			enterpriseURN + `:employeeNumber gt "150"`:                                    {"bob"},
			enterpriseURN + `:manager.value eq "boss"`:                                    {"ann"},
			`department eq "R&D"`:                                                         {"ann"},
			`userName eq "ann@example.com" and ` + enterpriseURN + `:department eq "R&D"`: {"ann"},
			`meta.created gt "2000-01-01T00:00:00Z"`:                                      {"ann", "bob", "cy"},
		} {
			res := e.req(http.MethodGet, filterPath(f), nil)
			got := []string{}
			for _, id := range listIDs(t, res) {
				got = append(got, ids[id])
			}
			assert.ElementsMatch(t, want, got, f)
		}
		// An attribute no schema defines is named in a 400 invalidFilter.
		for f, name := range map[string]string{
			`favouriteColour eq "blue"`:            "favouriteColour",
			`name.nick eq "x"`:                     "name.nick",
			`emails[planet eq "x"]`:                "emails.planet",
			`urn:example:ext:2.0:User:x eq "y"`:    "urn:example:ext:2.0:User:x",
			enterpriseURN + `:favourite eq "blue"`: enterpriseURN + ":favourite",
		} {
			res := e.req(http.MethodGet, filterPath(f), nil)
			requireSCIMError(t, res, http.StatusBadRequest, "invalidFilter")
			assert.Contains(t, res.str("detail"), name, f)
		}
	})
}

// A filter no index answers is refused beyond Config.MaxFilterScan users; the indexed ones
// (emails.value eq included) are not.
func TestFilterScanBudget(t *testing.T) {
	e := newEnv(t, func(c *teamscim.Config) { c.MaxFilterScan = 2 })
	for _, name := range []string{"a", "b", "c"} {
		res := e.req(http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"%s@example.com","externalId":"x-%s",
			"emails":[{"value":"%s@mail.example","type":"work"}],"title":"T"}`, name, name, name))
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	}
	for _, f := range []string{`userName eq "a@example.com"`, `externalId eq "x-b"`, `emails.value eq "C@mail.example"`,
		`emails[type eq "work" and value eq "a@mail.example"]`, `emails.value eq "b@mail.example" and title eq "T"`} {
		assert.Len(t, listIDs(t, e.req(http.MethodGet, filterPath(f), nil)), 1, f)
	}
	assert.Len(t, listIDs(t, e.req(http.MethodGet, filterPath(`active eq true`), nil)), 3, "active eq pages in the store")
	res := e.req(http.MethodGet, filterPath(`title eq "T"`), nil)
	requireSCIMError(t, res, http.StatusBadRequest, "tooMany")
	assert.Contains(t, res.str("detail"), "more than 2 users")
	res = e.req(http.MethodPost, "/.search", map[string]any{"filter": `title eq "T" or title eq "U"`})
	requireSCIMError(t, res, http.StatusBadRequest, "tooMany")
}

// Issue 15 item 3: each 400 names the attribute or the operation and what was expected,
// without repeating the value.
func TestErrorsNameWhatIsWrong(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("errors@example.com")
	const secret = "V4LUE-not-to-echo"
	for _, c := range []struct {
		method, path, body, scimType, detail string
	}{
		{http.MethodPost, "/Users", `{"name":{"givenName":"` + secret + `"}}`, "invalidValue", "userName is required"},
		{http.MethodPost, "/Users", `{"userName":123}`, "invalidValue", "userName must be a string"},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","active":"` + secret + `"}`, "invalidValue", "active must be a boolean"},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","emails":[{"value":"a@example.com","kind":"` + secret + `"}]}`, "invalidValue", `emails has no sub-attribute "kind"`},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","emails":[{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":true}]}`, "invalidValue", "At most one value of emails may be primary"},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","x509Certificates":[{"value":"` + secret + `!"}]}`, "invalidValue", "x509Certificates.value must be a base64 string"},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","userName":"b@example.com","USERNAME":"c@example.com"}`, "invalidSyntax", "userName is given twice"},
		{http.MethodPut, "/Users/" + id, `{"displayName":"` + secret + `"}`, "invalidValue", "userName is required"},
		{http.MethodPatch, "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, "invalidValue", "Operations is required"},
		{http.MethodPatch, "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, "invalidValue", "Operations is empty"},
		{http.MethodPatch, "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":"` + secret + `"}`, "invalidSyntax", "Operations must be a list"},
		{http.MethodPatch, "/Users/" + id, `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`, "invalidSyntax", "schemas must list urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		{http.MethodPatch, "/Users/" + id, patchString(`{"op":"` + secret + `","path":"title","value":"x"}`), "invalidValue", "Operations[0].op must be add, remove or replace"},
		{http.MethodPatch, "/Users/" + id, patchString(`{"path":"title","value":"x"}`), "invalidValue", "Operations[0].op is required"},
		{http.MethodPatch, "/Users/" + id, patchString(`{"op":"add","path":"title","value":"x"},{"op":"add","path":"title"}`), "invalidValue", "Operations[1]: add needs a value"},
		{http.MethodPatch, "/Users/" + id, patchString(`{"op":"remove"}`), "noTarget", "Operations[0]: remove needs a path"},
		{http.MethodPatch, "/Users/" + id, patchString(`{"op":"replace","path":"userName","value":123}`), "invalidValue", "userName must be a string"},
		{http.MethodPatch, "/Users/" + id, patchString(`{"op":"replace","value":"` + secret + `"}`), "invalidValue", "replace without a path needs an object"},
		{http.MethodPost, "/Groups", `{"displayName":"G","members":[{"value":"` + id + `","type":["` + secret + `"]}]}`, "invalidValue", "members.type must be a string"},
		{http.MethodPost, "/Groups", `{"members":[]}`, "invalidValue", "displayName is required"},
	} {
		res := e.req(c.method, c.path, c.body)
		requireSCIMError(t, res, http.StatusBadRequest, c.scimType)
		assert.Contains(t, res.str("detail"), c.detail, "%s %s %s", c.method, c.path, c.body)
		assert.NotContains(t, res.Body.String(), secret, "%s %s", c.method, c.path)
	}
	assert.Equal(t, 1, e.countUsers())
}

func patchString(ops string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
}

// Concurrent PATCHes of one user's attributes lose nothing: each applies to what the one
// before it stored (the team's Update serialises them), under -race.
func TestConcurrentAttributePatches(t *testing.T) {
	onStores(t, func(t *testing.T, mk func(...func(*teamscim.Config)) *env) {
		e := mk()
		res := e.req(http.MethodPost, "/Users", `{"userName":"busy@example.com","title":"T"}`)
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		id := res.str("id")
		const n = 12
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				codes[i] = e.req(http.MethodPatch, "/Users/"+id, patchBody(
					op("add", "phoneNumbers", []any{map[string]any{"value": fmt.Sprint(i), "type": "work"}}),
					op("replace", fmt.Sprintf(`%s:costCenter`, enterpriseURN), fmt.Sprint(i)),
				)).Code
			})
		}
		wg.Wait()
		for _, c := range codes {
			assert.Equal(t, http.StatusOK, c)
		}
		got := e.req(http.MethodGet, "/Users/"+id, nil)
		assert.Len(t, got.body["phoneNumbers"], n, "no PATCH lost another's value")
		assert.Equal(t, int64(1+n), e.user(id).Version)
		assert.Equal(t, "T", got.body["title"])
	})
}
