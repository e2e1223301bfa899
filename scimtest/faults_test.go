package scimtest_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/scimtest"
)

// inProcess is a target serving srv in process, without the product-rule steps (the test
// server implements none of Postman's rules) and the full-attribute steps (it keeps only the
// core attributes).
func inProcess(srv *testServer) scimtest.Target {
	return scimtest.Target{Handler: srv, Token: srv.token, Skip: []string{scimtest.TagProduct, scimtest.TagAttributes}}
}

// The clean test server passes every flow of every IdP; only the product-rule and
// full-attribute steps are skipped, and the clean-up leaves the server as it found it.
func TestCleanServerPassesEveryFlow(t *testing.T) {
	srv := newTestServer(faults{})
	rep, err := scimtest.Check(t.Context(), inProcess(srv), scimtest.All...)
	require.NoError(t, err)
	for _, fr := range rep.Flows {
		for _, s := range fr.Steps {
			if s.Outcome == scimtest.Skipped {
				assert.True(t, slices.ContainsFunc(s.Tags, func(tag string) bool {
					return tag == scimtest.TagProduct || tag == scimtest.TagAttributes
				}), "%s: %s skipped: %v", fr.ID(), s.Name, s.Problems)
			}
			assert.NotEqual(t, scimtest.Failed, s.Outcome, "%s: %s: %v", fr.ID(), s.Name, s.Problems)
		}
		for _, c := range fr.Cleanup {
			assert.True(t, c.OK, "%s: clean-up of %s: %s", fr.ID(), c.Resource, c.Detail)
		}
	}
	assert.True(t, rep.OK())
	assert.Positive(t, rep.Skipped)
	assert.Equal(t, len(scimtest.All), len(rep.Flows))
	assert.Empty(t, srv.users, "users left after the clean-up")
	assert.Empty(t, srv.groups, "groups left after the clean-up")
}

// Each planted fault fails the flows that expose it, at the step that exposes it, with a
// message that names the cause.
func TestPlantedFaults(t *testing.T) {
	type catch struct{ flow, step, says string }
	for _, tc := range []struct {
		name   string
		fault  faults
		caught []catch
	}{
		{"no Location on 201", faults{noLocation: true}, []catch{
			{"okta/users", "create", "201 Created without a Location header"},
			{"okta/groups", "push the group", "201 Created without a Location header"},
			{"entra/users", "create with the enterprise URN, meta and roles", "201 Created without a Location header"},
			{"onelogin/users", "create", "201 Created without a Location header"},
		}},
		{"409 missing on a duplicate userName", faults{noConflict: true}, []catch{
			{"okta/users", "a duplicate userName in another case is refused", "status 201, want 409"},
		}},
		{"case-sensitive userName eq", faults{caseSensitiveFilter: true}, []catch{
			{"okta/users", "existence check finds the user in another case", "response.totalResults: got 0, want 1"},
		}},
		{"string booleans refused", faults{strictBooleans: true}, []catch{
			{"entra/users", `disable with the string "False"`, `status 400, want 200 or 204 (detail: "active must be a boolean")`},
			{"entra/users", `restore with the string "True"`, "status 400"},
			{"entra/groups", `provision member 1 with active "True"`, "status 400, want 201"},
			{"onelogin/users", "template artefacts: id null, meta, active as a string", "status 400, want 201"},
		}},
		{"path-less replace ignored", faults{ignorePathless: true}, []catch{
			{"okta/users", "deactivate by path-less replace", "response.active: got true, want false"},
			{"okta/users", "the deactivated user is still found, inactive", "response.Resources"},
			{"okta/groups", "the group is renamed and holds member 2 only", "response.displayName: got"},
			{"entra/users", "the flag-form update reads back", "response.name.givenName: got \"Janet\", want \"Jane\""},
		}},
		{`members[value eq "x"] remove ignored`, faults{ignoreMemberFilter: true}, []catch{
			{"okta/groups", "the group is renamed and holds member 2 only", "response.members: got 2 element(s)"},
			{"entra/groups", "member 1 left the group again", "response.members: got 2 element(s)"},
		}},
		{"DELETE answering 200 with a body", faults{delete200: true}, []catch{
			{"okta/groups", "delete the group", "status 200 with a body, want 204 (204 No Content has no body)"},
			{"entra/users", "hard delete", "status 200 with a body, want 204"},
			{"entra/groups", "delete the group", "status 200 with a body, want 204"},
			{"onelogin/users", "delete", "status 200 with a body, want 204"},
		}},
		{"401 without a SCIM error body", faults{plain401: true}, []catch{
			{"okta/users", "bad credentials", "401 without a SCIM error body"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestServer(tc.fault)
			rep, err := scimtest.Check(t.Context(), inProcess(srv), scimtest.All...)
			require.NoError(t, err)
			require.False(t, rep.OK(), "the fault went unnoticed")
			for _, c := range tc.caught {
				s := findStep(t, rep, c.flow, c.step)
				require.Equal(t, scimtest.Failed, s.Outcome, "%s: %s", c.flow, c.step)
				assert.Contains(t, strings.Join(s.Problems, "\n"), c.says, "%s: %s", c.flow, c.step)
			}
			var text bytes.Buffer
			require.NoError(t, rep.WriteText(&text))
			for _, c := range tc.caught {
				s := findStep(t, rep, c.flow, c.step)
				assert.Contains(t, text.String(), "FAIL  "+c.step+" — "+s.Consequence)
			}
			assert.Empty(t, srv.users, "users left after the clean-up")
			assert.Empty(t, srv.groups, "groups left after the clean-up")
		})
	}
}

func findStep(t *testing.T, rep scimtest.Report, flow, step string) scimtest.StepReport {
	t.Helper()
	for _, fr := range rep.Flows {
		if fr.ID() != flow {
			continue
		}
		for _, s := range fr.Steps {
			if s.Name == step {
				return s
			}
		}
	}
	t.Fatalf("no step %q in flow %s", step, flow)
	return scimtest.StepReport{}
}

// Over HTTP the clean server passes too, and the report never shows the token: not even
// when the server echoes the Authorization header back in its bodies.
func TestOverHTTPTokenMasked(t *testing.T) {
	srv := newTestServer(faults{})
	echo := httptest.NewServer(echoAuth(srv))
	defer echo.Close()
	target := scimtest.Target{URL: echo.URL, Token: srv.token, Skip: []string{scimtest.TagProduct, scimtest.TagAttributes}}
	rep, err := scimtest.Check(t.Context(), target, scimtest.Okta...)
	require.NoError(t, err)
	out, err := json.Marshal(rep)
	require.NoError(t, err)
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	assert.True(t, rep.OK(), text.String())
	for _, s := range []string{string(out), text.String()} {
		assert.NotContains(t, s, srv.token)
		assert.NotContains(t, s, "1mz050nq", "the flow's password")
	}
	assert.Contains(t, string(out), `\"echo\":\"Bearer ***\"`, "the echoed token is masked")
	assert.Equal(t, echo.URL, rep.Target)
}
