package ipc

// The test harness: clusters of nodes in one process, each scheduler on
// its own goroutine, linked in memory; behaviors whose whole state is data
// (so they can migrate); a log sink tests can wait on.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// waitTime bounds every wait for an event in these tests: a bound for a
// hang only, so a loaded CI machine (every package's race tests at once on
// 2 cores; loads of 35 and more seen) does not reach it: 10 s left a child
// test process little room to start and listen.
const waitTime = 30 * time.Second

// Result is what a test tasklet reports when it ends.
type Result struct {
	Name  string
	Got   []int
	Log   []string
	Steps int
}

// Instr is one instruction of a Prog.
type Instr struct {
	Op    string // send, recv, senderr, select, close, yield, sleep
	Ch    channel.ID
	Val   int
	Msg   string
	D     time.Duration
	Cases []SelCase
}

// SelCase is one select case of an Instr.
type SelCase struct {
	Send    bool
	Ch      channel.ID
	Val     int
	Timeout time.Duration // > 0: a timeout case
}

// Prog runs a straight-line program of channel operations, recording what
// it receives and every error and select choice, then reports a Result on
// Results (if set) and exits.
type Prog struct {
	Name    string
	Code    []Instr
	PC      int
	Waiting bool // Code[PC] was issued; this step sees its outcome
	Got     []int
	Log     []string
	Steps   int
	Results channel.ID
	Done    bool // the Result was sent
}

func (p *Prog) Step(t *tasklet.T) tasklet.Op {
	p.Steps++
	if p.Done {
		return t.Exit()
	}
	if p.Waiting {
		p.Waiting = false
		if p.PC == len(p.Code) { // the report went out
			p.Done = true
			t.Err()
			return t.Exit()
		}
		in := p.Code[p.PC]
		p.PC++
		if err := t.Err(); err != nil {
			p.Log = append(p.Log, "err:"+err.Error())
			if strings.HasPrefix(err.Error(), "wrapped ") {
				p.Log = append(p.Log, fmt.Sprintf("is closed: %v", errors.Is(err, channel.ErrClosed)))
			}
		} else if v, ok := t.Value().(int); ok {
			p.Got = append(p.Got, v)
		}
		if in.Op == "select" {
			p.Log = append(p.Log, fmt.Sprintf("chosen:%d", t.Chosen()))
		}
	}
	for p.PC < len(p.Code) {
		in := p.Code[p.PC]
		switch in.Op {
		case "close":
			if err := t.Close(in.Ch); err != nil {
				p.Log = append(p.Log, "close:"+err.Error())
			}
			p.PC++
			continue
		case "yield":
			p.PC++
			return t.Yield()
		}
		p.Waiting = true
		switch in.Op {
		case "send":
			return t.Send(in.Ch, in.Val)
		case "recv":
			return t.Recv(in.Ch)
		case "senderr":
			return t.SendErr(in.Ch, errors.New(in.Msg))
		case "senderrw":
			return t.SendErr(in.Ch, fmt.Errorf("wrapped %s: %w", in.Msg, channel.ErrClosed))
		case "sleep":
			return t.Sleep(in.D)
		case "select":
			cases := make([]tasklet.Case, len(in.Cases))
			for i, c := range in.Cases {
				switch {
				case c.Timeout > 0:
					cases[i] = tasklet.TimeoutCase(c.Timeout)
				case c.Send:
					cases[i] = tasklet.SendCase(c.Ch, c.Val)
				default:
					cases[i] = tasklet.RecvCase(c.Ch)
				}
			}
			return t.Select(cases...)
		}
		return t.Fail(fmt.Errorf("prog %s: unknown op %q", p.Name, in.Op))
	}
	if p.Results == 0 {
		p.Done = true
		return t.Exit()
	}
	p.Waiting = true
	return t.Send(p.Results, Result{Name: p.Name, Got: p.Got, Log: p.Log, Steps: p.Steps})
}

