package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/ipc"
)

// The integration tests run real worker processes: the test binary itself,
// started again with envWorker set, runs as a worker (TestMain dispatches),
// so the workers know every kind these tests register.
const (
	envWorker   = "STACKLESS_CLUSTER_TEST_WORKER"
	envDir      = "STACKLESS_CLUSTER_TEST_DIR"
	envNode     = "STACKLESS_CLUSTER_TEST_NODE"
	envTLS      = "STACKLESS_CLUSTER_TEST_TLS"
	envJoin     = "STACKLESS_CLUSTER_TEST_JOIN"     // a worker joining over TCP: the coordinator's address
	envSecret   = "STACKLESS_CLUSTER_TEST_SECRET"   // and the secret file it was given
	envDie      = "STACKLESS_CLUSTER_TEST_DIE"      // the worker kills itself (SIGKILL) as it starts
	envPids     = "STACKLESS_CLUSTER_TEST_PIDS"     // a folder where each worker leaves a file named by its pid as it starts
	envNoPut    = "STACKLESS_CLUSTER_TEST_NOPUT"    // while this file exists, the worker cannot store its world
	envDiePut   = "STACKLESS_CLUSTER_TEST_DIEPUT"   // while this file exists, the worker is killed as it stores its world
	envSlowPut  = "STACKLESS_CLUSTER_TEST_SLOWPUT"  // while this file exists, the worker's store of its world waits
	envNoRejoin = "STACKLESS_CLUSTER_TEST_NOREJOIN" // a NATS worker exits 3 when a restore tells it to join again as a node
	// A worker joining through NATS: the servers' URLs and its credentials
	// file (not envNATS, which a coordinator's own workers inherit).
	envWorkerNATS  = "STACKLESS_CLUSTER_TEST_WORKER_NATS"
	envWorkerCreds = "STACKLESS_CLUSTER_TEST_WORKER_CREDS"
	envWorkerName  = "STACKLESS_CLUSTER_TEST_WORKER_NAME" // and the cluster's name (WorkerConfig.Name)

	// A coordinator process (coordMain): cluster.Start on envDir with
	// envWorkers workers, checkpoints every envCkpt; "up" on stdout once
	// started; SIGTERM closes it.
	envCoord     = "STACKLESS_CLUSTER_TEST_COORD"
	envSlowClose = "STACKLESS_CLUSTER_TEST_SLOWCLOSE" // the coordinator's shutdown pauses this long once its links are closed
	envWorkers   = "STACKLESS_CLUSTER_TEST_WORKERS"
	envCkpt      = "STACKLESS_CLUSTER_TEST_CKPT"
	envOrphan    = "STACKLESS_CLUSTER_TEST_ORPHAN" // Config.OrphanAfter
	// Config.Standby: "standby" on stdout when it starts waiting.
	envStandby = "STACKLESS_CLUSTER_TEST_STANDBY"
	// Config.NATS, NATSCreds and Name of a coordinator process.
	envNATS      = "STACKLESS_CLUSTER_TEST_NATS"
	envNATSCreds = "STACKLESS_CLUSTER_TEST_NATS_CREDS"
	envName      = "STACKLESS_CLUSTER_TEST_NAME"
)

// testTimeout bounds every integration test.
const testTimeout = 90 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(envWorker) == "1" {
		os.Exit(workerMain())
	}
	if os.Getenv(envCoord) == "1" {
		os.Exit(coordMain())
	}
	os.Exit(m.Run())
}

