package cluster

// The coordinator's configuration and its defaults.

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/stackless-go/stackless/pickle"
)

// Config configures a coordinator.
type Config struct {
	Dir     string // cluster directory: secret, sock/, nats/ (JetStream store), nats.seed
	Workers int    // local worker processes (default runtime.NumCPU())

	Listen string      // TCP address for workers and clients on other machines ("" = none)
	TLS    *tls.Config // mutual TLS for Listen (ipc.LoadTLSConfig); required with Listen

	CheckpointEvery time.Duration // automatic consistent checkpoints (default 5s; <0: off)
	BalanceEvery    time.Duration // load sampling and balancing (default 250ms; <0: off)
	Place           string        // placement of spawned tasklets (default PlaceRoundRobin)
	Fresh           bool          // ignore and replace a stored checkpoint instead of resuming it
	Keep            int           // checkpoint generations kept in JetStream (default 8)

	// WorkerCommand returns the command that starts local worker `node`. The
	// default re-executes this program: os.Executable() worker --cluster DIR
	// --node N, so the workers know every kind this program registers.
	WorkerCommand func(node uint16) (*exec.Cmd, error)

	Registry *pickle.Registry // default pickle.Default
	Log      *slog.Logger     // default: warnings and errors on stderr
	Output   io.Writer        // where workers' output lines go, prefixed "wN| " (default os.Stderr)

	// StartTimeout bounds the start of the workers (default 30s).
	StartTimeout time.Duration

	// OrphanAfter is how long a local worker runs on after its coordinator
	// died, waiting for a new `cluster up` to adopt it, before it exits
	// (default DefaultOrphanAfter, 10 minutes).
	OrphanAfter time.Duration

	// NATS, when set, is the NATS server(s) to keep checkpoints and the
	// lease on ("nats://h1:4222,nats://h2:4222") instead of the embedded
	// one; NATSCreds is the credentials file for it: a .creds file (user
	// JWT and seed) or an nkey seed file. With an outside server, standby
	// coordinators wait on the lease going stale (leaseTTL, 2 s).
	NATS      string
	NATSCreds string

	// NoJournal turns the cluster's effect journal off: effects are then
	// at-least-once (see effects.go). The journal is on by default, in a
	// JetStream KV bucket of at most JournalBytes (default
	// DefaultJournalBytes) next to the checkpoints.
	NoJournal    bool
	JournalBytes int64

	// Name names the cluster on NATS (default DefaultName): it prefixes
	// its buckets (<name>_ckpt, <name>_manifests, <name>_lease,
	// <name>_journal, <name>_members) and its subjects (<name>.api.*, which
	// its leader answers requests on, and <name>.worker.join), so several
	// clusters can share one NATS account. ValidateName says which names
	// NATS accepts.
	Name string

	// Standby: when another coordinator leads this cluster (its server
	// owns DIR/nats), wait as its standby and take over (adopting the
	// workers, no rollback) when it dies, instead of failing. OnStandby,
	// if set, is called once when the wait starts, with the leader.
	Standby   bool
	OnStandby func(Leader)

	// tlsArgs pass the TLS files on to the local workers (--tls DIR, or
	// --cert, --key and --ca), which load them where they are.
	tlsArgs []string
}

// defaultWorkers is the default worker count: one per CPU.
func defaultWorkers() int { return runtime.NumCPU() }

func (c *Config) defaults() {
	if c.Workers == 0 {
		c.Workers = defaultWorkers()
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 5 * time.Second
	}
	if c.BalanceEvery == 0 {
		c.BalanceEvery = 250 * time.Millisecond
	}
	if c.Place == "" {
		c.Place = PlaceRoundRobin
	}
	if c.Keep == 0 {
		c.Keep = 8
	}
	if c.JournalBytes <= 0 {
		c.JournalBytes = DefaultJournalBytes
	}
	if c.Registry == nil {
		c.Registry = pickle.Default
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if c.Output == nil {
		c.Output = os.Stderr
	}
	if c.OrphanAfter <= 0 {
		c.OrphanAfter = DefaultOrphanAfter
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 30 * time.Second
	}
	if c.WorkerCommand == nil {
		dir := c.Dir
		var extra []string
		if c.TLS != nil {
			extra = c.tlsArgs
		}

		c.WorkerCommand = func(node uint16) (*exec.Cmd, error) {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("cluster: find this program to start workers: %w", err)
			}
			args := append([]string{"worker", "--cluster", dir, "--node", strconv.Itoa(int(node))}, extra...)
			return exec.Command(exe, args...), nil
		}
	}
}

// SetTLSDir records the certificate folder TLS was loaded from, so that the
// default WorkerCommand passes it on (`--tls DIR`) and local workers can
// link to workers on other machines. Give an absolute path: the workers
// may not share this process's working directory.
func (c *Config) SetTLSDir(dir string) { c.tlsArgs = []string{"--tls", dir} }

// SetTLSFiles is SetTLSDir for files that live apart (ipc.LoadTLSFiles):
// the default WorkerCommand passes the paths on (`--cert --key --ca`), so
// the key is read where it is and never copied.
func (c *Config) SetTLSFiles(cert, key, ca string) {
	c.tlsArgs = []string{"--cert", cert, "--key", key, "--ca", ca}
}
