package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/internal/shquote"
	"github.com/stackless-go/stackless/tasklet"
)

// envCLIMain makes this test binary act as the stackless command, so the
// workers `cluster up` starts (os.Executable() worker ...) are real.
const envCLIMain = "STACKLESS_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envCLIMain) == "1" {
		if os.Getenv(envSayArmed) == "1" {
			signalHook = func(event string) { os.Stderr.WriteString("test: signal " + event + "\n") }
		}
		os.Exit(Execute())
	}
	os.Exit(m.Run())
}

// startUp runs `cluster up` in the background until the test ends and
// returns once it says it is up.
func startUp(t *testing.T, ctx context.Context, args ...string) (dir string, done <-chan int) {
	t.Helper()
	t.Setenv(envCLIMain, "1") // inherited by the workers
	d, err := os.MkdirTemp("", "stcli")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	done, _ = startUpIn(t, ctx, d, args...)
	return d, done
}

// startUpIn is startUp on the folder d; read gives everything it printed
// once it has ended.
func startUpIn(t *testing.T, ctx context.Context, d string, args ...string) (done <-chan int, read <-chan []string) {
	t.Helper()
	pr, pw := io.Pipe()
	root := NewRoot()
	root.SetArgs(append([]string{"cluster", "up", "--data", d}, args...))
	root.SetOut(io.Discard)
	root.SetErr(pw)
	codes := make(chan int, 1)
	go func() {
		code := execute(ctx, root)
		pw.Close()
		codes <- code
	}()
	up := make(chan struct{})
	var once sync.Once
	out := make(chan []string, 1) // everything it printed, once it has ended
	go func() {
		var lines []string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasPrefix(sc.Text(), "cluster up:") {
				once.Do(func() { close(up) })
			}
		}
		out <- lines
	}()
	select {
	case <-up:
	case code := <-codes:
		t.Fatalf("cluster up exited with %d before it was up:\n%s", code, strings.Join(<-out, "\n"))
	case <-ctx.Done():
		t.Fatal("cluster up did not come up")
	}
	return codes, out
}

func TestClusterCommandsDriveARunningCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a cluster of worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, done := startUp(t, ctx, "-n", "2", "--checkpoint-every", "0", "--balance-every", "0")
	at := []string{"--cluster", dir}

	var st cluster.Status
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "status", "-o", "json"}, at...)...)), &st))
	require.Len(t, st.Workers, 2)
	assert.Contains(t, runOK(t, append([]string{"cluster", "status"}, at...)...), "last checkpoint: generation")

	var col cluster.SpawnResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "spawn", "collector", "-o", "json",
		"--arg", "in=@chan", "--arg", "want=2", "--worker", "1"}, at...)...)), &col))
	require.Len(t, col.Tasklets, 1)
	in := col.Tasklets[0].Channels["in"].String()
	spawnShown = 1 // the table lists one and counts the other
	out := runOK(t, append([]string{"cluster", "spawn", "work", "--count", "2", "--arg", "out=" + in, "--arg", "links=50000000",
		"--worker", "1"}, at...)...)
	spawnShown = psDefaultLimit
	assert.Contains(t, out, "2 tasklet(s) of kind work spawned")
	assert.Contains(t, out, "\n... and 1 more (-o json lists them all)\n")
	assert.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 4, "the header, one row, the more line, the summary:\n%s", out)

	var ps []cluster.TaskletView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json"}, at...)...)), &ps))
	require.Len(t, ps, 3)
	work := ps[1].ID
	assert.Equal(t, "cluster.work", ps[1].Kind)

	// ps cuts, filters and lists on where it stopped.
	cut := runOK(t, append([]string{"cluster", "ps", "--limit", "2"}, at...)...)
	assert.Contains(t, cut, ps[1].ID.String())
	assert.NotContains(t, cut, ps[2].ID.String())
	assert.Contains(t, cut, "2 of 3 tasklet(s) listed; --limit 0 lists all, --after "+ps[1].ID.String()+" lists on")
	psPage = 1 // a page a tasklet: the listing is three pages
	all := runOK(t, append([]string{"cluster", "ps", "--limit", "0"}, at...)...)
	assert.Equal(t, 1, strings.Count(all, "ID "), "one header:\n%s", all)
	for _, v := range ps {
		assert.Equal(t, 1, strings.Count(all, v.ID.String()+" "), "each tasklet once:\n%s", all)
	}
	assert.True(t, strings.HasSuffix(all, "\n3 tasklet(s)\n"), all)
	var paged []cluster.TaskletView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "--limit", "0", "-o", "json"}, at...)...)), &paged))
	assert.Equal(t, viewIDs(ps), viewIDs(paged))
	psPage = cluster.MaxListLimit
	var part []cluster.TaskletView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json", "--after", ps[1].ID.String()}, at...)...)), &part))
	assert.Equal(t, viewIDs(ps[2:]), viewIDs(part))
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json", "--kind", "cluster.work", "--match", "RUNNABLE"}, at...)...)), &part))
	assert.Equal(t, viewIDs(ps[1:]), viewIDs(part))
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json", "--kind", "nope"}, at...)...)), &part))
	assert.Empty(t, part)
	for _, bad := range [][]string{{"--state", "running"}, {"--after", "t-1"}, {"--limit", "-1"}} {
		code, _, stderr := run(t, append(append([]string{"cluster", "ps"}, bad...), at...)...)
		assert.Equal(t, 2, code, "%v: %s", bad, stderr)
	}
	assert.Contains(t, runOK(t, append([]string{"cluster", "migrate", work.String(), "--to", "2"}, at...)...), "to worker 2")
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json"}, at...)...)), &ps))
	assert.Equal(t, uint16(2), ps[1].Worker, "ps shows where it runs now")
	assert.Contains(t, runOK(t, append([]string{"cluster", "kill", ps[2].ID.String()}, at...)...), "killed on worker 1")
	code, _, stderr := run(t, append([]string{"cluster", "throw", ps[2].ID.String(), "--message", "late"}, at...)...)
	assert.Equal(t, 1, code, "a throw into a tasklet that is gone fails")
	assert.Contains(t, stderr, "no worker holds this tasklet")
	code, _, _ = run(t, append([]string{"cluster", "throw", "not-an-id"}, at...)...)
	assert.Equal(t, 2, code, "a bad ID is a usage error")

	var cp cluster.CheckpointResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "checkpoint", "-o", "json"}, at...)...)), &cp))
	assert.Positive(t, cp.Gen)
	var rs cluster.RestoreResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "restore", "-n", "1", "-o", "json"}, at...)...)), &rs))
	assert.Equal(t, cp.Gen, rs.Gen)
	assert.Len(t, rs.Workers, 1)
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json"}, at...)...)), &ps))
	assert.Len(t, ps, 2, "the collector and the work that was not killed, now on the one worker")

	assert.Contains(t, runOK(t, append([]string{"cluster", "down"}, at...)...), "cluster down")
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
	entries, err := os.ReadDir(filepath.Join(dir, "sock"))
	require.NoError(t, err)
	assert.Empty(t, entries, "no socket left behind")
}

func TestClusterUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"cluster", "spawn"},
		{"cluster", "spawn", "work", "--count", "0"},
		{"cluster", "spawn", "work", "--count", "100000000000"},             // over cluster.MaxSpawn: was exit 1, from the coordinator
		{"cluster", "status", "--nats", "nats://127.0.0.1:1", "--name", ""}, // was the default name, silently
		{"cluster", "spawn", "work", "--arg", "novalue"},
		{"cluster", "migrate", "t1"},
		{"cluster", "migrate", "nonsense", "--to", "2"},
		{"cluster", "restore", "x"},
		{"cluster", "status", "--addr", "127.0.0.1:1"},
		{"cluster", "up", "-n", "0"},
		{"cluster", "up", "-n", "70000", "--data", os.DevNull}, // over cluster.MaxWorkers: was exit 1
		{"cluster", "restore", "-n", "70000"},
		{"cluster", "up", "--place", "random"},
		{"cluster", "up", "--listen", ":0"},
		{"cluster", "up", "--orphan-after", "0s"},
		{"cluster", "certs"},
		{"worker"},
		{"worker", "--join", "h:1"},
		{"worker", "--join", "h:1", "--cluster", "d"},
		{"worker", "--nats", "nats://h:1"},
		{"worker", "--nats", "nats://h:1", "--cluster", "d"},
		{"worker", "--nats", "nats://h:1", "--join", "h:1"},
		{"worker", "--nats", "nats://h:1", "--node", "3"},
		{"worker", "--creds", "f", "--cluster", "d", "--node", "1"},
	} {
		code, _, errOut := run(t, args...)
		assert.Equal(t, exitUsage, code, "%q: %s", args, errOut)
	}
}

// With no cluster up at a folder (never started, or down: the secret is
// left, the socket is not; or killed: the socket is left, nobody listens),
// a client says so once and how to start one, not a raw dial error.
func TestClusterCommandsWithoutACluster(t *testing.T) {
	never := t.TempDir()
	down := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(down, "secret"), []byte(strings.Repeat("s", 64)), 0o600))
	killed, err := os.MkdirTemp("", "stcli") // short: unix socket paths are limited
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(killed) })
	require.NoError(t, os.WriteFile(filepath.Join(killed, "secret"), []byte(strings.Repeat("s", 64)), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(killed, "sock"), 0o700))
	ln, err := net.Listen("unix", filepath.Join(killed, "sock", "c"))
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())                     // the socket file stays, nobody listens
	spaced := filepath.Join(t.TempDir(), "my cluster") // the hint quotes it, to run as printed
	for name, dir := range map[string]string{"never": never, "down": down, "killed": killed, "spaced": spaced} {
		for _, cmd := range []string{"status", "ps", "down"} {
			code, out, errOut := run(t, "cluster", cmd, "--cluster", dir, "--timeout", "5s")
			assert.Equal(t, exitFailure, code, "%s %s: %s", name, cmd, errOut)
			assert.Empty(t, out)
			assert.Equal(t, "stackless: no cluster is up at "+dir+": no coordinator listens there; start one with `stackless cluster up --data "+shquote.Quote(dir)+"`, or name its folder with --cluster DIR\n",
				errOut, "%s %s", name, cmd)
		}
	}
}

func TestClusterCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	assert.Contains(t, runOK(t, "cluster", "certs", "--out", dir, "--hosts", "localhost,127.0.0.1"), "certificates written")
	for _, f := range []string{"ca.crt", "ca.key", "node.crt", "node.key"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.NoError(t, err, f)
	}
	code, _, _ := run(t, "cluster", "certs", "--out", dir)
	assert.Equal(t, exitFailure, code, "an existing CA is not overwritten")
	tf := tlsFlags{dir: dir}
	cfg, err := tf.load()
	require.NoError(t, err)
	assert.NotNil(t, cfg)
	tf = tlsFlags{cert: filepath.Join(dir, "node.crt"), key: filepath.Join(dir, "node.key"), ca: filepath.Join(dir, "ca.crt")}
	cfg, err = tf.load()
	require.NoError(t, err, "the three files instead of the folder")
	assert.NotNil(t, cfg)
}

