package teamscim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	// The host has authorised the person who created the team (its user "u-42"): acting for
	// the host, as an Organization Manager, it makes them the team's first admin.
	creator := teamscim.Actor{MemberID: "u-42", OrgManager: true}
	owner, _ := srv.AddMember(ctx, team.ID, creator, teamscim.Member{Email: "admin@acme.example", Roles: []string{teamscim.RoleSuperAdmin}})
	admin := teamscim.Actor{MemberID: owner.ID}                 // every team-admin call names who acts
	_ = srv.ConfigureSSO(ctx, team.ID, admin, teamscim.SSOSAML) // SCIM needs SSO first
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
	manager := teamscim.Actor{MemberID: "org-manager-7", OrgManager: true}
	_, _ = srv.AddMember(ctx, team.ID, manager, teamscim.Member{Email: "ann@acme.example"})

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

// ExampleServer_Members is a settings page's member table: a page at a time with the total,
// and a search box that finds a member by email (case-insensitively) through the store's index.
func ExampleServer_Members() {
	srv, _ := teamscim.New(teamscim.Config{Store: memstore.New()})
	ctx := context.Background()
	team, _ := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Acme", Plan: teamscim.PlanEnterprise})
	manager := teamscim.Actor{MemberID: "org-manager-7", OrgManager: true}
	for _, email := range []string{"ann@acme.example", "bob@acme.example", "cy@acme.example"} {
		_, _ = srv.AddMember(ctx, team.ID, manager, teamscim.Member{Email: email})
	}
	_, _ = srv.InviteMember(ctx, team.ID, manager, teamscim.Member{Email: "dee@acme.example"})

	page, _ := srv.Members(ctx, team.ID, manager, teamscim.MemberQuery{Offset: 2, Limit: 2})
	fmt.Println("members:", page.Total)
	for _, m := range page.Members {
		fmt.Println(m.Email, m.State, m.Seat)
	}
	found, _ := srv.Members(ctx, team.ID, manager, teamscim.MemberQuery{Email: "BOB@acme.example"})
	fmt.Println(found.Members[0].Email, found.Members[0].Roles)
	// Output:
	// members: 4
	// cy@acme.example active true
	// dee@acme.example pending true
	// bob@acme.example [developer]
}

// ExampleAutoFlex gives a team 2 seats with Auto-Flex: the third member is admitted beyond
// the licence, and the seat report lists that overage seat for billing.
func ExampleAutoFlex() {
	srv, _ := teamscim.New(teamscim.Config{Store: memstore.New(), Seats: teamscim.AutoFlex(2)})
	ctx := context.Background()
	team, _ := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Acme", Plan: teamscim.PlanEnterprise})
	manager := teamscim.Actor{MemberID: "org-manager-7", OrgManager: true}
	for _, email := range []string{"ann@acme.example", "bob@acme.example", "cy@acme.example"} {
		if _, err := srv.AddMember(ctx, team.ID, manager, teamscim.Member{Email: email}); err != nil {
			panic(err)
		}
	}
	rep, _ := srv.SeatReport(ctx, team.ID)
	fmt.Println(rep.Policy, rep.Licensed, rep.InUse, rep.OpenOverage)
	// Output:
	// autoflex(2) 2 3 1
}

// ExamplePlanWorkspaces is Postman's rule for a deactivation: the team becomes the admin of
// the internal workspace its member was alone in; a shared workspace is left alone.
func ExamplePlanWorkspaces() {
	own := []teamscim.WorkspaceMember{{UserID: "ann", Role: teamscim.WorkspaceAdmin}}
	plan := teamscim.PlanWorkspaces("acme", "ann", teamscim.WorkspacesOnDeactivation, "", []teamscim.Workspace{
		{ID: "ann-api", Kind: teamscim.WorkspaceInternal, Owner: "ann", Members: own},
		{ID: "shared", Kind: teamscim.WorkspaceInternal, Owner: "bob", Members: append(own,
			teamscim.WorkspaceMember{UserID: "bob", Role: teamscim.WorkspaceEditor})},
	})
	for _, c := range plan.Changes {
		fmt.Println(c.WorkspaceID, c.Action)
	}
	fmt.Println("revoke sessions:", plan.RevokeSessions)
	// Output:
	// ann-api team-admin
	// revoke sessions: true
}

// ExampleExtension registers a schema extension of the host's own for users: it is listed in
// /Schemas and /ResourceTypes, validated, kept, returned, and filterable by its full name.
func ExampleExtension() {
	const team = "urn:acme:params:scim:schemas:extension:team:2.0:User"
	srv, secret := readyServer(teamscim.Config{
		UserExtensions: []teamscim.Extension{{
			URN:  team,
			Name: "Team",
			Attributes: []teamscim.Attribute{
				{Name: "costCenter", Required: true},
				{Name: "badge", Type: teamscim.TypeInteger, Mutability: teamscim.MutabilityImmutable},
			},
		}},
	})
	do := func(method, path, body string) *httptest.ResponseRecorder {
		return send(srv, secret, method, path, body)
	}

	w := do(http.MethodPost, "/Users", `{"userName":"ann@acme.example",
		"`+team+`":{"costCenter":"CC-7","badge":42}}`)
	var created struct {
		ID      string         `json:"id"`
		Schemas []string       `json:"schemas"`
		Team    map[string]any `json:"urn:acme:params:scim:schemas:extension:team:2.0:User"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &created)
	fmt.Println(w.Code, created.Schemas[1], created.Team["costCenter"], created.Team["badge"])

	w = do(http.MethodGet, "/Users/"+created.ID, "")
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `"costCenter":"CC-7"`))

	filter := url.QueryEscape(team + `:costCenter eq "CC-7"`)
	w = do(http.MethodGet, "/Users?filter="+filter, "")
	var list struct{ TotalResults int }
	_ = json.Unmarshal(w.Body.Bytes(), &list)
	fmt.Println(w.Code, list.TotalResults)

	w = do(http.MethodPost, "/Users", `{"userName":"bob@acme.example","`+team+`":{"badge":"many"}}`)
	var refusal struct{ Detail string }
	_ = json.Unmarshal(w.Body.Bytes(), &refusal)
	fmt.Println(w.Code, refusal.Detail)
	// Output:
	// 201 urn:acme:params:scim:schemas:extension:team:2.0:User CC-7 42
	// 200 true
	// 200 1
	// 400 urn:acme:params:scim:schemas:extension:team:2.0:User:badge must be an integer.
}
