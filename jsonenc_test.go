package teamscim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// appendJSON must produce exactly what encoding/json produces with HTML escaping off.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{
		nil, "", "plain", `quote " backslash \ <tag> & amp`, "tab\tnew\nline\x00", "é ü 日本 \u2028 \u2029", "bad \xff utf8",
		true, false, 0, -42, int64(1) << 60, 3.25, json.Number("12"),
		[]any{}, []any{nil, "a", 1, true, map[string]any{}}, []string(nil), []string{}, []string{"b", "a<"},
		map[string]any(nil), map[string]any{},
		map[string]any{"z": 1, "a": []any{map[string]any{"value": "x", "primary": true}}, "M": "m", "émoji": "😀"},
		[]map[string]any(nil), []map[string]any{{"b": 1, "a": 2}},
		map[string]any{"time": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), "bools": map[string]bool{"x": true}},
	} {
		want, err := marshalNoHTML(v)
		require.NoError(t, err)
		got, err := appendJSON(nil, v)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%#v", v)
	}
	_, err := appendJSON(nil, map[string]any{"f": func() {}})
	assert.Error(t, err)
}

// FuzzAppendJSON checks appendJSON against encoding/json on decoded random documents.
func FuzzAppendJSON(f *testing.F) {
	f.Add(`{"a":[1,"x",{"b":null}],"c":true}`)
	f.Add(`"\u003c\ud800"`)
	f.Fuzz(func(t *testing.T, doc string) {
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		want, err := marshalNoHTML(v)
		require.NoError(t, err)
		got, err := appendJSON(nil, v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	})
}

// A ListResponse encodes as encoding/json encodes the struct.
func TestListResponseEncode(t *testing.T) {
	for _, l := range []listResponse{
		{Schemas: []string{listResponseSchema}, Resources: []rawJSON{}},
		{Schemas: []string{listResponseSchema}, TotalResults: 250, ItemsPerPage: 2, StartIndex: 11,
			Resources: []rawJSON{rawJSON(`{"id":"a","meta":{"version":"W/\"1\""}}`), rawJSON(`{"active":false,"id":"b<"}`)}},
	} {
		want, err := marshalNoHTML(l)
		require.NoError(t, err)
		got := l.appendTo([]byte("prefix"))
		assert.Equal(t, "prefix"+string(want), string(got))
	}
}

// appendUser's direct encoding is byte for byte the encoding of userOutput's map, for users
// with and without each typed field, with stored attributes (an extension's, a stored name
// part, strings to escape) and ids and base URLs that need escaping.
func TestAppendUserMatchesMap(t *testing.T) {
	s, err := New(Config{Store: memstore.New()})
	require.NoError(t, err)
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	full := store.User{ID: "2819c223-7f76-453a-919d-413861904646", UserName: "bjensen@example.com", ExternalID: "ext-1",
		GivenName: "Barbara", FamilyName: "Jensen", MiddleName: "Jane", Formatted: "Ms. Barbara J Jensen III",
		DisplayName: "Babs <Jensen> \"B\"", Locale: "en-US", Active: true, Version: 42, Created: at, LastModified: at.Add(time.Hour),
		Emails: []store.Email{{Value: "bjensen@example.com", Type: "work", Primary: true}, {Value: "b@home.example", Type: "home", Display: "Home é"}, {Value: "x@example.com"}}}
	users := []store.User{
		{ID: "a", UserName: "plain@example.com", Version: 1, Created: at, LastModified: at},
		full,
	}
	for _, attrs := range []string{
		`{"title":"Tour Guide","nickName":"Babs","phoneNumbers":[{"value":"555","type":"work"}]}`,
		`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tour Operations","manager":{"value":"26118915"}},"zz":"last","addresses":[{"locality":"Hollywood"}]}`,
		`{"name":{"honorificPrefix":"Ms."},"title":"x"}`,
		`{"title":"日本 \u2028 tab\t"}`,
	} {
		u := full
		u.Attributes = json.RawMessage(attrs)
		users = append(users, u)
	}
	odd := full
	odd.ID = "id with/slash \"q\""
	odd.Emails = nil
	odd.GivenName, odd.FamilyName, odd.MiddleName, odd.Formatted, odd.DisplayName = "", "", "", "", ""
	users = append(users, odd)
	for _, base := range []string{"http://127.0.0.1:8080/scim/v2", "https://hôst.example/scim \"v2\""} {
		for _, u := range users {
			m, err := s.userOutput(u, base, projection{})
			require.NoError(t, err)
			want, err := appendObject(nil, m)
			require.NoError(t, err)
			got, err := s.appendUser([]byte("prefix"), u, base, projection{})
			require.NoError(t, err)
			assert.Equal(t, "prefix"+string(want), string(got), "user %s, attributes %s", u.ID, u.Attributes)
			assert.True(t, json.Valid(got[len("prefix"):]))
		}
	}
}

// appendMeta writes what encoding/json writes for meta's fields in RFC 7643's order, with the
// location escaped as url.PathEscape escapes the id.
func TestAppendMetaMatchesEncodingJSON(t *testing.T) {
	type meta struct {
		ResourceType string `json:"resourceType"`
		Created      string `json:"created"`
		LastModified string `json:"lastModified"`
		Location     string `json:"location"`
		Version      string `json:"version"`
	}
	created := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	modified := time.Date(2026, 3, 5, 1, 2, 3, 0, time.FixedZone("CET", 3600))
	for _, base := range []string{"http://127.0.0.1:8080/scim/v2", "https://hôst.example/scim \"v2\"", ""} {
		for _, id := range []string{"2819c223-7f76-453a-919d-413861904646", "id with/slash \"q\" ü", ""} {
			want, err := marshalNoHTML(meta{"Group", created.Format(time.RFC3339), modified.Format(time.RFC3339),
				location(base, "Groups", id), etagOf(42)})
			require.NoError(t, err)
			got := appendMeta([]byte("x"), "Group", created, modified, base, "Groups", id, 42)
			assert.Equal(t, "x"+string(want), string(got))
		}
	}
}
