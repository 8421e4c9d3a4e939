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
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run one worker of a cluster (started by `cluster up`, or joining over TCP)",
		Long: `Run one worker of a cluster.

` + "`cluster up`" + ` starts its local workers itself, as this program with
--cluster DIR --node N. On another machine, join a coordinator that runs
` + "`cluster up --listen :PORT --tls CERTDIR`" + `:

  stackless worker --join HOST:PORT --tls CERTDIR --secret FILE

With --nats URL --creds FILE (the servers of ` + "`cluster up --nats`" + `) the
worker journals its effects' results there, so a rollback does not run them
again; a --join worker without them runs without a journal (it says so).

The worker gets a node number and an empty world, listens for its peers on
--listen, and takes tasklets as the coordinator places or balances them.
When the cluster is restored (or rolled back after a crash) a TCP worker
joins again by itself; it stops when the cluster goes down. A failure to
join that cannot heal (a certificate the coordinator does not trust, a
wrong secret) stops it at once with what to check; a transient one
(connection refused, a timeout) is retried with backoff, up to 10 times.

Ctrl-C or SIGTERM makes the worker leave the cluster cleanly: the
coordinator takes a checkpoint at that moment and restarts its workers
from it without this one, so no work is lost and nothing rolls back.

A program that registers its own kinds runs its own workers: the cluster
re-executes the program that ran ` + "`cluster up`" + `.`,
		Example: "  stackless worker --join 10.0.0.1:7070 --tls certs --secret secret",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tc, err := tf.load()
			if err != nil {
				return err
			}
			cfg.TLS, cfg.Node = tc, node
			cfg.Log = logger(cmd, slog.LevelWarn)
			switch {
			case cfg.Join != "" && (cfg.Dir != "" || node != 0):
				return usageErrorf("--join goes without --cluster and --node")
			case cfg.Join == "" && (cfg.Dir == "" || node == 0):
				return usageErrorf("%v", errNoWorkerTarget)
			case cfg.Join != "" && tc == nil:
				return usageErrorf("--join needs TLS: --tls CERTDIR (or --cert, --key and --ca)")
			case cfg.Join != "" && secret == "":
				return usageErrorf("--join needs --secret FILE (a copy of the cluster's DIR/secret)")
			}
			if secret != "" {
				if cfg.Secret, err = ipc.LoadSecret(secret); err != nil {
					return err
				}
			}
			if cfg.Join == "" {
				return cluster.RunWorker(ctx, cfg)
			}
			// Joins again after a restore; gives up at once on a failure that
			// cannot heal (certificates, secret) and after a few transient ones.
			if err := cluster.RunJoinedWorker(ctx, cfg); err != nil {
				return err
			}
			if ctx.Err() != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "worker: left the cluster; its tasklets run on the other workers")
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "worker: the cluster went down")
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Dir, "cluster", "", "cluster directory `DIR` (of a worker started by cluster up)")
	fs.Uint16Var(&node, "node", 0, "node number `N` (given by cluster up)")
	fs.StringVar(&cfg.Join, "join", "", "coordinator's TCP address `HOST:PORT`, for a worker on another machine")
	fs.StringVar(&secret, "secret", "", "cluster secret `FILE` (default: DIR/secret of --cluster)")
	fs.StringVar(&cfg.Listen, "listen", ":0", "TCP address `HOST:PORT` to listen on for peer workers (with --join)")
	fs.StringVar(&cfg.NATS, "nats", "", "the cluster's NATS servers `URL[,URL]` (of cluster up --nats), where this worker journals its effects; without it a --join worker runs without a journal")
	fs.StringVar(&cfg.Creds, "creds", "", "credentials `FILE` for --nats: a .creds file or an nkey seed file")
	fs.StringVar(&cfg.Advertise, "advertise", "", "address `HOST:PORT` peers dial to reach this worker (default: found from the route to the coordinator)")
	tf.add(fs)
	atLeast(fs, "node", "1")
	return cmd
}
