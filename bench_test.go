package teamscim_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/scaletest"
	"github.com/teamscim/teamscim/store"
)

// seed adds n users (scaletest.Users) to the env's team directly through the store (fast),
// and returns their ids in creation order.
func seed(tb testing.TB, e *env, n int) []string {
	tb.Helper()
	users := scaletest.Users(n)
	for start := 0; start < n; start += 5000 {
		err := e.st.Update(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
			for _, u := range users[start:min(start+5000, n)] {
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(tb, err)
	}
	ids := make([]string, n)
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

func benchEnv(b *testing.B) *env { return newEnv(b) }

func doBench(b *testing.B, h http.Handler, method, target, body, key string) {
	b.Helper()
	for b.Loop() {
		benchSend(b, h, key, method, target, body, 0)
	}
}

// benchSend sends one request with key and fails the benchmark unless the status is want (any
// 2xx when want is 0).
func benchSend(b *testing.B, h http.Handler, key, method, target, body string, want int) {
	b.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if (want == 0 && w.Code >= 300) || (want != 0 && w.Code != want) {
		b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body.String())
	}
}

// BenchmarkRequest is each of the identity providers' hot requests (scaletest.Ops: GET by id,
// userName eq, a list of 100, a deactivation or reactivation, a create) in a team of 10,000
// and of 100,000 users: none may grow with the team (TestCostFlatInTeamSize holds their
// allocations and store reads to that; this gives the time).
func BenchmarkRequest(b *testing.B) {
	for _, n := range scaletest.Sizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			seed(b, e, n)
			for _, op := range scaletest.Ops("/scim/v2", n) {
				b.Run(op.Name, func(b *testing.B) {
					for b.Loop() {
						scaletest.Send(b, e.h, e.key, op.Next())
					}
				})
			}
		})
	}
}

// benchCreate posts Okta's create body with a new userName on every iteration.
func benchCreate(b *testing.B, e *env) {
	b.Helper()
	i := 0
	for b.Loop() {
		i++
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new%d@example.com","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"new%d@example.com","type":"work"}],"externalId":"ext%d","active":true}`, i, i, i)
		benchSend(b, e.h, e.key, http.MethodPost, "/scim/v2/Users", body, http.StatusCreated)
	}
}

// groupOf creates a group holding the first n of ids, through the store, and returns its id.
func groupOf(b *testing.B, e *env, ids []string, n int) string {
	b.Helper()
	gid := "bench-group"
	require.NoError(b, e.st.Update(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateGroup(ctx, store.Group{ID: gid, DisplayName: "Bench", Roles: []string{teamscim.RoleDeveloper}, Version: 1}); err != nil {
			return err
		}
		_, err := tx.AddMembers(ctx, gid, ids[:n])
		return err
	}))
	return gid
}

func membersPatch(op string, ids []string) string {
	var sb strings.Builder
	sb.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"` + op + `","path":"members","value":[`)
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"value":"` + id + `"}`)
	}
	sb.WriteString(`]}]}`)
	return sb.String()
}

// BenchmarkGroupAddMember is one member added to a group of 1k, 10k and 100k members: it must
// not grow with the group (O(changes)). Each iteration adds and removes the same member.
func BenchmarkGroupAddMember(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			ids := seed(b, e, n+1)
			gid := groupOf(b, e, ids, n)
			add, remove := membersPatch("add", ids[n:]), membersPatch("remove", ids[n:])
			for b.Loop() {
				for _, body := range []string{add, remove} {
					benchSend(b, e.h, e.key, http.MethodPatch, "/scim/v2/Groups/"+gid, body, http.StatusNoContent)
				}
			}
		})
	}
}

// BenchmarkGroupAdd10kMembers is one PATCH adding 10,000 members (about 400 KB) to a group in a
// team of 100,000 users (checklist G6: under 2 s). Each iteration starts from an empty group.
func BenchmarkGroupAdd10kMembers(b *testing.B) {
	e := benchEnv(b)
	ids := seed(b, e, 100_000)
	gid := groupOf(b, e, ids, 0)
	add, remove := membersPatch("add", ids[40_000:50_000]), membersPatch("remove", ids[40_000:50_000])
	send := func(body string) {
		benchSend(b, e.h, e.key, http.MethodPatch, "/scim/v2/Groups/"+gid, body, http.StatusNoContent)
	}
	for b.Loop() {
		send(add)
		b.StopTimer()
		send(remove)
		b.StartTimer()
	}
}

// BenchmarkGetGroupWithoutMembers is Entra's GET /Groups/{id}?excludedAttributes=members on a
// group of 100,000 members (checklist G8: under 50 ms, body under 2 KB).
func BenchmarkGetGroupWithoutMembers(b *testing.B) {
	e := benchEnv(b)
	ids := seed(b, e, 100_000)
	gid := groupOf(b, e, ids, 100_000)
	doBench(b, e.h, http.MethodGet, "/scim/v2/Groups/"+gid+"?excludedAttributes=members", "", e.key)
}

// BenchmarkCreateUserSeatPolicy is POST /Users without a seat policy and with each built-in
// one, in a team of 10,000: the policy's overhead (counting seats in the Update) must stay
// under 10%.
func BenchmarkCreateUserSeatPolicy(b *testing.B) {
	for _, c := range []struct {
		name   string
		policy teamscim.SeatPolicy
	}{{"none", nil}, {"limit", teamscim.SeatLimit(1 << 30)}, {"autoflex", teamscim.AutoFlex(10_000)}} {
		b.Run("policy="+c.name, func(b *testing.B) {
			e := newEnv(b, func(cfg *teamscim.Config) { cfg.Seats = c.policy })
			seed(b, e, 10_000)
			benchCreate(b, e)
		})
	}
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
				benchSend(b, e.h, e.key, http.MethodGet, target, "", http.StatusBadRequest)
			}
		})
	}
}

// BenchmarkFilterScan is a filter no index answers, at 100,000 users: it examines every user
// of the team (Config.MaxFilterScan bounds how many). "typed" filters on an attribute store.User
// holds in a field; "attributes" on one kept in store.User.Attributes, which is decoded for
// every user. The figures are what README.md quotes for a non-indexed filter.
func BenchmarkFilterScan(b *testing.B) {
	e := benchEnv(b)
	ids := seed(b, e, 100_000)
	require.NoError(b, e.st.Update(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		for i, id := range ids[:50_000] { // half the team has a title and an enterprise department
			u, err := tx.GetUser(ctx, id)
			if err != nil {
				return err
			}
			u.Attributes = []byte(fmt.Sprintf(`{"title":"T%d","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D%d"}}`, i, i%10))
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	}))
	for name, f := range map[string]string{
		"typed":      `name.givenName eq "nobody"`,
		"attributes": `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "D3"`,
	} {
		b.Run(name, func(b *testing.B) {
			doBench(b, e.h, http.MethodGet, "/scim/v2/Users?count=10&filter="+url.QueryEscape(f), "", e.key)
		})
	}
}
