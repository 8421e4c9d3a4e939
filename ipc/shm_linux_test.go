//go:build linux

package ipc

// Shared-memory links end to end: chosen for unix sockets when both ends
// want them, turned off by either end or the environment, and safe when
// the peer process is killed with -9 in the middle of a frame.

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
)

const shmKillChildEnv = "IPC_SHM_KILL_CHILD" // the socket to dial

func init() { childModes[shmKillChildEnv] = runShmKillChild }

func TestSharedMemoryIsChosenForUnixSocketLinks(t *testing.T) {
	cases := []struct {
		name             string
		listener, dialer bool
		env              string
		want             bool
	}{
		{"both want it", true, true, "", true},
		{"the listener turned it off", false, true, "", false},
		{"the dialer turned it off", true, false, "", false},
		{"the environment turned it off", true, true, "off", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(ShmEnv, tc.env)
			ctx := testCtx(t)
			var s [2]*scheduler.Scheduler
			var n [2]*Node
			for i, on := range []bool{tc.listener, tc.dialer} {
				s[i] = scheduler.New(scheduler.WithNode(uint16(i + 1)))
				n[i] = NewNode(s[i], testRegistry(), WithSecret(testSecret), WithLogger(newLogSink().logger()), WithSharedMemory(on))
			}
			sock := filepath.Join(tempDir(t), "sock", "n1.sock")
			require.NoError(t, n[0].Listen(ctx, "unix", sock))
			_, err := n[1].Dial(ctx, "unix", sock)
			require.NoError(t, err)
			require.NoError(t, n[0].WaitPeer(ctx, 2))
			for i := range 2 {
				st := n[i].Stats()
				require.Len(t, st.PerLink, 1)
				assert.Equal(t, tc.want, st.PerLink[0].SharedMemory, "node %d", i+1)
				assert.Equal(t, "unix", st.PerLink[0].Network)
			}
			runCtx, stop := context.WithCancel(ctx)
			runs := make(chan error, 2)
			for i := range 2 {
				go func() { runs <- s[i].Run(runCtx) }()
			}
			var ping, pong channel.ID
			on := func(i int, fn func(s *scheduler.Scheduler)) {
				done := make(chan struct{})
				s[i].Do(func(s *scheduler.Scheduler) { fn(s); close(done) })
				<-done
			}
			on(1, func(s *scheduler.Scheduler) { ping = s.NewChannel(0) })
			on(0, func(s *scheduler.Scheduler) { pong = s.NewChannel(0) })
			on(1, func(s *scheduler.Scheduler) { s.Spawn(&echoer{In: ping, Out: pong}) })
			pg := &pinger{Out: ping, In: pong, N: 100, done: make(chan struct{})}
			on(0, func(s *scheduler.Scheduler) { s.Spawn(pg) })
			select {
			case <-pg.done:
			case <-ctx.Done():
				t.Fatal("100 round trips did not finish")
			}
			assert.Equal(t, 0, pg.N, "every value came back")
			n[0].Close()
			n[1].Close()
			stop()
			<-runs
			<-runs
		})
	}
}