func workerMain() int {
	if d := os.Getenv(envPids); d != "" {
		_ = os.WriteFile(filepath.Join(d, strconv.Itoa(os.Getpid())), nil, 0o600)
	}
	if os.Getenv(envDie) == "1" {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL) // as `kill -9` of a worker that just appeared
		select {}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, _ := strconv.Atoi(os.Getenv(envNode))
	cfg := cluster.WorkerConfig{Dir: os.Getenv(envDir), Node: uint16(node)}
	if d := os.Getenv(envTLS); d != "" {
		tc, err := ipc.LoadTLSConfig(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cfg.TLS = tc
	}
	if f := os.Getenv(envNoPut); f != "" {
		cluster.FailWorldPutsWhileExists(f)
	}
	if f := os.Getenv(envSlowPut); f != "" {
		cluster.WaitAtWorldPutWhileExists(f)
	}
	if f := os.Getenv(envDiePut); f != "" {
		cluster.DieAtWorldPutWhileExists(f)
	}
	if os.Getenv(envNoRejoin) == "1" {
		cluster.ExitWhenToldToJoinAgainAs(3)
	}
	run := cluster.RunWorker
	if urls := os.Getenv(envWorkerNATS); urls != "" {
		secret, err := ipc.LoadSecret(os.Getenv(envSecret))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cfg.Dir, cfg.NATS, cfg.Creds, cfg.Secret, cfg.Listen = "", urls, os.Getenv(envWorkerCreds), secret, "127.0.0.1:0"
		cfg.Name = os.Getenv(envWorkerName)
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		run = cluster.RunJoinedWorker
	}
	if join := os.Getenv(envJoin); join != "" {
		secret, err := ipc.LoadSecret(os.Getenv(envSecret))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cfg.Dir, cfg.Join, cfg.Secret, cfg.Listen = "", join, secret, "127.0.0.1:0"
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		run = cluster.RunJoinedWorker
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

func coordMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir := os.Getenv(envDir)
	n, _ := strconv.Atoi(os.Getenv(envWorkers))
	every, _ := time.ParseDuration(os.Getenv(envCkpt))
	orphan, _ := time.ParseDuration(os.Getenv(envOrphan))
	if d, err := time.ParseDuration(os.Getenv(envSlowClose)); err == nil {
		cluster.PauseShutdownAfterLinksClose(d)
	}
	cfg := cluster.Config{Dir: dir, Workers: n, CheckpointEvery: every, BalanceEvery: -1, OrphanAfter: orphan,
		WorkerCommand: testWorkerCommand(dir, ""),
		Standby:       os.Getenv(envStandby) == "1",
		OnStandby:     func(cluster.Leader) { fmt.Println("standby") },
		NATS:          os.Getenv(envNATS),
		NATSCreds:     os.Getenv(envNATSCreds),
		Name:          os.Getenv(envName),
		Log:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if d := os.Getenv(envTLS); d != "" {
		// Listening on loopback TCP with mutual TLS, as `cluster up
		// --listen --tls` on a machine of many: its local workers listen
		// on TCP too, so a coordinator of another machine can adopt them.
		tc, err := ipc.LoadTLSConfig(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "coordinator:", err)
			return 1
		}
		cfg.Listen, cfg.TLS, cfg.WorkerCommand = "127.0.0.1:0", tc, testWorkerCommand(dir, d)
	}
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator:", err)
		return 1
	}
	fmt.Println("up")
	select {
	case <-ctx.Done():
		err = c.Close()
	case <-c.Done():
		err = c.Err()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator:", err)
		return 1
	}
	return 0
}

// syncBuffer collects the output of the coordinator and its workers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// shortDir is a cluster directory with a path short enough for sockets.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "stc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// testWorkerCommand starts this test binary as worker node of dir.
func testWorkerCommand(dir, tlsDir string) func(node uint16) (*exec.Cmd, error) {
	return func(node uint16) (*exec.Cmd, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envWorker+"=1", envDir+"="+dir, envNode+"="+strconv.Itoa(int(node)))
		if tlsDir != "" {
			cmd.Env = append(cmd.Env, envTLS+"="+tlsDir)
		}
		return cmd, nil
	}
}

// startCluster starts a coordinator with n worker processes. It is shut
// down at the end of the test, which then checks that no socket is left.
func startCluster(t *testing.T, n int, tweak func(*cluster.Config)) (*cluster.Coordinator, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level: starts worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	dir := shortDir(t)
	out := &syncBuffer{}
	cfg := cluster.Config{
		Dir: dir, Workers: n, CheckpointEvery: -1, BalanceEvery: -1,
		WorkerCommand: testWorkerCommand(dir, ""),
		Log:           slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Output:        out,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		t.Logf("output:\n%s", out)
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		var pids []int
		if st, err := c.Status(ctx); err == nil {
			for _, w := range st.Workers {
				if w.Pid != os.Getpid() { // not a worker running inside the test
					pids = append(pids, w.Pid)
				}
			}
		}
		assert.NoError(t, c.Close())
		for _, pid := range pids {
			assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "worker process %d is gone", pid)
		}
		entries, err := os.ReadDir(filepath.Join(cfg.Dir, "sock"))
		assert.NoError(t, err)
		assert.Empty(t, entries, "sockets left behind")
		if t.Failed() || os.Getenv("STACKLESS_TEST_VERBOSE") == "1" {
			t.Logf("output:\n%s", out)
		}
	})
	return c, ctx
}
