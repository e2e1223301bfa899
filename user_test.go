package teamscim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

const patchURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

func patchBody(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchURN}, "Operations": ops}
}

func filterPath(f string) string { return "/Users?filter=" + url.QueryEscape(f) }

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	// Okta's create (A.2 O3), sent as application/json with a password.
	res := e.req(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Test.User@example.com","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@example.com","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	id := res.str("id")
	require.NotEmpty(t, id)
	assert.Equal(t, "Test.User@example.com", res.str("userName"), "userName is echoed in its exact case")
	assert.NotContains(t, res.Body.String(), "1mz050nq")
	assert.NotContains(t, strings.ToLower(res.Body.String()), "password")
	meta := res.body["meta"].(map[string]any)
	assert.Equal(t, "http://scim.example.com/scim/v2/Users/"+id, meta["location"])
	assert.Equal(t, meta["location"], res.Header().Get("Location"))
	assert.Equal(t, []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, res.body["schemas"],
		"the enterprise URN is listed only for a user with enterprise attributes")

	u := e.user(id)
	assert.Equal(t, "Test.User@example.com", u.UserName)
	assert.Equal(t, "Test", u.GivenName)
	assert.Equal(t, "User", u.FamilyName)
	assert.Equal(t, "00ujl29u0le5T6Aj10h7", u.ExternalID)
	assert.True(t, u.Active)
	assert.True(t, u.Managed)
	assert.False(t, u.Deleted)
	assert.Equal(t, []string{teamscim.RoleDeveloper}, u.Roles)
	assert.Equal(t, []store.Email{{Value: "test.user@example.com", Type: "work", Primary: true}}, u.Emails)

	got := e.req(http.MethodGet, "/Users/"+id, nil)
	require.Equal(t, http.StatusOK, got.Code)
	assert.Equal(t, id, got.str("id"))
	assert.Equal(t, true, got.body["active"])
	emails := got.body["emails"].([]any)
	assert.Equal(t, "test.user@example.com", emails[0].(map[string]any)["value"])
}

func TestCreateUserWithoutEmailsEmitsUserNameAsEmail(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("ann@example.com")
	got := e.req(http.MethodGet, "/Users/"+id, nil)
	assert.Equal(t, []any{map[string]any{"value": "ann@example.com", "type": "work", "primary": true}}, got.body["emails"])
}

func TestCreateUserDefaultsToActiveAndAcceptsStringBooleans(t *testing.T) {
	e := newEnv(t)
	for i, active := range []any{"True", "true", "FALSE", nil} {
		body := map[string]any{"userName": fmt.Sprintf("u%d@example.com", i)}
		if active != nil {
			body["active"] = active
		}
		res := e.req(http.MethodPost, "/Users", body) // no schemas: the core URN is implied
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		want := active != "FALSE"
		assert.Equal(t, want, res.body["active"])
		assert.Equal(t, want, e.user(res.str("id")).Active)
	}
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "yes@example.com", "active": "yes"})
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Equal(t, 4, e.countUsers())
}

func TestCreateUserRejectsBadUserNames(t *testing.T) {
	e := newEnv(t)
	for name, body := range map[string]string{
		"missing":     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"name":{"givenName":"a","familyName":"b"}}`,
		"empty":       `{"userName":""}`,
		"blank":       `{"userName":"   "}`,
		"not email":   `{"userName":"ryan3"}`,
		"misspelled":  `{"userame":"a@example.com"}`,
		"not string":  `{"userName":42}`,
		"with name":   `{"userName":"Ann <ann@example.com>"}`,
		"no tld dot":  `{"userName":"ann@example"}`,
		"two at sign": `{"userName":"ann@@example.com"}`,
	} {
		t.Run(name, func(t *testing.T) {
			res := e.req(http.MethodPost, "/Users", body)
			require.Equal(t, http.StatusBadRequest, res.Code, res.Body.String())
			requireSCIMError(t, res, http.StatusBadRequest, "")
		})
	}
	assert.Equal(t, 0, e.countUsers())

	generic := newEnv(t, func(c *teamscim.Config) { c.AllowNonEmailUserNames = true })
	res := generic.req(http.MethodPost, "/Users", `{"userName":"ryan3"}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, "ryan3", generic.user(res.str("id")).UserName)
}

