package scimtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/scimtest"
)

// echoAuth wraps h so that every JSON object it answers also carries the request's
// Authorization header, as "echo": the way a careless server leaks it.
func echoAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var doc map[string]any
		if json.Unmarshal(body, &doc) == nil && doc != nil {
			doc["echo"] = r.Header.Get("Authorization")
			body, _ = json.Marshal(doc)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = bytes.NewReader(body).WriteTo(w)
	})
}

// flowJSON is a small flow against the test server, for the tests below.
const flowJSON = `{
  "idp": "custom", "name": "lifecycle", "description": "a host's own flow",
  "steps": [
    {"name": "create", "expect": "201", "consequence": "nobody is provisioned",
     "method": "POST", "path": "/Users",
     "body": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "{{run}}.ann@{{domain}}", "password": "s3cret-pw"},
     "status": 201, "capture": "uid", "response": {"userName": "{{run}}.ann@{{domain}}"},
     "state": {"id": "{{uid}}"}},
    {"name": "deactivate", "expect": "200 with active false", "consequence": "offboarding fails",
     "method": "PATCH", "path": "/Users/{{uid}}",
     "body": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]},
     "status": [200, 204], "response": {"active": false}},
    {"name": "product check", "tags": ["product"], "expect": "404", "consequence": "none",
     "method": "GET", "path": "/Users/{{uid}}x", "status": 404}
  ]
}`

func TestLoad(t *testing.T) {
	f, err := scimtest.Load([]byte(flowJSON))
	require.NoError(t, err)
	assert.Equal(t, "custom/lifecycle", f.ID())
	assert.Equal(t, scimtest.Statuses{200, 204}, f.Steps[1].Status)

	valid := func(edit func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(flowJSON), &m))
		edit(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	step := func(m map[string]any, i int) map[string]any { return m["steps"].([]any)[i].(map[string]any) }
	for _, tc := range []struct {
		name string
		data []byte
		says string
	}{
		{"unknown field", []byte(strings.Replace(flowJSON, `"expect": "201"`, `"expected": "201"`, 1)), `unknown field "expected"`},
		{"idp", valid(func(m map[string]any) { m["idp"] = "Okta" }), "idp and name must be non-empty lower-case words"},
		{"no steps", valid(func(m map[string]any) { m["steps"] = []any{} }), "no steps"},
		{"same name", valid(func(m map[string]any) { step(m, 1)["name"] = "create" }), "step 2 (create): the name is used twice"},
		{"no consequence", valid(func(m map[string]any) { delete(step(m, 1), "consequence") }), "expect and consequence are required"},
		{"method", valid(func(m map[string]any) { step(m, 0)["method"] = "HEAD" }), "method must be one of"},
		{"path", valid(func(m map[string]any) { step(m, 0)["path"] = "Users" }), "path must start with /"},
		{"status", valid(func(m map[string]any) { step(m, 0)["status"] = 99 }), "status 99 is not an HTTP status"},
		{"status type", valid(func(m map[string]any) { step(m, 0)["status"] = "201" }), "status must be a number or an array of numbers"},
		{"unknown capture", valid(func(m map[string]any) { step(m, 1)["path"] = "/Users/{{gid}}" }), "{{gid}} is neither a built-in nor captured by an earlier step"},
		{"own capture in the request", valid(func(m map[string]any) { step(m, 0)["path"] = "/Users?x={{uid}}" }), "{{uid}} is neither a built-in"},
		{"capture of a tagged step", valid(func(m map[string]any) {
			step(m, 2)["capture"] = "p"
			m["steps"] = append(m["steps"].([]any), map[string]any{"name": "after", "expect": "x", "consequence": "y",
				"method": "GET", "path": "/Users/{{p}}", "status": 200})
		}), `{{p}} comes from a step tagged "product", so this step needs that tag too`},
		{"capture a built-in", valid(func(m map[string]any) { step(m, 0)["capture"] = "run" }), `capture "run" is a built-in or already captured`},
		{"authorization header", valid(func(m map[string]any) { step(m, 0)["headers"] = map[string]any{"authorization": "x"} }), "set Authorization with auth, not headers"},
		{"matcher", valid(func(m map[string]any) { step(m, 0)["response"] = map[string]any{"a": map[string]any{"$gt": 1}} }), "response: unknown matcher $gt"},
		{"tag", valid(func(m map[string]any) { step(m, 2)["tags"] = []any{"Product"} }), `tag "Product" must be a lower-case word`},
		{"trailing data", []byte(flowJSON + "{}"), "data after the flow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scimtest.Load(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.says)
		})
	}
}

