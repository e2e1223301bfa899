package teamscim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/scimtest"
	"github.com/teamscim/teamscim/store"
)

// FuzzFilter parses random filters and evaluates what parses against a user and a group:
// no panic, and every refusal is a 400 invalidFilter whose detail does not echo the filter.
// It also checks the fast decoding of plain literals against encoding/json.
// Seeds are the filters of the recorded IdP flows (package scimtest) and of the list tests.
//
//	go test -run '^$' -fuzz '^FuzzFilter$' -fuzztime 30s .
func FuzzFilter(f *testing.F) {
	for _, fl := range scimtest.All {
		for _, st := range fl.Steps {
			if u, err := url.Parse(st.Path); err == nil {
				if v := u.Query().Get("filter"); v != "" {
					f.Add(v)
				}
			}
		}
	}
	for _, s := range []string{
		`userName eq "a@example.com" and active eq true`, `emails[type eq "work"].value eq "x"`,
		`emails[type eq "work" and value co "@"]`, `not (userName sw "a") or name.familyName pr`,
		`meta.created gt "2020-01-01T00:00:00Z"`, `meta.lastModified le "bogus"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"`,
		`active eq "True"`, `active gt true`, `userName eq "\u00e9\"\\"`, `id eq "1" or externalId ne "2"`,
		`displayName eq "x"`, `members[value eq "x"]`, `((userName eq "a"))`, `userName eq`, `((((`,
	} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := store.User{ID: "u1", UserName: "a@example.com", ExternalID: "ext", GivenName: "Ann", FamilyName: "Lee",
		DisplayName: "Ann", Active: true, Emails: []store.Email{{Value: "a@example.com", Type: "work", Primary: true}},
		Attributes: []byte(`{"title":"Eng","phoneNumbers":[{"value":"1","type":"work","primary":true}],` +
			`"name":{"honorificPrefix":"Dr."},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":` +
			`{"department":"R&D","manager":{"value":"u2"}}}`),
		Created: now, LastModified: now, Version: 3}
	g := store.Group{ID: "g1", DisplayName: "Eng", ExternalID: "x", Created: now, LastModified: now}
	srv, err := New(Config{Store: memstore.New()})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, raw string) {
		// The fast literal decoding agrees with encoding/json whenever it applies.
		if v, ok := plainLiteral(`"` + raw + `"`); ok {
			var want string
			require.NoError(t, json.Unmarshal([]byte(`"`+raw+`"`), &want), "%q", raw)
			require.Equal(t, want, v)
		}
		expr, err := parseFilter(raw)
		if err != nil {
			var ae *apiError
			require.True(t, errors.As(err, &ae), "%q: %v", raw, err)
			require.Equal(t, http.StatusBadRequest, ae.status)
			require.Equal(t, scimerrors.ScimTypeInvalidFilter, ae.scimType)
			if trimmed := strings.TrimSpace(raw); len(trimmed) >= 8 {
				require.NotContains(t, ae.detail, trimmed)
			}
			return
		}
		if expr == nil {
			require.Empty(t, strings.TrimSpace(raw))
			return
		}
		_, _ = activeEq(expr)
		// Checked against each resource type's schemas: a refusal is a 400 invalidFilter; what
		// passes evaluates against a resource without panicking.
		for _, rd := range []*resourceDef{srv.users, srv.groups} {
			cf, err := compileFilter(rd, raw)
			if err != nil {
				var ae *apiError
				require.True(t, errors.As(err, &ae), "%q: %v", raw, err)
				require.Equal(t, http.StatusBadRequest, ae.status)
				require.Equal(t, scimerrors.ScimTypeInvalidFilter, ae.scimType)
				continue
			}
			doc := map[string]any{"id": g.ID, "displayName": g.DisplayName, "externalId": g.ExternalID,
				"members": []any{map[string]any{"value": "u1"}}}
			if rd == srv.users {
				doc, err = srv.userDoc(u, true)
				require.NoError(t, err)
			}
			cf.matches(doc)
		}
	})
}

