package teamscim_test

// Cases of the reliability checklist (shared/research/idp-and-reliability.md §B.4) that no
// other test file covers; each test names its case ids.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/scimtest"
	"github.com/teamscim/teamscim/store"
)

// C3: concurrent renames of different users onto one userName, by PUT and by PATCH, in
// different cases: exactly one wins, the rest answer 409 uniqueness, and no two users share
// a folded userName.
func TestConcurrentRenamesByPutAndPatch(t *testing.T) {
	e := newEnv(t)
	const n = 12
	ids := make([]string, n)
	for i := range n {
		ids[i] = e.createUser(fmt.Sprintf("user%02d@example.com", i))
	}
	targets := []string{"Taken@Example.com", "taken@example.com", "TAKEN@EXAMPLE.COM"}
	codes := make([]int, n)
	types := make([]any, n)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			var res response
			if i%2 == 0 {
				res = e.req(http.MethodPut, "/Users/"+id, map[string]any{"userName": targets[i%3]})
			} else {
				res = e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "userName", "value": targets[i%3]}))
			}
			codes[i], types[i] = res.Code, res.body["scimType"]
		})
	}
	wg.Wait()
	wins := 0
	for i, c := range codes {
		switch c {
		case http.StatusOK:
			wins++
		case http.StatusConflict:
			assert.Equal(t, "uniqueness", types[i])
		default:
			t.Errorf("rename %d answered %d", i, c)
		}
	}
	assert.Equal(t, 1, wins)
	seen := map[string]string{}
	for _, id := range ids {
		folded := store.Fold(e.user(id).UserName)
		if other, dup := seen[folded]; dup {
			t.Errorf("users %s and %s share the userName %q", other, id, folded)
		}
		seen[folded] = id
	}
	assert.Contains(t, seen, "taken@example.com")
}

// C4: whatever makes a POST answer 409 is found by GET /Users?filter=userName eq with the
// same value, in any case: active, deactivated and adopted (pre-SCIM) members alike.
func TestEveryConflictIsFindable(t *testing.T) {
	e := newEnv(t)
	active := e.createUser("Active.Member@Example.com")
	inactive := e.createUser("inactive@example.com")
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+inactive, deactivateOkta(false)).Code)
	pre, err := e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "Pre.Scim@example.com"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, e.req(http.MethodPost, "/Users", map[string]any{"userName": "pre.scim@example.com"}).Code, "adoption")

	for name, want := range map[string]string{
		"active.member@example.com": active, "ACTIVE.MEMBER@EXAMPLE.COM": active, "Active.Member@Example.com": active,
		"inactive@example.com": inactive, "Inactive@Example.Com": inactive,
		"pre.scim@example.com": pre.ID, "PRE.SCIM@EXAMPLE.COM": pre.ID,
	} {
		t.Run(name, func(t *testing.T) {
			requireSCIMError(t, e.req(http.MethodPost, "/Users", map[string]any{"userName": name}), http.StatusConflict, "uniqueness")
			res := e.req(http.MethodGet, filterPath(`userName eq "`+name+`"`), nil)
			assert.Equal(t, []string{want}, listIDs(t, res))
			assert.EqualValues(t, 1, res.body["totalResults"])
		})
	}
	assert.Equal(t, 3, e.countUsers())
}

// countingReader counts the bytes read from an endless body.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// L1: a body of exactly the limit is read; one byte more answers 413 with and without
// Content-Length; reading stops at limit+1 bytes.
func TestBodyLimitBoundary(t *testing.T) {
	const limit = 2048
	e := newEnv(t, func(c *teamscim.Config) { c.MaxBodyBytes = limit })
	body := func(size int) string {
		b := `{"userName":"edge@example.com","displayName":"`
		return b + strings.Repeat("x", size-len(b)-2) + `"}`
	}
	exact, over := body(limit), body(limit+1)
	require.Len(t, exact, limit)
	require.Len(t, over, limit+1)

	send := func(b string, chunked bool) response {
		r := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", io.MultiReader(strings.NewReader(b)))
		if chunked {
			r.ContentLength = -1
		} else {
			r.ContentLength = int64(len(b))
		}
		r.Header.Set("Authorization", "Bearer "+e.key)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return decode(w)
	}
	requireSCIMError(t, send(over, false), http.StatusRequestEntityTooLarge, "")
	requireSCIMError(t, send(over, true), http.StatusRequestEntityTooLarge, "")
	assert.Equal(t, 0, e.countUsers(), "nothing stored")
	res := send(exact, true)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, 1, e.countUsers())

	endless := &countingReader{}
	r := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", endless)
	r.ContentLength = -1
	r.Header.Set("Authorization", "Bearer "+e.key)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	requireSCIMError(t, decode(w), http.StatusRequestEntityTooLarge, "")
	assert.LessOrEqual(t, endless.n.Load(), int64(limit+1), "reading stops at limit+1")
}

