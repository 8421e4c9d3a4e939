package ipc

// A second node in its own process: the test binary re-executes itself
// with IPC_BENCH_CHILD set to a socket path (or another of the variables
// below), and TestMain turns it into node 2 of a two-process benchmark.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

const (
	childEnv    = "IPC_BENCH_CHILD"
	rawChildEnv = "IPC_BENCH_RAW_CHILD" // a plain socket echo, for BenchmarkRawSocketRoundTripTwoProcesses
	// streamChildEnv is "SOCKET,N": the consumer of BenchmarkRemoteStreamTwoProcesses
	streamChildEnv = "IPC_BENCH_STREAM_CHILD"
	// tlsChildEnv is "ADDR,CERTS": node 2 of BenchmarkRemotePingPongTLS,
	// dialing ADDR over TCP with the certificates in folder CERTS.
	tlsChildEnv = "IPC_BENCH_TLS_CHILD"
	// spinEnv sets the ring readers' longest spin (a duration: 0s parks
	// at once), to compare spins on a given host.
	spinEnv = "IPC_BENCH_SPIN"
)

// childModes maps an environment variable to the child process it turns
// the test binary into (its value is the child's argument).
var childModes = map[string]func(string) int{childEnv: runChild, rawChildEnv: runRawChild,
	streamChildEnv: runStreamChild, tlsChildEnv: runTLSChild}

func TestMain(m *testing.M) {
	if d, err := time.ParseDuration(os.Getenv(spinEnv)); err == nil {
		ringSpin, pollSpin = d, d // children inherit the variable, so both ends spin alike
	}
	for env, run := range childModes {
		if arg := os.Getenv(env); arg != "" {
			os.Exit(run(arg))
		}
	}
	os.Exit(m.Run())
}

// startChild runs this test binary again with env ("VARIABLE=value", one
// of childModes') and kills it (kill -9) and waits for it when the test
// ends; setup, if not nil, readies the command before it starts (a pipe).
func startChild(t *testing.T, ctx context.Context, env string, setup func(*exec.Cmd)) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	if setup != nil {
		setup(cmd)
	}
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return cmd
}

// The channels of the two-process ping-pong: each node's first channel.
var (
	childPing  = channel.ID(2<<tasklet.NodeBits | 1)
	parentPong = channel.ID(1<<tasklet.NodeBits | 1)
)

// runChild is node 2: it echoes every value it receives on its first
// channel back to node 1's first channel, until its link to node 1 goes.
func runChild(sock string) int { return echoChild("unix", sock) }

// runTLSChild is runChild over TCP with mutual TLS.
func runTLSChild(arg string) int {
	addr, certs, ok := strings.Cut(arg, ",")
	if !ok {
		return 2
	}
	cfg, err := LoadTLSConfig(certs)
	if err != nil {
		return 2
	}
	return echoChild("tcp", addr, WithTLS(cfg))
}

