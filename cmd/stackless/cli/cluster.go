package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackless-go/stackless/cluster"
	_ "github.com/stackless-go/stackless/examples/cluster/work" // spawnable kinds: work, collector, ticker
	"github.com/stackless-go/stackless/ipc"
)

// defaultClusterDir is the cluster directory of `cluster up` and of the
// commands that drive it, unless --data / --cluster say otherwise.
const defaultClusterDir = "data/cluster"

// newClusterCmd groups the commands that run and drive a multi-process
// cluster.
func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run a cluster of worker processes and drive it",
		Long: `Run a cluster of worker processes and drive it from another terminal.

` + "`cluster up`" + ` starts a coordinator and N worker processes (this program,
started again as ` + "`worker`" + `) linked over unix sockets in DIR/sock. Tasklets
spread over the workers, move between them while they run, and channels
span processes. The coordinator takes consistent checkpoints of the whole
cluster into NATS JetStream (a server embedded in the coordinator, its
store in DIR/nats, listening on loopback only, its credentials in the 0600
file DIR/nats.seed) and, when a worker dies, rolls every worker back to the
last one. ` + "`stackless checkpoint ls|rm|export DIR`" + ` and ` + "`stackless inspect DIR`" + `
read those checkpoints.

The other commands talk to a running coordinator: through DIR's socket
(--cluster DIR, the secret is DIR/secret) or over TCP with mutual TLS
(--addr HOST:PORT --tls CERTDIR --secret FILE).`,
		RunE: groupRunE,
	}
	cmd.AddCommand(newClusterUpCmd(), newClusterDownCmd(), newClusterStatusCmd(), newClusterSpawnCmd(), newClusterPSCmd(),
		newClusterMigrateCmd(), newClusterKillCmd(), newClusterCheckpointCmd(), newClusterRestoreCmd(), newClusterCertsCmd())
	return cmd
}

// tlsFlags selects a mutual-TLS configuration: a folder made by `cluster
// certs`, or the three files.
type tlsFlags struct{ dir, cert, key, ca string }

func (f *tlsFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.dir, "tls", "", "certificate folder `DIR` made by stackless cluster certs (ca.crt, node.crt, node.key)")
	fs.StringVar(&f.cert, "cert", "", "this node's certificate `FILE` (instead of --tls)")
	fs.StringVar(&f.key, "key", "", "this node's private key `FILE` (instead of --tls)")
	fs.StringVar(&f.ca, "ca", "", "the cluster's CA certificate `FILE` (instead of --tls)")
}

// load returns the configuration, or nil when no flag was given.
func (f *tlsFlags) load() (*tls.Config, error) {
	dir, cleanup, err := f.folder()
	if err != nil || dir == "" {
		return nil, err
	}
	defer cleanup()
	return ipc.LoadTLSConfig(dir)
}