// L2: malformed and deeply nested PATCH and PUT bodies, and PatchOps without operations,
// answer 400 invalidSyntax or invalidValue and change nothing.
func TestMalformedPatchAndPutBodies(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("l2@example.com")
	before := e.user(id)
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	op := func(value string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":` + value + `}]}`
	}
	cases := map[string]struct{ method, body string }{
		"patch malformed":          {http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":`},
		"patch 9,999 deep":         {http.MethodPatch, op(nest(9_999))},
		"patch 10,000 deep":        {http.MethodPatch, op(nest(10_000))},
		"patch operations empty":   {http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`},
		"patch operations missing": {http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`},
		"patch operations null":    {http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":null}`},
		"patch operations object":  {http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{"op":"replace"}}`},
		"patch operation a string": {http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":["replace"]}`},
		"put malformed":            {http.MethodPut, `{"userName":"l2@example.com"`},
		"put 10,000 deep":          {http.MethodPut, `{"userName":"l2@example.com","displayName":` + nest(10_000) + `}`},
		"put 9,999 deep":           {http.MethodPut, `{"userName":"l2@example.com","displayName":` + nest(9_999) + `}`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			res := e.req(c.method, "/Users/"+id, c.body)
			requireSCIMError(t, res, http.StatusBadRequest, "")
			assert.Contains(t, []any{"invalidSyntax", "invalidValue"}, res.body["scimType"], res.Body.String())
			assert.Equal(t, before, e.user(id))
		})
	}
}

// L4: a filter nested 1,000 deep, a 20 KB filter and long "not (…)" chains answer 400
// invalidFilter (they are refused before parsing; BenchmarkHostileFilter shows how fast),
// on GET and on POST .search; a short not-chain is evaluated correctly.
func TestHostileFilters(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("l4@example.com")
	e.createUser("other@example.com")
	for name, f := range hostileFilters() {
		t.Run(name, func(t *testing.T) {
			requireSCIMError(t, e.req(http.MethodGet, filterPath(f), nil), http.StatusBadRequest, "invalidFilter")
			res := e.req(http.MethodPost, "/.search", map[string]any{"filter": f})
			requireSCIMError(t, res, http.StatusBadRequest, "invalidFilter")
			assert.NotContains(t, res.Body.String(), f[:40], "L6: the detail does not echo the filter")
		})
	}
	// Within the limits, nested nots are evaluated: an odd number negates, an even one not.
	assert.Equal(t, []string{id}, listIDs(t, e.req(http.MethodGet, filterPath(notChain(10, `userName eq "l4@example.com"`)), nil)))
	others := listIDs(t, e.req(http.MethodGet, filterPath(notChain(11, `userName eq "l4@example.com"`)), nil))
	assert.Len(t, others, 1)
	assert.NotContains(t, others, id)
}

func notChain(n int, inner string) string {
	return strings.Repeat("not (", n) + inner + strings.Repeat(")", n)
}

