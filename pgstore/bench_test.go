package pgstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
)

// The benchmarks drive a Server's handler the way the root package's benchmarks do, on
// pgstore and, for comparison, on memstore, in a team seeded with 100,000 users through the
// store (COPY for pgstore), not through HTTP.

const benchUsers = 100_000

// benchEnv is a Server on a store, with one ready team seeded with benchUsers users.
type benchEnv struct {
	h   http.Handler
	key string
}

func seedUsers(n int) []store.User {
	now := time.Now()
	users := make([]store.User, n)
	for i := range users {
		users[i] = store.User{ID: fmt.Sprintf("seed-%08d", i), UserName: fmt.Sprintf("user%08d@example.com", i),
			GivenName: "G", FamilyName: "F", Active: true, Managed: true, Roles: []string{teamscim.RoleDeveloper},
			Created: now, LastModified: now, Version: 1}
	}
	return users
}

func newBenchEnv(b *testing.B, kind string) benchEnv {
	b.Helper()
	ctx := context.Background()
	var st store.Store
	var seed func(teamID string, users []store.User) error
	switch kind {
	case "memstore":
		ms := memstore.New()
		st = ms
		seed = func(teamID string, users []store.User) error {
			return ms.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
				for _, u := range users {
					if err := tx.CreateUser(ctx, u); err != nil {
						return err
					}
				}
				return nil
			})
		}
	case "pgstore":
		pool := pgstore.OpenPool(b, pgstore.NewSchema(b))
		st = pgstore.New(pool)
		seed = func(teamID string, users []store.User) error { return pgstore.CopyUsers(ctx, pool, teamID, users) }
	}
	srv, err := teamscim.New(teamscim.Config{Store: st})
	require.NoError(b, err)
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Acme", Plan: teamscim.PlanEnterprise})
	require.NoError(b, err)
	admin := teamscim.Actor{MemberID: "bench", OrgManager: true}
	require.NoError(b, srv.ConfigureSSO(ctx, team.ID, admin, "saml"))
	require.NoError(b, srv.EnableSCIM(ctx, team.ID, admin))
	k, err := srv.GenerateKey(ctx, team.ID, admin, teamscim.KeyOptions{Name: "IdP"})
	require.NoError(b, err)
	require.NoError(b, seed(team.ID, seedUsers(benchUsers)))
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	return benchEnv{h: mux, key: k.Secret}
}

// forEachStore runs bench on memstore and on pgstore (skipped without a database).
func forEachStore(b *testing.B, bench func(b *testing.B, e benchEnv)) {
	for _, kind := range []string{"memstore", "pgstore"} {
		b.Run(fmt.Sprintf("store=%s/users=%d", kind, benchUsers), func(b *testing.B) {
			if kind == "pgstore" {
				pgstore.DSN(b)
			}
			bench(b, newBenchEnv(b, kind))
		})
	}
}

func (e benchEnv) serve(b *testing.B, method, target, body string, want int) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+e.key)
	if body != "" {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body.String())
	}
}

// BenchmarkGetUser is GET /Users/{id}.
func BenchmarkGetUser(b *testing.B) {
	forEachStore(b, func(b *testing.B, e benchEnv) {
		target := fmt.Sprintf("/scim/v2/Users/seed-%08d", benchUsers/2)
		for b.Loop() {
			e.serve(b, http.MethodGet, target, "", http.StatusOK)
		}
	})
}

// BenchmarkFilterUserName is the IdPs' existence check, GET /Users?filter=userName eq "…".
func BenchmarkFilterUserName(b *testing.B) {
	forEachStore(b, func(b *testing.B, e benchEnv) {
		q := url.QueryEscape(fmt.Sprintf(`userName eq "USER%08d@example.com"`, benchUsers/2))
		target := "/scim/v2/Users?filter=" + q + "&startIndex=1&count=100"
		for b.Loop() {
			e.serve(b, http.MethodGet, target, "", http.StatusOK)
		}
	})
}

// BenchmarkCreateUser is POST /Users of Okta's create body.
func BenchmarkCreateUser(b *testing.B) {
	forEachStore(b, func(b *testing.B, e benchEnv) {
		i := 0
		for b.Loop() {
			i++
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new%d@example.com",`+
				`"name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"new%d@example.com","type":"work"}],`+
				`"externalId":"ext%d","active":true}`, i, i, i)
			e.serve(b, http.MethodPost, "/scim/v2/Users", body, http.StatusCreated)
		}
	})
}
