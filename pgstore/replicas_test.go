package pgstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memaccounts"
	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
)

// replica is one process of a host's identity service: a Server on a pool of its own,
// mounted under /scim/v2.
type replica struct {
	srv   *teamscim.Server
	store *pgstore.Store
	h     http.Handler
}

func newReplica(t *testing.T, schema string) replica {
	t.Helper()
	st := pgstore.New(pgstore.OpenPool(t, schema))
	srv, err := teamscim.New(teamscim.Config{Store: st})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	return replica{srv: srv, store: st, h: mux}
}

// readyTeam creates a team through r's admin API, configures SSO, enables SCIM and
// generates a key, and returns the team ID and the key's secret.
func readyTeam(t testing.TB, r replica, name string) (string, teamscim.NewKey) {
	t.Helper()
	ctx := t.Context()
	team, err := r.srv.CreateTeam(ctx, teamscim.TeamOptions{Name: name, Plan: teamscim.PlanEnterprise})
	require.NoError(t, err)
	admin := teamscim.Actor{MemberID: "replica-test", OrgManager: true}
	require.NoError(t, r.srv.ConfigureSSO(ctx, team.ID, admin, "saml"))
	require.NoError(t, r.srv.EnableSCIM(ctx, team.ID, admin))
	k, err := r.srv.GenerateKey(ctx, team.ID, admin, teamscim.KeyOptions{Name: "IdP"})
	require.NoError(t, err)
	return team.ID, k
}

// result is a recorded response and its decoded JSON body.
type result struct {
	code int
	body map[string]any
	raw  string
}

// do sends a request to r's handler the way an IdP would.
func (r replica) do(t *testing.T, key, method, path string, body any) result {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Error(err)
		}
		rd = bytes.NewReader(b)
	}
	var req *http.Request
	if rd != nil {
		req = httptest.NewRequest(method, "http://scim.example.com/scim/v2"+path, rd)
		req.Header.Set("Content-Type", "application/scim+json")
	} else {
		req = httptest.NewRequest(method, "http://scim.example.com/scim/v2"+path, nil)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	res := result{code: w.Code, raw: w.Body.String()}
	if w.Body.Len() > 0 {
		_ = json.Unmarshal(w.Body.Bytes(), &res.body)
	}
	return res
}

func filterPath(f string) string { return "/Users?filter=" + url.QueryEscape(f) }

// countUsers counts the team's stored users, hidden ones included, through a store of its own.
func countUsers(t *testing.T, schema, teamID string) int {
	t.Helper()
	st := pgstore.New(pgstore.OpenPool(t, schema))
	var n int
	require.NoError(t, st.View(t.Context(), teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.CountUsers(ctx, store.UserFilter{IncludeDeleted: true})
		return err
	}))
	return n
}

// Two Servers on one database, as two replicas behind a load balancer: 100 concurrent creates
// of one userName (in mixed case), alternating between them, create exactly one user.
func TestTwoServersCreateOneUserName(t *testing.T) {
	schema := pgstore.NewSchema(t)
	a, b := newReplica(t, schema), newReplica(t, schema)
	teamID, key := readyTeam(t, a, "Acme")

	names := []string{"Alice@X.com", "alice@x.com", "ALICE@x.COM", "aLiCe@X.cOm"}
	const n = 100
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Go(func() {
			<-start
			results[i] = r.do(t, key.Secret, http.MethodPost, "/Users", map[string]any{
				"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
				"userName": names[i%len(names)],
				"name":     map[string]any{"givenName": "Alice", "familyName": "Smith"},
				"active":   true,
			})
		})
	}
	close(start)
	wg.Wait()

	codes := map[int]int{}
	var created result
	for i, res := range results {
		codes[res.code]++
		switch res.code {
		case http.StatusCreated:
			created = res
		case http.StatusConflict:
			assert.Equal(t, "uniqueness", res.body["scimType"], "request %d: %s", i, res.raw)
			assert.Equal(t, "409", res.body["status"], "request %d", i)
		default:
			t.Errorf("request %d: %d %s", i, res.code, res.raw)
		}
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, codes)
	assert.Equal(t, 1, countUsers(t, schema, teamID), "stored users")

	// Both replicas find the one user, by id and by userName in any case.
	id, _ := created.body["id"].(string)
	require.NotEmpty(t, id, created.raw)
	for _, r := range []replica{a, b} {
		got := r.do(t, key.Secret, http.MethodGet, "/Users/"+id, nil)
		require.Equal(t, http.StatusOK, got.code, got.raw)
		list := r.do(t, key.Secret, http.MethodGet, filterPath(`userName eq "ALICE@X.COM"`), nil)
		require.Equal(t, http.StatusOK, list.code, list.raw)
		assert.EqualValues(t, 1, list.body["totalResults"], list.raw)
	}
}

