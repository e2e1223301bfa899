package teamscim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
)

// readyServer returns a Server with one ready team and the secret of its key.
func readyServer(cfg teamscim.Config) (*teamscim.Server, string) {
	cfg.Store = memstore.New()
	srv, err := teamscim.New(cfg)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	team, _ := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Acme", Plan: teamscim.PlanEnterprise})
	manager := teamscim.Actor{MemberID: "org-manager", OrgManager: true}
	_ = srv.ConfigureSSO(ctx, team.ID, manager, "saml")
	_ = srv.EnableSCIM(ctx, team.ID, manager)
	key, _ := srv.GenerateKey(ctx, team.ID, manager, teamscim.KeyOptions{Name: "Okta"})
	return srv, key.Secret
}

func send(srv http.Handler, secret, method, path, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+secret)
	if body != "" {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w
}

// ExampleRateLimits limits each team to Postman's budget: the 181st write within a minute
// answers 429 with Retry-After.
func ExampleRateLimits() {
	// A fixed clock keeps the bucket from refilling while the requests run (a real one adds
	// three tokens a second).
	start := time.Now()
	srv, secret := readyServer(teamscim.Config{RateLimit: teamscim.PostmanRateLimits,
		Now: func() time.Time { return start }})
	var last *httptest.ResponseRecorder
	for i := range 181 {
		last = send(srv, secret, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"u%d@acme.example"}`, i))
	}
	fmt.Println(last.Code, last.Header().Get("Retry-After") != "")
	// Output:
	// 429 true
}

// Example_versions updates a user only if nobody changed it since it was read (If-Match),
// and revalidates a cached copy (If-None-Match).
func Example_versions() {
	srv, secret := readyServer(teamscim.Config{})
	created := send(srv, secret, http.MethodPost, "/Users", `{"userName":"ann@acme.example"}`)
	etag := created.Header().Get("ETag")
	id := strings.TrimPrefix(created.Header().Get("Location"), "http://example.com/Users/")

	deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`
	first := send(srv, secret, http.MethodPatch, "/Users/"+id, deactivate, "If-Match", etag)
	stale := send(srv, secret, http.MethodPatch, "/Users/"+id, deactivate, "If-Match", etag)
	cached := send(srv, secret, http.MethodGet, "/Users/"+id, "", "If-None-Match", first.Header().Get("ETag"))
	fmt.Println(etag, first.Code, first.Header().Get("ETag"), stale.Code, cached.Code)
	// Output:
	// W/"1" 200 W/"2" 412 304
}
