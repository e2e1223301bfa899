package teamscim

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimits are per-team request budgets, each a token bucket (golang.org/x/time/rate). GET
// requests are reads; POST, PUT, PATCH and DELETE are writes. A request over its team's budget
// answers 429 with a Retry-After header (whole seconds, at least 1) and a SCIM error body, and
// changes nothing. The budget is the authenticated key's team's: requests that fail
// authentication never spend it, and one team's traffic never limits another's.
//
// The zero value limits nothing, which is the default: hosts usually have a gateway in front,
// and Entra ID's gallery requires at least 25 requests per second per tenant.
type RateLimits struct {
	// ReadsPerMinute is the sustained number of GET requests a team may make per minute;
	// 0 leaves reads unlimited.
	ReadsPerMinute int
	// WritesPerMinute is the sustained number of POST, PUT, PATCH and DELETE requests a team
	// may make per minute; 0 leaves writes unlimited.
	WritesPerMinute int
	// ReadBurst and WriteBurst are the bucket sizes: how many requests a team that has been
	// quiet may send at once. Default: the per-minute figure, a minute's budget.
	ReadBurst, WriteBurst int
}

// PostmanRateLimits are the limits Postman documents for its SCIM API: 180 writes and 300
// reads per minute per team (DELETE, which Postman does not classify, counts as a write).
var PostmanRateLimits = RateLimits{ReadsPerMinute: 300, WritesPerMinute: 180}

// enabled reports whether any class is limited.
func (l RateLimits) enabled() bool { return l.ReadsPerMinute > 0 || l.WritesPerMinute > 0 }

// rateSweepInterval is how often, at most, buckets of idle teams are dropped.
const rateSweepInterval = time.Minute

// rateLimiter holds one pair of buckets per team that has sent requests recently. A bucket
// that has refilled to its burst is indistinguishable from a new one, so the buckets of teams
// whose buckets are all full are dropped (at most once per rateSweepInterval, during a
// request): the map holds only the teams active within about the last minute, and dropping
// loses nothing.
type rateLimiter struct {
	limits RateLimits

	mu        sync.Mutex
	teams     map[string]*teamBuckets
	lastSweep time.Time
}

// teamBuckets are one team's buckets; a nil bucket is an unlimited class.
type teamBuckets struct{ read, write *rate.Limiter }

func newRateLimiter(l RateLimits) *rateLimiter {
	if l.ReadBurst <= 0 {
		l.ReadBurst = l.ReadsPerMinute
	}
	if l.WriteBurst <= 0 {
		l.WriteBurst = l.WritesPerMinute
	}
	return &rateLimiter{limits: l, teams: map[string]*teamBuckets{}}
}

func bucket(perMinute, burst int) *rate.Limiter {
	if perMinute <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(float64(perMinute)/60), max(burst, 1))
}

// isWrite reports whether a request of this method spends the write budget.
func isWrite(method string) bool { return method != http.MethodGet && method != http.MethodHead }

// allow spends one token of the team's bucket for the request's class at now. When the bucket
// is empty it spends nothing and returns how long until a token is available.
func (rl *rateLimiter) allow(teamID string, write bool, now time.Time) (time.Duration, bool) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if now.Sub(rl.lastSweep) >= rateSweepInterval {
		rl.sweep(now)
	}
	tb, ok := rl.teams[teamID]
	if !ok {
		tb = &teamBuckets{
			read:  bucket(rl.limits.ReadsPerMinute, rl.limits.ReadBurst),
			write: bucket(rl.limits.WritesPerMinute, rl.limits.WriteBurst),
		}
		rl.teams[teamID] = tb
	}
	b := tb.read
	if write {
		b = tb.write
	}
	if b == nil {
		return 0, true
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep drops the buckets of teams whose buckets have all refilled. The caller holds mu.
func (rl *rateLimiter) sweep(now time.Time) {
	full := func(b *rate.Limiter) bool { return b == nil || b.TokensAt(now) >= float64(b.Burst()) }
	for id, tb := range rl.teams {
		if full(tb.read) && full(tb.write) {
			delete(rl.teams, id)
		}
	}
	rl.lastSweep = now
}

// size is the number of teams with buckets (for tests of the sweep).
func (rl *rateLimiter) size() int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return len(rl.teams)
}

// rateLimit spends a request's token of its team's budget (the write budget if write), or
// returns the 429 to answer, with the seconds to wait before a retry.
func (s *Server) rateLimit(ctx context.Context, teamID string, write bool) error {
	if s.limiter == nil {
		return nil
	}
	wait, ok := s.limiter.allow(teamID, write, s.now())
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	class, perMinute := "reads", s.cfg.RateLimit.ReadsPerMinute
	if write {
		class, perMinute = "writes", s.cfg.RateLimit.WritesPerMinute
	}
	s.tel.rateLimited(ctx, teamID, class)
	return &apiError{status: http.StatusTooManyRequests, retryAfter: secs,
		detail: fmt.Sprintf("Too many requests: the team's SCIM rate limit is %d %s per minute. Retry after %d s.", perMinute, class, secs)}
}
