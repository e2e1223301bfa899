package teamscim_test

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
	"github.com/teamscim/teamscim/store"
)

// seed adds n users to the env's team directly through the store (fast), and returns their
// ids in creation order.
func seed(b *testing.B, e *env, n int) []string {
	b.Helper()
	ids := make([]string, 0, n)
	now := time.Now()
	for start := 0; start < n; start += 5000 {
		err := e.st.Update(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
			for i := start; i < min(start+5000, n); i++ {
				id := fmt.Sprintf("seed-%08d", i)
				u := store.User{ID: id, UserName: fmt.Sprintf("user%08d@example.com", i), GivenName: "G", FamilyName: "F",
					Active: true, Managed: true, Roles: []string{teamscim.RoleDeveloper}, Created: now, LastModified: now, Version: 1}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(b, err)
	}
	for i := range n {
		ids = append(ids, fmt.Sprintf("seed-%08d", i))
	}
	return ids
}

func benchEnv(b *testing.B) *env { return newEnv(b) }

func doBench(b *testing.B, h http.Handler, method, target, body, key string) {
	b.Helper()
	var rd *strings.Reader
	for b.Loop() {
		rd = strings.NewReader(body)
		r := httptest.NewRequest(method, target, rd)
		r.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			r.Header.Set("Content-Type", "application/scim+json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 300 {
			b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body.String())
		}
	}
}

// BenchmarkGetUser is GET /Users/{id} at two team sizes.
func BenchmarkGetUser(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			ids := seed(b, e, n)
			doBench(b, e.h, http.MethodGet, "/scim/v2/Users/"+ids[n/2], "", e.key)
		})
	}
}

// BenchmarkFilterUserName is the IdPs' existence check, GET /Users?filter=userName eq "…",
// at two team sizes: it must not grow with the team.
func BenchmarkFilterUserName(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			seed(b, e, n)
			q := url.QueryEscape(fmt.Sprintf(`userName eq "USER%08d@example.com"`, n/2))
			doBench(b, e.h, http.MethodGet, "/scim/v2/Users?filter="+q+"&startIndex=1&count=100", "", e.key)
		})
	}
}

// BenchmarkCreateUser is POST /Users of Okta's create body into a team of 10,000.
func BenchmarkCreateUser(b *testing.B) {
	e := benchEnv(b)
	seed(b, e, 10_000)
	i := 0
	for b.Loop() {
		i++
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new%d@example.com","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"new%d@example.com","type":"work"}],"externalId":"ext%d","active":true}`, i, i, i)
		r := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+e.key)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
}

// BenchmarkDeactivateUser is Okta's path-less deactivate PATCH.
func BenchmarkDeactivateUser(b *testing.B) {
	e := benchEnv(b)
	ids := seed(b, e, 10_000)
	doBench(b, e.h, http.MethodPatch, "/scim/v2/Users/"+ids[5000],
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`, e.key)
}

// BenchmarkHostileFilter is L4's "400 invalidFilter within 100 ms" for a filter nested 1,000
// deep, a 20 KB filter and long not-chains, through the handler.
func BenchmarkHostileFilter(b *testing.B) {
	e := benchEnv(b)
	seed(b, e, 1000)
	for name, f := range hostileFilters() {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			target := "/scim/v2/Users?filter=" + url.QueryEscape(f)
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, target, nil)
				r.Header.Set("Authorization", "Bearer "+e.key)
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, r)
				if w.Code != http.StatusBadRequest {
					b.Fatalf("%d %s", w.Code, w.Body.String())
				}
			}
		})
	}
}
