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