// hostileFilters are L4's filters, also used by BenchmarkHostileFilter.
func hostileFilters() map[string]string {
	or := `userName eq "a@example.com"`
	for len(or) < 20_000 {
		or += ` or userName eq "a@example.com"`
	}
	return map[string]string{
		"1,000 deep":     strings.Repeat("(", 1000) + `userName eq "x"` + strings.Repeat(")", 1000),
		"1,000 brackets": strings.Repeat("emails[", 1000) + `value eq "x"` + strings.Repeat("]", 1000),
		"20 KB literal":  `userName eq "` + strings.Repeat("a", 20_000) + `"`,
		"20 KB or chain": or,
		"not chain 33":   notChain(33, `userName eq "x"`),
		"not chain 1000": notChain(1000, `userName eq "x"`),
		"unbalanced":     strings.Repeat("not (", 1000) + `userName eq "x"`,
	}
}

// L5: the store receives the filter literal as a typed value, never a query string.
func TestFilterValueReachesStoreAsLiteral(t *testing.T) {
	var logs bytes.Buffer
	srv, _, tx, secret := mockedServer(t, &logs)
	for f, literal := range map[string]string{
		`userName eq "a\" or \"1\"=\"1"`: `a" or "1"="1`,
		`userName eq "x' OR '1'='1"`:     `x' OR '1'='1`,
		`userName eq "%"`:                `%`,
		`userName eq "_"`:                `_`,
		`userName eq "\\"`:               `\`,
	} {
		tx.EXPECT().GetUserByUserName(gomock.Any(), literal).Return(store.User{}, fmt.Errorf("lookup: %w", store.ErrNotFound))
		res := serve(srv, http.MethodGet, "/Users?filter="+url.QueryEscape(f), "", secret)
		assert.Equal(t, []string{}, listIDs(t, res), f)
	}
}

// L6: error details never echo the raw filter or body (a member or resource id the request
// names is quoted on purpose, to say which one is wrong, and so is an attribute name no schema
// defines: attribute names are identifiers, at most 160 characters of them are quoted).
func TestErrorsDoNotEchoInput(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("l6@example.com")
	gid := e.createGroup("L6")
	const m = "Zq7xMARKERxq7Z"
	patch := func(op string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`
	}
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/Users", `{"userName":{"a":"` + m + `"}}`},
		{http.MethodPost, "/Users", `{"userName":"` + m + `"}`},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","name":"` + m + `"}`},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","emails":"` + m + `"}`},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","active":"` + m + `"}`},
		{http.MethodPost, "/Users", `{"userName":"a@example.com","name":{"givenName":["` + m + `"]}}`},
		{http.MethodPost, "/Users", `{"userName":"` + m + `@example.com"`},
		{http.MethodPost, "/Users", `{"userName":"l6@example.com","displayName":"` + m + `"}`},
		{http.MethodPut, "/Users/" + id, `{"userName":"` + m + `"}`},
		{http.MethodPatch, "/Users/" + id, patch(`{"op":"` + m + `","path":"active","value":1}`)},
		{http.MethodPatch, "/Users/" + id, patch(`{"op":"replace","path":"emails[type eq \"` + m + `\"","value":1}`)},
		{http.MethodPatch, "/Users/" + id, patch(`{"op":"replace","path":"userName","value":"` + m + `"}`)},
		{http.MethodPatch, "/Users/" + id, patch(`{"op":"replace","value":{"` + m + `":1,"active":"` + m + `"}}`)},
		{http.MethodPatch, "/Users/" + id, patch(`{"op":"replace","path":"active","value":"` + m + `"}`)},
		{http.MethodPatch, "/Groups/" + gid, patch(`{"op":"add","path":"members","value":[{"value":"x","display":"` + m + `"}]}`)},
		{http.MethodPatch, "/Groups/" + gid, patch(`{"op":"replace","path":"displayName","value":["` + m + `"]}`)},
		{http.MethodPost, "/Groups", `{"displayName":["` + m + `"]}`},
		{http.MethodPost, "/.search", `{"filter":"` + m + ` eq"}`},
		{http.MethodPost, "/.search", `{"filter":["` + m + `"]}`},
		{http.MethodGet, "/Users?filter=" + url.QueryEscape(`userName eq "`+m+`" and`), ""},
		{http.MethodGet, "/Users?filter=" + url.QueryEscape(`emails[value eq "`+m+`"`), ""},
		{http.MethodGet, "/Users?count=" + m, ""},
		{http.MethodGet, "/Groups?filter=" + url.QueryEscape(m), ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		res := e.req(c.method, c.path, body)
		require.GreaterOrEqual(t, res.Code, 400, "%s %s %s", c.method, c.path, c.body)
		assert.NotContains(t, res.Body.String(), m, "%s %s %s", c.method, c.path, c.body)
	}
	// An attribute name no schema defines is named, so that the client knows which.
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPatch, "/Users/" + id, patch(`{"op":"replace","path":"` + m + `","value":1}`)},
		{http.MethodPatch, "/Groups/" + gid, patch(`{"op":"add","path":"` + m + `","value":[{"value":"x"}]}`)},
		{http.MethodGet, "/Users?filter=" + url.QueryEscape(m+` eq "x"`), ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		res := e.req(c.method, c.path, body)
		require.Equal(t, http.StatusBadRequest, res.Code, "%s %s %s", c.method, c.path, c.body)
		assert.Contains(t, res.str("detail"), `"`+m+`"`, "%s %s %s", c.method, c.path, c.body)
	}
}

