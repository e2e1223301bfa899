package teamscim_test

// Fuzz targets for what an IdP controls: PATCH bodies and POST/PUT bodies, driven through the
// public handler. Seeds are the bodies of the recorded IdP flows (package scimtest). CI runs each
// target for a short fixed time (.ci/run); `go test` runs the seeds as ordinary tests.
//
//	go test -run '^$' -fuzz '^FuzzPatchUser$' -fuzztime 30s .

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/scimtest"
)

// fixtureBodies returns the request bodies of the recorded IdP flows whose method is one of
// methods, with {{…}} placeholders replaced by id.
func fixtureBodies(tb testing.TB, id string, methods ...string) []string {
	tb.Helper()
	var out []string
	for _, f := range scimtest.All {
		for _, st := range f.Steps {
			if slices.Contains(methods, st.Method) && len(st.Body) > 0 {
				b := string(st.Body)
				for strings.Contains(b, "{{") {
					i := strings.Index(b, "{{")
					j := strings.Index(b[i:], "}}")
					if j < 0 {
						break
					}
					b = b[:i] + id + b[i+j+2:]
				}
				out = append(out, b)
			}
		}
	}
	require.NotEmpty(tb, out)
	return out
}

// fuzzEnv is an env whose assertions go to t (the env itself is shared by the fuzz calls of
// one process, which run one at a time).
func fuzzEnv(e *env, t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// FuzzPatchUser sends random PatchOp bodies to one user: never a 5xx; a refused PATCH changes
// nothing; an applied one moves the version by one and leaves a valid, readable user.
func FuzzPatchUser(f *testing.F) {
	shared := newEnv(f)
	id := shared.createUser("fuzz.patch@example.com")
	shared.createUser("other.member@example.com")
	for _, b := range fixtureBodies(f, id, http.MethodPatch) {
		f.Add(b)
	}
	for _, b := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"password":"x","name.givenName":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"}}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails","value":[{"value":"x@example.com","type":"home","primary":"True"}]}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[type eq \"work\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":"other.member@example.com"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name","value":{"givenName":null}}]}`,
		`{"Operations":[{"op":"replace","path":"active","value":"TRUE"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
		`[]`, `null`, `{}`, ``,
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkPatch(fuzzEnv(shared, t), id, body)
	})
}

// FuzzPatchOp is FuzzPatchUser with the PatchOp's structure kept, so that the fuzzer spends
// its time on operations, paths and values rather than on JSON syntax.
func FuzzPatchOp(f *testing.F) {
	shared := newEnv(f)
	id := shared.createUser("fuzz.op@example.com")
	shared.createUser("other.member@example.com")
	for _, b := range fixtureBodies(f, id, http.MethodPatch) {
		var msg struct {
			Operations []struct {
				Op    string          `json:"op"`
				Path  string          `json:"path"`
				Value json.RawMessage `json:"value"`
			}
		}
		require.NoError(f, json.Unmarshal([]byte(b), &msg))
		for _, op := range msg.Operations {
			f.Add(op.Op, op.Path, string(op.Value))
		}
	}
	for _, seed := range [][3]string{
		{"add", "emails", `[{"value":"x@example.com","type":"home"}]`},
		{"replace", `emails[type eq "work"].primary`, `"True"`},
		{"remove", `emails[value eq "fuzz.op@example.com"]`, ``},
		{"replace", "name", `{"givenName":"A","familyName":null}`},
		{"replace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", `{"value":"m"}`},
		{"Replace", "", `{"active":"False","name.familyName":"F","externalId":"e"}`},
		{"remove", "externalId", ``},
		{"add", "password", `"pw"`},
		{"remove", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", ``},
		{"replace", `addresses[type eq "work"].locality`, `"Munich"`},
		{"add", "phoneNumbers.display", `"d"`},
		{"Add", "manager", `[{"$ref":"../Users/m","value":"m"}]`},
		{"replace", "", `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"},"nickName":null}`},
		{"remove", `emails[value ew "@example.com"]`, ``},
		{"replace", `roles[primary eq "True"].display`, `"Admin"`},
		{"add", "x509Certificates", `[{"value":"TUlJ"}]`},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, op, path, value string) {
		o := map[string]any{"op": op}
		if path != "" {
			o["path"] = path
		}
		if json.Valid([]byte(value)) {
			o["value"] = json.RawMessage(value)
		} else if value != "" {
			o["value"] = value
		}
		body, err := json.Marshal(patchBody(o))
		if err != nil {
			return // a RawMessage json.Valid accepts but Marshal refuses cannot be sent anyway
		}
		checkPatch(fuzzEnv(shared, t), id, string(body))
	})
}

