package teamscim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
)

// ExampleNew embeds the SCIM endpoint under /scim/v2, prepares a team the way a host's
// "Team Settings → Authentication" page would, and provisions a user as an IdP does.
func ExampleNew() {
	srv, err := teamscim.New(teamscim.Config{Store: memstore.New()})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))

	ctx := context.Background()
	team, _ := srv.CreateTeam(ctx, "Acme")
	_ = srv.ConfigureSSO(ctx, team.ID, "saml") // SCIM needs SSO first
	_ = srv.EnableSCIM(ctx, team.ID)
	key, _ := srv.GenerateKey(ctx, team.ID, teamscim.KeyOptions{Name: "Okta", CreatedBy: "admin@acme.example"})

	// What Okta sends when a user is assigned to the app.
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@acme.example",
		"name":{"givenName":"Ann","familyName":"Lee"},"active":true}`
	r := httptest.NewRequest(http.MethodPost, "https://id.acme.example/scim/v2/Users", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+key.Secret)
	r.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)

	var user struct {
		UserName string `json:"userName"`
		Active   bool   `json:"active"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &user)
	fmt.Println(w.Code, user.UserName, user.Active)
	fmt.Println(strings.HasPrefix(w.Header().Get("Location"), "https://id.acme.example/scim/v2/Users/"))
	// Output:
	// 201 ann@acme.example true
	// true
}

// ExampleServer_RevokeKey shows that a revoked key stops working on the next request.
func ExampleServer_RevokeKey() {
	srv, _ := teamscim.New(teamscim.Config{Store: memstore.New()})
	ctx := context.Background()
	team, _ := srv.CreateTeam(ctx, "Acme")
	_ = srv.ConfigureSSO(ctx, team.ID, "saml")
	_ = srv.EnableSCIM(ctx, team.ID)
	key, _ := srv.GenerateKey(ctx, team.ID, teamscim.KeyOptions{Name: "Entra ID"})

	list := func() int {
		r := httptest.NewRequest(http.MethodGet, "/Users?startIndex=1&count=2", nil)
		r.Header.Set("Authorization", "Bearer "+key.Secret)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w.Code
	}
	fmt.Println(list())
	_ = srv.RevokeKey(ctx, team.ID, key.Key.ID)
	fmt.Println(list())
	// Output:
	// 200
	// 401
}