// What one replica writes, the other reads on its next request: a user created on A is
// deactivated on B, and SCIM turned off or a key revoked on A stops the key on B at once.
func TestTwoServersShareState(t *testing.T) {
	schema := pgstore.NewSchema(t)
	a, b := newReplica(t, schema), newReplica(t, schema)
	teamID, key := readyTeam(t, a, "Acme")

	res := a.do(t, key.Secret, http.MethodPost, "/Users", map[string]any{"userName": "bob@example.com", "externalId": "ext-bob"})
	require.Equal(t, http.StatusCreated, res.code, res.raw)
	id := res.body["id"].(string)

	patch := b.do(t, key.Secret, http.MethodPatch, "/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
	})
	require.Equal(t, http.StatusOK, patch.code, patch.raw)
	got := a.do(t, key.Secret, http.MethodGet, filterPath(`externalId eq "ext-bob"`), nil)
	require.Equal(t, http.StatusOK, got.code, got.raw)
	rs := got.body["Resources"].([]any)
	require.Len(t, rs, 1)
	assert.Equal(t, false, rs[0].(map[string]any)["active"], "A reads B's deactivation")

	// B has used the key: what it decides on is still read on every request.
	admin := teamscim.Actor{MemberID: "replica-test", OrgManager: true}
	require.NoError(t, a.srv.DisableSCIM(t.Context(), teamID, admin))
	assert.Equal(t, http.StatusForbidden, b.do(t, key.Secret, http.MethodGet, "/Users/"+id, nil).code,
		"B refuses a request of a team whose SCIM A turned off")
	require.NoError(t, a.srv.EnableSCIM(t.Context(), teamID, admin))
	assert.Equal(t, http.StatusOK, b.do(t, key.Secret, http.MethodGet, "/Users/"+id, nil).code)
	require.NoError(t, a.srv.RevokeKey(t.Context(), teamID, admin, key.Key.ID))
	assert.Equal(t, http.StatusUnauthorized, b.do(t, key.Secret, http.MethodGet, "/Users/"+id, nil).code,
		"B refuses a key revoked on A")
	assert.Equal(t, http.StatusUnauthorized, b.do(t, key.Secret, http.MethodGet, filterPath(`userName eq "bob@example.com"`), nil).code,
		"B refuses a key revoked on A, in a list")
}

