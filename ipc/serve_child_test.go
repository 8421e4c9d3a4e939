//go:build linux

package ipc

// A listening node in its own process, for the flood tests: the test
// binary re-executes itself with serveChildEnv set to a folder, and the
// child lowers RLIMIT_NOFILE, listens on a unix socket in the folder and
// on 127.0.0.1 with TLS (certificates in the folder), prints its TCP
// address, answers the "echo" control call, and logs to stderr until its
// stdin closes. Options come from the environment, so a test can shape
// the child without a flag parser.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/stackless-go/stackless/scheduler"
)

const (
	serveChildEnv   = "IPC_SERVE_CHILD"   // the child's folder
	serveNofileEnv  = "IPC_SERVE_NOFILE"  // RLIMIT_NOFILE for the child (0: unchanged)
	serveOptionsEnv = "IPC_SERVE_OPTIONS" // see childOptions
)

const floodChildEnv = "IPC_FLOOD_CHILD" // network,addr,total,burst

func init() {
	childModes[serveChildEnv] = runServeChild
	childModes[floodChildEnv] = runFloodChild
}

// runFloodChild floods a listener from its own process, so the flood's
// goroutines take no time from the real peer measured in the test
// process: it prints "DONE opened failed" once it has tried every
// connection, and holds the rest until its stdin closes.
func runFloodChild(arg string) int {
	parts := strings.Split(arg, ",")
	if len(parts) != 4 {
		return 2
	}
	total, err1 := strconv.Atoi(parts[2])
	burst, err2 := strconv.Atoi(parts[3])
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(os.Stderr, "flood child:", err)
		return 2
	}
	f := newFlooder(parts[0], parts[1])
	f.run(total, burst)
	tk := time.NewTicker(10 * time.Millisecond)
	for f.opened.Load()+f.failed.Load() < int64(total) {
		<-tk.C
	}
	fmt.Printf("DONE %d %d\n", f.opened.Load(), f.failed.Load())
	io.Copy(io.Discard, os.Stdin)
	f.halt()
	return 0
}

// startFlood floods network addr from a child process with total
// connections, burst of them every 5 ms; done is closed once every one was
// tried. The flood stops when the test ends.
func startFlood(t *testing.T, network, addr string, total, burst int) (done <-chan string) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%d,%d", floodChildEnv, network, addr, total, burst))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	out := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "DONE "); ok {
				out <- rest
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(waitTime):
			cmd.Process.Kill()
			<-exited
			t.Errorf("the flooding child did not stop when its stdin closed")
		}
	})
	return out
}

// runServeChild is the child's main.
func runServeChild(dir string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "serve child:", err)
		return 2
	}
	if s := os.Getenv(serveNofileEnv); s != "" && s != "0" {
		lim, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fail(err)
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
			return fail(err)
		}
	}
	cfg, err := LoadTLSConfig(filepath.Join(dir, "certs"))
	if err != nil {
		return fail(err)
	}
	opts, err := childOptions(os.Getenv(serveOptionsEnv))
	if err != nil {
		return fail(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := scheduler.New(scheduler.WithNode(1))
	n := NewNode(s, testRegistry(), append([]Option{WithSecret(testSecret), WithTLS(cfg), WithLogger(log)}, opts...)...)
	defer n.Close()
	n.Handle("echo", func(p []byte) ([]byte, error) { return p, nil })
	if err := n.Listen(ctx, "unix", filepath.Join(dir, "n1.sock")); err != nil {
		return fail(err)
	}
	if err := n.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
		return fail(err)
	}
	for _, a := range n.Addrs() {
		if a.Network() == "tcp" {
			fmt.Printf("LISTEN %s\n", a)
		}
	}
	go s.Run(ctx)
	io.Copy(io.Discard, os.Stdin) // the parent closes stdin to stop the child
	return 0
}

// server is a child process running a listening node.
type server struct {
	pid  int
	tcp  string // the TLS listener's address
	unix string // the unix socket's path
	logs *logSink
	tls  Option // the TLS option a legitimate client needs
}

// startServer runs a listening node in a child process with RLIMIT_NOFILE
// nofile (0: unchanged) and the options of childOptions, and stops it when
// the test ends.
func startServer(t *testing.T, nofile int, options string) *server {
	t.Helper()
	dir := tempDir(t)
	certs := filepath.Join(dir, "certs")
	require.NoError(t, GenerateCerts(certs, nil))
	cfg, err := LoadTLSConfig(certs)
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), serveChildEnv+"="+dir, serveNofileEnv+"="+strconv.Itoa(nofile), serveOptionsEnv+"="+options)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	srv := &server{pid: cmd.Process.Pid, unix: filepath.Join(dir, "n1.sock"), logs: newLogSink(), tls: WithTLS(cfg)}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			srv.logs.add(sc.Text())
		}
	}()
	exited := make(chan error, 1)
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(waitTime):
			cmd.Process.Kill()
			<-exited
			t.Errorf("the serving child did not stop when its stdin closed")
		}
		<-logged
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				addr <- a
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case srv.tcp = <-addr:
	case err := <-exited:
		exited <- err
		<-logged
		t.Fatalf("the serving child exited before listening (%v); its log:\n%s", err, strings.Join(srv.logs.all(), "\n"))
	case <-time.After(waitTime):
		t.Fatalf("the serving child did not listen within %v", waitTime)
	}
	return srv
}

