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
		buf := make([]byte, 1<<20)
		t.Fatalf("%s: nothing within %v; goroutines:\n%s", what, testWait, buf[:runtime.Stack(buf, true)])
		panic("unreachable")
	}
}