// Count-then-create Updates from two stores on one database, the shape of a seat check: of
// 30 Updates (15 from each store) at a limit of 5 active users, exactly 5 create one.
func TestTwoStoresCountThenCreate(t *testing.T) {
	schema := pgstore.NewSchema(t)
	stores := []*pgstore.Store{pgstore.New(pgstore.OpenPool(t, schema)), pgstore.New(pgstore.OpenPool(t, schema))}
	require.NoError(t, stores[0].CreateTeam(t.Context(), store.Team{ID: "team-1", Name: "Acme"}))

	errFull := errors.New("no seat left")
	const n, seats = 30, 5
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		st := stores[i%2]
		wg.Go(func() {
			<-start
			now := time.Now()
			u := store.User{ID: fmt.Sprintf("user-%02d", i), UserName: fmt.Sprintf("user-%02d@example.com", i),
				Active: true, Seat: true, Created: now, LastModified: now, Version: 1}
			errs[i] = st.Update(t.Context(), "team-1", func(ctx context.Context, tx store.Tx) error {
				c, err := tx.CountUsers(ctx, store.UserFilter{Active: new(true), Seat: new(true)})
				if err != nil {
					return err
				}
				if c >= seats {
					return errFull
				}
				return tx.CreateUser(ctx, u)
			})
		})
	}
	close(start)
	wg.Wait()
	ok, full := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errFull):
			full++
		default:
			t.Errorf("update %d: %v", i, err)
		}
	}
	assert.Equal(t, seats, ok)
	assert.Equal(t, n-seats, full)
	assert.Equal(t, seats, countUsers(t, schema, "team-1"))
}

// Two Servers on one database share the host's account service. Each member's account
// creation fails once and stays pending; then each member is deactivated and reactivated
// through both replicas while both run RetryPending over and over. Claims of a member's next
// job race between the requests' Updates and the UpdateJobs that record outcomes (which do not
// take the team's lock), on two pools: every account call still succeeds exactly once, in the
// order of the changes (create, remove, add).
func TestReplicasRunEachAccountCallOnce(t *testing.T) {
	schema := pgstore.NewSchema(t)
	accounts := memaccounts.New()
	var failed sync.Map // email → the creation failed once already
	accounts.FailWith(func(method string, req teamscim.AccountRequest) error {
		if _, again := failed.LoadOrStore(req.Email, true); method == "CreateAccount" && !again {
			return errors.New("the account service is down")
		}
		return nil
	})
	replicaWith := func() replica {
		st := pgstore.New(pgstore.OpenPool(t, schema))
		srv, err := teamscim.New(teamscim.Config{Store: st, Accounts: accounts})
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
		return replica{srv: srv, store: st, h: mux}
	}
	a, b := replicaWith(), replicaWith()
	_, key := readyTeam(t, a, "Acme")

	const n = 12
	ids := make([]string, n)
	for i := range ids {
		res := a.do(t, key.Secret, http.MethodPost, "/Users", map[string]any{"userName": fmt.Sprintf("m%02d@example.com", i)})
		require.Equal(t, http.StatusCreated, res.code, res.raw)
		ids[i] = res.body["id"].(string)
	}
	active := func(v bool) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": v}}}}
	}
	done := make(chan struct{})
	var retries sync.WaitGroup
	for _, r := range []replica{a, b} {
		retries.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := r.srv.RetryPending(t.Context()); err != nil {
					t.Errorf("RetryPending: %v", err)
					return
				}
			}
		})
	}
	var writes sync.WaitGroup
	for i, id := range ids {
		writes.Go(func() {
			first, second := a, b
			if i%2 == 1 {
				first, second = b, a
			}
			if res := first.do(t, key.Secret, http.MethodPatch, "/Users/"+id, active(false)); res.code != http.StatusOK {
				t.Errorf("deactivate %s: %d %s", id, res.code, res.raw)
			}
			if res := second.do(t, key.Secret, http.MethodPatch, "/Users/"+id, active(true)); res.code != http.StatusOK {
				t.Errorf("reactivate %s: %d %s", id, res.code, res.raw)
			}
		})
	}
	writes.Wait()
	close(done)
	retries.Wait()
	pending, err := a.srv.RetryPending(t.Context())
	require.NoError(t, err)
	require.Zero(t, pending, "every call has succeeded")

	got := map[string][]string{}
	for _, c := range accounts.Calls() {
		got[c.Req.Email] = append(got[c.Req.Email], c.Method)
	}
	for i := range ids {
		email := fmt.Sprintf("m%02d@example.com", i)
		assert.Equal(t, []string{"CreateAccount", "RemoveFromTeam", "AddToTeam"}, got[email], email)
	}
}