func TestLoadFS(t *testing.T) {
	flows, err := scimtest.LoadFS(fstest.MapFS{
		"b/one.json": {Data: []byte(flowJSON)},
		"a/two.json": {Data: []byte(strings.Replace(flowJSON, `"lifecycle"`, `"second"`, 1))},
		"README.md":  {Data: []byte("not a flow")},
	})
	require.NoError(t, err)
	require.Len(t, flows, 2)
	assert.Equal(t, "custom/second", flows[0].ID(), "lexical order of the paths")

	_, err = scimtest.LoadFS(fstest.MapFS{"x/bad.json": {Data: []byte(`{"idp":"x"}`)}})
	assert.ErrorContains(t, err, "x/bad.json: scimtest:")
	_, err = scimtest.LoadFS(fstest.MapFS{})
	assert.ErrorContains(t, err, "no *.json flows found")
}

// The embedded flows: three IdPs, every step says what it expects and what it breaks.
func TestEmbeddedFlows(t *testing.T) {
	assert.Equal(t, slices.Concat(scimtest.Okta, scimtest.Entra, scimtest.OneLogin), scimtest.All)
	for _, set := range [][]scimtest.Flow{scimtest.Okta, scimtest.Entra, scimtest.OneLogin} {
		require.NotEmpty(t, set)
		assert.Equal(t, len(set), cap(set), "clipped, so that append copies")
	}
	for _, f := range scimtest.All {
		assert.NoError(t, f.Validate())
	}
}

// A host's flow: a hook sees every step with its state and can fail it; a failed capture
// skips the steps that need it; passwords and the token are masked in the report.
func TestCustomFlowAndHook(t *testing.T) {
	f, err := scimtest.Load([]byte(flowJSON))
	require.NoError(t, err)
	srv := newTestServer(faults{})
	var seen []string
	target := inProcess(srv)
	target.AfterStep = func(_ context.Context, r scimtest.StepResult) error {
		seen = append(seen, r.Step.Name)
		if r.Step.Name == "create" {
			var st struct{ ID string }
			require.NoError(t, json.Unmarshal(r.State, &st))
			assert.NotEmpty(t, st.ID)
			assert.Equal(t, http.StatusCreated, r.Status)
			assert.Contains(t, string(r.Body), st.ID)
		}
		if r.Step.Name == "deactivate" {
			return errors.New("the store still says active")
		}
		return nil
	}
	rep, err := scimtest.Check(t.Context(), target, f)
	require.NoError(t, err)
	assert.Equal(t, []string{"create", "deactivate"}, seen)
	require.Len(t, rep.Flows, 1)
	fr := rep.Flows[0]
	assert.Equal(t, scimtest.Passed, fr.Steps[0].Outcome)
	assert.Equal(t, scimtest.Failed, fr.Steps[1].Outcome)
	assert.Equal(t, []string{"after the step: the store still says active"}, fr.Steps[1].Problems)
	assert.Equal(t, scimtest.Skipped, fr.Steps[2].Outcome)
	assert.Equal(t, 1, rep.Passed)
	assert.Equal(t, 1, rep.Failed)
	assert.Equal(t, 1, rep.Skipped)
	assert.Contains(t, fr.Steps[0].Request.Body, `"password":"***"`)
	assert.True(t, strings.HasPrefix(fr.Run, "scimtest-"))

	// The create fails: the next step has no {{uid}} and is skipped, saying why.
	srv = newTestServer(faults{})
	target = inProcess(srv)
	target.Token = "wrong-token-value"
	rep, err = scimtest.Check(t.Context(), target, f)
	require.NoError(t, err)
	fr = rep.Flows[0]
	assert.Equal(t, []string{"status 401, want 201 (detail: \"the bearer token is not valid\")"}, fr.Steps[0].Problems)
	assert.Equal(t, scimtest.Skipped, fr.Steps[1].Outcome)
	assert.Equal(t, []string{"not run: needs {{uid}}, which an earlier step did not capture"}, fr.Steps[1].Problems)
	out, _ := json.Marshal(rep)
	assert.NotContains(t, string(out), "wrong-token-value")
	assert.NotContains(t, string(out), "s3cret-pw")
}

