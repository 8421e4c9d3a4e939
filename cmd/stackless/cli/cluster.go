package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackless-go/stackless/cluster"
	_ "github.com/stackless-go/stackless/examples/cluster/work" // spawnable kinds: work, collector, ticker
	"github.com/stackless-go/stackless/internal/shquote"
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
(--cluster DIR, the secret is DIR/secret), over TCP with mutual TLS
(--addr HOST:PORT --tls CERTDIR --secret FILE), or, from any machine,
through NATS (--nats URL --creds FILE [--name NAME]): the leading
coordinator answers on the subjects NAME.api.*, whoever it is, and a
command sent while none leads (a failover) waits for the next one.`,
		RunE: groupRunE,
	}
	cmd.AddCommand(newClusterUpCmd(), newClusterDownCmd(), newClusterStatusCmd(), newClusterSpawnCmd(), newClusterPSCmd(),
		newClusterMigrateCmd(), newClusterKillCmd(), newClusterThrowCmd(), newClusterCheckpointCmd(), newClusterRestoreCmd(), newClusterCertsCmd())
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
	if err := f.check(); err != nil {
		return nil, err
	}
	switch {
	case f.dir != "":
		return ipc.LoadTLSConfig(f.dir)
	case f.cert != "":
		// Read where they are: a copy of the key in a temporary folder
		// would outlive a kill -9.
		return ipc.LoadTLSFiles(f.cert, f.key, f.ca)
	}
	return nil, nil
}

// String is the flags as a command line takes them ("" when none).
func (f *tlsFlags) String() string {
	switch {
	case f.dir != "":
		return "--tls " + f.dir
	case f.cert != "":
		return "--cert " + f.cert + " --key " + f.key + " --ca " + f.ca
	}
	return ""
}

// check refuses a mix of --tls and the files, or an incomplete set of
// files.
func (f *tlsFlags) check() error {
	files := f.cert != "" || f.key != "" || f.ca != ""
	switch {
	case f.dir != "" && files:
		return usageErrorf("give either --tls DIR or --cert, --key and --ca, not both")
	case files && (f.cert == "" || f.key == "" || f.ca == ""):
		return usageErrorf("--cert, --key and --ca go together")
	}
	return nil
}

// pass records the flags' paths, made absolute, in cfg, so that the local
// workers (started elsewhere, maybe in another directory) load the same
// files.
func (f *tlsFlags) pass(cfg *cluster.Config) error {
	if f.dir != "" {
		d, err := filepath.Abs(f.dir)
		if err != nil {
			return err
		}
		cfg.SetTLSDir(d)
		return nil
	}
	var paths [3]string
	for i, p := range []string{f.cert, f.key, f.ca} {
		a, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		paths[i] = a
	}
	cfg.SetTLSFiles(paths[0], paths[1], paths[2])
	return nil
}

// clientFlags say how to reach a running coordinator.
type clientFlags struct {
	dir, addr, secret string
	tls               tlsFlags
	nats              natsFlags
	timeout           time.Duration
}

func addClientFlags(cmd *cobra.Command) *clientFlags {
	f := &clientFlags{}
	fs := cmd.Flags()
	fs.StringVar(&f.dir, "cluster", defaultClusterDir, "cluster directory `DIR` of the coordinator (its socket and secret)")
	fs.StringVar(&f.addr, "addr", "", "coordinator's TCP address `HOST:PORT` (with --secret, and --tls or --cert, --key and --ca) instead of --cluster")
	isAddress(fs, "addr", addrDial)
	fs.StringVar(&f.secret, "secret", "", "cluster secret `FILE` (default: DIR/secret of --cluster)")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "give up after this long")
	atLeast(fs, "timeout", "1ns")
	f.tls.add(fs)
	f.nats.add(fs, true)
	return f
}

// dial connects to the coordinator and returns the client and a context
// bounded by --timeout.
func (f *clientFlags) dial(cmd *cobra.Command) (*cluster.Client, context.Context, context.CancelFunc, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	c, err := f.dialWith(ctx, cfg)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return c, ctx, cancel, nil
}

// config is what the flags say to dial.
func (f *clientFlags) config() (cluster.DialConfig, error) {
	if f.timeout <= 0 {
		return cluster.DialConfig{}, usageErrorf("--timeout must be more than 0, got %v", f.timeout)
	}
	if err := f.nats.check(); err != nil {
		return cluster.DialConfig{}, err
	}
	cfg := cluster.DialConfig{}
	if f.nats.url != "" {
		if f.addr != "" {
			return cfg, usageErrorf("give either --nats URL or --addr HOST:PORT, not both")
		}
		cfg.NATS, cfg.NATSCreds, cfg.Name = f.nats.url, f.nats.creds, f.nats.name
		return cfg, nil
	}
	if f.addr != "" {
		tc, err := f.tls.load()
		if err != nil {
			return cfg, err
		}
		if tc == nil {
			return cfg, usageErrorf("--addr needs TLS: give --tls DIR (or --cert, --key and --ca)")
		}
		if f.secret == "" {
			return cfg, usageErrorf("--addr needs --secret FILE (a copy of the cluster's DIR/secret)")
		}
		cfg.Addr, cfg.TLS = f.addr, tc
	} else {
		cfg.Dir = f.dir
	}
	if f.secret != "" {
		s, err := ipc.LoadSecret(f.secret)
		if err != nil {
			return cfg, err
		}
		cfg.Secret = s
	}
	return cfg, nil
}

// dialWith dials cfg, saying plainly when no coordinator runs in the
// folder.
func (f *clientFlags) dialWith(ctx context.Context, cfg cluster.DialConfig) (*cluster.Client, error) {
	c, err := cluster.Dial(ctx, cfg)
	if err != nil && cfg.NATS == "" && cfg.Addr == "" && noCluster(err) {
		return nil, fmt.Errorf("no cluster is up at %s: no coordinator listens there; start one with `stackless cluster up --data %s`, or name its folder with --cluster DIR",
			f.dir, shquote.Quote(f.dir))
	}
	return c, err
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
