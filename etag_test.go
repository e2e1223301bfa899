package teamscim_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func metaVersion(res response) string {
	m, _ := res.body["meta"].(map[string]any)
	v, _ := m["version"].(string)
	return v
}

func ifMatch(tag string) map[string]string     { return map[string]string{"If-Match": tag} }
func ifNoneMatch(tag string) map[string]string { return map[string]string{"If-None-Match": tag} }

// V1: the ETag header is meta.version, on every single-resource answer and in lists.
func TestETagIsMetaVersion(t *testing.T) {
	e := newEnv(t)
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "etag@example.com"})
	require.Equal(t, http.StatusCreated, res.Code)
	id := res.str("id")
	assert.Equal(t, `W/"1"`, res.Header().Get("ETag"))
	assert.Equal(t, `W/"1"`, metaVersion(res))

	got := e.req(http.MethodGet, "/Users/"+id, nil)
	assert.Equal(t, `W/"1"`, got.Header().Get("ETag"))
	assert.Equal(t, `W/"1"`, metaVersion(got))

	res = e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false))
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, `W/"2"`, res.Header().Get("ETag"))
	assert.Equal(t, `W/"2"`, metaVersion(res))
	assert.EqualValues(t, 2, e.user(id).Version)

	list := e.req(http.MethodGet, filterPath(`userName eq "etag@example.com"`), nil)
	r0 := list.body["Resources"].([]any)[0].(map[string]any)
	assert.Equal(t, `W/"2"`, r0["meta"].(map[string]any)["version"])

	gid := e.createGroup("Versioned")
	g := e.req(http.MethodGet, "/Groups/"+gid, nil)
	assert.Equal(t, `W/"1"`, g.Header().Get("ETag"))
	assert.Equal(t, `W/"1"`, metaVersion(g))
}

// V1: a stale If-Match on PUT, PATCH or DELETE answers 412 and changes nothing; a matching
// one applies the change and answers the new ETag.
func TestIfMatchOnUsers(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("v1@example.com")
	before := e.user(id)
	put := map[string]any{"userName": "v1@example.com", "displayName": "Changed"}
	for name, tag := range map[string]string{"older": `W/"0"`, "newer": `W/"2"`, "strong form": `"7"`, "garbage": `not-a-tag`, "list": `W/"5", W/"6"`} {
		t.Run(name, func(t *testing.T) {
			for _, res := range []response{
				e.reqWith(http.MethodPut, "/Users/"+id, put, ifMatch(tag)),
				e.reqWith(http.MethodPatch, "/Users/"+id, deactivateOkta(false), ifMatch(tag)),
				e.reqWith(http.MethodDelete, "/Users/"+id, nil, ifMatch(tag)),
			} {
				requireSCIMError(t, res, http.StatusPreconditionFailed, "")
				assert.NotContains(t, res.body, "scimType", "RFC 7644 §3.14 gives a 412 no scimType")
			}
			assert.Equal(t, before, e.user(id), "a failed precondition changes nothing")
		})
	}

	res := e.reqWith(http.MethodPut, "/Users/"+id, put, ifMatch(`W/"1"`))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, `W/"2"`, res.Header().Get("ETag"))
	assert.Equal(t, "Changed", e.user(id).DisplayName)

	// The old tag is now stale; the new one, in any of the accepted spellings, matches.
	requireSCIMError(t, e.reqWith(http.MethodPatch, "/Users/"+id, deactivateOkta(false), ifMatch(`W/"1"`)), http.StatusPreconditionFailed, "")
	assert.True(t, e.user(id).Active)
	res = e.reqWith(http.MethodPatch, "/Users/"+id, deactivateOkta(false), ifMatch(`"9", W/"2"`))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, `W/"3"`, res.Header().Get("ETag"))
	assert.False(t, e.user(id).Active)
	res = e.reqWith(http.MethodPatch, "/Users/"+id, deactivateOkta(true), ifMatch(`3`))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())

	// "*" matches any existing resource; on a missing one the answer stays 404.
	res = e.reqWith(http.MethodDelete, "/Users/"+id, nil, ifMatch("*"))
	require.Equal(t, http.StatusNoContent, res.Code, res.Body.String())
	assert.True(t, e.user(id).Deleted)
	requireSCIMError(t, e.reqWith(http.MethodDelete, "/Users/"+id, nil, ifMatch("*")), http.StatusNotFound, "")
}

// V1: a matching If-None-Match on GET answers 304 without a body; a stale one the resource.
func TestIfNoneMatch(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("cache@example.com")
	for _, tag := range []string{`W/"1"`, `"1"`, `W/"8", W/"1"`, "*"} {
		res := e.reqWith(http.MethodGet, "/Users/"+id, nil, ifNoneMatch(tag))
		assert.Equal(t, http.StatusNotModified, res.Code, tag)
		assert.Empty(t, res.Body.String(), tag)
		assert.Equal(t, `W/"1"`, res.Header().Get("ETag"), tag)
		assert.Empty(t, res.Header().Get("Content-Type"), tag)
	}
	e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false))
	res := e.reqWith(http.MethodGet, "/Users/"+id, nil, ifNoneMatch(`W/"1"`))
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, false, res.body["active"])
	assert.Equal(t, `W/"2"`, res.Header().Get("ETag"))

	// Lists and missing resources ignore it.
	assert.Equal(t, http.StatusOK, e.reqWith(http.MethodGet, "/Users", nil, ifNoneMatch("*")).Code)
	requireSCIMError(t, e.reqWith(http.MethodGet, "/Users/nope", nil, ifNoneMatch("*")), http.StatusNotFound, "")
}