// Hopper yields N times, then reports how many steps it took.
type Hopper struct {
	Name    string
	N       int
	Steps   int
	Results channel.ID
	Sent    bool
}

func (h *Hopper) Step(t *tasklet.T) tasklet.Op {
	h.Steps++
	switch {
	case h.Sent:
		return t.Exit()
	case h.Steps <= h.N:
		return t.Yield()
	case h.Results == 0:
		return t.Exit()
	}
	h.Sent = true
	return t.Send(h.Results, Result{Name: h.Name, Steps: h.Steps})
}

// collector hands the Results it receives to the test. It never migrates,
// so its Go channel field is fine.
type collector struct {
	Ch  channel.ID
	out chan<- Result
}

func (c *collector) Step(t *tasklet.T) tasklet.Op {
	if r, ok := t.Value().(Result); ok {
		c.out <- r
	}
	if t.Err() != nil {
		return t.Exit()
	}
	return t.Recv(c.Ch)
}

func testRegistry() *pickle.Registry {
	reg := pickle.NewRegistry()
	reg.MustRegister("ipctest.prog", 1, &Prog{})
	reg.MustRegister("ipctest.hopper", 1, &Hopper{})
	if err := pickle.RegisterValue[Result](reg, "ipctest.Result"); err != nil {
		panic(err)
	}
	return reg
}

// logSink records log lines and lets tests wait for one.
type logSink struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (s *logSink) logger() *slog.Logger { return slog.New(&sinkHandler{sink: s}) }

func (s *logSink) add(line string) {
	s.mu.Lock()
	s.lines = append(s.lines, line)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// wait waits for a line containing every part and returns it.
func (s *logSink) wait(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.After(waitTime)
	for {
		s.mu.Lock()
		ch := s.changed
		for _, l := range s.lines {
			if containsAll(l, parts) {
				s.mu.Unlock()
				return l
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("no log line with %q; lines:\n%s", parts, strings.Join(s.lines, "\n"))
		}
	}
}

func (s *logSink) has(parts ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.lines, func(l string) bool { return containsAll(l, parts) })
}

// all is every line so far.
func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

func containsAll(l string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(l, p) {
			return false
		}
	}
	return true
}

type sinkHandler struct {
	sink  *logSink
	attrs []slog.Attr
}

func (h *sinkHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *sinkHandler) WithGroup(string) slog.Handler            { return h }
func (h *sinkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &sinkHandler{sink: h.sink, attrs: append(slices.Clone(h.attrs), as...)}
}
func (h *sinkHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.sink.add(b.String())
	return nil
}

// cluster is n nodes in one process, linked pairwise in memory, each
// scheduler running on its own goroutine. Node i has node number i+1.
type cluster struct {
	t        *testing.T
	reg      *pickle.Registry
	nodes    []*Node
	scheds   []*scheduler.Scheduler
	logs     *logSink
	cancel   context.CancelFunc
	runs     []chan error
	results  chan Result
	resCh    channel.ID // on node 0
	mu       sync.Mutex
	failures []error
	base     int // goroutines before the cluster started
	stopped  bool
	closing  bool // stop has begun (guarded by mu)
}

type clusterConfig struct {
	nodeOpts []Option
	clocks   func(i int) scheduler.Clock
	hooks    func(i int) func(prev, next tasklet.ID)
	regs     func(i int) *pickle.Registry // default: one registry for all
	noLinks  bool
	unix     bool // link over unix sockets, so through shared-memory rings
}