func echoChild(network, addr string, opts ...Option) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := scheduler.New(scheduler.WithNode(2))
	opts = append([]Option{WithSecret(testSecret), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	n := NewNode(s, testRegistry(), opts...)
	defer n.Close()
	if ch := s.NewChannel(0); ch != childPing {
		return 2
	}
	s.Spawn(&echoer{In: childPing, Out: parentPong})
	if _, err := n.Dial(ctx, network, addr); err != nil {
		return 1
	}
	s.Run(ctx) // ends with a deadlock once the link is gone: the echoer waits on
	return 0
}

// BenchmarkRemotePingPongTwoProcesses: one op is one value through an
// unbuffered channel whose ends are in two processes (node 2 is this test
// binary run again), linked over a unix socket (so over shared-memory
// rings, unless STACKLESS_SHM=off).
func BenchmarkRemotePingPongTwoProcesses(b *testing.B) {
	sock := filepath.Join(tempDirB(b), "n1.sock")
	pingPongTwoProcesses(b, "unix", sock, childEnv+"="+sock)
}

// BenchmarkRemotePingPongTLS: BenchmarkRemotePingPongTwoProcesses over TCP
// on the loopback interface with mutual TLS 1.3, as nodes on two hosts
// link.
func BenchmarkRemotePingPongTLS(b *testing.B) {
	certs := filepath.Join(b.TempDir(), "certs")
	require.NoError(b, GenerateCerts(certs, nil))
	cfg, err := LoadTLSConfig(certs)
	require.NoError(b, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port, given back at once
	require.NoError(b, err)
	addr := ln.Addr().String()
	require.NoError(b, ln.Close())
	pingPongTwoProcesses(b, "tcp", addr, tlsChildEnv+"="+addr+","+certs, WithTLS(cfg))
}

// pingPongTwoProcesses listens on network addr as node 1, starts node 2
// (this binary with childVar in its environment) and times the ping-pong.
func pingPongTwoProcesses(b *testing.B, network, addr, childVar string, opts ...Option) {
	exe, err := os.Executable()
	require.NoError(b, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := scheduler.New(scheduler.WithNode(1))
	opts = append([]Option{WithSecret(testSecret), WithLogger(newLogSink().logger())}, opts...)
	n := NewNode(s, testRegistry(), opts...)
	require.Equal(b, parentPong, s.NewChannel(0))
	require.NoError(b, n.Listen(ctx, network, addr))
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childVar)
	require.NoError(b, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stopChild := func() {
		if stopped {
			return
		}
		stopped = true
		n.Close() // the child's link goes, and the child with it
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	defer stopChild()
	require.NoError(b, n.WaitPeer(ctx, 2))
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	pg := &pinger{Out: childPing, In: parentPong, N: max(b.N/2, 1), done: make(chan struct{})}
	b.ReportAllocs()
	cpu := processCPU()
	b.ResetTimer()
	s.Do(func(s *scheduler.Scheduler) { s.Spawn(pg) })
	select {
	case <-pg.done:
	case <-ctx.Done():
		b.Fatal("the ping-pong did not finish")
	}
	b.StopTimer()
	reportCPU(b, processCPU()-cpu, stopChild, cmd)
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per op of this process (parent, measured
// over the timed part) and of the child (its whole life, start-up
// included, once stop has ended it): where a two-process round trip's
// time goes. Wall time beyond their sum is time neither process ran
// (waiting for a wake-up, or for a core on a busy host).
func reportCPU(b *testing.B, parent time.Duration, stop func(), cmd *exec.Cmd) {
	b.ReportMetric(float64(parent.Nanoseconds())/float64(b.N), "parent-cpu-ns/op")
	stop()
	if st := cmd.ProcessState; st != nil {
		child := st.UserTime() + st.SystemTime()
		b.ReportMetric(float64(child.Nanoseconds())/float64(b.N), "child-cpu-ns/op")
	}
}

// runRawChild dials the socket at sock and writes back every byte it
// reads, until the parent hangs up: the other end of the baseline
// benchmark, with no stackless code on the path.
func runRawChild(sock string) int {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return 1
	}
	defer c.Close()
	buf := make([]byte, 64)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return 0
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return 0
		}
	}
}

// BenchmarkRawSocketRoundTripTwoProcesses: one op is one round trip of 8
// bytes over a unix socket between this process and a child that echoes
// them (no framing, no scheduler): the floor that a link over the socket
// cannot beat, measured beside BenchmarkRemotePingPongTwoProcesses.
func BenchmarkRawSocketRoundTripTwoProcesses(b *testing.B) {
	exe, err := os.Executable()
	require.NoError(b, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sock := filepath.Join(tempDirB(b), "raw.sock")
	require.NoError(b, os.MkdirAll(filepath.Dir(sock), 0o700))
	ln, err := net.Listen("unix", sock)
	require.NoError(b, err)
	defer ln.Close()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), rawChildEnv+"="+sock)
	require.NoError(b, cmd.Start())
	defer cmd.Wait()
	c, err := ln.Accept()
	require.NoError(b, err)
	defer c.Close() // the child reads EOF and exits
	out, in := make([]byte, 8), make([]byte, 8)
	b.ReportAllocs()
	cpu := processCPU()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(out); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportCPU(b, processCPU()-cpu, func() { c.Close(); cmd.Wait() }, cmd)
}

// streamSink receives N values from In, then sends one value to Done.
type streamSink struct {
	In, Done channel.ID
	N        int
	got      bool
}

func (c *streamSink) Step(t *tasklet.T) tasklet.Op {
	if t.Err() != nil {
		return t.Exit()
	}
	if c.got {
		c.N--
	}
	if c.N == 0 {
		c.N = -1
		return t.Send(c.Done, 0)
	}
	if c.N < 0 {
		return t.Exit()
	}
	c.got = true
	return t.Recv(c.In)
}

// runStreamChild is node 2 of BenchmarkRemoteStreamTwoProcesses: its first
// channel (capacity 1024) is the stream's; once N values came through it
// tells node 1 on node 1's first channel.
func runStreamChild(arg string) int {
	sock, count, ok := strings.Cut(arg, ",")
	n, err := strconv.Atoi(count)
	if !ok || err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := scheduler.New(scheduler.WithNode(2))
	node := NewNode(s, testRegistry(), WithSecret(testSecret), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer node.Close()
	if ch := s.NewChannel(1024); ch != childPing {
		return 2
	}
	s.Spawn(&streamSink{In: childPing, Done: parentPong, N: n})
	if _, err := node.Dial(ctx, "unix", sock); err != nil {
		return 1
	}
	s.Run(ctx)
	return 0
}

// BenchmarkRemoteStreamTwoProcesses: one op is one value through a
// buffered channel (capacity 1024) homed in a child process, sent by 1024
// producer tasklets in this process to one consumer there, as
// BenchmarkRemoteStream does in one process. It reports values/s and the
// CPU time of each process per value (see reportCPU).
func BenchmarkRemoteStreamTwoProcesses(b *testing.B) {
	producers := streamProducers()
	n := max(b.N, producers)
	exe, err := os.Executable()
	require.NoError(b, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := scheduler.New(scheduler.WithNode(1))
	node := NewNode(s, testRegistry(), WithSecret(testSecret), WithLogger(newLogSink().logger()))
	require.Equal(b, parentPong, s.NewChannel(0))
	sock := filepath.Join(tempDirB(b), "n1.sock")
	require.NoError(b, node.Listen(ctx, "unix", sock))
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), streamChildEnv+"="+sock+","+strconv.Itoa(n))
	require.NoError(b, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stopChild := func() {
		if stopped {
			return
		}
		stopped = true
		node.Close() // the child's link goes, and the child with it
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	defer stopChild()
	require.NoError(b, node.WaitPeer(ctx, 2))
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	done := &consumer{In: parentPong, N: 1, done: make(chan struct{})}
	s.Do(func(s *scheduler.Scheduler) { s.Spawn(done) })
	b.ReportAllocs()
	cpu := processCPU()
	st0 := node.Stats()
	b.ResetTimer()
	start := time.Now()
	s.Do(func(s *scheduler.Scheduler) {
		for i := range producers {
			k := n / producers
			if i < n%producers {
				k++
			}
			s.Spawn(&producer{Out: childPing, N: k})
		}
	})
	select {
	case <-done.done:
	case <-ctx.Done():
		b.Fatal("the stream did not finish")
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "values/s")
	// Frames each way per 1,000 values: how well the values batch (a
	// PUTS frame out, a GRANT back, per batch), whatever the machine's load.
	st := node.Stats()
	b.ReportMetric(float64(st.FramesOut-st0.FramesOut)*1000/float64(n), "frames-out/kvalue")
	b.ReportMetric(float64(st.FramesIn-st0.FramesIn)*1000/float64(n), "frames-in/kvalue")
	reportCPU(b, processCPU()-cpu, stopChild, cmd)
}
