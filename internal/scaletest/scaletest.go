// Package scaletest holds what the tests and benchmarks that compare a request's cost in a
// small and in a large team share (issue 14, "guard it"): the identity providers' hot
// requests, the users a team is seeded with for them, and one way to send a request.
//
// The tests assert costs that do not depend on the machine (allocations, store calls, round
// trips, query plans) and must be the same at Small and Large users; the benchmarks give the
// time at both sizes. A cost that grows with the team's size fails the tests.
package scaletest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/store"
)

// The team sizes compared.
const (
	Small = 10_000
	Large = 100_000
)

// Sizes are the team sizes compared, in order.
var Sizes = []int{Small, Large}

// UserID is the ID of the i-th seeded user.
func UserID(i int) string { return fmt.Sprintf("seed-%08d", i) }

// UserName is the userName of the i-th seeded user.
func UserName(i int) string { return fmt.Sprintf("user%08d@example.com", i) }

// Users returns n users to seed a team with: active, SCIM-managed Developers holding a seat,
// with UserID(i) and UserName(i).
func Users(n int) []store.User {
	now := time.Now()
	users := make([]store.User, n)
	for i := range users {
		users[i] = store.User{ID: UserID(i), UserName: UserName(i), GivenName: "G", FamilyName: "F",
			Active: true, Managed: true, Seat: true, Roles: []string{teamscim.RoleDeveloper},
			Created: now, LastModified: now, Version: 1}
	}
	return users
}

// Request is one request: its method, target (under the SCIM root), body, and the status it
// must get.
type Request struct {
	Method, Target, Body string
	Want                 int
}

// Op is one kind of request, named for benchmarks (GetUser, ...). Next returns the next
// request of the kind: a POST creates a new user every time, a PATCH deactivates and
// reactivates one user in turn.
type Op struct {
	Name string
	Next func() Request
}

const patchActive = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`

// Ops returns the hot requests of the identity providers for a team seeded with Users(n),
// with the SCIM root at prefix (for example "/scim/v2"): GET /Users/{id} (GetUser), the
// userName eq existence check (FilterUserName), the first page of 100 users (List100), Okta's
// path-less deactivation and reactivation in turn (DeactivateReactivate), and Okta's create
// (CreateUser).
func Ops(prefix string, n int) []Op {
	mid := n / 2
	toggles, creates := 0, 0
	return []Op{
		{"GetUser", func() Request {
			return Request{http.MethodGet, prefix + "/Users/" + UserID(mid), "", http.StatusOK}
		}},
		{"FilterUserName", func() Request {
			q := url.QueryEscape(`userName eq "` + strings.ToUpper(UserName(mid)) + `"`)
			return Request{http.MethodGet, prefix + "/Users?filter=" + q + "&startIndex=1&count=100", "", http.StatusOK}
		}},
		{"List100", func() Request {
			return Request{http.MethodGet, prefix + "/Users?startIndex=1&count=100", "", http.StatusOK}
		}},
		{"DeactivateReactivate", func() Request {
			toggles++
			return Request{http.MethodPatch, prefix + "/Users/" + UserID(n/3), fmt.Sprintf(patchActive, toggles%2 == 0), http.StatusOK}
		}},
		{"CreateUser", func() Request {
			creates++
			name := fmt.Sprintf("new%d@example.com", creates)
			return Request{http.MethodPost, prefix + "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name +
				`","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"` + name +
				`","type":"work"}],"externalId":"ext` + fmt.Sprint(creates) + `","active":true}`, http.StatusCreated}
		}},
	}
}

// Send serves r on h with the API key secret, and fails tb unless the answer has r's status.
func Send(tb testing.TB, h http.Handler, secret string, r Request) {
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	req := httptest.NewRequest(r.Method, r.Target, body)
	req.Header.Set("Authorization", "Bearer "+secret)
	if r.Body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != r.Want {
		tb.Fatalf("%s %s: %d %s", r.Method, r.Target, w.Code, w.Body.String())
	}
}
