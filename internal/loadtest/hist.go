package loadtest

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a lock-free log-linear latency histogram: values below 128 ns have their own
// bucket, larger ones 64 buckets per power of two (relative error under 1.6 %). Its memory is
// fixed, so recording never allocates and never shows in the heap figures.
type hist struct {
	counts [64 * 42]atomic.Int64
	n      atomic.Int64
	errors atomic.Int64
}

func bucketOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 128 {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	b := 64*e + int(v>>e)
	return min(b, 64*42-1)
}

// lowerBound is the smallest value of bucket b.
func lowerBound(b int) time.Duration {
	if b < 128 {
		return time.Duration(b)
	}
	e := b/64 - 1
	m := b%64 + 64
	return time.Duration(uint64(m) << e)
}

func (h *hist) record(d time.Duration) {
	h.counts[bucketOf(d)].Add(1)
	h.n.Add(1)
}

func (h *hist) fail() { h.errors.Add(1) }

// quantile returns the latency below which a fraction q of the recorded values lie (the
// lower bound of the bucket that holds the q-th value).
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(q*float64(n-1)) + 1
	var seen int64
	for b := range h.counts {
		seen += h.counts[b].Load()
		if seen >= rank {
			return lowerBound(b)
		}
	}
	return lowerBound(len(h.counts) - 1)
}