// folder returns a certificate folder for the flags: --tls DIR itself, or
// a private temporary copy of --cert, --key and --ca, which cleanup
// removes ("" when no flag was given).
func (f *tlsFlags) folder() (dir string, cleanup func(), err error) {
	cleanup = func() {}
	files := f.cert != "" || f.key != "" || f.ca != ""
	switch {
	case f.dir != "" && files:
		return "", cleanup, usageErrorf("give either --tls DIR or --cert, --key and --ca, not both")
	case f.dir != "":
		return f.dir, cleanup, nil
	case !files:
		return "", cleanup, nil
	case f.cert == "" || f.key == "" || f.ca == "":
		return "", cleanup, usageErrorf("--cert, --key and --ca go together")
	}
	// The same checks as ipc.LoadTLSConfig, on files that may live apart.
	tmp, err := os.MkdirTemp("", "stkl-tls")
	if err != nil {
		return "", cleanup, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	for src, dst := range map[string]string{f.cert: ipc.NodeCertFile, f.key: ipc.NodeKeyFile, f.ca: ipc.CACertFile} {
		b, err := os.ReadFile(src)
		if err != nil {
			cleanup()
			return "", func() {}, err
		}
		if dst == ipc.NodeKeyFile {
			if fi, err := os.Stat(src); err == nil && fi.Mode().Perm()&0o077 != 0 {
				cleanup()
				return "", func() {}, fmt.Errorf("TLS key %s has mode %04o and is open to group or others; run: chmod 600 %s", src, fi.Mode().Perm(), src)
			}
		}
		if err := os.WriteFile(filepath.Join(tmp, dst), b, 0o600); err != nil {
			cleanup()
			return "", func() {}, err
		}
	}
	return tmp, cleanup, nil
}

// clientFlags say how to reach a running coordinator.
type clientFlags struct {
	dir, addr, secret string
	tls               tlsFlags
	timeout           time.Duration
}

func addClientFlags(cmd *cobra.Command) *clientFlags {
	f := &clientFlags{}
	fs := cmd.Flags()
	fs.StringVar(&f.dir, "cluster", defaultClusterDir, "cluster directory `DIR` of the coordinator (its socket and secret)")
	fs.StringVar(&f.addr, "addr", "", "coordinator's TCP address `HOST:PORT` (with --tls and --secret) instead of --cluster")
	fs.StringVar(&f.secret, "secret", "", "cluster secret `FILE` (default: DIR/secret of --cluster)")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "give up after this long")
	atLeast(fs, "timeout", "1ns")
	f.tls.add(fs)
	return f
}

// dial connects to the coordinator and returns the client and a context
// bounded by --timeout.
func (f *clientFlags) dial(cmd *cobra.Command) (*cluster.Client, context.Context, context.CancelFunc, error) {
	if f.timeout <= 0 {
		return nil, nil, nil, usageErrorf("--timeout must be more than 0, got %v", f.timeout)
	}
	cfg := cluster.DialConfig{}
	if f.addr != "" {
		tc, err := f.tls.load()
		if err != nil {
			return nil, nil, nil, err
		}
		if tc == nil {
			return nil, nil, nil, usageErrorf("--addr needs TLS: give --tls DIR (or --cert, --key and --ca)")
		}
		if f.secret == "" {
			return nil, nil, nil, usageErrorf("--addr needs --secret FILE (a copy of the cluster's DIR/secret)")
		}
		cfg.Addr, cfg.TLS = f.addr, tc
	} else {
		cfg.Dir = f.dir
	}
	if f.secret != "" {
		s, err := ipc.LoadSecret(f.secret)
		if err != nil {
			return nil, nil, nil, err
		}
		cfg.Secret = s
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	c, err := cluster.Dial(ctx, cfg)
	if err != nil {
		cancel()
		if cfg.Addr == "" && noCluster(err) {
			return nil, nil, nil, fmt.Errorf("no cluster is up at %s: no coordinator listens there; start one with `stackless cluster up --data %s`, or name its folder with --cluster DIR",
				f.dir, f.dir)
		}
		return nil, nil, nil, err
	}
	return c, ctx, cancel, nil
}

// noCluster reports whether a dial through a cluster folder failed because
// no coordinator runs there: no secret or socket, or a socket nobody
// listens on (left by a coordinator that was killed).
func noCluster(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED)
}

// clientCmd builds a command that talks to the coordinator.
func clientCmd(cmd *cobra.Command, run func(cmd *cobra.Command, args []string, c *cluster.Client, ctx context.Context) error) *cobra.Command {
	f := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, ctx, cancel, err := f.dial(cmd)
		if err != nil {
			return err
		}
		defer cancel()
		defer c.Close()
		return run(cmd, args, c, ctx)
	}
	return cmd
}