func newCluster(t *testing.T, n int, cfgs ...clusterConfig) *cluster {
	t.Helper()
	var cfg clusterConfig
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	c := &cluster{t: t, reg: testRegistry(), logs: newLogSink(), results: make(chan Result, 256), base: runtime.NumGoroutine()}
	for i := range n {
		opts := []scheduler.Option{scheduler.WithNode(uint16(i + 1)), scheduler.WithKindNames(c.reg.KindName),
			scheduler.WithErrorHandler(c.fail)}
		if cfg.clocks != nil {
			opts = append(opts, scheduler.WithClock(cfg.clocks(i)))
		}
		if cfg.hooks != nil {
			opts = append(opts, scheduler.WithScheduleHook(cfg.hooks(i)))
		}
		s := scheduler.New(opts...)
		nopts := append([]Option{WithSecret(testSecret), WithLogger(c.logs.logger())}, cfg.nodeOpts...)
		reg := c.reg
		if cfg.regs != nil {
			reg = cfg.regs(i)
		}
		c.scheds = append(c.scheds, s)
		c.nodes = append(c.nodes, NewNode(s, reg, nopts...))
	}
	t.Cleanup(c.stop)
	if !cfg.noLinks {
		for i := range n {
			for j := i + 1; j < n; j++ {
				if cfg.unix {
					c.linkUnix(i, j)
					continue
				}
				require.NoError(t, ConnectPair(c.nodes[i], c.nodes[j]))
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, s := range c.scheds {
		done := make(chan error, 1)
		c.runs = append(c.runs, done)
		release := s.Hold() // run until the test stops the cluster
		go func() {
			done <- s.Run(ctx)
			release()
		}()
	}
	c.on(0, func(s *scheduler.Scheduler) {
		c.resCh = s.NewChannel(64)
		s.Spawn(&collector{Ch: c.resCh, out: c.results})
	})
	return c
}

// linkUnix links node j to node i over a unix socket that node i
// listens on (from its first link on), so over shared-memory rings.
func (c *cluster) linkUnix(i, j int) {
	t := c.t
	ctx := testCtx(t)
	sock := filepath.Join(tempDir(t), fmt.Sprintf("n%d.sock", i+1))
	if len(c.nodes[i].Addrs()) == 0 {
		require.NoError(t, c.nodes[i].Listen(context.Background(), "unix", sock)) // Close ends it
	}
	_, err := c.nodes[j].Dial(ctx, "unix", c.nodes[i].Addrs()[0].String())
	require.NoError(t, err)
	require.NoError(t, c.nodes[i].WaitPeer(ctx, uint16(j+1)))
	for _, k := range []int{i, j} {
		for _, ls := range c.nodes[k].Stats().PerLink {
			require.True(t, ls.SharedMemory, "node %d's link to node %d is on shared memory", k+1, ls.Peer)
		}
	}
}

func (c *cluster) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing && errors.Is(err, ErrLinkDown) {
		return // a tasklet still talking to another node when the test ended
	}
	c.failures = append(c.failures, err)
}

// takeFailures returns and forgets the tasklet failures so far.
func (c *cluster) takeFailures() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.failures
	c.failures = nil
	return f
}

// stop closes every node, stops the schedulers and checks that no
// goroutine was left behind and no tasklet failed unexpectedly.
func (c *cluster) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	t := c.t
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	for _, n := range c.nodes {
		require.NoError(t, n.Close())
	}
	c.cancel()
	for i, done := range c.runs {
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("scheduler %d: Run returned %v", i, err)
			}
		case <-time.After(waitTime):
			t.Fatalf("scheduler %d did not stop", i)
		}
	}
	for _, err := range c.takeFailures() {
		t.Errorf("tasklet failure: %v", err)
	}
	waitGoroutines(t, c.base)
}

// waitGoroutines waits until at most base goroutines are left.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(waitTime)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, b.String())
		}
		runtime.Gosched()
	}
}

// at maps a program's node index onto this cluster (a one-node cluster
// runs every program in a single process).
func (c *cluster) at(i int) int { return i % len(c.nodes) }