// runShmKillChild is node 2 of TestSharedMemoryPeerKilledMidFrame: it
// links to node 1, writes into its ring (arg "SOCK,batch": first a slice's
// batch of whole PUT frames of 0..batchPuts-1 to node 1's first channel;
// "SOCK,puts": the same values in two PUTS frames), then the first bytes
// of a frame, and says "ready" on stdout; the test then kills it with -9.
func runShmKillChild(arg string) int {
	sock, mode, _ := strings.Cut(arg, ",")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := scheduler.New(scheduler.WithNode(2))
	// No keepalive: the test's bytes are then the only writer of the ring.
	n := NewNode(s, testRegistry(), WithSecret(testSecret), WithKeepalive(0, 0),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if _, err := n.Dial(ctx, "unix", sock); err != nil {
		return 1
	}
	l := n.link(1)
	if l == nil || l.shm == nil {
		return 3
	}
	l.mu.Lock() // keeps the writer goroutine parked
	var b []byte
	switch mode {
	case "batch":
		for i := range batchPuts {
			var start int
			b, start = beginFrame(b)
			b, _ = appendMessage(b, n.reg, &message{Kind: kPut, Chan: parentPong, Value: i})
			b, _ = endFrame(b, start, n.cfg.maxFrame)
		}
	case "puts": // two PUTS frames of half the values each
		for half := range 2 {
			vals := make([]any, batchPuts/2)
			for i := range vals {
				vals[i] = half*batchPuts/2 + i
			}
			var start int
			b, start = beginFrame(b)
			b, _ = appendMessage(b, n.reg, &message{Kind: kPuts, Chan: parentPong, Values: vals})
			b, _ = endFrame(b, start, n.cfg.maxFrame)
		}
	}
	b = append(b, binary.BigEndian.AppendUint32(nil, 100)...)
	if mode == "puts" {
		b = append(b, 0xdd, 0, 0, 0, 50, byte(kPuts), 1, 1) // a PUTS cut off after its first value
	} else {
		b = append(b, 0x95, byte(kOp), 1, 1)
	}
	if !l.shm.w.tryWrite(b) { // one write, as a slice's flush makes it
		return 4
	}
	fmt.Println("ready")
	<-ctx.Done()
	return 0
}

// batchPuts is the number of whole frames the batch child writes.
const batchPuts = 100

func TestSharedMemoryPeerKilledMidFrame(t *testing.T) {
	for _, mode := range []string{"frame", "batch", "puts"} {
		t.Run(mode, func(t *testing.T) { peerKilledMidFrame(t, mode) })
	}
}

// peerKilledMidFrame: whatever the peer wrote whole before it was killed
// is applied, in order; the frame it was cut off in closes the link.
func peerKilledMidFrame(t *testing.T, mode string) {
	ctx := testCtx(t)
	s := scheduler.New(scheduler.WithNode(1))
	logs := newLogSink()
	n := NewNode(s, testRegistry(), WithSecret(testSecret), WithLogger(logs.logger()))
	defer n.Close()
	require.Equal(t, parentPong, s.NewChannel(2*batchPuts))
	sock := filepath.Join(tempDir(t), "sock", "n1.sock")
	require.NoError(t, n.Listen(ctx, "unix", sock))
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- s.Run(runCtx) }()
	defer func() { stop(); <-ran }() // before the next test: Run reads the poller's settings
	var out io.Reader
	cmd := startChild(t, ctx, shmKillChildEnv+"="+sock+","+mode, func(cmd *exec.Cmd) {
		var err error
		out, err = cmd.StdoutPipe()
		require.NoError(t, err)
	})
	require.NoError(t, n.WaitPeer(ctx, 2))
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the child never said ready")
	require.Equal(t, "ready\n", line)
	st := n.Stats()
	require.Len(t, st.PerLink, 1)
	require.True(t, st.PerLink[0].SharedMemory, "the link must run over shared memory for this test")

	require.NoError(t, cmd.Process.Signal(os.Kill)) // kill -9, a frame half written
	closed := logs.wait(t, "ipc: link closed", "peer=2")
	assert.Contains(t, closed, "truncated frame", "the reason is what a socket link reports for a frame cut short")
	assert.NotContains(t, n.Peers(), uint16(2), "the link is down")

	want := 0
	if mode == "batch" || mode == "puts" {
		want = batchPuts
	}
	got := make(chan []int, 1)
	s.Do(func(s *scheduler.Scheduler) {
		var vs []int
		for {
			v, ok, err := s.TryRecv(parentPong)
			if !ok || err != nil {
				break
			}
			vs = append(vs, v.(int))
		}
		got <- vs
	})
	var vs []int
	select {
	case vs = <-got:
	case <-ctx.Done():
		t.Fatal("the scheduler did not answer")
	}
	require.Len(t, vs, want, "every whole frame before the cut was applied")
	for i, v := range vs {
		assert.Equal(t, i, v, "in order")
	}
}

