package teamscim

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The buckets of idle teams are dropped once they have refilled, so the map does not grow
// with every team that ever sent a request; a team still paying off its burst is kept.
func TestRateLimiterDropsIdleTeams(t *testing.T) {
	rl := newRateLimiter(RateLimits{ReadsPerMinute: 60, WritesPerMinute: 30, WriteBurst: 60})
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 1000 {
		_, ok := rl.allow(fmt.Sprintf("team-%d", i), i%2 == 0, now)
		require.True(t, ok)
	}
	for range 60 {
		_, ok := rl.allow("busy", true, now)
		require.True(t, ok)
	}
	_, ok := rl.allow("busy", true, now)
	require.False(t, ok, "the busy team has spent its burst")
	assert.Equal(t, 1001, rl.size())

	// A minute later the 1,000 one-request teams have refilled; busy has 30 of its 60 back.
	now = now.Add(rateSweepInterval)
	_, ok = rl.allow("newcomer", false, now)
	require.True(t, ok)
	assert.Equal(t, 2, rl.size(), "only busy and the newcomer keep buckets")
	for range 30 {
		_, ok = rl.allow("busy", true, now)
		require.True(t, ok)
	}
	wait, ok := rl.allow("busy", true, now)
	assert.False(t, ok)
	assert.Equal(t, 2*time.Second, wait, "busy's bucket kept its state")
}