// on runs fn on node i's scheduler goroutine and waits for it.
func (c *cluster) on(i int, fn func(s *scheduler.Scheduler)) {
	c.t.Helper()
	done := make(chan struct{})
	c.scheds[c.at(i)].Do(func(s *scheduler.Scheduler) {
		defer close(done)
		fn(s)
	})
	select {
	case <-done:
	case <-time.After(waitTime):
		c.t.Fatalf("scheduler %d did not answer", c.at(i))
	}
}

func (c *cluster) ch(i, capacity int) channel.ID {
	var id channel.ID
	c.on(i, func(s *scheduler.Scheduler) { id = s.NewChannel(capacity) })
	return id
}

func (c *cluster) spawn(i int, b tasklet.Behavior) tasklet.ID {
	var id tasklet.ID
	c.on(i, func(s *scheduler.Scheduler) { id = s.Spawn(b) })
	return id
}

// prog spawns a Prog that reports to the cluster's collector.
func (c *cluster) prog(i int, name string, code ...Instr) tasklet.ID {
	return c.spawn(i, &Prog{Name: name, Code: code, Results: c.resCh})
}

func (c *cluster) home(ch channel.ID) int { return int(ch.Node()) - 1 }

func (c *cluster) balance(ch channel.ID) int {
	var b int
	c.on(c.home(ch), func(s *scheduler.Scheduler) { b = s.Balance(ch) })
	return b
}

// closed reports whether channel ch is closed (or gone) at its home.
func (c *cluster) closed(ch channel.ID) bool {
	var closed bool
	c.on(c.home(ch), func(s *scheduler.Scheduler) {
		k := s.Channel(ch)
		closed = k == nil || k.Closed()
	})
	return closed
}

// waitFor waits until cond holds, asking again after each answer.
func (c *cluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(waitTime)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func (c *cluster) waitBalance(ch channel.ID, want int) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("balance %d on %v", want, ch), func() bool { return c.balance(ch) == want })
}

// collect waits for n Results, by name.
func (c *cluster) collect(n int) map[string]Result {
	c.t.Helper()
	out := map[string]Result{}
	deadline := time.After(waitTime)
	for len(out) < n {
		select {
		case r := <-c.results:
			if _, dup := out[r.Name]; dup {
				c.t.Fatalf("tasklet %s reported twice", r.Name)
			}
			out[r.Name] = r
		case <-deadline:
			c.t.Fatalf("got %d of %d results: %v; failures: %v", len(out), n, out, c.takeFailures())
		}
	}
	return out
}

// tasklets counts the live tasklets of node i.
func (c *cluster) tasklets(i int) int {
	var n int
	c.on(i, func(s *scheduler.Scheduler) { n = s.Len() })
	return n
}

// Program building shorthands.
func send(ch channel.ID, v int) Instr       { return Instr{Op: "send", Ch: ch, Val: v} }
func recv(ch channel.ID) Instr              { return Instr{Op: "recv", Ch: ch} }
func sendErr(ch channel.ID, m string) Instr { return Instr{Op: "senderr", Ch: ch, Msg: m} }
func sel(cases ...SelCase) Instr            { return Instr{Op: "select", Cases: cases} }
func closeCh(ch channel.ID) Instr           { return Instr{Op: "close", Ch: ch} }

// sendErrWrapped sends an error wrapping channel.ErrClosed.
func sendErrWrapped(ch channel.ID, m string) Instr { return Instr{Op: "senderrw", Ch: ch, Msg: m} }

func recvN(ch channel.ID, n int) []Instr {
	out := make([]Instr, n)
	for i := range out {
		out[i] = recv(ch)
	}
	return out
}

func sendRange(ch channel.ID, from, to int) []Instr {
	var out []Instr
	for v := from; v <= to; v++ {
		out = append(out, send(ch, v))
	}
	return out
}

func ints(from, to int) []int {
	var out []int
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

// tempDir is a short temporary folder: unix socket paths must stay under
// MaxSocketPath bytes, and t.TempDir names can be long.
func tempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ipc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func goroutines() int { return runtime.NumGoroutine() }
