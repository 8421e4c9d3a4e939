package testwatch

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"testing"
	"time"
)

// module is the prefix of the frames Summary keeps.
const module = "github.com/stackless-go/stackless/"

// Main runs the tests of m and exits with their code; if they have not
// ended after limit, it writes where this module's goroutines are to
// stderr and exits with code 2.
func Main(m *testing.M, limit time.Duration) {
	t := time.AfterFunc(limit, func() {
		fmt.Fprintf(os.Stderr, "testwatch: the tests still run after %v: a hang; the goroutines of this module:\n", limit)
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		Summary(os.Stderr, allStacks())
		os.Exit(2)
	})
	code := m.Run()
	t.Stop()
	os.Exit(code)
}

// allStacks is runtime.Stack of every goroutine, however long.
func allStacks() []byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Summary writes, for the goroutine dump dump (runtime.Stack's format), one
// line per distinct place where goroutines running this module's code wait:
// the count, the wait reason and the innermost module frames.
func Summary(w io.Writer, dump []byte) {
	count := map[string]int{}
	for _, g := range bytes.Split(dump, []byte("\n\n")) {
		if line := place(string(g)); line != "" {
			count[line]++
		}
	}
	lines := make([]string, 0, len(count))
	for l := range count {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	fmt.Fprintf(w, "testwatch: %d places where this module's goroutines are:\n", len(lines))
	for _, l := range lines {
		fmt.Fprintf(w, "testwatch: %4d x %s\n", count[l], l)
	}
}

// place is "[state] f1 < f2 < f3" for one goroutine's stack: its state and
// its three innermost frames of this module (without the module prefix),
// or "" if none of its frames is this module's.
func place(g string) string {
	lines := strings.Split(strings.TrimSpace(g), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "goroutine ") {
		return ""
	}
	state := lines[0]
	if i, j := strings.Index(state, "["), strings.LastIndex(state, "]"); i >= 0 && j > i {
		state = state[i : j+1]
		if k := strings.Index(state, ","); k > 0 { // "[chan receive, 5 minutes]"
			state = state[:k] + "]"
		}
	}
	var frames []string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "created by ") {
			continue
		}
		if f, ok := strings.CutPrefix(l, module); ok {
			if k := strings.LastIndex(f, "("); k > 0 {
				f = f[:k]
			}
			frames = append(frames, f)
			if len(frames) == 3 {
				break
			}
		}
	}
	if len(frames) == 0 {
		return ""
	}
	return state + " " + strings.Join(frames, " < ")
}