// L8: list numbers are JSON integers.
func TestListNumbersAreIntegers(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.createUser(fmt.Sprintf("n%d@example.com", i))
	}
	for _, q := range []string{"startIndex=2&count=1", "count=0", "count=-1", "startIndex=-5"} {
		res := e.req(http.MethodGet, "/Users?"+q, nil)
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(res.Body.Bytes(), &raw))
		for _, k := range []string{"totalResults", "startIndex", "itemsPerPage"} {
			assert.Regexp(t, `^[0-9]+$`, string(raw[k]), "%s: %s", q, k)
		}
		assert.Equal(t, "3", string(raw["totalResults"]), q)
	}
}

// L9: the tolerance fixtures (Entra's E2 and E8, OneLogin's L3, Microsoft's capitalised keys,
// Okta's O6 and O8 with id and meta) answer 2xx, and string booleans in POST, PUT and PATCH
// (with and without path) are stored as booleans; "yes" is not a boolean.
func TestToleranceFixtures(t *testing.T) {
	e := newEnv(t)
	create := func(body string) string {
		t.Helper()
		res := e.req(http.MethodPost, "/Users", body)
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		assert.IsType(t, true, res.body["active"], "active is answered as a boolean")
		return res.str("id")
	}
	e2 := create(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"jane.doe@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"jane.doe@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"Jane Doe","familyName":"Doe","givenName":"Jane"},"roles":[]}`)
	assert.Equal(t, "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", e.user(e2).ExternalID)
	l3 := create(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":null,"meta":{"resourceType":"User"},"userName":"ann@example.com","name":{"givenName":"Ann","familyName":"Lee","formatted":"Ann Lee"},"emails":[{"value":"ann@example.com","type":"work","primary":true}],"active":"true"}`)
	assert.True(t, e.user(l3).Active)
	ms := create(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"UserName":"ms@example.com","Active":"True","Name":{"GivenName":"Ms","FamilyName":"Collection"},"Emails":[{"Primary":"True","Type":"work","Value":"ms@example.com"}]}`)
	u := e.user(ms)
	assert.Equal(t, "ms@example.com", u.UserName)
	assert.True(t, u.Active)
	assert.Equal(t, "Ms", u.GivenName)
	assert.Equal(t, []store.Email{{Value: "ms@example.com", Type: "work", Primary: true}}, u.Emails)
	off := create(`{"userName":"off@example.com","active":"False"}`)
	assert.False(t, e.user(off).Active)

	// Okta O6: PUT echoing id, groups and meta; string booleans in PUT and PATCH.
	steps := []struct {
		method, body string
		active       bool
	}{
		{http.MethodPut, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + e2 + `","userName":"jane.doe@contoso.com","name":{"givenName":"Jane","familyName":"Doe"},"active":"False","groups":[],"meta":{"resourceType":"User"}}`, false},
		{http.MethodPut, `{"userName":"jane.doe@contoso.com","active":"true"}`, true},
		{http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, false},
		{http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":"true"}]}`, true},
		{http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":"False"}}]}`, false},
		{http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","value":{"Active":"True"}}]}`, true},
	}
	for i, st := range steps {
		res := e.req(st.method, "/Users/"+e2, st.body)
		require.Equal(t, http.StatusOK, res.Code, "step %d: %s", i, res.Body.String())
		assert.Equal(t, st.active, res.body["active"], "step %d", i)
		assert.Equal(t, st.active, e.user(e2).Active, "step %d", i)
	}
	before := e.user(e2)
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/Users", `{"userName":"yes@example.com","active":"yes"}`},
		{http.MethodPut, "/Users/" + e2, `{"userName":"jane.doe@contoso.com","active":"yes"}`},
		{http.MethodPatch, "/Users/" + e2, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":"yes"}]}`},
		{http.MethodPatch, "/Users/" + e2, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":"yes"}}]}`},
	} {
		requireSCIMError(t, e.req(c.method, c.path, c.body), http.StatusBadRequest, "invalidValue")
	}
	assert.Equal(t, before, e.user(e2))
	assert.Equal(t, 4, e.countUsers())

	// Entra's E8 and Okta's O8 on groups.
	res := e.req(http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Engineering","meta":{"resourceType":"Group"}}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	gid := res.str("id")
	res = e.req(http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"`+gid+`","displayName":"Engineering"}}]}`)
	assert.Less(t, res.Code, 300, res.Body.String())
}

// A1: a team without keys refuses any token, and unknown, revoked, deleted and expired keys
// get byte-identical answers.
func TestAuthFailuresAreIndistinguishable(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, func(c *teamscim.Config) { c.Now = clock.Now })
	ctx := t.Context()
	bare, err := e.srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "No keys", Plan: teamscim.PlanEnterprise})
	require.NoError(t, err)
	require.NoError(t, e.srv.ConfigureSSO(ctx, bare.ID, e.admin, "saml"))
	require.NoError(t, e.srv.EnableSCIM(ctx, bare.ID, e.admin))

	revokedTeam, revoked, revokedID := e.newTeam("Revoked")
	require.NoError(t, e.srv.RevokeKey(ctx, revokedTeam, e.admin, revokedID))
	deletedTeam, deleted, deletedID := e.newTeam("Deleted")
	require.NoError(t, e.st.Update(ctx, deletedTeam, func(ctx context.Context, tx store.Tx) error { return tx.DeleteKey(ctx, deletedID) }))
	expiring, err := e.srv.GenerateKey(ctx, e.teamID, e.admin, teamscim.KeyOptions{Name: "short", TTL: time.Minute})
	require.NoError(t, err)
	clock.Advance(time.Minute)

	var first *httptest.ResponseRecorder
	for name, secret := range map[string]string{
		"unknown": "tscim_never-issued-never-issued-00", "revoked": revoked, "deleted": deleted, "expired": expiring.Secret,
	} {
		res := e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+secret)
		requireSCIMError(t, res, http.StatusUnauthorized, "")
		if first == nil {
			first = res.ResponseRecorder
			continue
		}
		assert.Equal(t, first.Body.String(), res.Body.String(), name)
		assert.Equal(t, first.Header(), res.Header(), name)
	}
}

// A2: the secret of a key is nowhere in the store (a reflective walk of everything memstore
// holds), in the audit events or in the logs; only its SHA-256 digest is stored.
func TestSecretIsNowhere(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	var events []teamscim.Event
	e := newEnv(t, func(c *teamscim.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Events = teamscim.EventSinkFunc(func(_ context.Context, ev teamscim.Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, ev)
		})
	})
	id := e.createUser("a2@example.com")
	e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false))
	e.req(http.MethodGet, "/Users/nope", nil)
	require.NoError(t, e.srv.RevokeKey(t.Context(), e.teamID, e.admin, e.keyID))
	e.req(http.MethodGet, "/Users", nil)

	var dump strings.Builder
	digests := map[[32]byte]bool{}
	walk(reflect.ValueOf(e.st), map[uintptr]bool{}, &dump, digests)
	require.Contains(t, dump.String(), "a2@example.com", "the walk reaches the users")
	assert.True(t, digests[sha256.Sum256([]byte(e.key))], "the walk reaches the key's digest")
	assert.NotContains(t, dump.String(), e.key)
	assert.NotContains(t, dump.String(), strings.TrimPrefix(e.key, "tscim_"))
	mu.Lock()
	assert.NotContains(t, fmt.Sprintf("%+v", events), e.key)
	mu.Unlock()
	assert.NotEmpty(t, logs.String())
	assert.NotContains(t, logs.String(), e.key)
}

// walk writes every string reachable from v to out and records every [32]byte.
func walk(v reflect.Value, seen map[uintptr]bool, out *strings.Builder, digests map[[32]byte]bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if v.Kind() == reflect.Pointer {
			if seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
		}
		walk(v.Elem(), seen, out, digests)
	case reflect.Struct:
		for i := range v.NumField() {
			walk(v.Field(i), seen, out, digests)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walk(it.Key(), seen, out, digests)
			walk(it.Value(), seen, out, digests)
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Array && v.Len() == 32 && v.Type().Elem().Kind() == reflect.Uint8 {
			var d [32]byte
			for i := range 32 {
				d[i] = byte(v.Index(i).Uint())
			}
			digests[d] = true
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			out.Write(b)
			out.WriteByte('\n')
			return
		}
		for i := range v.Len() {
			walk(v.Index(i), seen, out, digests)
		}
	case reflect.String:
		out.WriteString(v.String())
		out.WriteByte('\n')
	}
}

// A3: a key revoked or deleted while another goroutine keeps sending requests fails on every
// request that starts after the call returns; a second Server on the same store agrees.
func TestRevocationUnderLoad(t *testing.T) {
	for _, how := range []string{"revoke", "delete"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			second, err := teamscim.New(teamscim.Config{Store: e.st})
			require.NoError(t, err)
			call := func(h http.Handler) int {
				r := httptest.NewRequest(http.MethodGet, "/Users?count=1", nil)
				r.Header.Set("Authorization", "Bearer "+e.key)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w.Code
			}
			var done atomic.Bool
			var after atomic.Int64
			var wg sync.WaitGroup
			bad := make(chan string, 100)
			for _, h := range []http.Handler{e.srv, second} {
				wg.Go(func() {
					for after.Load() < 200 {
						started := done.Load()
						code := call(h)
						switch {
						case started && code != http.StatusUnauthorized:
							bad <- fmt.Sprintf("a request started after %s answered %d", how, code)
						case !started && code != http.StatusOK && code != http.StatusUnauthorized:
							bad <- fmt.Sprintf("a request answered %d", code)
						}
						if started {
							after.Add(1)
						}
					}
				})
			}
			time.Sleep(5 * time.Millisecond)
			if how == "revoke" {
				require.NoError(t, e.srv.RevokeKey(t.Context(), e.teamID, e.admin, e.keyID))
			} else {
				require.NoError(t, e.st.Update(t.Context(), e.teamID, func(ctx context.Context, tx store.Tx) error { return tx.DeleteKey(ctx, e.keyID) }))
			}
			done.Store(true)
			wg.Wait()
			close(bad)
			for msg := range bad {
				t.Error(msg)
			}
		})
	}
}

// A4: team A's key never reaches team B's groups, and A cannot add B's user to A's group.
func TestGroupTeamIsolation(t *testing.T) {
	e := newEnv(t)
	bTeam, bKey, _ := e.newTeam("B")
	asB := func(method, path string, body any) response { return e.reqAuth(method, path, body, "Bearer "+bKey) }
	res := asB(http.MethodPost, "/Users", map[string]any{"userName": "b.user@example.com"})
	require.Equal(t, http.StatusCreated, res.Code)
	bUser := res.str("id")
	res = asB(http.MethodPost, "/Groups", map[string]any{"displayName": "B group", "members": []any{map[string]any{"value": bUser}}})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	bGroup := res.str("id")

	requireSCIMError(t, e.req(http.MethodGet, "/Groups/"+bGroup, nil), http.StatusNotFound, "")
	requireSCIMError(t, e.req(http.MethodPut, "/Groups/"+bGroup, map[string]any{"displayName": "Stolen"}), http.StatusNotFound, "")
	requireSCIMError(t, e.req(http.MethodPatch, "/Groups/"+bGroup, patchBody(map[string]any{"op": "remove", "path": "members"})), http.StatusNotFound, "")
	requireSCIMError(t, e.req(http.MethodDelete, "/Groups/"+bGroup, nil), http.StatusNotFound, "")
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, "/Groups", nil)))
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, "/Groups?filter="+url.QueryEscape(`displayName eq "B group"`), nil)))
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, filterPath(`id eq "`+bUser+`"`), nil)))

	aGroup := e.createGroup("A group")
	res = e.req(http.MethodPatch, "/Groups/"+aGroup, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": bUser}}}))
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Equal(t, []string{}, e.members(aGroup))
	requireSCIMError(t, e.req(http.MethodPost, "/Groups", map[string]any{"displayName": "A2", "members": []any{map[string]any{"value": bUser}}}), http.StatusBadRequest, "invalidValue")

	// B is unchanged.
	var g store.Group
	var members []string
	require.NoError(t, e.st.View(t.Context(), bTeam, func(ctx context.Context, tx store.Tx) error {
		var err error
		if g, err = tx.GetGroup(ctx, bGroup); err != nil {
			return err
		}
		pg, err := tx.ListMembers(ctx, bGroup, store.ListOptions{})
		members = pg.Items
		return err
	}))
	assert.Equal(t, "B group", g.DisplayName)
	assert.Equal(t, []string{bUser}, members)
}

// A5: replaying every IdP fixture with slog at Debug, and a panic in a handler, logs no
// Authorization value, no key and no password.
func TestReplayLogsNoSecrets(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var passwords []string
	for _, f := range scimtest.All {
		e := newEnv(t, func(c *teamscim.Config) { c.Logger = logger })
		for _, st := range f.Steps {
			passwords = append(passwords, findPasswords(st.Body)...)
		}
		rep, err := scimtest.Check(t.Context(), e.target(t), f)
		require.NoError(t, err)
		for _, fr := range rep.Flows {
			for _, s := range fr.Steps {
				if s.Response != nil {
					assert.Less(t, s.Response.Status, 500, "%s: %s: %s", f.ID(), s.Name, s.Response.Body)
				}
			}
		}
		assert.NotContains(t, logs.String(), e.key, f.ID())
	}
	require.NotEmpty(t, passwords, "the Okta fixtures carry passwords")

	// A panic inside a handler, on a request with a password in its body.
	e := newEnv(t, func(c *teamscim.Config) { c.Logger = logger })
	srv, err := teamscim.New(teamscim.Config{Store: panicStore{e.st}, Logger: logger})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/Users/x", strings.NewReader(`{"password":"pw-in-a-panicking-request"}`))
	r.Header.Set("Authorization", "Bearer "+e.key)
	r = r.WithContext(context.WithValue(r.Context(), panicKey{}, true))
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	requireSCIMError(t, decode(w), http.StatusInternalServerError, "")
	assert.Contains(t, w.Body.String(), "The server could not complete the request; try again later.")

	out := logs.String()
	assert.Contains(t, out, "panic")
	assert.NotContains(t, out, e.key)
	assert.NotContains(t, strings.ToLower(out), "authorization")
	assert.NotContains(t, strings.ToLower(out), "bearer ")
	assert.NotContains(t, out, "pw-in-a-panicking-request")
	for _, p := range passwords {
		assert.NotContains(t, out, p)
	}
}

// findPasswords returns the values of every "password" key in a JSON document, and of PATCH
// operations whose path is password.
func findPasswords(raw json.RawMessage) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var visit func(any)
	visit = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			path, _ := x["path"].(string)
			for k, val := range x {
				s, isStr := val.(string)
				if isStr && (strings.EqualFold(k, "password") || (k == "value" && strings.EqualFold(path, "password"))) {
					out = append(out, s)
				}
				visit(val)
			}
		case []any:
			for _, el := range x {
				visit(el)
			}
		}
	}
	visit(v)
	return out
}

// E1: every non-2xx path answers application/scim+json with the Error schema and status as a
// string.
func TestEveryErrorPathIsSCIM(t *testing.T) {
	limited, _ := limitedEnv(t, teamscim.RateLimits{WritesPerMinute: 1})
	limited.createUser("spends-the-one-write@example.com")
	e := newEnv(t, func(c *teamscim.Config) { c.MaxBodyBytes = 512 })
	id := e.createUser("e1@example.com")
	offTeam, offKey, _ := e.newTeam("Off")
	require.NoError(t, e.srv.DisableSCIM(t.Context(), offTeam, e.admin))

	textPlain := func() response {
		r := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", strings.NewReader(`{"userName":"a@example.com"}`))
		r.Header.Set("Authorization", "Bearer "+e.key)
		r.Header.Set("Content-Type", "text/plain")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return decode(w)
	}
	panicked := func() response {
		srv, err := teamscim.New(teamscim.Config{Store: panicStore{e.st}})
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodGet, "/Users/x", nil)
		r.Header.Set("Authorization", "Bearer "+e.key)
		r = r.WithContext(context.WithValue(r.Context(), panicKey{}, true))
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return decode(w)
	}
	for _, c := range []struct {
		name   string
		res    func() response
		status int
	}{
		{"404 route", func() response { return e.req(http.MethodGet, "/NoSuchEndpoint", nil) }, http.StatusNotFound},
		{"404 resource", func() response { return e.req(http.MethodGet, "/Users/nope", nil) }, http.StatusNotFound},
		{"405", func() response { return e.req(http.MethodDelete, "/Users", nil) }, http.StatusMethodNotAllowed},
		{"400", func() response { return e.req(http.MethodGet, filterPath("userName eq"), nil) }, http.StatusBadRequest},
		{"401", func() response { return e.reqAuth(http.MethodGet, "/Users", nil, "") }, http.StatusUnauthorized},
		{"403", func() response { return e.reqAuth(http.MethodGet, "/Users", nil, "Bearer "+offKey) }, http.StatusForbidden},
		{"409", func() response { return e.req(http.MethodPost, "/Users", map[string]any{"userName": "E1@example.com"}) }, http.StatusConflict},
		{"412", func() response { return e.reqWith(http.MethodDelete, "/Users/"+id, nil, ifMatch(`W/"9"`)) }, http.StatusPreconditionFailed},
		{"413", func() response {
			return e.req(http.MethodPost, "/Users", map[string]any{"userName": strings.Repeat("x", 512) + "@example.com"})
		}, http.StatusRequestEntityTooLarge},
		{"415", textPlain, http.StatusUnsupportedMediaType},
		{"429", func() response {
			return limited.req(http.MethodPost, "/Users", map[string]any{"userName": "more@example.com"})
		}, http.StatusTooManyRequests},
		{"500 from a panic", panicked, http.StatusInternalServerError},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireSCIMError(t, c.res(), c.status, "")
		})
	}
}

// E2: POST /Groups answers 201 with a body and Location equal to meta.location.
func TestCreateGroupLocation(t *testing.T) {
	e := newEnv(t)
	res := e.req(http.MethodPost, "/Groups", map[string]any{"displayName": "Located"})
	require.Equal(t, http.StatusCreated, res.Code)
	require.NotEmpty(t, res.str("id"))
	assert.Equal(t, "Located", res.str("displayName"))
	meta := res.body["meta"].(map[string]any)
	assert.Equal(t, "http://scim.example.com/scim/v2/Groups/"+res.str("id"), meta["location"])
	assert.Equal(t, meta["location"], res.Header().Get("Location"))
}

// E3: after Entra's disable, the userName filter returns the user with active:false present.
func TestEntraDisableThenFilter(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("jane.doe@contoso.com")
	res := e.req(http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	list := e.req(http.MethodGet, "/Users?filter="+url.QueryEscape(`userName eq "jane.doe@contoso.com"`), nil)
	require.Equal(t, []string{id}, listIDs(t, list))
	r0 := list.body["Resources"].([]any)[0].(map[string]any)
	assert.Contains(t, r0, "active")
	assert.Equal(t, false, r0["active"])
	assert.Equal(t, "jane.doe@contoso.com", e.user(id).UserName)
}