func newClusterUpCmd() *cobra.Command {
	var (
		cfg     cluster.Config
		tf      tlsFlags
		hf      httpFlags
		balance time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a coordinator and its worker processes, in the foreground",
		Long: `Start a coordinator and -n worker processes (this program, started again as
` + "`worker`" + `), linked over unix sockets in DIR/sock, and keep them running.

It starts a NATS server inside itself (JetStream store in DIR/nats, on a
free loopback port, open only to the credentials in DIR/nats.seed) and
resumes the newest stored checkpoint, if there is one (onto -n workers), or
starts empty. A generation is committed only once every worker's world is
stored, so it is whole or absent; a generation that does not load (an
object or manifest changed or damaged) is reported by number and the one
before it is resumed; when none loads it refuses, and --fresh starts empty
(the stored generations stay until --keep newer ones replace them). It checkpoints the whole cluster every
--checkpoint-every, balances runnable tasklets over the workers every
--balance-every, and rolls every worker back to the last checkpoint when
one dies; a rollback that fails is tried again, and after 5 failures the
cluster is down (` + "`stackless cluster status`" + ` says why) and this command exits
non-zero when stopped. Ctrl-C, SIGTERM or ` + "`stackless cluster down`" + ` take a final
checkpoint, stop every worker and remove the sockets.

Workers outlive a coordinator that dies (kill -9, a crash): they run on,
and the next ` + "`cluster up`" + ` on the same DIR adopts them without a rollback, or,
when one of them died meanwhile, stops them and restores the newest
checkpoint, and says which. A worker nobody adopts exits after
--orphan-after.

--http serves the web observer of the cluster (` + "`stackless observe`" + `).

Exactly one coordinator leads: it holds a lease in a NATS KV bucket,
renewed every 400 ms, and every command it sends a worker carries the
lease's epoch; a worker refuses a lower epoch than one it obeyed, so a
deposed leader cannot act. A ` + "`cluster up`" + ` on a DIR whose coordinator runs
stands by (it says so) and takes over when that one dies, adopting its
workers: no rollback, measured well under 5 s. Ctrl-C, SIGTERM or
` + "`cluster down`" + ` of the leader stop the cluster, and its standbys with it (they
exit 0). ` + "`cluster status`" + ` shows who leads and since when.

With --nats URL[,URL] --creds FILE the checkpoints and the lease live on
those NATS servers (JetStream; replicas min(3, servers)) instead of the
embedded one: a coordinator started on the same servers while another
leads stands by until that one's lease goes stale (2 s), then leads.
(Workers on other machines still join over --listen; ` + "`checkpoint`" + ` and
` + "`inspect`" + ` read the embedded store of a DIR only.)

With --listen and --tls, workers on other machines can join
(` + "`stackless worker --join HOST:PORT`" + `) and clients can drive it over TCP.

A status line is shown on stderr when it is a terminal; otherwise a plain
line every few seconds.`,
		Example: "  stackless cluster up -n 4\n" +
			"  stackless cluster up -n 2 --data /tmp/c --checkpoint-every 10s\n" +
			"  stackless cluster up --listen :7070 --tls certs",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Workers < 1 {
				return usageErrorf("-n must be 1 or more, got %d", cfg.Workers)
			}
			if cfg.CheckpointEvery <= 0 {
				cfg.CheckpointEvery = -1
			}
			cfg.BalanceEvery = balance
			if balance <= 0 {
				cfg.BalanceEvery = -1
			}
			switch cfg.Place {
			case cluster.PlaceRoundRobin, cluster.PlaceLeastLoaded:
			default:
				return usageErrorf("--place must be %s or %s, got %q", cluster.PlaceRoundRobin, cluster.PlaceLeastLoaded, cfg.Place)
			}
			// The folder stays while the cluster runs: its local workers
			// load it too (they listen on TCP+TLS with --listen).
			tdir, cleanup, err := tf.folder()
			if err != nil {
				return err
			}
			defer cleanup()
			if cfg.Listen != "" && tdir == "" {
				return usageErrorf("--listen needs --tls DIR (make one with `stackless cluster certs`)")
			}
			if tdir != "" {
				if cfg.TLS, err = ipc.LoadTLSConfig(tdir); err != nil {
					return err
				}
				abs, err := filepath.Abs(tdir)
				if err != nil {
					return err
				}
				cfg.SetTLSDir(abs)
			}
			cfg.Output = cmd.ErrOrStderr()
			cfg.Log = logger(cmd, slog.LevelWarn)
			if f := cmd.Flag("log-format"); f != nil && f.Changed {
				os.Setenv(envLogFormat, f.Value.String()) // the workers log alike
			}
			return clusterUp(cmd, cfg, &hf)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&cfg.Workers, "workers", "n", runtime.NumCPU(), "worker processes")
	fs.StringVar(&cfg.Dir, "data", defaultClusterDir, "cluster directory `DIR`: secret, sock/, nats/ (the checkpoints), nats.seed")
	fs.StringVar(&cfg.Listen, "listen", "", "TCP address `HOST:PORT` for workers and clients on other machines (needs --tls)")
	fs.DurationVar(&cfg.CheckpointEvery, "checkpoint-every", 5*time.Second, "consistent checkpoint interval (0: only on demand and at shutdown)")
	fs.DurationVar(&balance, "balance-every", 250*time.Millisecond, "load balancing interval (0: off)")
	fs.StringVar(&cfg.Place, "place", cluster.PlaceRoundRobin, "placement of spawned tasklets: "+cluster.PlaceRoundRobin+" or "+cluster.PlaceLeastLoaded)
	fs.StringVar(&cfg.NATS, "nats", "", "keep checkpoints and the leadership lease on these NATS servers (`URL[,URL]`) instead of the embedded one")
	fs.StringVar(&cfg.NATSCreds, "creds", "", "credentials `FILE` for --nats: a .creds file (user JWT and seed) or an nkey seed file")
	fs.IntVar(&cfg.Keep, "keep", 8, "checkpoint generations kept, the newest (older ones are deleted as new ones are committed)")
	fs.BoolVar(&cfg.Fresh, "fresh", false, "do not resume the stored checkpoints: start empty (new checkpoints replace them)")
	fs.DurationVar(&cfg.OrphanAfter, "orphan-after", cluster.DefaultOrphanAfter, "how long workers run on after this coordinator dies, waiting for the next cluster up on the same --data to adopt them")
	atLeast(fs, "workers", "1")
	atLeast(fs, "keep", "1")
	atLeast(fs, "checkpoint-every", "0s")
	atLeast(fs, "balance-every", "0s")
	atLeast(fs, "orphan-after", "1ns")
	tf.add(fs)
	hf.add(fs, "")
	return cmd
}

