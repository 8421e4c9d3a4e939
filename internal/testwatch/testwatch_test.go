package testwatch

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

const dump = `goroutine 1 [chan receive, 9 minutes]:
testing.(*T).Run(0xc000102ea0, {0x6b2e1f, 0x9}, 0x6c5ab8)
	/usr/local/go/src/testing/testing.go:1859 +0x431
github.com/stackless-go/stackless/scheduler.(*Scheduler).idle(0xc0001, {0x7, 0xc0})
	/w/scheduler/run.go:200 +0x1
github.com/stackless-go/stackless/scheduler.(*Scheduler).run(0xc0001, {0x7, 0xc0})
	/w/scheduler/run.go:120 +0x1
github.com/stackless-go/stackless/examples/longtask/task.drive(...)
	/w/examples/longtask/task/run.go:250
github.com/stackless-go/stackless/examples/longtask/task.Run(...)
	/w/examples/longtask/task/run.go:170

goroutine 7 [IO wait]:
internal/poll.runtime_pollWait(0x7f2d0a797a00, 0x72)
	/usr/local/go/src/runtime/netpoll.go:351 +0x85
created by net/http.(*Server).Serve in goroutine 6

goroutine 9 [select]:
github.com/stackless-go/stackless/store.(*Journal).committer(0xc0002)
	/w/store/journal.go:198 +0x1
created by github.com/stackless-go/stackless/store.OpenJournal in goroutine 1

goroutine 10 [select]:
github.com/stackless-go/stackless/store.(*Journal).committer(0xc0003)
	/w/store/journal.go:198 +0x1
created by github.com/stackless-go/stackless/store.OpenJournal in goroutine 1
`

func TestSummaryCountsThePlacesOfThisModule(t *testing.T) {
	var out bytes.Buffer
	Summary(&out, []byte(dump))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Equal(t, []string{
		"testwatch: 2 places where this module's goroutines are:",
		"testwatch:    1 x [chan receive] scheduler.(*Scheduler).idle < scheduler.(*Scheduler).run < examples/longtask/task.drive",
		"testwatch:    2 x [select] store.(*Journal).committer",
	}, lines, "the HTTP server's goroutine runs no code of this module")
}

func TestSummaryOfThisProcess(t *testing.T) {
	var out bytes.Buffer
	Summary(&out, allStacks())
	assert.Contains(t, out.String(), "internal/testwatch.TestSummaryOfThisProcess", "the test's own goroutine is in this module")
}