// plainBodySeeds are user bodies around the edges of plainUserBody: the ones IdPs send, and
// near misses it must leave to the general path (or read exactly as that path does).
var plainBodySeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u1@example.com","externalId":"ext-1","name":{"givenName":"Given1","familyName":"Family1","formatted":"Given1 Family1"},"displayName":"Given1 Family1","emails":[{"value":"u1@example.com","type":"work","primary":true}],"active":true}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new1@example.com","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"new1@example.com","type":"work"}],"externalId":"ext1","active":true}`,
	" {\n\t\"userName\" : \"a@example.com\" ,\r\n \"active\" : false , \"name\" : { } , \"emails\" : [ ] , \"schemas\" : [ ] } \n",
	`{"userName":"a@example.com","name":{"middleName":"M","formatted":"A M B"},"locale":"en-US"}`,
	`{"userName":"a\u00e9\"\\\/\b\f\n\r\t@example.com","displayName":"\ud83d\ude00 \u00fc"}`,
	`{"userName":"\u00e9t\u00e9@example.com","displayName":"élève"}`,
	`{"userName":"a@example.com","displayName":"\ud800"}`,
	"{\"userName\":\"a@example.com\",\"displayName\":\"\xff\"}",
	`{"userName":"a\u0000@example.com"}`,
	`{"userName":"a@example.com","emails":[{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":true}]}`,
	`{"userName":"a@example.com","emails":[{"value":"a@example.com","type":"work"},{"value":"a@example.com","type":"work"}]}`,
	`{"userName":"a@example.com","emails":[{"value":"a@example.com"},{"value":"a@example.com"}]}`,
	`{"userName":"a@example.com","emails":[{"value":"a@example.com","type":"work"},{"value":"a@example.com"}]}`,
	`{"userName":"a@example.com","emails":[{"value":"a@example.com"},{"value":"a@example.com","type":""}]}`,
	`{"userName":"a@example.com","emails":[{"value":""}]}`,
	`{"userName":"a@example.com","emails":[{"type":"work"}]}`,
	`{"userName":"a@example.com","emails":[{"value":"a@example.com","display":"A"}]}`,
	`{"userName":"a@example.com","emails":{"value":"a@example.com"}}`,
	`{"userName":"a@example.com","userName":"b@example.com"}`,
	`{"userName":"a@example.com","UserName":"b@example.com"}`,
	`{"UserName":"a@example.com","Active":"False"}`,
	`{"userName":"a@example.com","active":"true"}`,
	`{"userName":"a@example.com","active":truex}`, `{"userName":"a@example.com","active":true1}`,
	`{"userName":"a@example.com","active":null}`, `{"userName":null}`, `{"userName":1}`, `{}`,
	`{"userName":"a@example.com",}`, `{"userName":"a@example.com"}}`, `{"userName":"a@example.com"} x`,
	`{"userName":"a@example.com","schemas":["a",]}`, `{"userName":"a@example.com","schemas":"x"}`,
	`{"userName":"a@example.com","groups":[]}`, `{"userName":"a@example.com","password":"p"}`,
	`{"userName":"a@example.com","title":"Eng"}`, `{"id":"x","userName":"a@example.com"}`,
	`{"userName":"a@example.com","name":{"givenName":"A","givenName":"B"}}`,
	`{"userName":"a@example.com","name":{"honorificPrefix":"Dr."}}`,
	"\xef\xbb\xbf{\"userName\":\"a@example.com\"}", `[{"userName":"a@example.com"}]`, ``, `"x"`,
}

// FuzzPlainUserBody checks the plain reading of a user body (plainUserBody) against the
// general one: whenever it accepts a body, decodeBody, checkResource and userInputOf accept
// it too, with no groups to join, and give the same input.
//
//	go test -run '^$' -fuzz '^FuzzPlainUserBody$' -fuzztime 30s .
func FuzzPlainUserBody(f *testing.F) {
	for _, b := range plainBodySeeds {
		f.Add(b)
	}
	general, err := New(Config{Store: memstore.New()})
	require.NoError(f, err)
	general.users.plain = false
	f.Fuzz(func(t *testing.T, body string) {
		got, ok := plainUserBody([]byte(body))
		if !ok {
			return
		}
		var rq request
		want, _, err := general.readUserBody([]byte(body), &rq)
		require.NoError(t, err, "%q", body)
		require.Nil(t, rq.groups, "%q", body)
		require.Equal(t, want, got, "%q", body)
	})
}

// TestPlainUserBody pins which bodies are read plain: the creates of the perf harness and of
// Okta must be (or the fast path is dead code), the near misses must not be.
func TestPlainUserBody(t *testing.T) {
	plain := map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 11: true, 12: true}
	for i, b := range plainBodySeeds {
		_, ok := plainUserBody([]byte(b))
		assert.Equal(t, plain[i], ok, "%q", b)
	}
	srv, err := New(Config{Store: memstore.New()})
	require.NoError(t, err)
	assert.True(t, srv.users.plain, "the default User schemas are read plain")
	srv, err = New(Config{Store: memstore.New(), UserExtensions: []Extension{{
		URN: "urn:acme:params:scim:schemas:extension:team:2.0:User", Required: true,
		Attributes: []Attribute{{Name: "costCenter"}},
	}}})
	require.NoError(t, err)
	assert.False(t, srv.users.plain, "a required extension is checked by the general path")
}