// clusterUp runs the coordinator until it is told to stop.
func clusterUp(cmd *cobra.Command, cfg cluster.Config, hf *httpFlags) error {
	ctx := cmd.Context()
	cfg.Standby = true
	cfg.OnStandby = func(ld cluster.Leader) {
		who := "another coordinator"
		if ld.Holder != "" {
			who = fmt.Sprintf("the coordinator %s (since %s, epoch %d)", ld.Holder, ld.Since.Local().Format(time.DateTime), ld.Epoch)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "cluster up: standing by: %s leads %s; this one takes over, adopting its workers, if it dies\n", who, cfg.Dir)
	}
	c, err := cluster.Start(ctx, cfg)
	if errors.Is(err, cluster.ErrLeaderStopped) {
		fmt.Fprintf(cmd.ErrOrStderr(), "cluster up: %v\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	st, _ := c.Status(ctx)
	where := "--cluster " + cfg.Dir
	if a := c.Addr(); a != "" {
		where += " (or --addr " + a + ")"
	}
	fmt.Fprintf(stderr, "cluster up: %s in %s, checkpoint generation %d; drive it with `stackless cluster status %s`\n",
		plural(len(st.Workers), "worker"), cfg.Dir, st.LastGen, where)
	if st.Note != "" {
		fmt.Fprintf(stderr, "cluster up: %s\n", st.Note)
	}
	if hf.addr != "" {
		stop, err := observeCluster(cmd, cfg, hf)
		if err != nil {
			return errors.Join(err, c.Close())
		}
		defer stop()
	}
	tty := isTerminal(stderr)
	every := 5 * time.Second
	if tty {
		every = 500 * time.Millisecond
	}
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(stderr)
			}
			fmt.Fprintln(stderr, "cluster: shutting down: final checkpoint, stopping the workers...")
			if err := c.Close(); err != nil {
				return err
			}
			fmt.Fprintln(stderr, "cluster: down")
			return ctx.Err() // interrupted (Ctrl-C, SIGTERM): exit 130 once down
		case <-c.Done():
			if tty {
				fmt.Fprintln(stderr)
			}
			if err := c.Err(); err != nil {
				return err
			}
			fmt.Fprintln(stderr, "cluster: down")
			return nil
		case <-tk.C:
			sctx, cancel := context.WithTimeout(ctx, every)
			st, err := c.Status(sctx)
			cancel()
			line := statusLine(st)
			if err != nil {
				line += " (" + err.Error() + ")"
			}
			if tty {
				fmt.Fprintf(stderr, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(stderr, line)
			}
		}
	}
}

