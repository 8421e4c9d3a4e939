package cluster

import (
	"runtime"
	"testing"
	"time"
)

// testWait bounds a wait of this package's own tests on something
// in-process.
const testWait = 90 * time.Second

// recvWithin receives from ch. Nothing within testWait fails the test with
// what it waited for and every goroutine's stack: an unbounded receive hung
// the package until its timeout, whose dump does not say which test waited.
func recvWithin[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testWait):
		t.Fatalf("%s: nothing within %v; goroutines:\n%s", what, testWait, allStacks())
		panic("unreachable")
	}
}

// allStacks is every goroutine's stack, for a test that gave up waiting
// on something in this process: it shows where it waits.
func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