// legit links a new node (number id) to the server like a real peer
// would, over network ("unix" or "tcp"), makes one control call over the
// link and closes the node; it returns how long the whole took.
func (srv *server) legit(ctx context.Context, network string, id uint16) (time.Duration, error) {
	addr := srv.tcp
	if network == "unix" {
		addr = srv.unix
	}
	return legitPeer(ctx, network, addr, id, srv.tls)
}

// flood opens up to count raw connections to network addr, each within a
// short timeout, and returns those that connected; the kernel accepts them
// into the listen queue whether or not the node takes them.
func flood(network, addr string, count int) []net.Conn {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	conns := make([]net.Conn, 0, count)
	for range count {
		c, err := d.Dial(network, addr)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err == nil {
			conns = append(conns, c)
		}
	}
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// childOptions parses the child's options: a comma-separated list of
// handshake=DURATION, maxpending=N, peraddr=N.
func childOptions(s string) ([]Option, error) {
	var opts []Option
	for _, kv := range strings.Split(s, ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "handshake":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, err
			}
			opts = append(opts, WithHandshakeTimeout(d))
		case "maxpending", "peraddr":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			if k == "maxpending" {
				opts = append(opts, WithMaxPending(n))
			} else {
				opts = append(opts, WithMaxPendingPerAddr(n))
			}
		default:
			return nil, fmt.Errorf("unknown child option %q", kv)
		}
	}
	return opts, nil
}

// flooder opens raw connections to a listener that never send a byte,
// the attack of the issue, at a steady pace, each held until the node
// closes it. Every connection binds its port before it connects and
// records it, so a node's address hook can tell its connections from a
// real peer's (all of them come from 127.0.0.1) without a race.
type flooder struct {
	network, addr string
	ports         sync.Map // local port -> struct{}: the flood's connections now
	opened, ended atomic.Int64
	failed        atomic.Int64
	lastErr       atomic.Value // of a failed dial
	mu            sync.Mutex
	conns         map[net.Conn]struct{}
	stop          chan struct{}
	wg            sync.WaitGroup
}

func newFlooder(network, addr string) *flooder {
	return &flooder{network: network, addr: addr, conns: map[net.Conn]struct{}{}, stop: make(chan struct{})}
}

// run opens up to total connections, burst of them every 5 ms, until
// total is reached or halt is called, in the background.
func (f *flooder) run(total, burst int) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for n := 0; n < total; {
			for i := 0; i < burst && n < total; i, n = i+1, n+1 {
				f.wg.Add(1)
				go f.one()
			}
			select {
			case <-f.stop:
				return
			case <-tk.C:
			}
		}
	}()
}

// one opens a connection and holds it until the node closes it.
func (f *flooder) one() {
	defer f.wg.Done()
	var port int
	d := net.Dialer{Timeout: time.Second}
	if f.network == "tcp" {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var err error
			c.Control(func(fd uintptr) {
				if err = unix.Bind(int(fd), &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
					return
				}
				var sa unix.Sockaddr
				if sa, err = unix.Getsockname(int(fd)); err == nil {
					port = sa.(*unix.SockaddrInet4).Port
					f.ports.Store(port, struct{}{})
				}
			})
			return err
		}
	}
	defer f.ports.Delete(port) // before the close frees the port for someone else
	c, err := d.Dial(f.network, f.addr)
	if errors.Is(err, syscall.ECONNRESET) { // accepted, and closed before the connect returned
		f.opened.Add(1)
		f.ended.Add(1)
		return
	}
	if err != nil {
		f.failed.Add(1)
		f.lastErr.Store(err.Error())
		return
	}
	f.opened.Add(1)
	f.mu.Lock()
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	for buf := make([]byte, 64); ; { // until the node closes it, or halt
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	f.ended.Add(1)
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

// halt stops the flood and closes its connections.
func (f *flooder) halt() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	for {
		f.mu.Lock()
		for c := range f.conns {
			c.SetReadDeadline(time.Now())
		}
		f.mu.Unlock()
		done := make(chan struct{})
		go func() { f.wg.Wait(); close(done) }()
		select {
		case <-done:
			return
		case <-time.After(10 * time.Millisecond): // connections that came up since
		}
	}
}

// isFlood reports whether a remote address is one of the flood's.
func (f *flooder) isFlood(a net.Addr) (int, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return 0, false
	}
	_, ok = f.ports.Load(ta.Port)
	return ta.Port, ok
}

// legitPeer links a new node to the node at addr like a real peer, makes
// one control call over the link and closes the node; it returns how long
// the whole took.
func legitPeer(ctx context.Context, network, addr string, id uint16, opts ...Option) (time.Duration, error) {
	start := time.Now()
	n := NewNode(scheduler.New(scheduler.WithNode(id)), testRegistry(),
		append([]Option{WithSecret(testSecret), WithLogger(slog.New(slog.DiscardHandler)), WithKeepalive(0, 0)}, opts...)...)
	defer n.Close()
	peer, err := n.Dial(ctx, network, addr)
	if err != nil {
		return 0, err
	}
	out, err := n.Call(ctx, peer, "echo", []byte("ping"))
	if err != nil {
		return 0, err
	}
	if string(out) != "ping" {
		return 0, fmt.Errorf("echo answered %q", out)
	}
	return time.Since(start), nil
}

// waitUntil waits for cond, asking each millisecond: node figures have no
// event to wait on.
func waitUntil(t *testing.T, what string, cond func() bool, state ...func() string) {
	t.Helper()
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	deadline := time.After(waitTime)
	for !cond() {
		select {
		case <-tk.C:
		case <-deadline:
			var now []string
			for _, f := range state {
				now = append(now, f())
			}
			t.Fatalf("timed out waiting until %s %v", what, now)
		}
	}
}