// statusLine sums a status up in one line.
func statusLine(st cluster.Status) string {
	var tasklets int
	var steps float64
	var heap uint64
	for _, w := range st.Workers {
		tasklets += w.Tasklets
		steps += w.StepsPerSec
		heap += w.HeapBytes
	}
	ago := "never"
	if !st.LastAt.IsZero() {
		ago = time.Since(st.LastAt).Round(time.Second).String() + " ago"
	}
	line := fmt.Sprintf("%s | %s | %s steps/s | heap %s | checkpoint %d (%s) | moved %d | rollbacks %d",
		plural(len(st.Workers), "worker"), plural(tasklets, "tasklet"), humanCount(steps), humanBytes(heap), st.LastGen, ago, st.Migrations, st.Rollbacks)
	if st.State != "" && st.State != "running" {
		line += " | " + strings.ToUpper(st.State[:1]) + st.State[1:]
	}
	return line
}

// plural says "1 worker", "2 workers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// humanCount prints a rate or count with three significant digits: 980,
// 98.1k, 1.25M.
func humanCount(x float64) string {
	switch {
	case x >= 999.5e6:
		return humanFloat(x/1e9) + "G"
	case x >= 999.5e3:
		return humanFloat(x/1e6) + "M"
	case x >= 999.5:
		return humanFloat(x/1e3) + "k"
	}
	return humanFloat(x)
}

// humanBytes prints a size with three significant digits: 850 KiB, 1.09 MiB.
func humanBytes(b uint64) string {
	switch {
	case b >= 1<<30:
		return humanFloat(float64(b)/(1<<30)) + " GiB"
	case b >= 1<<20:
		return humanFloat(float64(b)/(1<<20)) + " MiB"
	case b >= 1<<10:
		return humanFloat(float64(b)/(1<<10)) + " KiB"
	}
	return strconv.FormatUint(b, 10) + " B"
}

func newClusterDownCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "down",
		Short: "Shut the cluster down: final checkpoint, workers stopped",
		Args:  cobra.NoArgs,
	}, func(cmd *cobra.Command, _ []string, c *cluster.Client, ctx context.Context) error {
		if err := c.Down(ctx); err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			return writeJSON(cmd.OutOrStdout(), map[string]bool{"down": true})
		}
		fmt.Fprintln(cmd.OutOrStdout(), "cluster down")
		return nil
	})
}

func newClusterStatusCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "status",
		Short: "Show the workers: tasklets, runnable, steps/s, memory",
		Args:  cobra.NoArgs,
	}, func(cmd *cobra.Command, _ []string, c *cluster.Client, ctx context.Context) error {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			if err := writeJSON(cmd.OutOrStdout(), st); err != nil {
				return err
			}
			return downError(st)
		}
		var b bytes.Buffer
		writeStatus(&b, st)
		if err := flush(cmd.OutOrStdout(), &b); err != nil {
			return err
		}
		return downError(st)
	})
}