// V1 on groups: member changes move the version, so a cached group is never served stale.
func TestETagsOnGroups(t *testing.T) {
	e := newEnv(t)
	u1, u2 := e.createUser("a@example.com"), e.createUser("b@example.com")
	gid := e.createGroup("Team", u1)
	add := patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": u2}}})

	requireSCIMError(t, e.reqWith(http.MethodPatch, "/Groups/"+gid, add, ifMatch(`W/"2"`)), http.StatusPreconditionFailed, "")
	requireSCIMError(t, e.reqWith(http.MethodPut, "/Groups/"+gid, map[string]any{"displayName": "Renamed"}, ifMatch(`W/"2"`)), http.StatusPreconditionFailed, "")
	requireSCIMError(t, e.reqWith(http.MethodDelete, "/Groups/"+gid, nil, ifMatch(`W/"2"`)), http.StatusPreconditionFailed, "")
	assert.Equal(t, []string{u1}, e.members(gid))
	g, err := e.group(gid)
	require.NoError(t, err)
	assert.Equal(t, "Team", g.DisplayName)

	require.Equal(t, http.StatusNoContent, e.reqWith(http.MethodPatch, "/Groups/"+gid, add, ifMatch(`W/"1"`)).Code)
	assert.Equal(t, sorted(u1, u2), e.members(gid))
	res := e.reqWith(http.MethodGet, "/Groups/"+gid, nil, ifNoneMatch(`W/"1"`))
	require.Equal(t, http.StatusOK, res.Code, "a member change is a new version")
	assert.Equal(t, `W/"2"`, res.Header().Get("ETag"))
	assert.Equal(t, http.StatusNotModified, e.reqWith(http.MethodGet, "/Groups/"+gid, nil, ifNoneMatch(`W/"2"`)).Code)

	res = e.reqWith(http.MethodPut, "/Groups/"+gid, map[string]any{"displayName": "Renamed", "members": []any{map[string]any{"value": u2}}}, ifMatch(`W/"2"`))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, `W/"3"`, res.Header().Get("ETag"))
	require.Equal(t, http.StatusNoContent, e.reqWith(http.MethodDelete, "/Groups/"+gid, nil, ifMatch(`W/"3"`)).Code)
	_, err = e.group(gid)
	assert.Error(t, err)
}

// V1 under concurrency: the version is compared inside the Update that writes, so of many
// writers holding the same ETag exactly one wins and the others get 412.
func TestIfMatchConcurrent(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("race@example.com")
	const n = 20
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := patchBody(map[string]any{"op": "replace", "path": "displayName", "value": fmt.Sprintf("writer %d", i)})
			if i%2 == 0 {
				codes[i] = e.reqWith(http.MethodPatch, "/Users/"+id, body, ifMatch(`W/"1"`)).Code
			} else {
				codes[i] = e.reqWith(http.MethodPut, "/Users/"+id, map[string]any{"userName": "race@example.com", "displayName": fmt.Sprintf("writer %d", i)}, ifMatch(`W/"1"`)).Code
			}
		})
	}
	wg.Wait()
	count := map[int]int{}
	winner := -1
	for i, c := range codes {
		count[c]++
		if c == http.StatusOK {
			winner = i
		}
	}
	assert.Equal(t, map[int]int{http.StatusOK: 1, http.StatusPreconditionFailed: n - 1}, count)
	u := e.user(id)
	assert.EqualValues(t, 2, u.Version)
	assert.Equal(t, fmt.Sprintf("writer %d", winner), u.DisplayName)
}

// V1: /ServiceProviderConfig advertises ETags, at both paths IdPs read it from, and keeps the
// rest of what it said before.
func TestServiceProviderConfigAdvertisesETags(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/ServiceProviderConfig", "/serviceConfiguration"} {
		res := e.req(http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, res.Code, p)
		assert.Equal(t, "application/scim+json", res.Header().Get("Content-Type"))
		assert.Equal(t, []any{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}, res.body["schemas"])
		assert.Equal(t, map[string]any{"supported": true}, res.body["etag"])
		assert.Equal(t, map[string]any{"supported": true}, res.body["patch"])
		assert.Equal(t, map[string]any{"supported": false}, res.body["sort"])
		assert.Equal(t, map[string]any{"supported": false}, res.body["changePassword"])
		assert.Equal(t, map[string]any{"supported": false, "maxOperations": 0.0, "maxPayloadSize": 0.0}, res.body["bulk"])
		assert.Equal(t, map[string]any{"supported": true, "maxResults": 100.0}, res.body["filter"])
		assert.Equal(t, "https://github.com/teamscim/teamscim", res.body["documentationUri"])
		schemes := res.body["authenticationSchemes"].([]any)
		require.Len(t, schemes, 1)
		assert.Equal(t, "oauthbearertoken", schemes[0].(map[string]any)["type"])
		assert.Equal(t, true, schemes[0].(map[string]any)["primary"])
		assert.Equal(t, "http://scim.example.com/scim/v2/ServiceProviderConfig", res.body["meta"].(map[string]any)["location"])
	}
	requireSCIMError(t, e.req(http.MethodPost, "/ServiceProviderConfig", map[string]any{}), http.StatusMethodNotAllowed, "")
	requireSCIMError(t, e.reqAuth(http.MethodGet, "/ServiceProviderConfig", nil, ""), http.StatusUnauthorized, "")
}
