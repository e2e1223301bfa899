package teamscim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

// flow is a recorded IdP conversation in testdata/<idp>/*.json.
type flow struct {
	Description string `json:"description"`
	Steps       []step `json:"steps"`
}

type step struct {
	Name        string          `json:"name"`
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	ContentType string          `json:"contentType"`
	Auth        *string         `json:"auth"`
	Body        json.RawMessage `json:"body"`
	Status      int             `json:"status"`
	Response    any             `json:"response"`
	Absent      []string        `json:"absent"`
	Capture     string          `json:"capture"`
	Stored      map[string]any  `json:"stored"`
	StoredGroup map[string]any  `json:"storedGroup"`
	Users       *int            `json:"users"`
	Seats       *int            `json:"seats"`
}

// TestIdPFlows replays each recorded IdP flow through the public handler, checking every
// response and the stored state after every step.
func TestIdPFlows(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var f flow
			require.NoError(t, json.Unmarshal(raw, &f))
			e := newEnv(t)
			vars := map[string]string{}
			subst := func(s string) string {
				for k, v := range vars {
					s = strings.ReplaceAll(s, "{{"+k+"}}", v)
				}
				return s
			}
			for i, st := range f.Steps {
				name := fmt.Sprintf("step %d (%s)", i+1, st.Name)
				var body *strings.Reader
				if len(st.Body) > 0 {
					body = strings.NewReader(subst(string(st.Body)))
				} else {
					body = strings.NewReader("")
				}
				r := httptest.NewRequest(st.Method, "http://scim.example.com/scim/v2"+subst(st.Path), body)
				if len(st.Body) > 0 {
					ct := st.ContentType
					if ct == "" {
						ct = "application/scim+json"
					}
					r.Header.Set("Content-Type", ct)
				}
				auth := "Bearer " + e.key
				if st.Auth != nil {
					auth = *st.Auth
				}
				r.Header.Set("Authorization", auth)
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, r)
				require.Equal(t, st.Status, w.Code, "%s: %s", name, w.Body.String())
				if w.Code != http.StatusNoContent {
					assert.Equal(t, "application/scim+json", w.Header().Get("Content-Type"), name)
				}
				var got any
				if w.Body.Len() > 0 {
					require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got), name)
				}
				if st.Response != nil {
					var want any
					require.NoError(t, json.Unmarshal([]byte(subst(mustJSON(t, st.Response))), &want))
					assertSubset(t, name, want, got)
				}
				for _, a := range st.Absent {
					assert.NotContains(t, strings.ToLower(w.Body.String()), strings.ToLower(a), name)
				}
				if st.Capture != "" {
					m, _ := got.(map[string]any)
					id, _ := m["id"].(string)
					require.NotEmpty(t, id, name)
					vars[st.Capture] = id
					if st.Status == http.StatusCreated {
						collection, _, _ := strings.Cut(st.Path, "?")
						assert.Equal(t, "http://scim.example.com/scim/v2"+collection+"/"+id, w.Header().Get("Location"), name)
					}
				}
				if st.Stored != nil {
					assertStored(t, name, e, vars[st.Stored["ref"].(string)], st.Stored, subst)
				}
				if st.StoredGroup != nil {
					assertStoredGroup(t, name, e, vars, st.StoredGroup)
				}
				if st.Users != nil {
					assert.Equal(t, *st.Users, e.countUsers(), "%s: stored users", name)
				}
				if st.Seats != nil {
					assert.Equal(t, *st.Seats, e.seatsInUse(), "%s: seats in use", name)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// assertSubset checks that every key of want is in got with a matching value; lists must
// have the same length and match element by element.
func assertSubset(t *testing.T, where string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !assert.True(t, ok, "%s: want an object, got %v", where, got) {
			return
		}
		for k, v := range w {
			gv, ok := g[k]
			if assert.True(t, ok, "%s: missing %q in %v", where, k, g) {
				assertSubset(t, where+"."+k, v, gv)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !assert.True(t, ok, "%s: want a list, got %v", where, got) || !assert.Len(t, g, len(w), where) {
			return
		}
		for i := range w {
			assertSubset(t, fmt.Sprintf("%s[%d]", where, i), w[i], g[i])
		}
	default:
		assert.Equal(t, want, got, where)
	}
}

// assertStored compares the stored user with the fields named in want; "attributes" is a
// subset of the user's other attributes (store.User.Attributes).
func assertStored(t *testing.T, where string, e *env, id string, want map[string]any, subst func(string) string) {
	t.Helper()
	require.NotEmpty(t, id, where)
	u := e.user(id)
	if attrs, ok := want["attributes"]; ok {
		var w, got any
		require.NoError(t, json.Unmarshal([]byte(subst(mustJSON(t, attrs))), &w))
		require.NoError(t, json.Unmarshal(u.Attributes, &got), where)
		assertSubset(t, where+": stored attributes", w, got)
	}
	got := map[string]any{"userName": u.UserName, "givenName": u.GivenName, "familyName": u.FamilyName,
		"externalId": u.ExternalID, "active": u.Active, "deleted": u.Deleted, "managed": u.Managed,
		"seat": u.Seat, "viaGroups": u.ViaGroups}
	for k, v := range want {
		if k == "ref" || k == "attributes" {
			continue
		}
		gv, ok := got[k]
		require.True(t, ok, "%s: unknown stored field %q", where, k)
		assert.Equal(t, v, gv, "%s: stored %s", where, k)
	}
}

// assertStoredGroup compares the stored group named by want["ref"] with want: its displayName,
// its members (a list of captured variable names), or "gone": true once it is deleted.
func assertStoredGroup(t *testing.T, where string, e *env, vars map[string]string, want map[string]any) {
	t.Helper()
	id := vars[want["ref"].(string)]
	require.NotEmpty(t, id, where)
	g, err := e.group(id)
	if gone, _ := want["gone"].(bool); gone {
		assert.ErrorIs(t, err, store.ErrNotFound, "%s: the group must be gone", where)
		return
	}
	require.NoError(t, err, where)
	for k, v := range want {
		switch k {
		case "ref":
		case "displayName":
			assert.Equal(t, v, g.DisplayName, "%s: stored displayName", where)
		case "externalId":
			assert.Equal(t, v, g.ExternalID, "%s: stored externalId", where)
		case "members":
			ids := []string{}
			for _, name := range v.([]any) {
				ids = append(ids, vars[name.(string)])
			}
			assert.Equal(t, sorted(ids...), e.members(id), "%s: stored members", where)
		default:
			t.Fatalf("%s: unknown storedGroup field %q", where, k)
		}
	}
}