func writeStatus(b *bytes.Buffer, st cluster.Status) {
	t := newTable("WORKER", "PID", "HOST", "HOSTS", "TASKLETS", "RUNNABLE", "STEPS/S", "HEAP", "STATE")
	for _, w := range st.Workers {
		hosts := make([]string, len(w.Hosts))
		for i, h := range w.Hosts {
			hosts[i] = strconv.Itoa(int(h))
		}
		state := "running"
		if w.Paused {
			state = "paused"
		}
		t.row(strconv.Itoa(int(w.Node)), strconv.Itoa(w.Pid), w.Host, strings.Join(hosts, ","), strconv.Itoa(w.Tasklets),
			humanFloat(math.Round(w.Runnable*10)/10), humanCount(w.StepsPerSec), humanBytes(w.HeapBytes), state)
	}
	t.write(b)
	last := "none"
	if st.LastGen > 0 {
		last = fmt.Sprintf("generation %d at %s", st.LastGen, st.LastAt.Format(time.TimeOnly))
	}
	fmt.Fprintf(b, "\nlast checkpoint: %s; balancer moves: %d; rollbacks: %d; workers left: %d; up %v\n",
		last, st.Migrations, st.Rollbacks, st.Left, st.Uptime.Round(time.Second))
	if st.State != "" {
		fmt.Fprintf(b, "cluster: %s\n", st.State)
	}
	if st.Note != "" {
		fmt.Fprintf(b, "at start: %s\n", st.Note)
	}
	if st.Leader != nil {
		fmt.Fprintf(b, "leader: %s since %s (epoch %d)\n", st.Leader.Holder, st.Leader.Since.Local().Format(time.DateTime), st.Leader.Epoch)
	}
}

// downError makes `cluster status` exit non-zero when the cluster is down
// (its rollbacks failed until the coordinator gave up).
func downError(st cluster.Status) error {
	if !strings.HasPrefix(st.State, "down:") {
		return nil
	}
	return fmt.Errorf("the cluster in %s is %s; bring it back with `stackless cluster restore --cluster %s`, or stop it with `stackless cluster down --cluster %s`",
		st.Dir, st.State, st.Dir, st.Dir)
}

// table lines up columns with two spaces between them.
type table struct {
	rows  [][]string
	width []int
}

func newTable(head ...string) *table {
	t := &table{width: make([]int, len(head))}
	t.row(head...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		t.width[i] = max(t.width[i], len(c))
	}
	t.rows = append(t.rows, cells)
}

func (t *table) write(b *bytes.Buffer) {
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			fmt.Fprintf(b, "%-*s  ", t.width[i], c)
		}
		b.WriteByte('\n')
	}
}

