package loadtest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tiny run (a few hundred requests per phase, well under two seconds) answers every
// request as an IdP expects and measures every phase.
func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, Options{Users: 300, Checkpoint: 120, Workers: 4, Duration: 150 * time.Millisecond,
		PacedRate: 100, PacedDuration: 200 * time.Millisecond, Progress: &progress})
	require.NoError(t, err)
	assert.Zero(t, rep.Errors, progress.String())
	for _, want := range []struct {
		phase, name string
		users       int
	}{
		{"sync", "POST /Users", 120}, {"sync", "POST /Users", 300}, {"sync", "filter userName eq (miss)", 300},
		{"read", "GET /Users/{id}", 120}, {"read", "filter userName eq (hit)", 300},
		{"mixed", "PATCH deactivate", 300}, {"mixed", "PATCH group add 10 members", 300},
		{"paced", "Entra mix at 100 req/s", 300},
	} {
		var found bool
		for _, o := range rep.Ops {
			if o.Phase == want.phase && o.Name == want.name && o.Users == want.users {
				found = true
				assert.Positive(t, o.Count, "%s %s", o.Phase, o.Name)
				assert.Positive(t, o.P99, "%s %s", o.Phase, o.Name)
				assert.GreaterOrEqual(t, o.P99, o.P50)
			}
		}
		assert.True(t, found, "%+v", want)
	}
	sync, _ := rep.Find("sync", "POST /Users")
	assert.EqualValues(t, 120, sync.Count)
	assert.Positive(t, rep.SyncTime)
	var out bytes.Buffer
	rep.Print(&out)
	assert.Contains(t, out.String(), "heap per user after the sync")
	assert.Contains(t, out.String(), "GET /Users/{id}")
}
