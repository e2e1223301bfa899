package teamscim_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
)

// fakeClock is a Config.Now that moves only when the test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func limitedEnv(t *testing.T, limits teamscim.RateLimits) (*env, *fakeClock) {
	clock := newFakeClock()
	e := newEnv(t, func(c *teamscim.Config) {
		c.RateLimit = limits
		c.Now = clock.Now
	})
	return e, clock
}

// require429 asserts R1's shape of a rate-limited response and returns its Retry-After.
func require429(t *testing.T, res response) int {
	t.Helper()
	requireSCIMError(t, res, http.StatusTooManyRequests, "")
	secs, err := strconv.Atoi(res.Header().Get("Retry-After"))
	require.NoError(t, err, "Retry-After must be an integer number of seconds: %q", res.Header().Get("Retry-After"))
	require.GreaterOrEqual(t, secs, 1)
	return secs
}

// R1: a team over its write budget gets 429 with Retry-After and a SCIM error body, nothing is
// stored, another team is unaffected, and after Retry-After (on the fake clock) it succeeds.
func TestRateLimitWrites(t *testing.T) {
	e, clock := limitedEnv(t, teamscim.PostmanRateLimits)
	ids := make([]string, 0, 180)
	for i := range 180 {
		ids = append(ids, e.createUser(fmt.Sprintf("u%03d@example.com", i)))
	}
	res := e.req(http.MethodPost, "/Users", map[string]any{"userName": "over@example.com"})
	wait := require429(t, res)
	assert.Contains(t, res.str("detail"), "180 writes per minute")
	assert.Equal(t, 180, e.countUsers(), "a limited request stores nothing")

	// Every write method spends the write budget, DELETE included; reads have their own.
	require429(t, e.req(http.MethodPut, "/Users/"+ids[0], map[string]any{"userName": "renamed@example.com"}))
	require429(t, e.req(http.MethodPatch, "/Users/"+ids[0], deactivateOkta(false)))
	require429(t, e.req(http.MethodDelete, "/Users/"+ids[0], nil))
	u := e.user(ids[0])
	assert.Equal(t, "u000@example.com", u.UserName)
	assert.True(t, u.Active)
	assert.False(t, u.Deleted)
	assert.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users/"+ids[0], nil).Code)

	// Another team has its own budget.
	_, otherKey, _ := e.newTeam("Other")
	assert.Equal(t, http.StatusCreated, e.reqAuth(http.MethodPost, "/Users", map[string]any{"userName": "over@example.com"}, "Bearer "+otherKey).Code)

	// 180 per minute refills one write every 333 ms: Retry-After rounds up to whole seconds.
	assert.Equal(t, 1, wait)
	clock.Advance(time.Duration(wait) * time.Second)
	res = e.req(http.MethodPost, "/Users", map[string]any{"userName": "over@example.com"})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	assert.Equal(t, 181, e.countUsers())
}

// R1 for reads: 300 GETs per minute, then 429 until a token is back.
func TestRateLimitReads(t *testing.T) {
	e, clock := limitedEnv(t, teamscim.PostmanRateLimits)
	for i := range 300 {
		res := e.req(http.MethodGet, filterPath(`userName eq "nobody@example.com"`), nil)
		require.Equal(t, http.StatusOK, res.Code, "read %d: %s", i, res.Body.String())
	}
	wait := require429(t, e.req(http.MethodGet, "/Users", nil))
	require429(t, e.req(http.MethodGet, "/ServiceProviderConfig", nil))
	// Writes are a separate budget.
	e.createUser("writer@example.com")
	clock.Advance(time.Duration(wait) * time.Second)
	assert.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users", nil).Code)
}

