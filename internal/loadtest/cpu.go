package loadtest

import "time"

// ProcessCPU is the CPU time (user and system) the process has used so far, where the
// platform measures it (0 elsewhere). Benchmarks report it per operation next to ns/op: on a
// shared machine it does not grow when the neighbours take the cores, as wall time does.
func ProcessCPU() time.Duration { return processCPU() }
