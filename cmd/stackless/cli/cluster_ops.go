// cluster spawn, ps, migrate, kill, throw, checkpoint, restore and certs: the
// commands that act on a running cluster through its coordinator.

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/cluster"
	_ "github.com/stackless-go/stackless/examples/cluster/work" // spawnable kinds: work, collector, ticker
	"github.com/stackless-go/stackless/ipc"
)

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
			seen := map[string]bool{}
			for _, a := range args {
				k, _, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return usageErrorf("--arg %q: use key=value", a)
				}
				if seen[k] { // the last one silently won
					return usageErrorf("--arg %s is given twice: give each key once", k)
				}
				seen[k] = true
			}
			if count < 1 || count > cluster.MaxSpawn {
				return usageErrorf("--count must be 1 to %d, got %d; spawn more in several commands", cluster.MaxSpawn, count)
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
		shown := res.Tasklets[:min(len(res.Tasklets), spawnShown)]
		for _, s := range shown {
			var chans []string
			for k, id := range s.Channels {
				chans = append(chans, k+"="+id.String())
			}
			sort.Strings(chans)
			t.row(s.ID.String(), strconv.Itoa(int(s.Worker)), strings.Join(chans, " "))
		}
		t.write(&b)
		if more := len(res.Tasklets) - len(shown); more > 0 {
			fmt.Fprintf(&b, "... and %d more (-o json lists them all)\n", more)
		}
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

func newClusterMigrateCmd() *cobra.Command {
	var to uint16
	cmd := clientCmd(&cobra.Command{
		Use:     "migrate ID --to WORKER",
		Short:   "Move a tasklet to another worker while it runs",
		Example: "  stackless cluster migrate t281474976710658 --to 2",
		Args:    cobra.ExactArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if err := taskletIDArg(nil, args); err != nil {
				return err
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
		Use:     "kill ID",
		Short:   "Kill a tasklet, wherever it runs",
		Args:    cobra.ExactArgs(1),
		PreRunE: taskletIDArg,
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

func newClusterThrowCmd() *cobra.Command {
	var message string
	cmd := clientCmd(&cobra.Command{
		Use:   "throw ID",
		Short: "Throw an error into a tasklet's next step, wherever it runs",
		Long: `Throw an error with --message into a tasklet's next step, wherever it runs: the
step reads it with t.Err and may handle it, or fails with it. A checkpoint
follows, so a rollback does not undo it. A tasklet waiting on a channel, a
timer or an effect stops waiting (its effect's call is cancelled).`,
		Args:    cobra.ExactArgs(1),
		PreRunE: taskletIDArg,
	}, func(cmd *cobra.Command, args []string, c *cluster.Client, ctx context.Context) error {
		id, _ := cluster.ParseTaskletID(args[0])
		res, err := c.Throw(ctx, id, message)
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%q thrown into %v on worker %d\n", message, res.ID, res.Worker)
		return nil
	})
	cmd.Flags().StringVar(&message, "message", "thrown by the user", "the error's text")
	return cmd
}

func newClusterCheckpointCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "checkpoint",
		Short: "Take a consistent checkpoint of the whole cluster now",
		Args:  noArgs,
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
(default: the newest) on -n workers in all (default: as many as now). A
checkpoint of N workers restored onto fewer merges worlds; onto more, the
new workers start empty and the balancer moves runnable tasklets to them.

The workers on other machines (` + "`stackless worker --nats`" + `) that are alive are
all used: each is told to join again and reads the world planned for it
(worlds before empty placements, its own world when it had one). The
leader starts the rest, -n minus their number, on its own machine: with 3
such workers, -n 3 restores onto them alone and -n 4 adds one local
worker; -n below their number is refused. To use another number of
workers on another machine, start or stop ` + "`stackless worker`" + ` there
first. A worker there that does not come back within 30 s makes the
restore fail (run it again: a worker that is gone is no longer counted).`,
		Example: "  stackless cluster restore -n 2\n  stackless cluster restore 12 -n 8",
		Args:    cobra.MaximumNArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				if g, err := strconv.ParseUint(args[0], 10, 64); err != nil || g == 0 {
					return usageErrorf("%q is not a generation number: generations are numbered from 1 up; `stackless checkpoint ls DIR` lists those of the cluster in DIR", args[0])
				}
			}
			if workers < 0 || workers > cluster.MaxWorkers {
				return usageErrorf("-n must be 1 to %d, got %d", cluster.MaxWorkers, workers)
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
		fmt.Fprintf(cmd.OutOrStdout(), "restored generation %d (%d worker worlds) onto workers %v", res.Gen, res.From, res.Workers)
		if len(res.Remote) > 0 {
			fmt.Fprintf(cmd.OutOrStdout(), ", %v of them on other machines", res.Remote)
		}
		fmt.Fprintln(cmd.OutOrStdout())
		return nil
	})
	cmd.Flags().IntVarP(&workers, "workers", "n", 0, "workers to restore onto, in all: the live ones on other machines, and the rest started here (default: as many as now)")
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
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErrorf("--out DIR is required")
			}
			if cmd.Flags().Changed("hosts") && len(hosts) == 0 {
				return usageErrorf("--hosts is empty: give the machines' names and addresses, or leave --hosts out for localhost")
			}
			for _, h := range hosts {
				if err := checkCertHost(h); err != nil {
					return usageErrorf("--hosts: %v", err)
				}
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

var errNoWorkerTarget = errors.New("give --cluster DIR --node N (started by `cluster up`), --nats URL --creds FILE, or --join HOST:PORT")

// The commands that talk to a coordinator check their own arguments in
// PreRunE, before connecting, so a bad argument is a usage error (exit 2)
// whether a cluster runs or not.

// taskletIDArg checks that a command's one argument is a tasklet ID, as a
// usage error (exit 2) before anything is dialled.
func taskletIDArg(_ *cobra.Command, args []string) error {
	if _, err := cluster.ParseTaskletID(args[0]); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

// checkCertHost refuses what a certificate would hold but no TLS client
// matches: an empty name ("a,,b"), blanks, a port. They were written into
// the certificate as they were.
func checkCertHost(h string) error {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return fmt.Errorf("%q has a port: give the host alone (%s); the certificate is valid on every port", h, host)
	}
	if h == "" {
		return fmt.Errorf(`"" is not a host name or IP address (an empty entry between commas?)`)
	}
	return checkHostName(strings.TrimPrefix(h, "*."))
}
