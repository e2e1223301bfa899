package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/scimtest"
)

// teamscimServer serves a teamscim team over HTTP on 127.0.0.1 at /scim/v2, the way
// examples/server does, and returns its base URL and key. requireEmail is the server's
// -require-email.
func teamscimServer(t *testing.T, requireEmail bool) (string, string) {
	t.Helper()
	ctx := context.Background()
	srv, err := teamscim.New(teamscim.Config{Store: memstore.New(), AllowNonEmailUserNames: !requireEmail})
	require.NoError(t, err)
	admin := teamscim.Actor{MemberID: "examples/check", OrgManager: true}
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Check", Plan: teamscim.PlanEnterprise})
	require.NoError(t, err)
	require.NoError(t, srv.ConfigureSSO(ctx, team.ID, admin, "saml"))
	require.NoError(t, srv.VerifyDomain(ctx, team.ID, admin, "example.com"))
	require.NoError(t, srv.EnableSCIM(ctx, team.ID, admin))
	key, err := srv.GenerateKey(ctx, team.ID, admin, teamscim.KeyOptions{Name: "check"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL + "/scim/v2", key.Secret
}

func runCheck(t *testing.T, envToken string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, envToken, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// teamscim, as CI runs its example server (-require-email=false), passes every step of every
// flow, product rules included, and the output never shows the token.
func TestTeamscimPassesEveryFlow(t *testing.T) {
	base, token := teamscimServer(t, false)
	code, out, errOut := runCheck(t, "", "-url", base, "-token", token)
	assert.Equal(t, 0, code, "%s\n%s", out, errOut)
	assert.NotContains(t, out+errOut, token)
	assert.NotContains(t, out, "FAIL  ")
	assert.NotContains(t, out, "skip  ")
	assert.Contains(t, out, "ok    a member who is not provisioned is refused, and nothing applies [product]\n")
	assert.Regexp(t, `(?m)^total: +\d+ steps: +\d+ ok, 0 FAIL, 0 skipped$`, out)
	assert.Regexp(t, `(?m)^okta: .*\n^entra: .*\n^onelogin: `, out)
	assert.Equal(t, len(scimtest.All), strings.Count(out, "clean-up: removed "), out) // one line per flow
}

// With -json the report is the scimtest.Report, without the token (given here through
// SCIM_TOKEN); with teamscim's default email rule, -email-usernames makes OneLogin pass too.
func TestJSONAndEmailUserNames(t *testing.T) {
	base, token := teamscimServer(t, true)
	code, out, errOut := runCheck(t, token, "-url", base, "-json", "-email-usernames")
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	assert.NotContains(t, out+errOut, token)
	var rep scimtest.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.True(t, rep.OK())
	assert.Len(t, rep.Flows, len(scimtest.All))
	assert.Zero(t, rep.Skipped)
	for _, fr := range rep.Flows {
		for _, c := range fr.Cleanup {
			assert.True(t, c.OK, "%s: %+v", fr.ID(), c)
		}
	}
}

// Without -email-usernames, OneLogin's plain Usernames fail on a server that requires
// emails, and the output says what that breaks in OneLogin; the exit status is 1.
func TestFailuresExitNonZero(t *testing.T) {
	base, token := teamscimServer(t, true)
	code, out, _ := runCheck(t, "", "-url", base, "-token", token, "-idp", "onelogin", "-tags", "none")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "FAIL  create — OneLogin shows the provisioning task as failed and the user never reaches the app.\n")
	assert.Contains(t, out, "status 400, want 201")
	assert.Contains(t, out, "skip  old template with the SCIM 1.0 URN (tag product skipped)")
	assert.NotContains(t, out, "okta/")
	assert.NotContains(t, out, token)
}

func TestCommandLine(t *testing.T) {
	const token = "do-not-print-this-token-0123456789"
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"plain http to another host", []string{"-url", "http://scim.example.com/scim/v2", "-token", token}, "refusing to send the token over plain http to scim.example.com: use https, or -insecure"},
		{"no url", []string{"-token", token}, "-url is required"},
		{"no token", []string{"-url", "https://scim.example.com/scim/v2"}, "a token is required"},
		{"not http", []string{"-url", "ftp://scim.example.com", "-token", token}, "-url must be an absolute http(s) URL"},
		{"unknown idp", []string{"-url", "https://scim.example.com", "-token", token, "-idp", "okta,ping"}, `unknown IdP "ping"`},
		{"unknown tag", []string{"-url", "https://scim.example.com", "-token", token, "-tags", "prodcut"}, `unknown tag "prodcut" in -tags: the flows have attributes, product`},
		{"extra argument", []string{"-url", "https://scim.example.com", "-token", token, "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCheck(t, "", tc.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.says)
			assert.Contains(t, errOut, "Usage: check -url URL -token TOKEN [flags]")
			assert.NotContains(t, errOut, token)
		})
	}
}

// -insecure allows plain http to a host other than loopback (0.0.0.0 here, which reaches
// this machine); one that does not answer fails every flow's first step, skips the rest, and
// exits 1 without printing the token.
func TestInsecureUnreachable(t *testing.T) {
	const token = "do-not-print-this-token-0123456789"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close()) // nothing listens there any more
	url := fmt.Sprintf("http://0.0.0.0:%d/scim/v2", port)
	code, out, errOut := runCheck(t, "", "-url", url, "-token", token, "-idp", "okta")
	require.Equal(t, 2, code, "without -insecure")
	assert.Contains(t, errOut, "refusing to send the token over plain http to 0.0.0.0")
	code, out, errOut = runCheck(t, "", "-url", url, "-token", token, "-insecure", "-idp", "okta")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "FAIL  test API credentials")
	assert.Contains(t, out, "skip  existence check, no such user yet (not run: the server did not answer an earlier step)")
	assert.NotContains(t, out+errOut, token)
}