func TestCreateUserConflict(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("Alice@X.com")
	for _, name := range []string{"Alice@X.com", "alice@x.com", "ALICE@x.COM"} {
		res := e.req(http.MethodPost, "/Users", map[string]any{"userName": name})
		requireSCIMError(t, res, http.StatusConflict, "uniqueness")
		// C4: what made the POST conflict is findable with the same value in any case.
		found := e.req(http.MethodGet, filterPath(`userName eq "`+name+`"`), nil)
		assert.Equal(t, []string{id}, listIDs(t, found))
	}
	// A deactivated member still conflicts, and is still findable.
	e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": false}}))
	requireSCIMError(t, e.req(http.MethodPost, "/Users", map[string]any{"userName": "alice@x.com"}), http.StatusConflict, "uniqueness")
	assert.Equal(t, []string{id}, listIDs(t, e.req(http.MethodGet, filterPath(`userName eq "ALICE@X.COM"`), nil)))
	assert.Equal(t, 1, e.countUsers())
}

// externalId is indexed but not unique (RFC 7643): clients may share one between users.
func TestExternalIDIsNotUnique(t *testing.T) {
	e := newEnv(t)
	a := e.req(http.MethodPost, "/Users", map[string]any{"userName": "a@example.com", "externalId": "ext-1"})
	require.Equal(t, http.StatusCreated, a.Code)
	b := e.req(http.MethodPost, "/Users", map[string]any{"userName": "b@example.com", "externalId": "ext-1"})
	require.Equal(t, http.StatusCreated, b.Code, b.Body.String())
	ids := listIDs(t, e.req(http.MethodGet, filterPath(`externalId eq "ext-1"`), nil))
	assert.ElementsMatch(t, []string{a.str("id"), b.str("id")}, ids)
	// A member hidden by DELETE keeps its externalId without hiding anyone else.
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+a.str("id"), nil).Code)
	assert.Equal(t, []string{b.str("id")}, listIDs(t, e.req(http.MethodGet, filterPath(`externalId eq "ext-1"`), nil)))
	assert.Equal(t, "ext-1", e.user(a.str("id")).ExternalID)
}

// C1, C2: concurrent creates of one userName in mixed case: exactly one wins.
func TestConcurrentCreateSameUserName(t *testing.T) {
	e := newEnv(t)
	names := []string{"Alice@X.com", "alice@x.com", "ALICE@x.COM", "aLiCe@X.cOm"}
	const n = 100
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.req(http.MethodPost, "/Users", map[string]any{"userName": names[i%len(names)]})
			codes[i] = res.Code
			if res.Code == http.StatusConflict {
				assert.Equal(t, "uniqueness", res.body["scimType"])
				assert.Equal(t, "409", res.body["status"])
			}
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, count)
	assert.Equal(t, 1, e.countUsers())
}

// commitConflictStore is a memstore whose armed Updates run fn and then fail as a SQL store's
// commit does when a deferred INSERT hits a unique index (store.Tx.CreateUser): with an error
// wrapping store.ErrConflict, and nothing written.
type commitConflictStore struct {
	*memstore.Store
	armed atomic.Bool
}

func (s *commitConflictStore) Update(ctx context.Context, teamID string, fn func(ctx context.Context, tx store.Tx) error) error {
	if !s.armed.Load() {
		return s.Store.Update(ctx, teamID, fn)
	}
	errCommit := fmt.Errorf("commit: duplicate key: %w", store.ErrConflict)
	return s.Store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errCommit // fn's writes are dropped, as a failed commit's are
	})
}

// A create whose userName conflict the store reports only at commit answers the same 409 as
// one the lookup finds, and stores nothing.
func TestCreateConflictAtCommit(t *testing.T) {
	st := &commitConflictStore{Store: memstore.New()}
	e := newEnvOn(t, st)
	require.Equal(t, http.StatusNotFound, e.req(http.MethodGet, "/Users/none", nil).Code) // the key's use is recorded
	before := e.countUsers()
	st.armed.Store(true)
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "late@example.com"})
	st.armed.Store(false)
	require.Equal(t, http.StatusConflict, res.Code, res.Body.String())
	assert.Equal(t, "uniqueness", res.body["scimType"])
	assert.Contains(t, res.body["detail"], "userName")
	assert.Equal(t, before, e.countUsers(), "nothing stored")
	assert.Equal(t, http.StatusCreated, e.req(http.MethodPost, "/Users", map[string]any{"userName": "late@example.com"}).Code,
		"the userName is free")
}

