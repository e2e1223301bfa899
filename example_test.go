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
	team, _ := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Acme", Plan: teamscim.PlanEnterprise})
	owner, _ := srv.AddMember(ctx, team.ID, teamscim.Member{Email: "admin@acme.example", Roles: []string{teamscim.RoleSuperAdmin}})
	admin := teamscim.Actor{MemberID: owner.ID}       // every team-admin call names who acts
	_ = srv.ConfigureSSO(ctx, team.ID, admin, "saml") // SCIM needs SSO first
	_ = srv.EnableSCIM(ctx, team.ID, admin)
	key, _ := srv.GenerateKey(ctx, team.ID, admin, teamscim.KeyOptions{Name: "Okta"})

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

// ExampleServer_RegenerateKey rotates a team's key: with KeepPrevious both keys work while the
// identity provider switches over, and revoking the previous key stops it on the next request.
func ExampleServer_RegenerateKey() {
	srv, _ := teamscim.New(teamscim.Config{Store: memstore.New()})
	ctx := context.Background()
	team, _ := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Acme", Plan: teamscim.PlanEnterprise})
	manager := teamscim.Actor{MemberID: "org-manager-7", OrgManager: true} // with organizations
	_ = srv.ConfigureSSO(ctx, team.ID, manager, "saml")
	_ = srv.EnableSCIM(ctx, team.ID, manager)
	old, _ := srv.GenerateKey(ctx, team.ID, manager, teamscim.KeyOptions{Name: "Entra ID"})

	list := func(secret string) int {
		r := httptest.NewRequest(http.MethodGet, "/Users?startIndex=1&count=2", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w.Code
	}
	next, _ := srv.RegenerateKey(ctx, team.ID, manager, old.Key.ID, teamscim.RegenerateOptions{KeepPrevious: true})
	fmt.Println(list(old.Secret), list(next.Secret))
	_ = srv.RevokeKey(ctx, team.ID, manager, old.Key.ID)
	fmt.Println(list(old.Secret), list(next.Secret))

	keys, _ := srv.ListKeys(ctx, team.ID, manager)
	for _, k := range keys {
		fmt.Println(k.Name, k.Status, k.Usable())
	}
	// Output:
	// 200 200
	// 401 200
	// Entra ID REVOKED false
	// Entra ID ACTIVE true
}

// ExampleServer_CanSignIn shows the checks a host's sign-in flow and account page make.
func ExampleServer_CanSignIn() {
	srv, _ := teamscim.New(teamscim.Config{Store: memstore.New()})
	ctx := context.Background()
	team, _ := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Acme", Plan: teamscim.PlanEnterprise})
	_, _ = srv.AddMember(ctx, team.ID, teamscim.Member{Email: "ann@acme.example"})

	d, _ := srv.CanSignIn(ctx, team.ID, "Ann@acme.example")
	fmt.Println(d.Allowed)
	d, _ = srv.CanSignIn(ctx, team.ID, "bob@acme.example")
	fmt.Println(d.Allowed, d.Reason)
	d, _ = srv.CanLeaveTeam(ctx, team.ID, "ann@acme.example") // not SCIM-managed
	fmt.Println(d.Allowed)
	// Output:
	// true
	// false not_member
	// true
}
