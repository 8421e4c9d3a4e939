package ipc

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeListener fails its accepts with the errors it is given, then hands
// out its connections, then reports itself closed.
type fakeListener struct {
	mu    sync.Mutex
	errs  []error
	conns []net.Conn
	times []time.Time // of every Accept call
	gone  chan struct{}
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	f.times = append(f.times, time.Now())
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.mu.Unlock()
		return nil, err
	}
	if len(f.conns) > 0 {
		c := f.conns[0]
		f.conns = f.conns[1:]
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()
	<-f.gone
	return nil, net.ErrClosed
}

func (f *fakeListener) Close() error   { return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// Every failed accept but a closed listener is tried again, after pauses
// that grow from 5 ms; the run of failures is logged once when it starts
// and once when it ends.
func TestServeRetriesFailedAccepts(t *testing.T) {
	errs := []error{
		&net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE},
		&net.OpError{Op: "accept", Net: "tcp", Err: syscall.ENFILE},
		&net.OpError{Op: "accept", Net: "tcp", Err: syscall.ECONNABORTED},
		&net.OpError{Op: "accept", Net: "tcp", Err: syscall.ENOBUFS},
		&net.OpError{Op: "accept", Net: "tcp", Err: syscall.ENOMEM},
		&net.OpError{Op: "accept", Net: "tcp", Err: timeoutErr{}},
		errors.New("something never seen before"),
	}
	a, b := net.Pipe()
	defer b.Close()
	f := &fakeListener{errs: errs, conns: []net.Conn{a}, gone: make(chan struct{})}
	logs := newLogSink()
	var failed int
	got := make(chan net.Conn, 1)
	done := make(chan struct{})
	ln := newListener(f)
	go func() {
		defer close(done)
		serve(ln, logs.logger(), func() { failed++ }, func(c net.Conn) { got <- c })
	}()
	select {
	case c := <-got:
		assert.Same(t, a, c, "the connection after the failures is handed on")
	case <-time.After(waitTime):
		t.Fatal("serve gave up before the connection came")
	}
	logs.wait(t, "accepting again", "failed=7")
	close(f.gone) // the listener closes: the loop ends
	select {
	case <-done:
	case <-time.After(waitTime):
		t.Fatal("serve did not end when its listener closed")
	}
	assert.Equal(t, 7, failed)
	warned := 0
	for _, l := range logs.all() {
		if strings.Contains(l, "accept failed") {
			warned++
			assert.Contains(t, l, "too many open files", "the first failure is logged")
			assert.Contains(t, l, "ulimit -n", "with what to do")
		}
	}
	assert.Equal(t, 1, warned, "one line for the run of failures")
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.times, 9, "7 failures, a connection, and the wait that ended with the close")
	for i := 1; i <= 7; i++ {
		assert.GreaterOrEqual(t, f.times[i].Sub(f.times[i-1]), acceptBackoffMin<<(i-1), "pause %d", i)
	}
}