// unixPair is two connected unix sockets.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		require.NoError(t, err)
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { conns[i].Close() })
	}
	return conns[0], conns[1]
}

// TestSharedMemoryNegotiationRefusesABadPeer plays a hostile or broken
// peer against each side of the exchange: the node refuses the link or
// stays on the socket, and never maps what it should not.
func TestSharedMemoryNegotiationRefusesABadPeer(t *testing.T) {
	pipeFds := func(t *testing.T) []int {
		var p [2]int
		require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
		return p[:]
	}
	unsealed := func(t *testing.T) []int {
		mfd, err := unix.MemfdCreate("x", unix.MFD_CLOEXEC)
		require.NoError(t, err)
		require.NoError(t, unix.Ftruncate(mfd, int64(shmTotal(shmMinRing))))
		fds := []int{mfd}
		for range numEfds {
			e, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
			require.NoError(t, err)
			fds = append(fds, e)
		}
		return fds
	}
	cases := []struct {
		name     string
		dialer   bool                                // the side under test
		peer     func(t *testing.T, c *net.UnixConn) // the other side's script
		wantErr  error                               // nil: no error, and the socket is kept
		wantLink bool
	}{
		{"acceptor: an offer byte that is not one", false, func(t *testing.T, c *net.UnixConn) {
			c.Write([]byte{'X'})
		}, ErrBadFrame, false},
		{"acceptor: more bytes behind the offer", false, func(t *testing.T, c *net.UnixConn) {
			c.Write([]byte{shmYes, 'x', 'y'})
		}, ErrBadFrame, false},
		{"acceptor: pipes instead of eventfds", false, func(t *testing.T, c *net.UnixConn) {
			c.Write([]byte{shmYes})
			var b [1]byte
			c.Read(b[:])
			s, fds, err := createShm()
			require.NoError(t, err)
			defer s.free()
			pipes := append(pipeFds(t), pipeFds(t)...)
			defer closeFds(append(pipes, fds[0]))
			require.NoError(t, sendFds(c, shmFds, append(fds[:1:1], pipes...)))
		}, nil, false},
		{"acceptor: a memfd not sealed against shrinking", false, func(t *testing.T, c *net.UnixConn) {
			c.Write([]byte{shmYes})
			var b [1]byte
			c.Read(b[:])
			fds := unsealed(t)
			defer closeFds(fds)
			require.NoError(t, sendFds(c, shmFds, fds))
		}, nil, false},
		{"acceptor: too few descriptors", false, func(t *testing.T, c *net.UnixConn) {
			c.Write([]byte{shmYes})
			var b [1]byte
			c.Read(b[:])
			fds := pipeFds(t)
			defer closeFds(fds)
			require.NoError(t, sendFds(c, shmFds, fds))
		}, nil, false},
		{"dialer: an answer that is not one", true, func(t *testing.T, c *net.UnixConn) {
			var b [1]byte
			c.Read(b[:])
			c.Write([]byte{'?'})
		}, ErrBadFrame, false},
		{"dialer: yes to an offer of no", true, func(t *testing.T, c *net.UnixConn) {
			var b [1]byte
			c.Read(b[:])
			c.Write([]byte{shmYes})
		}, ErrBadFrame, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := unixPair(t)
			require.NoError(t, a.SetDeadline(time.Now().Add(waitTime)))
			n := NewNode(scheduler.New(scheduler.WithNode(1)), testRegistry(), WithSecret(testSecret),
				WithLogger(newLogSink().logger()), WithKeepalive(0, 0), WithSharedMemory(tc.name != "dialer: yes to an offer of no"))
			defer n.Close()
			done := make(chan struct{})
			go func() { defer close(done); tc.peer(t, b) }()
			s, err := n.negotiateShm(a, bufio.NewReader(a), tc.dialer)
			<-done
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.wantLink, s != nil)
			if s != nil {
				s.free()
			}
		})
	}
}