func deactivateOkta(active bool) map[string]any {
	return patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": active}})
}

func TestDeactivateAndReactivate(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("bob@example.com")
	other := e.createUser("carol@example.com")

	// Okta, path-less (O4), answered 200 with the resource.
	res := e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, false, res.body["active"])
	u := e.user(id)
	assert.False(t, u.Active)
	assert.False(t, u.Deleted)
	assert.Equal(t, "bob@example.com", u.UserName)

	// Still served and listed with active:false (Entra checks this after a disable).
	got := e.req(http.MethodGet, "/Users/"+id, nil)
	require.Equal(t, http.StatusOK, got.Code)
	assert.Equal(t, false, got.body["active"])
	assert.Equal(t, []string{id}, listIDs(t, e.req(http.MethodGet, filterPath("active eq false"), nil)))
	assert.Equal(t, []string{other}, listIDs(t, e.req(http.MethodGet, filterPath("active eq true"), nil)))

	// Deactivating twice is idempotent.
	res = e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false))
	require.Equal(t, http.StatusOK, res.Code)
	assert.False(t, e.user(id).Active)

	// Okta reactivation (O5).
	res = e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(true))
	require.Equal(t, http.StatusOK, res.Code)
	assert.True(t, e.user(id).Active)

	// Entra ID (E3): capitalised op, path, string boolean.
	res = e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "False"}))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.False(t, e.user(id).Active)
	res = e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "True"}))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.True(t, e.user(id).Active)

	// OneLogin / Okta AIW: PUT with active:false, then PUT without active keeps it.
	put := map[string]any{"userName": "bob@example.com", "name": map[string]any{"givenName": "Bob", "familyName": "B"}, "active": false}
	require.Equal(t, http.StatusOK, e.req(http.MethodPut, "/Users/"+id, put).Code)
	assert.False(t, e.user(id).Active)
	delete(put, "active")
	require.Equal(t, http.StatusOK, e.req(http.MethodPut, "/Users/"+id, put).Code)
	assert.False(t, e.user(id).Active, "a PUT without active leaves active unchanged")
	put["active"] = "True"
	require.Equal(t, http.StatusOK, e.req(http.MethodPut, "/Users/"+id, put).Code)
	assert.True(t, e.user(id).Active)
	delete(put, "active")
	require.Equal(t, http.StatusOK, e.req(http.MethodPut, "/Users/"+id, put).Code)
	assert.True(t, e.user(id).Active, "a PUT without active does not deactivate")
}

