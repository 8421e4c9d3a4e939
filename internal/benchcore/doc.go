// Package benchcore holds the core benchmarks of stackless and their
// goroutine baselines as ordinary functions, so that both `go test -bench`
// and the CLI (`stackless bench`, through testing.Benchmark) can run them.
//
// scheduler/bench_test.go runs these same functions for `make bench`.
// Each function says what one op is.
package benchcore
