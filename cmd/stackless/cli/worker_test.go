package cli

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// A worker that cannot join because of its certificates or its secret
// says so once and exits; before, it retried forever, logging every
// failure twice.
func TestWorkerJoinFailsFastOnCertificatesAndSecret(t *testing.T) {
	dir := t.TempDir()
	certs, other := filepath.Join(dir, "certs"), filepath.Join(dir, "other")
	require.NoError(t, ipc.GenerateCerts(certs, nil))
	require.NoError(t, ipc.GenerateCerts(other, nil)) // another cluster's CA
	secretFile, wrongSecret := filepath.Join(dir, "secret"), filepath.Join(dir, "wrong")
	require.NoError(t, ipc.GenerateSecret(secretFile))
	require.NoError(t, ipc.GenerateSecret(wrongSecret))
	tlsCfg, err := ipc.LoadTLSConfig(certs)
	require.NoError(t, err)
	secret, err := ipc.LoadSecret(secretFile)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A coordinator's TCP end: node 0 with the cluster's certificates and secret.
	coord := ipc.NewNode(scheduler.New(scheduler.WithNode(0)), pickle.NewRegistry(),
		ipc.WithSecret(secret), ipc.WithTLS(tlsCfg), ipc.WithLogger(slog.New(slog.DiscardHandler)))
	defer coord.Close()
	require.NoError(t, coord.Listen(ctx, "tcp", "127.0.0.1:0"))
	addr := coord.Addrs()[0].String()

	for _, tc := range []struct {
		name, tls, secret string
		says              string
	}{
		{"certificates of another CA", other, secretFile, "CA"},
		{"wrong secret", certs, wrongSecret, "--secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			root := NewRoot()
			var out, errOut bytes.Buffer
			root.SetArgs([]string{"worker", "--join", addr, "--tls", tc.tls, "--secret", tc.secret})
			root.SetOut(&out)
			root.SetErr(&errOut)
			start := time.Now()
			code := execute(rctx, root)
			assert.Equal(t, exitFailure, code, "stderr: %s", &errOut)
			assert.Less(t, time.Since(start), 15*time.Second, "it gives up at once")
			assert.Contains(t, errOut.String(), addr, "it names the coordinator")
			assert.Contains(t, errOut.String(), tc.says, "it says what to check")
			seen := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
				assert.False(t, seen[line], "logged twice: %s", line)
				seen[line] = true
			}
		})
	}
}

// With --listen every local worker listens on TCP+TLS too, so it needs the
// certificates: given as three files kept apart, they are read where they
// are, and no copy of the key is left in the temporary folder (where a
// kill -9 would leave it).
func TestClusterUpListensWithCertificateFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	certs := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, ipc.GenerateCerts(certs, nil))
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "node.pem")
	require.NoError(t, os.Rename(filepath.Join(certs, ipc.NodeKeyFile), key))
	keyPEM, err := os.ReadFile(key)
	require.NoError(t, err)
	// A temporary folder of its own (short: the cluster's sockets live
	// under it), to search whole for a copy of the key.
	tmp, err := os.MkdirTemp("", "tk")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	t.Setenv("TMPDIR", tmp)
	require.Equal(t, tmp, os.TempDir())

	files := []string{"--cert", filepath.Join(certs, ipc.NodeCertFile), "--key", key, "--ca", filepath.Join(certs, ipc.CACertFile)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv(envCLIMain, "1") // inherited by the workers
	dir, err := os.MkdirTemp("", "stcli")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	done, printed := startUpIn(t, ctx, dir, append([]string{"-n", "2", "--checkpoint-every", "0", "--balance-every", "0", "--listen", addr}, files...)...)
	// Over TCP and mutual TLS, with the same files: the command cluster up
	// prints for it (checked below).
	status := append([]string{"cluster", "status", "--addr", addr}, files...)
	status = append(status, "--secret", filepath.Join(dir, "secret"))
	assert.Contains(t, runOK(t, status...), "workers left: 0")
	var copies []string
	require.NoError(t, filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, keyPEM) {
			copies = append(copies, path)
		}
		return nil
	}))
	assert.Empty(t, copies, "copies of the TLS key under %s while the cluster runs", tmp)
	runOK(t, "cluster", "down", "--cluster", dir)
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
	lines := <-printed
	require.NotEmpty(t, lines)
	assert.Contains(t, lines[0], "(or `stackless "+strings.Join(status, " ")+"`)",
		"cluster up names the whole command that reaches it over TCP")
}

