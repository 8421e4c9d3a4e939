package cluster_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// coordProc is a coordinator running in a process of its own (coordMain),
// so a test can kill -9 it.
type coordProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// upWriter copies a coordinator's stdout and signals its "up" line.
type upWriter struct {
	out  *syncBuffer
	once sync.Once
	up   chan struct{}
	line []byte

	standbyOnce sync.Once
	standby     chan struct{} // closed at a "standby" line (nil: not watched)
}

func (w *upWriter) Write(p []byte) (int, error) {
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		switch string(w.line[:i]) {
		case "up":
			w.once.Do(func() { close(w.up) })
		case "standby":
			if w.standby != nil {
				w.standbyOnce.Do(func() { close(w.standby) })
			}
		}
		w.line = w.line[i+1:]
	}
	return w.out.Write(p)
}

// clusterProcs runs coordinator processes on one folder and tracks every
// worker process they start (each leaves its pid in pids as it starts),
// so that the test kills whatever is left, even when it fails.
type clusterProcs struct {
	t       *testing.T
	dir     string
	pids    string
	workers int
	ckpt    time.Duration
	orphan  time.Duration // Config.OrphanAfter (0: the default)
	out     *syncBuffer
	coords  []*coordProc
	// Config.NATS, NATSCreds and Name of the coordinators ("": embedded).
	nats, creds, name string
	// tls is a certificate folder: the coordinators listen on loopback
	// TCP with mutual TLS, and so do their workers ("": unix only).
	tls string
}

func newClusterProcs(t *testing.T, workers int, ckpt time.Duration) *clusterProcs {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level: starts coordinator and worker processes (make test runs it; make test-short skips it)")
	}
	p := &clusterProcs{t: t, dir: shortDir(t), pids: t.TempDir(), workers: workers, ckpt: ckpt, out: &syncBuffer{}}
	t.Cleanup(func() {
		for _, c := range p.coords {
			if c.cmd.Process != nil {
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		}
		for _, pid := range p.workerPids() {
			if cluster.PidAlive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() || os.Getenv("STACKLESS_TEST_VERBOSE") == "1" {
			t.Logf("output:\n%s", p.out)
		}
	})
	return p
}

// start runs a coordinator process and waits until it is up.
func (p *clusterProcs) start(ctx context.Context) *coordProc {
	p.t.Helper()
	c, w := p.launch(false)
	select {
	case <-w.up:
	case <-c.done:
		require.FailNow(p.t, "the coordinator exited while starting", "%v", c.err)
	case <-ctx.Done():
		require.FailNow(p.t, "the coordinator did not come up", "%v", ctx.Err())
	}
	return c
}

// startStandby runs a coordinator process with Config.Standby and waits
// until it stands by; up is closed when it leads.
func (p *clusterProcs) startStandby(ctx context.Context) (c *coordProc, up <-chan struct{}) {
	p.t.Helper()
	c, w := p.launch(true)
	select {
	case <-w.standby:
	case <-w.up:
		require.FailNow(p.t, "the standby came up at once: two leaders?")
	case <-c.done:
		require.FailNow(p.t, "the standby exited while starting", "%v", c.err)
	case <-ctx.Done():
		require.FailNow(p.t, "the standby did not stand by", "%v", ctx.Err())
	}
	return c, w.up
}

// launch starts a coordinator process.
func (p *clusterProcs) launch(standby bool) (*coordProc, *upWriter) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCoord+"=1", envDir+"="+p.dir, envWorkers+"="+strconv.Itoa(p.workers),
		envCkpt+"="+p.ckpt.String(), envPids+"="+p.pids, envOrphan+"="+p.orphan.String(),
		envNATS+"="+p.nats, envNATSCreds+"="+p.creds, envName+"="+p.name, envTLS+"="+p.tls)
	w := &upWriter{out: p.out, up: make(chan struct{})}
	if standby {
		cmd.Env = append(cmd.Env, envStandby+"=1")
		w.standby = make(chan struct{})
	}
	cmd.Stdout, cmd.Stderr = w, p.out
	c := &coordProc{cmd: cmd, out: p.out, done: make(chan struct{})}
	require.NoError(p.t, cmd.Start())
	p.coords = append(p.coords, c)
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, w
}

// dial connects a client to the running coordinator.
func (p *clusterProcs) dial(ctx context.Context) *cluster.Client {
	p.t.Helper()
	cl, err := cluster.Dial(ctx, cluster.DialConfig{Dir: p.dir})
	require.NoError(p.t, err)
	p.t.Cleanup(func() { cl.Close() })
	return cl
}

// exited waits for a coordinator process told to stop (`down`) to end.
// One that does not fails the test, with every process's output (the
// cleanup prints it), within testTimeout: waiting on it unbounded hung
// the whole package until its timeout, whose stacks show only this wait.
func (c *coordProc) exited(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(testTimeout):
		require.FailNow(t, "a coordinator process did not exit after `down`", "pid %d, still running after %v", c.cmd.Process.Pid, testTimeout)
	}
}

// kill9 kills a coordinator process and waits for it to be gone.
func (c *coordProc) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	<-c.done
}

// workerPids lists every worker process started so far.
func (p *clusterProcs) workerPids() []int {
	entries, _ := os.ReadDir(p.pids)
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// newWorker waits for a worker process that is not in known to start, and
// returns its pid the moment its file appears.
func (p *clusterProcs) newWorker(ctx context.Context, known []int) int {
	p.t.Helper()
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	for {
		for _, pid := range p.workerPids() {
			if !slices.Contains(known, pid) {
				return pid
			}
		}
		select {
		case <-tk.C:
		case <-ctx.Done():
			require.FailNow(p.t, "no new worker process started", "%v", ctx.Err())
		}
	}
}

// assertNothingLeft checks that no worker process runs and no socket or
// worker record is left in the folder.
func (p *clusterProcs) assertNothingLeft(ctx context.Context) {
	p.t.Helper()
	for _, pid := range p.workerPids() {
		for cluster.PidAlive(pid) && ctx.Err() == nil {
			waitABit(ctx)
		}
		assert.False(p.t, cluster.PidAlive(pid), "worker process %d is gone", pid)
	}
	for _, sub := range []string{"sock", "run"} {
		entries, err := os.ReadDir(filepath.Join(p.dir, sub))
		assert.NoError(p.t, err)
		assert.Empty(p.t, entries, "files left behind in %s", sub)
	}
}

// waitABit yields for a millisecond (a poll of a condition the test
// cannot be told about, such as a process that is not its child ending).
func waitABit(ctx context.Context) {
	t := time.NewTimer(time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// pidsOf lists the worker processes of a status, sorted.
func pidsOf(st cluster.Status) []int {
	var out []int
	for _, w := range st.Workers {
		out = append(out, w.Pid)
	}
	slices.Sort(out)
	return out
}
