package loadtest

import (
	"fmt"
	"runtime"
	"testing"
)

// TeamSizes are the team sizes at which BenchTeamSizes measures an operation.
var TeamSizes = []int{1_000, 10_000, 100_000}

// BenchTeamSizes measures one operation in a team of each of TeamSizes, as sub-benchmarks
// named unit=1k, unit=10k and unit=100k, so that a cost that grows with the team shows side
// by side. setup builds a team of n and returns the operation; op(i) is its i-th run. Besides
// ns/op and allocations it reports cpu-ns/op, the process's CPU time per operation, which the
// neighbours on a shared machine do not inflate as they do wall time.
func BenchTeamSizes(b *testing.B, unit string, setup func(b *testing.B, n int) (op func(i int))) {
	for _, n := range TeamSizes {
		b.Run(fmt.Sprintf("%s=%dk", unit, n/1000), func(b *testing.B) {
			op := setup(b, n)
			runtime.GC() // the setup's garbage is not the operation's
			b.ReportAllocs()
			b.ResetTimer()
			cpu := ProcessCPU()
			i := 0
			for b.Loop() {
				op(i)
				i++
			}
			b.ReportMetric(float64(ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