// A key open to others is refused before anything starts, with the chmod
// that fixes it.
func TestClusterUpRefusesAnOpenKeyFile(t *testing.T) {
	certs := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, ipc.GenerateCerts(certs, nil))
	key := filepath.Join(certs, ipc.NodeKeyFile)
	require.NoError(t, os.Chmod(key, 0o644))
	root := NewRoot()
	var out, errOut bytes.Buffer
	root.SetArgs([]string{"cluster", "up", "--data", filepath.Join(t.TempDir(), "c"), "-n", "1",
		"--cert", filepath.Join(certs, ipc.NodeCertFile), "--key", key, "--ca", filepath.Join(certs, ipc.CACertFile)})
	root.SetOut(&out)
	root.SetErr(&errOut)
	assert.Equal(t, exitFailure, execute(context.Background(), root))
	assert.Contains(t, errOut.String(), key+" has mode 0644")
	assert.Contains(t, errOut.String(), "chmod 600 "+key)
	assert.NotContains(t, errOut.String(), "cluster up:", "nothing started")
}

// A worker joining through NATS with credentials the servers refuse says
// so and exits 1 at once.
func TestWorkerNATSRefusedCredentialsFailFast(t *testing.T) {
	dir, certs, secretFile := workerFiles(t)
	known, err := nkeys.CreateUser()
	require.NoError(t, err)
	pub, err := known.PublicKey()
	require.NoError(t, err)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	require.NoError(t, err)
	srv.Start()
	defer srv.Shutdown()
	require.True(t, srv.ReadyForConnections(10*time.Second))
	other, err := nkeys.CreateUser()
	require.NoError(t, err)
	seed, err := other.Seed()
	require.NoError(t, err)
	creds := filepath.Join(dir, "other.seed")
	require.NoError(t, os.WriteFile(creds, seed, 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := NewRoot()
	var out, errOut bytes.Buffer
	root.SetArgs([]string{"worker", "--nats", srv.ClientURL(), "--creds", creds, "--tls", certs, "--secret", secretFile})
	root.SetOut(&out)
	root.SetErr(&errOut)
	start := time.Now()
	code := execute(ctx, root)
	assert.Equal(t, exitFailure, code, "stderr: %s", &errOut)
	assert.Less(t, time.Since(start), 15*time.Second, "it gives up at once")
	assert.Contains(t, errOut.String(), srv.ClientURL(), "it names the NATS servers")
	assert.Contains(t, errOut.String(), "refused this worker's credentials")
}

// A --creds file that does not exist was reported as only "no such file or
// directory", naming neither the file nor the flag.
func TestWorkerMissingCredsNamesTheFile(t *testing.T) {
	dir, certs, secretFile := workerFiles(t)
	missing := filepath.Join(dir, "user.seed")
	code, _, errOut := run(t, "worker", "--nats", "nats://127.0.0.1:1", "--creds", missing, "--tls", certs, "--secret", secretFile)
	assert.Equal(t, exitFailure, code, "stderr: %s", errOut)
	assert.Contains(t, errOut, missing+": no such file or directory")
	assert.Contains(t, errOut, "--creds")
}

// workerFiles makes what a worker is started with: a certificate folder and
// a cluster secret, in a folder of the test's (dir).
func workerFiles(t *testing.T) (dir, certs, secretFile string) {
	t.Helper()
	dir = t.TempDir()
	certs = filepath.Join(dir, "certs")
	require.NoError(t, ipc.GenerateCerts(certs, nil))
	secretFile = filepath.Join(dir, "secret")
	require.NoError(t, ipc.GenerateSecret(secretFile))
	return dir, certs, secretFile
}
