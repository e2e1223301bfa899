package teamscim_test

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
)

// perfShapeBody is the user ../shared/perf loads (wrk/post.lua): userName, externalId, name,
// displayName, one work email, active.
func perfShapeBody(i int) string {
	u := fmt.Sprintf("user%d", i)
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s@example.com",`+
		`"externalId":"ext-%s","name":{"givenName":"Given%d","familyName":"Family%d","formatted":"Given%d Family%d"},`+
		`"displayName":"Given%d Family%d","emails":[{"value":"%s@example.com","type":"work","primary":true}],"active":true}`,
		u, u, i, i, i, i, i, i, u)
}

// BenchmarkHeapPerUser loads 100,000 users of the perf shape through the handler into memstore
// and reports the live heap they add, per user (runtime.MemStats after a GC, before and after),
// and the live objects they add, per user: what the garbage collector visits in every cycle.
// The target is at most 1 KiB per user. One iteration is enough:
//
//	go test -run '^$' -bench HeapPerUser -benchtime 1x .
func BenchmarkHeapPerUser(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		e := benchEnv(b)
		before := liveHeap()
		for i := range n {
			benchSend(b, e.h, e.key, http.MethodPost, "/scim/v2/Users", perfShapeBody(i), http.StatusCreated)
		}
		after := liveHeap()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/user")
		b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/n, "objects/user")
		runtime.KeepAlive(e)
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}