// Run reports failures through testing.TB, naming the flow, the step, the problem and the
// consequence; passing steps and the clean-up are logged.
func TestRun(t *testing.T) {
	f, err := scimtest.Load([]byte(flowJSON))
	require.NoError(t, err)
	rec := &recordingTB{TB: t}
	scimtest.Run(rec, inProcess(newTestServer(faults{delete200: true, ignorePathless: true})), f)
	assert.Empty(t, rec.errors)
	assert.Contains(t, strings.Join(rec.logs, "\n"), "ok custom/lifecycle: create")
	assert.Contains(t, strings.Join(rec.logs, "\n"), "skip custom/lifecycle: product check (tag product skipped)")
	assert.Regexp(t, `custom/lifecycle clean-up /Users/\d+ scimtest-\w+\.ann@example\.com: deactivated, deleted`, strings.Join(rec.logs, "\n"))

	bad := f
	bad.Steps = slices.Clone(f.Steps)
	bad.Steps[1].Response = json.RawMessage(`{"active": true}`)
	rec = &recordingTB{TB: t}
	scimtest.Run(rec, inProcess(newTestServer(faults{})), bad)
	require.Len(t, rec.errors, 1)
	assert.Regexp(t, `^custom/lifecycle \(run scimtest-\w+\): step "deactivate" failed:\n`+
		`  response.active: got false, want true\n`+
		`  expected: 200 with active false\n`+
		`  in custom: offboarding fails\n`+
		`  request:  PATCH /Users/\d+ \{.*\}\n`+
		`  response: 200 \{.*\}\n$`, rec.errors[0])
}

// recordingTB records what Run reports instead of failing the test.
type recordingTB struct {
	testing.TB
	errors, logs []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// A 429 is retried after its Retry-After.
func TestRetryAfter(t *testing.T) {
	srv := newTestServer(faults{})
	limited := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limited < 2 {
			limited++
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429"}`))
			return
		}
		srv.ServeHTTP(w, r)
	})
	f, err := scimtest.Load([]byte(flowJSON))
	require.NoError(t, err)
	rep, err := scimtest.Check(t.Context(), scimtest.Target{Handler: h, Token: srv.token}, f)
	require.NoError(t, err)
	assert.Equal(t, scimtest.Passed, rep.Flows[0].Steps[0].Outcome, rep.Flows[0].Steps[0].Problems)
	assert.Equal(t, 2, rep.Flows[0].Steps[0].Retried)
}

