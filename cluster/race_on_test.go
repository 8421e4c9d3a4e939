//go:build race

package cluster_test

// raceBuild: the race detector slows the workers (this test binary) 5 to
// 20 times; tests that size a workload by it scale down.
const raceBuild = true