func TestPutReplacesAndIgnoresReadOnly(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("test.user@example.com")
	before := e.user(id)
	// Okta's PUT (O6) echoes id, groups and meta; they are ignored.
	res := e.req(http.MethodPut, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+id+`","userName":"test.user@example.com","name":{"givenName":"Another","middleName":"Excited","familyName":"User"},"emails":[{"primary":true,"value":"test.user@example.com","type":"work","display":"test.user@example.com"}],"active":true,"groups":[],"meta":{"resourceType":"User"}}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	u := e.user(id)
	assert.Equal(t, "Another", u.GivenName)
	assert.Equal(t, "Excited", u.MiddleName)
	assert.Equal(t, "User", u.FamilyName)
	assert.Greater(t, u.Version, before.Version)
	assert.Equal(t, before.Created, u.Created)

	// An id in the body that names another resource is still ignored: the URL wins.
	res = e.req(http.MethodPut, "/Users/"+id, map[string]any{"id": "someone-else", "userName": "test.user@example.com"})
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, id, res.str("id"))
	assert.Equal(t, "", e.user(id).GivenName, "PUT replaces: an absent name is cleared")

	requireSCIMError(t, e.req(http.MethodPut, "/Users/"+id, map[string]any{"userame": "x@example.com"}), http.StatusBadRequest, "")
	requireSCIMError(t, e.req(http.MethodPut, "/Users/unknown-id", map[string]any{"userName": "x@example.com"}), http.StatusNotFound, "")
}

// The bodies most IdPs send on create and PUT are read without generic JSON values
// (plainUserBody); through the handler they store exactly what the general path stores, escapes
// and all, and a near miss (a second primary email) is refused by the general path's rule.
func TestPlainUserBodiesThroughTheHandler(t *testing.T) {
	e := newEnv(t)
	res := e.req(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`+
		`"userName":"ren\u00e9e@example.com","externalId":"ext-\"7\"","locale":"fr-CA",`+
		`"name":{"givenName":"Ren\u00e9e","middleName":"M","familyName":"L\u00e9vesque","formatted":"Renée M Lévesque"},`+
		`"displayName":"Renée 😀","emails":[{"value":"renee@example.com","type":"work","primary":true},`+
		`{"value":"r@home.example","type":"home"}],"active":false}`)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	id := res.str("id")
	u := e.user(id)
	assert.Equal(t, "renée@example.com", u.UserName)
	assert.Equal(t, `ext-"7"`, u.ExternalID)
	assert.Equal(t, "fr-CA", u.Locale)
	assert.Equal(t, []string{"Renée", "M", "Lévesque", "Renée M Lévesque"}, []string{u.GivenName, u.MiddleName, u.FamilyName, u.Formatted})
	assert.Equal(t, "Renée 😀", u.DisplayName)
	assert.Equal(t, []store.Email{{Value: "renee@example.com", Type: "work", Primary: true}, {Value: "r@home.example", Type: "home"}}, u.Emails)
	assert.False(t, u.Active)
	assert.Empty(t, u.Attributes, "nothing beyond the typed attributes")

	// A plain PUT replaces: absent attributes are cleared, active stays when absent.
	res = e.req(http.MethodPut, "/Users/"+id, `{"userName":"renée@example.com","name":{"givenName":"R"}}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	u = e.user(id)
	assert.Equal(t, "R", u.GivenName)
	assert.Empty(t, u.FamilyName+u.MiddleName+u.Formatted+u.DisplayName+u.Locale+u.ExternalID)
	assert.Empty(t, u.Emails)
	assert.False(t, u.Active)

	// Two primary emails: the general path's 400, and nothing stored.
	users := e.countUsers()
	res = e.req(http.MethodPost, "/Users", `{"userName":"two@example.com","emails":[{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":true}]}`)
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Contains(t, res.Body.String(), "primary")
	assert.Equal(t, users, e.countUsers())
}

func TestUserNameChange(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.srv.VerifyDomain(t.Context(), e.teamID, e.admin, "Contoso.com"))
	id := e.createUser("jane.doe@contoso.com")
	other := e.createUser("john@contoso.com")

	res := e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "jane@contoso.com"}))
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "jane@contoso.com", e.user(id).UserName)
	// The old name is free and the new one is found.
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, filterPath(`userName eq "jane.doe@contoso.com"`), nil)))
	assert.Equal(t, []string{id}, listIDs(t, e.req(http.MethodGet, filterPath(`userName eq "JANE@contoso.com"`), nil)))

	// C3: a rename onto another member conflicts and changes nothing.
	res = e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "JOHN@contoso.com"}))
	requireSCIMError(t, res, http.StatusConflict, "uniqueness")
	assert.Equal(t, "jane@contoso.com", e.user(id).UserName)
	res = e.req(http.MethodPut, "/Users/"+other, map[string]any{"userName": "Jane@Contoso.com"})
	requireSCIMError(t, res, http.StatusConflict, "uniqueness")
	assert.Equal(t, "john@contoso.com", e.user(other).UserName)

	// Not an email: 400 and nothing changes.
	res = e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "newusername"}))
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Equal(t, "jane@contoso.com", e.user(id).UserName)
}

// C3: two concurrent renames onto one userName: one wins.
func TestConcurrentRenameOntoSameUserName(t *testing.T) {
	e := newEnv(t)
	ids := []string{e.createUser("a@example.com"), e.createUser("b@example.com")}
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.req(http.MethodPatch, "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "Same@example.com"})).Code
		}()
	}
	wg.Wait()
	assert.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, codes)
	names := []string{store.Fold(e.user(ids[0]).UserName), store.Fold(e.user(ids[1]).UserName)}
	assert.NotEqual(t, names[0], names[1])
}

// E6: Entra ID's soft-delete tombstone deactivates without changing the stored email.
func TestEntraTombstoneRename(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("jane.doe@contoso.com")
	res := e.req(http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"userName","value":"283405f5c2a94e1b9d6e8f7a1b2c3d4ejane.doe@contoso.com"},{"op":"Replace","path":"active","value":"False"}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	u := e.user(id)
	assert.False(t, u.Active)
	assert.Equal(t, "jane.doe@contoso.com", u.UserName)
	assert.Equal(t, []string{id}, listIDs(t, e.req(http.MethodGet, filterPath(`userName eq "jane.doe@contoso.com"`), nil)))
}

