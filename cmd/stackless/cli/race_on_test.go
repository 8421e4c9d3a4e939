//go:build race

package cli

// raceBuild: the race detector slows the workers (this test binary) 5 to
// 20 times; tests that size a workload by it scale down.
const raceBuild = true