// Retry-After is computed from the bucket: a slow refill asks for a longer wait, and a retry
// before it still fails.
func TestRateLimitRetryAfterFromBucket(t *testing.T) {
	e, clock := limitedEnv(t, teamscim.RateLimits{WritesPerMinute: 2}) // one token every 30 s
	e.createUser("a@example.com")
	e.createUser("b@example.com")
	wait := require429(t, e.req(http.MethodPost, "/Users", map[string]any{"userName": "c@example.com"}))
	assert.Equal(t, 30, wait)
	clock.Advance(20 * time.Second)
	wait = require429(t, e.req(http.MethodPost, "/Users", map[string]any{"userName": "c@example.com"}))
	assert.Equal(t, 10, wait, "a refused request spends nothing")
	clock.Advance(10 * time.Second)
	assert.Equal(t, http.StatusCreated, e.req(http.MethodPost, "/Users", map[string]any{"userName": "c@example.com"}).Code)
	// Reads are unlimited when only writes are configured.
	for range 50 {
		require.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users", nil).Code)
	}
}

// Requests that fail authentication never spend a team's budget.
func TestRateLimitAfterAuthentication(t *testing.T) {
	e, _ := limitedEnv(t, teamscim.RateLimits{WritesPerMinute: 5, ReadsPerMinute: 5})
	for range 100 {
		requireSCIMError(t, e.reqAuth(http.MethodPost, "/Users", map[string]any{"userName": "x@example.com"}, "Bearer tscim_wrong-key-wrong-key-wrong"), http.StatusUnauthorized, "")
		requireSCIMError(t, e.reqAuth(http.MethodGet, "/Users", nil, ""), http.StatusUnauthorized, "")
	}
	for i := range 5 {
		e.createUser(fmt.Sprintf("u%d@example.com", i))
		require.Equal(t, http.StatusOK, e.req(http.MethodGet, "/Users", nil).Code)
	}
	require429(t, e.req(http.MethodGet, "/Users", nil))
}

// Concurrent requests never overspend the budget: with a frozen clock exactly the burst passes.
func TestRateLimitConcurrent(t *testing.T) {
	e, _ := limitedEnv(t, teamscim.RateLimits{WritesPerMinute: 60, WriteBurst: 25})
	const n = 80
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = e.req(http.MethodPost, "/Users", map[string]any{"userName": fmt.Sprintf("c%02d@example.com", i)}).Code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 25, http.StatusTooManyRequests: n - 25}, count)
	assert.Equal(t, 25, e.countUsers())
}

// R2: 60 s of Entra traffic at 25 requests per second (on the fake clock) with the limiter
// configured for it answers no 429 and no 5xx; with Postman's limits the same traffic gets
// 429s shaped as in R1, and still no 5xx.
func TestRateLimitSustainedEntraTraffic(t *testing.T) {
	entra := teamscim.RateLimits{ReadsPerMinute: 25 * 60, WritesPerMinute: 25 * 60, ReadBurst: 50, WriteBurst: 50}
	for name, limits := range map[string]teamscim.RateLimits{"configured for 25/s": entra, "postman": teamscim.PostmanRateLimits} {
		t.Run(name, func(t *testing.T) {
			e, clock := limitedEnv(t, limits)
			codes := map[int]int{}
			send := func(method, path string, body any) response {
				res := e.req(method, path, body)
				codes[res.Code]++
				if res.Code == http.StatusTooManyRequests {
					require429(t, res)
				}
				require.Less(t, res.Code, 500, res.Body.String())
				clock.Advance(40 * time.Millisecond) // 25 requests per second
				return res
			}
			var ids []string
			for i := 0; len(codes) == 0 || sum(codes) < 25*60; i++ {
				name := fmt.Sprintf("user%04d@contoso.com", i)
				send(http.MethodGet, filterPath(`userName eq "`+name+`"`), nil)
				if res := send(http.MethodPost, "/Users", map[string]any{"userName": name, "active": "True"}); res.Code == http.StatusCreated {
					ids = append(ids, res.str("id"))
				}
				if len(ids) > 0 {
					id := ids[i%len(ids)]
					send(http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"name.givenName","value":"Jane"}]}`)
					send(http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
					send(http.MethodGet, "/Users/"+id, nil)
				}
			}
			if name == "postman" {
				assert.Positive(t, codes[http.StatusTooManyRequests])
			} else {
				assert.Zero(t, codes[http.StatusTooManyRequests], "%v", codes)
			}
		})
	}
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