func newClusterSpawnCmd() *cobra.Command {
	var (
		count  int
		args   []string
		worker uint16
		place  string
	)
	cmd := clientCmd(&cobra.Command{
		Use:   "spawn KIND",
		Short: "Start tasklets of a spawnable kind on the workers",
		Long: `Start --count tasklets of a kind registered with cluster.RegisterSpawner
(this program knows: ` + strings.Join(cluster.Spawners(), ", ") + `). Each --arg k=v goes
to the kind's spawner; --arg k=@chan makes a new channel on the tasklet's
worker and passes its ID (@chan:N for a buffered one), and the result lists
it so other tasklets can be given it. The coordinator places the tasklets
(--place) unless --worker names one, and checkpoints the cluster after.`,
		Example: "  stackless cluster spawn collector --arg in=@chan --arg want=8 --worker 1\n" +
			"  stackless cluster spawn work --count 8 --arg out=ch281474976710657 --arg links=3000000",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cobra.FixedCompletions(cluster.Spawners(), cobra.ShellCompDirectiveNoFileComp),
		PreRunE: func(*cobra.Command, []string) error {
			for _, a := range args {
				if k, _, ok := strings.Cut(a, "="); !ok || k == "" {
					return usageErrorf("--arg %q: use key=value", a)
				}
			}
			if count < 1 {
				return usageErrorf("--count must be 1 or more, got %d", count)
			}
			return nil
		},
	}, func(cmd *cobra.Command, pos []string, c *cluster.Client, ctx context.Context) error {
		kv := map[string]string{}
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			kv[k] = v
		}
		res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: pos[0], Args: kv, Count: count, Worker: worker, Place: place})
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		var b bytes.Buffer
		t := newTable("ID", "WORKER", "CHANNELS")
		for _, s := range res.Tasklets {
			var chans []string
			for k, id := range s.Channels {
				chans = append(chans, k+"="+id.String())
			}
			sort.Strings(chans)
			t.row(s.ID.String(), strconv.Itoa(int(s.Worker)), strings.Join(chans, " "))
		}
		t.write(&b)
		fmt.Fprintf(&b, "%d tasklet(s) of kind %s spawned; checkpoint generation %d holds them\n", len(res.Tasklets), pos[0], res.Gen)
		return flush(cmd.OutOrStdout(), &b)
	})
	fs := cmd.Flags()
	fs.IntVar(&count, "count", 1, "how many tasklets")
	fs.StringArrayVar(&args, "arg", nil, "`KEY=VALUE` for the kind's spawner (repeat); value @chan makes a channel")
	fs.Uint16Var(&worker, "worker", 0, "put them all on this worker (default: the coordinator places them)")
	fs.StringVar(&place, "place", "", "placement: "+cluster.PlaceRoundRobin+" or "+cluster.PlaceLeastLoaded+" (default: the coordinator's)")
	atLeast(fs, "count", "1")
	atLeast(fs, "worker", "1")
	return cmd
}

func newClusterPSCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "ps",
		Short: "List the tasklets: ID, kind, worker, state",
		Args:  cobra.NoArgs,
	}, func(cmd *cobra.Command, _ []string, c *cluster.Client, ctx context.Context) error {
		ps, err := c.PS(ctx)
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			if ps == nil {
				ps = []cluster.TaskletView{}
			}
			return writeJSON(cmd.OutOrStdout(), ps)
		}
		var b bytes.Buffer
		t := newTable("ID", "KIND", "WORKER", "STATE", "STEPS")
		for _, v := range ps {
			state := v.State
			if v.Op != "" && v.Op != v.State {
				state += " (" + v.Op + ")"
			}
			t.row(v.ID.String(), v.Kind, strconv.Itoa(int(v.Worker)), state, strconv.FormatUint(v.Steps, 10))
		}
		t.write(&b)
		fmt.Fprintf(&b, "%d tasklet(s)\n", len(ps))
		return flush(cmd.OutOrStdout(), &b)
	})
}

func newClusterMigrateCmd() *cobra.Command {
	var to uint16
	cmd := clientCmd(&cobra.Command{
		Use:     "migrate ID --to WORKER",
		Short:   "Move a tasklet to another worker while it runs",
		Example: "  stackless cluster migrate t281474976710658 --to 2",
		Args:    cobra.ExactArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if _, err := cluster.ParseTaskletID(args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			if to == 0 {
				return usageErrorf("--to WORKER is required (see `stackless cluster status`)")
			}
			return nil
		},
	}, func(cmd *cobra.Command, args []string, c *cluster.Client, ctx context.Context) error {
		id, _ := cluster.ParseTaskletID(args[0])
		res, err := c.Migrate(ctx, id, to)
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%v moved from worker %d to worker %d\n", res.ID, res.From, res.To)
		return nil
	})
	cmd.Flags().Uint16Var(&to, "to", 0, "the worker to move it to")
	atLeast(cmd.Flags(), "to", "1")
	return cmd
}

func newClusterKillCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "kill ID",
		Short: "Kill a tasklet, wherever it runs",
		Args:  cobra.ExactArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if _, err := cluster.ParseTaskletID(args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			return nil
		},
	}, func(cmd *cobra.Command, args []string, c *cluster.Client, ctx context.Context) error {
		id, _ := cluster.ParseTaskletID(args[0])
		res, err := c.Kill(ctx, id)
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%v killed on worker %d\n", res.ID, res.Worker)
		return nil
	})
}

func newClusterCheckpointCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "checkpoint",
		Short: "Take a consistent checkpoint of the whole cluster now",
		Args:  cobra.NoArgs,
	}, func(cmd *cobra.Command, _ []string, c *cluster.Client, ctx context.Context) error {
		res, err := c.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "checkpoint generation %d: %d workers, %d bytes, %d flush round(s), cluster paused %v\n",
			res.Gen, res.Workers, res.Bytes, res.Rounds, res.Paused.Round(time.Microsecond))
		return nil
	})
}

func newClusterRestoreCmd() *cobra.Command {
	var workers int
	cmd := clientCmd(&cobra.Command{
		Use:   "restore [GEN]",
		Short: "Restart the cluster from a checkpoint, onto any number of workers",
		Long: `Stop every worker and start the cluster again from checkpoint generation GEN
(default: the newest) on -n workers (default: as many as now). A checkpoint
of N workers restored onto fewer merges worlds; onto more, the new workers
start empty and the balancer moves runnable tasklets to them.`,
		Example: "  stackless cluster restore -n 2\n  stackless cluster restore 12 -n 8",
		Args:    cobra.MaximumNArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				if g, err := strconv.ParseUint(args[0], 10, 64); err != nil || g == 0 {
					return usageErrorf("%q is not a generation number (1 or more)", args[0])
				}
			}
			if workers < 0 {
				return usageErrorf("-n must be 1 or more, got %d", workers)
			}
			return nil
		},
	}, func(cmd *cobra.Command, args []string, c *cluster.Client, ctx context.Context) error {
		var gen uint64
		if len(args) == 1 {
			gen, _ = strconv.ParseUint(args[0], 10, 64)
		}
		res, err := c.Restore(ctx, gen, workers)
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "restored generation %d (%d worker worlds) onto workers %v\n", res.Gen, res.From, res.Workers)
		return nil
	})
	cmd.Flags().IntVarP(&workers, "workers", "n", 0, "workers to restore onto (default: as many as now)")
	atLeast(cmd.Flags(), "workers", "1")
	return cmd
}

func newClusterCertsCmd() *cobra.Command {
	var (
		out   string
		hosts []string
	)
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Make a cluster CA and a node certificate for TCP links",
		Long: `Make a certificate authority and a node certificate signed by it in --out
(ca.crt, ca.key, node.crt, node.key; keys 0600): every machine of the
cluster uses a copy of the folder (--tls DIR), and --hosts lists the names
and addresses the machines are reached by (default: localhost). Keep
ca.key off the machines once the certificates are made.`,
		Example: "  stackless cluster certs --out certs --hosts node1.lan,node2.lan,10.0.0.5",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErrorf("--out DIR is required")
			}
			if err := ipc.GenerateCerts(out, hosts); err != nil {
				return err
			}
			if outputOf(cmd) == formatJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"dir": out, "hosts": hosts})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "certificates written to %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "folder `DIR` to write the certificates to")
	cmd.Flags().StringSliceVar(&hosts, "hosts", nil, "host names and IP addresses of the cluster's machines, comma-separated")
	return cmd
}

var errNoWorkerTarget = errors.New("give --cluster DIR --node N (started by `cluster up`) or --join HOST:PORT")

// The commands that talk to a coordinator check their own arguments in
// PreRunE, before connecting, so a bad argument is a usage error (exit 2)
// whether a cluster runs or not.