func TestTargetAndContextErrors(t *testing.T) {
	srv := newTestServer(faults{})
	for _, tc := range []struct {
		target scimtest.Target
		says   string
	}{
		{scimtest.Target{}, "Target.URL must be an absolute http(s) URL"},
		{scimtest.Target{URL: "ftp://x"}, "Target.URL must be an absolute http(s) URL"},
		{scimtest.Target{URL: "https://x/scim?x=1"}, "without a query"},
		{scimtest.Target{Handler: srv, Prefix: "Bad Prefix"}, "Target.Prefix must be"},
		{scimtest.Target{Handler: srv, Domain: "localhost"}, "Target.Domain must be a domain name"},
	} {
		_, err := scimtest.Check(t.Context(), tc.target, scimtest.Okta...)
		assert.ErrorContains(t, err, tc.says)
	}
	_, err := scimtest.Check(t.Context(), inProcess(srv), scimtest.Flow{IdP: "x"})
	assert.ErrorContains(t, err, "idp and name must be")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := scimtest.Check(ctx, inProcess(srv), scimtest.Okta...)
	assert.ErrorIs(t, err, context.Canceled)
	require.Len(t, rep.Flows, 1, "the flow that ran")
	assert.Equal(t, "not run: context canceled", rep.Flows[0].Steps[0].Problems[0])
}

// scimtest works against any SCIM server: outside its tests it imports the standard library
// only (so nothing of teamscim).
func TestImportsStandardLibraryOnly(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			assert.NotContains(t, first, ".", "%s imports %s", file, p)
		}
	}
}

// A step whose response pattern needs a capture that failed is skipped too, not failed.
func TestMissingCaptureInResponse(t *testing.T) {
	f, err := scimtest.Load([]byte(`{"idp": "x", "name": "y", "description": "", "steps": [
	  {"name": "create", "expect": "201", "consequence": "c", "method": "POST", "path": "/Users",
	   "body": {"userName": "no schemas"}, "status": 201, "capture": "uid"},
	  {"name": "list", "expect": "the user", "consequence": "c", "method": "GET", "path": "/Users",
	   "status": 200, "response": {"Resources": [{"id": "{{uid}}"}]}},
	  {"name": "absent", "expect": "not the user", "consequence": "c", "method": "GET", "path": "/Users",
	   "status": 200, "absent": ["{{uid}}"]}
	]}`))
	require.NoError(t, err)
	rep, err := scimtest.Check(t.Context(), inProcess(newTestServer(faults{})), f)
	require.NoError(t, err)
	steps := rep.Flows[0].Steps
	assert.Equal(t, scimtest.Failed, steps[0].Outcome)
	for _, s := range steps[1:] {
		assert.Equal(t, scimtest.Skipped, s.Outcome, s.Name)
		assert.Equal(t, []string{"not run: needs {{uid}}, which an earlier step did not capture"}, s.Problems, s.Name)
	}
}

// A clean-up the server refuses is reported, not hidden; a password sent as a PATCH value
// is masked like one in a body.
func TestCleanupRefusedAndPatchPasswordMasked(t *testing.T) {
	srv := newTestServer(faults{})
	noDelete := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			http.Error(w, "no", http.StatusMethodNotAllowed)
			return
		}
		srv.ServeHTTP(w, r)
	})
	f, err := scimtest.Load([]byte(strings.Replace(flowJSON,
		`"Operations": [{"op": "replace", "path": "active", "value": false}]`,
		`"Operations": [{"op": "replace", "path": "password", "value": "patch-pw-1"}, {"op": "replace", "path": "active", "value": false}]`, 1)))
	require.NoError(t, err)
	rep, err := scimtest.Check(t.Context(), scimtest.Target{Handler: noDelete, Token: srv.token, Skip: []string{"product"}}, f)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep.Flows[0].Steps)
	require.Len(t, rep.Flows[0].Cleanup, 1)
	c := rep.Flows[0].Cleanup[0]
	assert.False(t, c.OK)
	assert.Equal(t, "deactivated, delete answered 405", c.Detail)
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	assert.Contains(t, text.String(), "clean-up: removed 0 of 1 resource(s); left: "+c.Resource+" ("+c.Name+"): deactivated, delete answered 405\n")
	out, _ := json.Marshal(rep)
	assert.NotContains(t, string(out), "patch-pw-1")
	assert.Len(t, srv.users, 1, "deactivated, not deleted")
}