// E4, E5: Entra ID's multi-attribute updates, with and without the compliance flag.
func TestEntraPatchForms(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("jane.doe@contoso.com")
	res := e.req(http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"name.givenName","value":"Janet"},{"op":"Replace","path":"name.familyName","value":"Doe-Smith"},{"op":"Add","path":"emails[type eq \"work\"].value","value":"janet.doe@contoso.com"},{"op":"Replace","path":"externalId","value":"Eqpj"}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	u := e.user(id)
	assert.Equal(t, "Janet", u.GivenName)
	assert.Equal(t, "Doe-Smith", u.FamilyName)
	assert.Equal(t, "Eqpj", u.ExternalID)
	// The work email was the implied primary one (the userName); it keeps being primary.
	assert.Equal(t, []store.Email{{Value: "janet.doe@contoso.com", Type: "work", Primary: true}}, u.Emails)
	assert.Equal(t, "jane.doe@contoso.com", u.UserName, "emails do not change the userName")

	res = e.req(http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"jane@contoso.com"},{"op":"replace","value":{"name.givenName":"Jane","name.familyName":"Doe","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	u = e.user(id)
	assert.Equal(t, "Jane", u.GivenName)
	assert.Equal(t, "Doe", u.FamilyName)
	assert.Equal(t, []store.Email{{Value: "jane@contoso.com", Type: "work", Primary: true}}, u.Emails)
	assert.Equal(t, []string{id}, listIDs(t, e.req(http.MethodGet, filterPath(`externalId eq "Eqpj"`), nil)))
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, filterPath(`externalId eq "eqpj"`), nil)), "externalId is case-exact")
	assert.Equal(t, []string{id}, listIDs(t, e.req(http.MethodGet, filterPath(`emails[type eq "work"].value eq "JANE@contoso.com"`), nil)))
}

func TestPatchIsAtomic(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("atomic@example.com")
	before := e.user(id)
	res := e.req(http.MethodPatch, "/Users/"+id, patchBody(
		map[string]any{"op": "replace", "path": "name.givenName", "value": "Changed"},
		map[string]any{"op": "replace", "path": "userName", "value": "not-an-email"},
	))
	requireSCIMError(t, res, http.StatusBadRequest, "invalidValue")
	assert.Equal(t, before, e.user(id))

	for name, body := range map[string]string{
		"no operations":   `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
		"missing ops":     `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
		"bad op":          `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"active","value":false}]}`,
		"unknown path":    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"nosuch","value":1}]}`,
		"read-only path":  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"groups","value":[{"value":"x"}]}]}`,
		"not json":        `{"schemas":`,
		"active not bool": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":"yes"}]}`,
		"no value":        `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active"}]}`,
		"remove no path":  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove"}]}`,
		"remove userName": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"userName"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			res := e.req(http.MethodPatch, "/Users/"+id, body)
			requireSCIMError(t, res, http.StatusBadRequest, "")
			assert.Equal(t, before, e.user(id))
		})
	}
}

