// Command embed is a host's main in miniature: it serves teamscim's SCIM endpoint under
// /scim/v2 on loopback, with one team set up the way a host's settings page would.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	srv, err := teamscim.New(teamscim.Config{Store: memstore.New(), Logger: slog.Default()})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))

	// The host creates the team; the person who created it (the host's user u-42, whom the
	// host authorised) becomes its first admin, then turns on SSO and SCIM and makes a key.
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Acme", Plan: teamscim.PlanEnterprise})
	if err != nil {
		return err
	}
	creator := teamscim.Actor{MemberID: "u-42", OrgManager: true}
	owner, err := srv.AddMember(ctx, team.ID, creator, teamscim.Member{
		Email: "admin@acme.example", Roles: []string{teamscim.RoleSuperAdmin}})
	if err != nil {
		return err
	}
	admin := teamscim.Actor{MemberID: owner.ID} // who acts; the library checks their role
	if err := srv.ConfigureSSO(ctx, team.ID, admin, teamscim.SSOSAML); err != nil {
		return err
	}
	if err := srv.EnableSCIM(ctx, team.ID, admin); err != nil {
		return err
	}
	key, err := srv.GenerateKey(ctx, team.ID, admin, teamscim.KeyOptions{Name: "Okta"})
	if err != nil {
		return err
	}
	fmt.Println("SCIM API key (shown once):", key.Secret)
	return http.ListenAndServe("127.0.0.1:8080", mux)
}
