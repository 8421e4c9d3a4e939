// cluster up: start (or stand by for) a cluster and report until it stops.

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackless-go/stackless/cluster"
	_ "github.com/stackless-go/stackless/examples/cluster/work" // spawnable kinds: work, collector, ticker
	"github.com/stackless-go/stackless/internal/shquote"
)

func newClusterUpCmd() *cobra.Command {
	var (
		cfg     cluster.Config
		nf      natsFlags
		tf      tlsFlags
		hf      httpFlags
		balance time.Duration
		journal bool
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
checkpoint, stop every worker and remove the sockets. Once that is done it
exits 0 after SIGTERM or ` + "`cluster down`" + ` (a service manager's stop) and 130
after Ctrl-C, as an interrupted command; a shutdown that lost something (the
final checkpoint not stored) exits 1.

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
Workers on other machines join through the same servers
(` + "`stackless worker --nats URL --creds FILE --tls CERTDIR --secret FILE`" + `):
they register in a members bucket and the leader links to the address
they publish, so give this coordinator --tls (and --listen, so that its
local workers listen on TCP too). A coordinator that takes the lease, on
any machine, adopts every worker registered there that it can reach (the
dead leader's local ones too, over TCP: give every machine the same
--tls certificates and a copy of DIR/secret), so a leader's kill -9 rolls
nobody back. The leader answers the other cluster
commands on NATS too, so
` + "`stackless cluster status --nats URL --creds FILE`" + ` works from any machine, and ` + "`checkpoint ls|rm|export`" + ` and
` + "`inspect`" + ` read the generations with the same flags.

--name NAME (default stackless) prefixes the cluster's buckets
(NAME_ckpt, NAME_manifests, NAME_lease, NAME_journal, NAME_members) and
subjects (NAME.api.*, NAME.worker.join), so several clusters share one
NATS account (or one embedded store); give the same --name to the
commands that drive or read it and to ` + "`stackless worker --nats`" + `. A name is 1 to 32
letters, digits, '-' or '_'.

With --listen and --tls, workers on other machines can join
(` + "`stackless worker --join HOST:PORT`" + `) and clients can drive it over TCP.

Effects (I/O the tasklets ask for with t.Do) are journaled by default in
the same NATS store (a KV bucket of at most --journal-bytes): a call whose
result was journaled is not run again after a rollback. --journal=false
turns that off (effects are then at-least-once).

A status line is shown on stderr when it is a terminal; otherwise a plain
line every few seconds.`,
		Example: "  stackless cluster up -n 4\n" +
			"  stackless cluster up -n 2 --data /tmp/c --checkpoint-every 10s\n" +
			"  stackless cluster up --listen :7070 --tls certs",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Workers < 1 || cfg.Workers > cluster.MaxWorkers {
				return usageErrorf("-n must be 1 to %d, got %d", cluster.MaxWorkers, cfg.Workers)
			}
			if err := nf.check(); err != nil {
				return err
			}
			cfg.Name = nf.name
			if cfg.CheckpointEvery <= 0 {
				cfg.CheckpointEvery = -1
			}
			cfg.BalanceEvery = balance
			cfg.NoJournal = !journal
			if balance <= 0 {
				cfg.BalanceEvery = -1
			}
			switch cfg.Place {
			case cluster.PlaceRoundRobin, cluster.PlaceLeastLoaded:
			default:
				return usageErrorf("--place must be %s or %s, got %q", cluster.PlaceRoundRobin, cluster.PlaceLeastLoaded, cfg.Place)
			}
			tc, err := tf.load()
			if err != nil {
				return err
			}
			if cfg.Listen != "" && tc == nil {
				return usageErrorf("--listen needs --tls DIR or --cert, --key and --ca (make them with `stackless cluster certs`)")
			}
			if tc != nil {
				cfg.TLS = tc
				// Its local workers load the same files (they listen on
				// TCP+TLS with --listen).
				if err := tf.pass(&cfg); err != nil {
					return err
				}
			}
			cfg.Output = cmd.ErrOrStderr()
			cfg.Log = logger(cmd, slog.LevelWarn)
			if f := cmd.Flag("log-format"); f != nil && f.Changed {
				os.Setenv(envLogFormat, f.Value.String()) // the workers log alike
			}
			return clusterUp(cmd, cfg, &hf, &tf)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&cfg.Workers, "workers", "n", runtime.NumCPU(), "worker processes")
	fs.StringVar(&cfg.Dir, "data", defaultClusterDir, "cluster directory `DIR`: secret, sock/, nats/ (the checkpoints), nats.seed (--cluster DIR, as the other cluster commands name it, is taken too)")
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "cluster" { // "unknown flag: --cluster" after every other command took it
			name = "data"
		}
		return pflag.NormalizedName(name)
	})
	fs.StringVar(&cfg.Listen, "listen", "", "TCP address `HOST:PORT` for workers and clients on other machines (needs --tls, or --cert, --key and --ca)")
	isAddress(fs, "listen", addrListen)
	fs.DurationVar(&cfg.CheckpointEvery, "checkpoint-every", 5*time.Second, "consistent checkpoint interval (0: only on demand and at shutdown)")
	fs.DurationVar(&balance, "balance-every", 250*time.Millisecond, "load balancing interval (0: off)")
	fs.StringVar(&cfg.Place, "place", cluster.PlaceRoundRobin, "placement of spawned tasklets: "+cluster.PlaceRoundRobin+" or "+cluster.PlaceLeastLoaded)
	fs.StringVar(&cfg.NATS, "nats", "", "keep checkpoints and the leadership lease on these NATS servers (`URL[,URL]`) instead of the embedded one")
	isAddress(fs, "nats", addrNATS)
	fs.StringVar(&cfg.NATSCreds, "creds", "", "credentials `FILE` for --nats: a .creds file (user JWT and seed) or an nkey seed file")
	fs.IntVar(&cfg.Keep, "keep", 8, "checkpoint generations kept, the newest (older ones are deleted as new ones are committed)")
	fs.BoolVar(&cfg.Fresh, "fresh", false, "do not resume the stored checkpoints: start empty (new checkpoints replace them)")
	fs.BoolVar(&journal, "journal", true, "journal effects' results in the NATS store, so that a rollback does not run them again (false: at-least-once)")
	fs.Int64Var(&cfg.JournalBytes, "journal-bytes", cluster.DefaultJournalBytes, "most `BYTES` the effect journal may hold, 1 MiB or more (a full one fails calls; each checkpoint trims it)")
	fs.DurationVar(&cfg.OrphanAfter, "orphan-after", cluster.DefaultOrphanAfter, "how long workers run on after this coordinator dies, waiting for the next cluster up on the same --data (or the next leader on --nats) to adopt them; a worker joined with --nats then joins again, empty")
	atLeast(fs, "workers", "1")
	atLeast(fs, "keep", "1")
	atLeast(fs, "journal-bytes", strconv.Itoa(cluster.MinJournalBytes))
	atLeast(fs, "checkpoint-every", "0s")
	atLeast(fs, "balance-every", "0s")
	atLeast(fs, "orphan-after", "1ns")
	nf.add(fs, false)
	tf.add(fs)
	hf.add(fs, "")
	return cmd
}

// clusterUp runs the coordinator until it is told to stop.
func clusterUp(cmd *cobra.Command, cfg cluster.Config, hf *httpFlags, tf *tlsFlags) error {
	ctx := cmd.Context()
	cfg.Standby = true
	var stoodBy atomic.Bool // set by OnStandby, which may run on another goroutine
	cfg.OnStandby = func(ld cluster.Leader) {
		stoodBy.Store(true)
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
	if err != nil && stoodBy.Load() && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// A standby holds nothing: stopping it is a clean shutdown.
		fmt.Fprintln(cmd.ErrOrStderr(), "cluster up: stopped standing by")
		return stoppedCleanly(ctx)
	}
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	st, _ := c.Status(ctx)
	// Each alternative is a whole command in its own backquotes, so that it
	// can be copied as it stands.
	where := "`stackless cluster status --cluster " + shquote.Quote(cfg.Dir) + "`"
	if a := c.Addr(); a != "" {
		where += " (or `stackless cluster status --addr " + a + " " + tf.String() + " --secret " + shquote.Quote(filepath.Join(cfg.Dir, "secret")) + "`)"
	}
	if cfg.NATS != "" {
		nf := natsFlags{url: cfg.NATS, creds: cfg.NATSCreds, name: cluster.DefaultName}
		if cfg.Name != "" {
			nf.name = cfg.Name
		}
		where += " (or, from any machine, `stackless cluster status " + nf.ref() + "`)"
	}
	fmt.Fprintf(stderr, "cluster up: %s in %s, checkpoint generation %d; drive it with %s\n",
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
	shown := 0 // characters of the status line on the terminal
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
			return stoppedCleanly(ctx) // SIGTERM: exit 0; Ctrl-C: 130
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
				fmt.Fprint(stderr, overwriteLine(shown, line))
				shown = utf8.RuneCountInString(line)
			} else {
				fmt.Fprintln(stderr, line)
			}
		}
	}
}

// overwriteLine returns what replaces a status line of prev characters
// with line: a carriage return, line, and blanks over what is left of the
// old one. No escape sequence (such as erase-to-end-of-line), so it works
// on every terminal, TERM=dumb included.
func overwriteLine(prev int, line string) string {
	return "\r" + line + strings.Repeat(" ", max(0, prev-utf8.RuneCountInString(line)))
}