// --hosts entries no TLS client matches went into the certificate as
// they were: "a b,," made DNS names "a b", "" and "".
func TestClusterCertsRefusesBadHosts(t *testing.T) {
	for hosts, want := range map[string]string{
		"a b":                  `"a b" is not a host name`,
		"node1,,node2":         `"" is not a host name`,
		"node1.lan:7070":       `"node1.lan:7070" has a port: give the host alone (node1.lan)`,
		"":                     "--hosts is empty",
		"-bad.lan":             `"-bad.lan" is not a host name`,
		"node1,10.0.0.5,*.lan": "",
	} {
		dir := filepath.Join(t.TempDir(), "certs")
		code, _, errOut := run(t, "cluster", "certs", "--out", dir, "--hosts", hosts)
		if want == "" {
			assert.Equal(t, 0, code, "%q: %s", hosts, errOut)
			continue
		}
		assert.Equal(t, exitUsage, code, "%q: %s", hosts, errOut)
		assert.Contains(t, errOut, want)
		_, err := os.Stat(dir)
		assert.ErrorIs(t, err, fs.ErrNotExist, "%q: nothing written", hosts)
	}
}

// A real `cluster up` process stopped by a signal takes the cluster down
// cleanly (final checkpoint, workers stopped, sockets removed) and exits 0
// after SIGTERM, the stop of systemd, docker and kill; it exited 130 (as
// for Ctrl-C), which a service manager counts as a failure. Ctrl-C still
// exits 130, the shell's code for an interrupted command.
func TestClusterUpExitsBySignal(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a cluster of worker processes (make test runs it; make test-short skips it)")
	}
	dir, err := os.MkdirTemp("", "stcli") // short: unix socket paths are limited
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })

	// A fresh cluster, stopped by SIGTERM: its final checkpoint is the
	// generation after the one it started with, which the next cluster up
	// on the same --data resumes.
	gen, code, seen := clusterUpUntil(t, dir, syscall.SIGTERM)
	assert.Equal(t, exitOK, code, "stderr:\n%s", strings.Join(seen, "\n"))
	assert.NotContains(t, strings.Join(seen, "\n"), "stackless:", "a clean stop prints no error")

	next, code, seen := clusterUpUntil(t, dir, os.Interrupt)
	assert.Equal(t, gen+1, next, "the final checkpoint of the SIGTERM stop is resumed")
	assert.Equal(t, exitInterrupted, code, "stderr:\n%s", strings.Join(seen, "\n"))
	assert.Contains(t, seen, "stackless: interrupted")
}

// clusterUpUntil runs `cluster up` on dir as a child process, sends it sig
// once it reports, and returns the checkpoint generation it started from,
// its exit code and its stderr lines once it exited, after checking it went
// down cleanly.
func clusterUpUntil(t *testing.T, dir string, sig os.Signal) (gen, code int, seen []string) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "cluster", "up", "-n", "1", "--data", dir, "--checkpoint-every", "0", "--balance-every", "0")
	cmd.Env = append(os.Environ(), envCLIMain+"=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "cluster up ended before printing %q:\n%s", prefix, strings.Join(seen, "\n"))
				seen = append(seen, l)
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-ctx.Done():
				t.Fatalf("no %q line:\n%s", prefix, strings.Join(seen, "\n"))
			}
		}
	}
	m := regexp.MustCompile(`checkpoint generation (\d+);`).FindStringSubmatch(waitFor("cluster up:"))
	require.NotNil(t, m, "no generation in the report:\n%s", strings.Join(seen, "\n"))
	gen, err = strconv.Atoi(m[1])
	require.NoError(t, err)
	require.NoError(t, cmd.Process.Signal(sig))
	waitFor("cluster: down")
	for l := range lines {
		seen = append(seen, l)
	}
	err = cmd.Wait()
	require.NoError(t, ctx.Err(), "cluster up did not exit:\n%s", strings.Join(seen, "\n"))
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "sock"))
	require.NoError(t, err)
	assert.Empty(t, entries, "no socket left behind")
	return gen, code, seen
}

func viewIDs(vs []cluster.TaskletView) []tasklet.ID {
	ids := make([]tasklet.ID, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	return ids
}
