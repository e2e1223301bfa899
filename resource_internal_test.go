package teamscim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/elimity-com/scim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/memstore"
)

// The Server's own rendering of GET /Users/{id} and /Groups/{id} is byte for byte what the
// wrapped library renders for the same handler result.
func TestServeGetMatchesWrappedLibrary(t *testing.T) {
	ctx := context.Background()
	s, err := New(Config{Store: memstore.New()})
	require.NoError(t, err)
	team, err := s.CreateTeam(ctx, TeamOptions{Name: "T", Plan: PlanEnterprise})
	require.NoError(t, err)
	admin := Actor{MemberID: "test", OrgManager: true}
	require.NoError(t, s.ConfigureSSO(ctx, team.ID, admin, "saml"))
	require.NoError(t, s.EnableSCIM(ctx, team.ID, admin))
	key, err := s.GenerateKey(ctx, team.ID, admin, KeyOptions{Name: "k"})
	require.NoError(t, err)
	send := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://h.example/v2"+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key.Secret)
		if body != "" {
			r.Header.Set("Content-Type", "application/scim+json")
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	idOf := func(w *httptest.ResponseRecorder) string {
		require.Less(t, w.Code, 300, w.Body.String())
		i := strings.Index(w.Body.String(), `"id":"`)
		require.GreaterOrEqual(t, i, 0)
		rest := w.Body.String()[i+6:]
		return rest[:strings.IndexByte(rest, '"')]
	}
	uid := idOf(send(http.MethodPost, "/Users", `{"userName":"Ann.Lee@example.com","externalId":"ext <&>","displayName":"Ann \"A\" Lee","locale":"fr-CA","name":{"givenName":"Ann","familyName":"Lée","middleName":"M","formatted":"Ann Lée"},"emails":[{"value":"ann@example.com","type":"work","primary":true},{"value":"a@home.example","type":"home"}]}`))
	plain := idOf(send(http.MethodPost, "/Users", `{"userName":"bob@example.com"}`))
	gid := idOf(send(http.MethodPost, "/Groups", `{"displayName":"Eng & Ops","externalId":"g-1","members":[{"value":"`+uid+`"},{"value":"`+plain+`"}]}`))

	for _, path := range []string{"/Users/" + uid, "/Users/" + plain, "/Users/" + uid + "?attributes=userName,name.givenName",
		"/Users/" + uid + "?excludedAttributes=emails", "/Groups/" + gid, "/Groups/" + gid + "?excludedAttributes=members"} {
		ours := send(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, ours.Code, ours.Body.String())

		// The same request handed to the wrapped library, as serve did before it rendered GETs.
		r := httptest.NewRequest(http.MethodGet, "http://h.example"+path, nil)
		rq := &request{teamID: team.ID, keyID: key.Key.ID, baseURL: "http://h.example/v2", authed: true}
		r = r.WithContext(context.WithValue(r.Context(), requestKey{}, rq))
		lib, err := scim.NewServer(&s.args, scim.WithBaseURL(rq.baseURL), scim.WithLogger(s.elimityLog))
		require.NoError(t, err)
		theirs := httptest.NewRecorder()
		lib.ServeHTTP(theirs, r)
		require.Equal(t, http.StatusOK, theirs.Code, theirs.Body.String())

		assert.Equal(t, theirs.Body.String(), ours.Body.String(), path)
		assert.Equal(t, theirs.Header().Get("Etag"), ours.Header().Get("ETag"), path)
		assert.Equal(t, theirs.Header().Get("Content-Type"), ours.Header().Get("Content-Type"), path)
	}
}