// A6: a password (Okta password sync) is accepted and dropped.
func TestPasswordIsNeverStoredOrReturned(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("pw@example.com")
	for _, body := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"password":"s3cr3t-pw"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"password","value":"s3cr3t-pw"}]}`,
	} {
		res := e.req(http.MethodPatch, "/Users/"+id, body)
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		assert.NotContains(t, res.Body.String(), "s3cr3t-pw")
	}
	res := e.req(http.MethodPut, "/Users/"+id, map[string]any{"userName": "pw@example.com", "password": "s3cr3t-pw"})
	require.Equal(t, http.StatusOK, res.Code)
	assert.NotContains(t, res.Body.String(), "s3cr3t-pw")
	assert.NotContains(t, fmt.Sprintf("%+v", e.user(id)), "s3cr3t-pw")
}

// E4 (A.7-2): DELETE deactivates and hides; a later POST re-links the same member.
func TestDeleteHidesAndPostRelinks(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("gone@example.com")
	res := e.req(http.MethodDelete, "/Users/"+id, nil)
	require.Equal(t, http.StatusNoContent, res.Code)
	assert.Empty(t, res.Body.String())
	u := e.user(id)
	assert.False(t, u.Active)
	assert.True(t, u.Deleted)
	assert.Equal(t, "gone@example.com", u.UserName, "the member and its data stay")

	requireSCIMError(t, e.req(http.MethodGet, "/Users/"+id, nil), http.StatusNotFound, "")
	requireSCIMError(t, e.req(http.MethodDelete, "/Users/"+id, nil), http.StatusNotFound, "")
	requireSCIMError(t, e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(true)), http.StatusNotFound, "")
	requireSCIMError(t, e.req(http.MethodPut, "/Users/"+id, map[string]any{"userName": "gone@example.com"}), http.StatusNotFound, "")
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, filterPath(`userName eq "gone@example.com"`), nil)))
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, "/Users", nil)))
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, filterPath("active eq false"), nil)))

	res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "Gone@Example.com", "name": map[string]any{"givenName": "Back", "familyName": "Again"}})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, id, res.str("id"), "the same member is re-linked")
	u = e.user(id)
	assert.True(t, u.Active)
	assert.False(t, u.Deleted)
	assert.Equal(t, "Back", u.GivenName)
	assert.Equal(t, 1, e.countUsers())
}

// A member who joined outside SCIM is adopted by a POST with their email.
func TestCreateAdoptsExistingMember(t *testing.T) {
	e := newEnv(t)
	m, err := e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "pre@example.com", GivenName: "Pre", FamilyName: "Scim"})
	require.NoError(t, err)
	assert.False(t, e.user(m.ID).Managed)
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "PRE@example.com", "name": map[string]any{"givenName": "Pre", "familyName": "SCIM"}})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, m.ID, res.str("id"))
	u := e.user(m.ID)
	assert.True(t, u.Managed)
	assert.Equal(t, "PRE@example.com", u.UserName)
	requireSCIMError(t, e.req(http.MethodPost, "/Users", map[string]any{"userName": "pre@example.com"}), http.StatusConflict, "uniqueness")
	assert.Equal(t, 1, e.countUsers())
}

func TestProjection(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("proj@example.com")
	res := e.req(http.MethodGet, "/Users/"+id+"?attributes=userName", nil)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, "proj@example.com", res.str("userName"))
	assert.Equal(t, id, res.str("id"))
	assert.NotContains(t, res.body, "name")
	assert.NotContains(t, res.body, "emails")

	res = e.req(http.MethodGet, "/Users/"+id+"?excludedAttributes=emails,name.familyName", nil)
	assert.NotContains(t, res.body, "emails")
	assert.Equal(t, map[string]any{"givenName": "Given"}, res.body["name"])

	list := e.req(http.MethodGet, "/Users?attributes="+url.QueryEscape(`emails[type eq "work"]`), nil)
	require.Equal(t, http.StatusOK, list.Code)
	r0 := list.body["Resources"].([]any)[0].(map[string]any)
	assert.Contains(t, r0, "emails")
	assert.NotContains(t, r0, "userName")
	assert.Equal(t, id, r0["id"])
}

// A NUL character in any string of a body is refused with 400 and changes nothing, so that
// every store behaves alike (PostgreSQL text cannot hold one).
func TestNULCharactersRefused(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("ann@example.com")
	gid := e.createGroup("Eng")
	for name, c := range map[string]struct{ method, path, body string }{
		"POST user":    {http.MethodPost, "/Users", `{"userName":"bob@example.com","name":{"givenName":"B\u0000b","familyName":"F"}}`},
		"PUT user":     {http.MethodPut, "/Users/" + id, `{"userName":"ann@example.com","displayName":"A\u0000"}`},
		"PATCH user":   {http.MethodPatch, "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name.givenName","value":"x\u0000"}]}`},
		"POST group":   {http.MethodPost, "/Groups", `{"displayName":"Ops\u0000"}`},
		"PATCH group":  {http.MethodPatch, "/Groups/" + gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"E\u0000"}]}`},
		"name of attr": {http.MethodPost, "/Users", `{"userName":"cy@example.com","x\u0000":"y"}`},
	} {
		t.Run(name, func(t *testing.T) {
			requireSCIMError(t, e.req(c.method, c.path, c.body), http.StatusBadRequest, "invalidValue")
		})
	}
	assert.Equal(t, 1, e.countUsers())
	assert.Equal(t, "Given", e.user(id).GivenName)
	g, _ := e.group(gid)
	assert.Equal(t, "Eng", g.DisplayName)
}
