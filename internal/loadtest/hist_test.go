package loadtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestHistBuckets(t *testing.T) {
	prev := -1
	for _, d := range []time.Duration{0, 1, 127, 128, 129, 255, 256, time.Microsecond, 17 * time.Microsecond,
		time.Millisecond, 200 * time.Millisecond, time.Minute} {
		b := bucketOf(d)
		assert.GreaterOrEqual(t, b, prev, "buckets do not shrink as the value grows (%v)", d)
		prev = b
		lo := lowerBound(b)
		assert.LessOrEqual(t, lo, d)
		assert.InEpsilon(t, float64(max(d, 1)), float64(max(lo, 1)), 0.016, "%v in bucket from %v", d, lo)
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	assert.InEpsilon(t, float64(500*time.Microsecond), float64(h.quantile(0.50)), 0.02)
	assert.InEpsilon(t, float64(990*time.Microsecond), float64(h.quantile(0.99)), 0.02)
	assert.Equal(t, time.Duration(0), (&hist{}).quantile(0.5))
}
