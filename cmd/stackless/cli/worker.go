package cli

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/ipc"
)

func newWorkerCmd() *cobra.Command {
	var (
		cfg    cluster.WorkerConfig
		node   uint16
		secret string
		tf     tlsFlags
		nf     natsFlags // --name only: --nats and --creds are cfg's
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run one worker of a cluster (started by `cluster up`, or joining through NATS or over TCP)",
		Long: `Run one worker of a cluster.

` + "`cluster up`" + ` starts its local workers itself, as this program with
--cluster DIR --node N. On another machine, join through the cluster's
NATS servers (those of ` + "`cluster up --nats URL --creds FILE`" + `; no
coordinator address needed):

  stackless worker --nats nats://h1:4222 --creds FILE --tls CERTDIR --secret FILE

The worker asks the leading coordinator for a node number over NATS
(subject NAME.worker.join), listens on --listen (TCP with mutual TLS),
and registers itself, with the address peers dial (--advertise), in the
cluster's members bucket (NAME_members), where its entry lives as long as
it renews it. NAME is --name, the cluster's ` + "`cluster up --name`" + ` (default
stackless). The leader links to it there and
the other workers link to it directly. Or join a coordinator that runs
` + "`cluster up --listen :PORT --tls CERTDIR`" + ` by its address:

  stackless worker --join HOST:PORT --tls CERTDIR --secret FILE

The worker gets a node number and an empty world, and takes tasklets as the
coordinator places or balances them. At a checkpoint a worker with NATS
writes its own world to the checkpoint Object Store. When the cluster is
restored (or rolled back after a crash) it joins again by itself: a worker
with --nats is given its share of the checkpoint's worlds (it reads its
world from the Object Store), a --join one comes back empty. It stops when
the cluster goes down. When the leader dies, a --nats worker runs on
with its tasklets and waits for the next leader, which adopts it from the
members bucket without a rollback; if none does within the leader's
` + "`cluster up --orphan-after`" + ` it joins again, empty. A --join worker joins
again at once. A failure to join that cannot heal (a
certificate the coordinator does not trust, a wrong secret, credentials the
NATS servers refuse) stops it at once with what to check; a transient one
(connection refused, a timeout, no coordinator leading yet) is retried with
backoff, up to 10 times.

With --nats the worker also journals its effects' results there, so a
rollback does not run them again; a --join worker without --nats runs
without a journal (it says so).

Ctrl-C or SIGTERM makes the worker leave the cluster cleanly: the
coordinator takes a checkpoint at that moment and restarts its workers
from it without this one, so no work is lost and nothing rolls back. It
then exits 0 after SIGTERM (a service manager's stop) and 130 after
Ctrl-C, as ` + "`cluster up`" + ` does.

A program that registers its own kinds runs its own workers: the cluster
re-executes the program that ran ` + "`cluster up`" + `.`,
		Example: "  stackless worker --nats nats://10.0.0.1:4222 --creds user.seed --tls certs --secret secret\n" +
			"  stackless worker --nats nats://10.0.0.1:4222 --creds user.seed --name game-eu --tls certs --secret secret\n" +
			"  stackless worker --join 10.0.0.1:7070 --tls certs --secret secret",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := nf.check(); err != nil {
				return err
			}
			tc, err := tf.load()
			if err != nil {
				return err
			}
			cfg.TLS, cfg.Node, cfg.Name = tc, node, nf.name
			cfg.Log = logger(cmd, slog.LevelWarn)
			remote := cfg.Join != "" || (cfg.NATS != "" && cfg.Dir == "")
			switch {
			case cfg.Join != "" && (cfg.Dir != "" || node != 0):
				return usageErrorf("--join goes without --cluster and --node")
			case cfg.Join != "" && cfg.NATS != "":
				return usageErrorf("give either --join HOST:PORT or --nats URL, not both")
			case cfg.Creds != "" && cfg.NATS == "":
				return usageErrorf("--creds goes with --nats URL")
			case cmd.Flags().Changed("name") && (cfg.NATS == "" || cfg.Dir != ""):
				return usageErrorf("--name goes with --nats URL (a worker joining through NATS); a worker of --cluster DIR or --join learns the cluster's buckets when it joins")
			case cfg.NATS != "" && cfg.Dir == "" && node != 0:
				return usageErrorf("--node goes with --cluster DIR; a worker joining through --nats gets its node from the coordinator")
			case !remote && (cfg.Dir == "" || node == 0):
				return usageErrorf("%v", errNoWorkerTarget)
			case remote && tc == nil:
				return usageErrorf("a worker on another machine needs TLS: --tls CERTDIR (or --cert, --key and --ca)")
			case remote && secret == "":
				return usageErrorf("a worker on another machine needs --secret FILE (a copy of the cluster's DIR/secret)")
			}
			if secret != "" {
				if cfg.Secret, err = ipc.LoadSecret(secret); err != nil {
					return err
				}
			}
			if !remote {
				if err := cluster.RunWorker(ctx, cfg); err != nil || ctx.Err() == nil {
					return err
				}
				return stoppedCleanly(ctx) // left cleanly: SIGTERM exits 0, Ctrl-C 130
			}
			// Joins again after a restore; gives up at once on a failure that
			// cannot heal (certificates, secret) and after a few transient ones.
			if err := cluster.RunJoinedWorker(ctx, cfg); err != nil {
				return err
			}
			if ctx.Err() != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "worker: left the cluster; its tasklets run on the other workers")
				return stoppedCleanly(ctx)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "worker: the cluster went down")
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Dir, "cluster", "", "cluster directory `DIR` (of a worker started by cluster up)")
	fs.Uint16Var(&node, "node", 0, "node number `N` (given by cluster up)")
	fs.StringVar(&cfg.Join, "join", "", "coordinator's TCP address `HOST:PORT`, for a worker on another machine")
	fs.StringVar(&cfg.NATS, "nats", "", "the cluster's NATS servers `URL[,URL]` (of cluster up --nats): join through them (no coordinator address needed) and journal effects there")
	fs.StringVar(&cfg.Creds, "creds", "", "NATS credentials `FILE` for --nats (a .creds file or an nkey seed, 0600)")
	fs.StringVar(&secret, "secret", "", "cluster secret `FILE` (default: DIR/secret of --cluster)")
	fs.StringVar(&cfg.Listen, "listen", ":0", "TCP address `HOST:PORT` to listen on for peer workers (with --join or --nats)")
	fs.StringVar(&cfg.Advertise, "advertise", "", "address `HOST:PORT` peers dial to reach this worker (default: found from the route to the coordinator or the NATS server)")
	nf.add(fs, false)
	tf.add(fs)
	atLeast(fs, "node", "1")
	isAddress(fs, "join", addrDial)
	isAddress(fs, "nats", addrNATS)
	isAddress(fs, "listen", addrListen)
	isAddress(fs, "advertise", addrDial)
	return cmd
}