// checkPatch sends one PATCH and checks its invariants: never a 5xx; a refused PATCH changes
// nothing; an applied one moves the version by one and leaves a valid, readable user.
func checkPatch(e *env, id, body string) {
	t := e.t
	before := e.user(id)
	res := e.req(http.MethodPatch, "/Users/"+id, body)
	require.Less(t, res.Code, 500, "%q: %s", body, res.Body.String())
	after := e.user(id)
	if res.Code >= 300 {
		requireSCIMError(t.(*testing.T), res, res.Code, "")
		require.Equal(t, before, after, "a refused PATCH changes nothing")
		return
	}
	require.Equal(t, http.StatusOK, res.Code)
	require.Equal(t, before.Version+1, after.Version)
	require.Contains(t, after.UserName, "@")
	require.False(t, after.Deleted)
	require.Equal(t, after.Active, res.body["active"])
	got := e.req(http.MethodGet, "/Users/"+id, nil)
	require.Equal(t, http.StatusOK, got.Code, got.Body.String())
	require.Equal(t, after.UserName, got.str("userName"))
	require.NotContains(t, strings.ToLower(got.Body.String()), "password")
}

// FuzzRequestBody sends random bodies as POST and PUT of users and groups and as a search:
// never a 5xx, and a refused request stores nothing.
func FuzzRequestBody(f *testing.F) {
	shared := newEnv(f)
	uid := shared.createUser("fuzz.put@example.com")
	gid := shared.createGroup("Fuzzed", uid)
	for _, b := range fixtureBodies(f, uid, http.MethodPost, http.MethodPut) {
		for route := range byte(5) {
			f.Add(route, b)
		}
	}
	for _, b := range []string{
		`{"displayName":"G","members":[{"value":"` + uid + `","display":"x"}],"externalId":"e"}`,
		`{"filter":"userName eq \"fuzz.put@example.com\"","startIndex":1,"count":1,"attributes":["userName"]}`,
		`{"userName":"a@example.com","emails":[{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":true}]}`,
		`{"userName":"a@example.com","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"x"}}}`,
		`{"UserName":"A@example.com","Active":"False","Name":{"GivenName":"A"}}`,
		`{"userName":"a@example.com","active":"yes"}`, `{"userName":null}`, `[{}]`, `"x"`, `1e999`, ``,
		fullUser, `{"displayName":"G","urn:x:Group":{"a":1}}`,
		`{"userName":"b@example.com","phoneNumbers":{"value":"1"},"addresses":[{"type":"work","planet":"Mars"}]}`,
	} {
		for route := range byte(5) {
			f.Add(route, b)
		}
	}
	routes := []struct{ method, path string }{
		{http.MethodPost, "/Users"}, {http.MethodPut, "/Users/" + uid},
		{http.MethodPost, "/Groups"}, {http.MethodPut, "/Groups/" + gid},
		{http.MethodPost, "/Users/.search"},
	}
	f.Fuzz(func(t *testing.T, route byte, body string) {
		e := fuzzEnv(shared, t)
		rt := routes[int(route)%len(routes)]
		users, user := e.countUsers(), e.user(uid)
		group, err := e.group(gid)
		require.NoError(t, err)
		members := e.members(gid)

		res := e.req(rt.method, rt.path, body)
		require.Less(t, res.Code, 500, "%s %s %q: %s", rt.method, rt.path, body, res.Body.String())
		if res.Code >= 300 {
			requireSCIMError(t, res, res.Code, "")
			assert.Equal(t, users, e.countUsers(), "a refused request stores nothing")
			assert.Equal(t, user, e.user(uid))
			g, err := e.group(gid)
			require.NoError(t, err)
			assert.Equal(t, group, g)
			assert.Equal(t, members, e.members(gid))
			return
		}
		switch {
		case rt.method == http.MethodPost && rt.path == "/Users":
			require.Equal(t, http.StatusCreated, res.Code)
			require.Contains(t, e.user(res.str("id")).UserName, "@")
		case rt.path == "/Users/"+uid:
			require.Equal(t, user.Version+1, e.user(uid).Version)
		}
	})
}