// A listener closed while its loop pauses ends the loop at once, not after
// the pause.
func TestServeEndsWhenClosedDuringAPause(t *testing.T) {
	errs := make([]error, 20) // 5 ms + 10 + ... reaches the 1 s cap
	for i := range errs {
		errs[i] = &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	f := &fakeListener{errs: errs, gone: make(chan struct{})}
	ln := newListener(f)
	logs := newLogSink()
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(ln, logs.logger(), func() {}, func(net.Conn) { t.Error("no connection was offered") })
	}()
	logs.wait(t, "accept failed")
	require.NoError(t, ln.Close())
	select {
	case <-done:
	case <-time.After(waitTime):
		t.Fatal("serve did not end when its listener closed")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestOneAcceptLoop keeps every accept of the module in serve: a second
// accept loop could stop on the first failed accept again.
func TestOneAcceptLoop(t *testing.T) {
	root := ".."
	var calls []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if fd, ok := n.(*ast.FuncDecl); ok && fd.Recv != nil && fd.Name.Name == "Accept" {
				return false // a listener wrapper's own Accept delegates: no loop (observe/limit.go)
			}
			if c, ok := n.(*ast.CallExpr); ok && len(c.Args) == 0 {
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Accept") {
					calls = append(calls, filepath.ToSlash(path)+": "+sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"../ipc/accept.go: Accept"}, calls, "every listener accepts through ipc.serve")
}

// fakeConn records whether it was closed.
type fakeConn struct {
	net.Conn
	closed bool
}

func (c *fakeConn) Close() error { c.closed = true; return nil }

// pendingStep is one connection offered to a pendingCap.
type pendingStep struct {
	key      netip.Addr
	admitted bool
	evicts   int   // index of the step whose connection is closed to make room; -1: none
	heard    int32 // how far the connection gets
	release  bool  // its handshake ends
}

// A cap of 4 in all and 2 per address.
func TestPendingCap(t *testing.T) {
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	unix := netip.Addr{}
	const N, H, P = heardNothing, heardHello, heardProof
	cases := []struct {
		name  string
		steps []pendingStep
		now   int64
	}{
		{"room for everyone", []pendingStep{{a, true, -1, N, false}, {b, true, -1, N, false}, {unix, true, -1, N, false}}, 3},
		{"an address over its cap evicts its own oldest unheard", []pendingStep{
			{a, true, -1, N, false}, {a, true, -1, N, false}, {a, true, 0, N, false}, {a, true, 1, N, false}}, 2},
		{"silent connections go before those that sent a ClientHello", []pendingStep{
			{a, true, -1, H, false}, {a, true, -1, N, false}, {a, true, 1, H, false}, {a, true, 0, N, false}, {a, true, 3, N, false}}, 2},
		{"connections heard from are not evicted", []pendingStep{
			{a, true, -1, P, false}, {a, true, -1, N, false}, {a, true, 1, N, false}, {a, true, 2, N, false}}, 2},
		{"when all are heard from, the new one is refused", []pendingStep{
			{a, true, -1, P, false}, {a, true, -1, P, false}, {a, false, -1, N, false}, {b, true, -1, N, false}}, 3},
		{"the cap in all evicts from the address holding most", []pendingStep{
			{b, true, -1, N, false}, {a, true, -1, N, false}, {a, true, -1, N, false}, {unix, true, -1, N, false}, {c, true, 1, N, false}}, 4},
		{"the cap in all without addresses evicts the oldest unheard", []pendingStep{
			{unix, true, -1, P, false}, {unix, true, -1, N, false}, {unix, true, -1, N, false}, {unix, true, -1, N, false}, {unix, true, 1, N, false}}, 4},
		{"the cap in all with all heard from refuses", []pendingStep{
			{unix, true, -1, P, false}, {unix, true, -1, P, false}, {a, true, -1, P, false}, {b, true, -1, P, false}, {c, false, -1, N, false}}, 4},
		{"a released place is free again", []pendingStep{
			{a, true, -1, P, true}, {a, true, -1, P, false}, {a, true, -1, N, false}, {a, true, 2, N, false}}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var counts pendingCounts
			p := newPendingCap(4, 2, &counts)
			conns := make([]*fakeConn, len(tc.steps))
			var refused, evicted uint64
			gone := map[int]bool{}
			for i, st := range tc.steps {
				conns[i] = &fakeConn{}
				e := p.admit(conns[i], st.key, heardNothing)
				require.Equal(t, st.admitted, e != nil, "step %d admitted", i)
				assert.Equal(t, !st.admitted, conns[i].closed, "step %d: a refused connection is closed at once", i)
				if !st.admitted {
					refused++
				}
				if st.evicts >= 0 {
					evicted++
					gone[st.evicts] = true
				}
				for j := range i {
					if tc.steps[j].admitted {
						assert.Equal(t, gone[j], conns[j].closed, "after step %d, step %d is closed only if evicted", i, j)
					}
				}
				if e != nil {
					e.heard.Store(st.heard)
				}
				if e != nil && st.release {
					p.release(e)
				}
			}
			assert.Equal(t, tc.now, counts.now.Load(), "pending now")
			assert.LessOrEqual(t, counts.peak.Load(), int64(4), "never over the cap in all")
			assert.Equal(t, refused, counts.refused.Load())
			assert.Equal(t, evicted, counts.evicted.Load())
			for k, n := range p.byAddr {
				assert.LessOrEqual(t, n, 2, "address %v over its cap", k)
			}
		})
	}
}

func TestAddrKey(t *testing.T) {
	cases := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4000}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 4000}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 4000}, "2001:db8:1:2::"},
		{&net.UnixAddr{Name: "@", Net: "unix"}, "invalid IP"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, addrKey(tc.addr).String(), "%v", tc.addr)
	}
}

func TestPendingMaxFollowsTheDescriptorLimit(t *testing.T) {
	cases := []struct {
		set    int
		nofile uint64
		want   int
	}{
		{0, 0, DefaultMaxPending},
		{0, 1 << 20, DefaultMaxPending},
		{0, 1024, 256},
		{0, 256, 64},
		{0, 16, 8},
		{5000, 256, 5000},
	}
	for _, tc := range cases {
		c := defaults()
		WithMaxPending(tc.set)(&c)
		assert.Equal(t, tc.want, c.pendingMax(tc.nofile), "set %d, nofile %d", tc.set, tc.nofile)
	}
}
