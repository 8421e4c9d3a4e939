package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/store"
)

// defaultHTTP is where `stackless observe` serves unless --http says.
const defaultHTTP = "127.0.0.1:7474"

// httpFlags are --http and --http-tls, on observe and on the commands that
// can serve the observer beside their work.
type httpFlags struct {
	addr, tlsDir string
}

func (f *httpFlags) add(fs *pflag.FlagSet, def string) {
	usage := "serve the web observer and /metrics on `HOST:PORT` (127.0.0.1:0 picks a free port)"
	fs.StringVar(&f.addr, "http", def, usage)
	isAddress(fs, "http", addrListen)
	fs.StringVar(&f.tlsDir, "http-tls", "", "certificate folder `DIR` (stackless cluster certs) for the observer: required when --http is not a loopback address")
}

// checkHTTPFlags refuses, before the command starts anything, an --http
// address that needs TLS without --http-tls and an --http-tls folder that
// does not load: cluster up had started the cluster, and demo longtask its
// run, when observe.Start said so (naming --tls, the cluster links' flag).
func checkHTTPFlags(cmd *cobra.Command) error {
	addr, dir := cmd.Flags().Lookup("http"), cmd.Flags().Lookup("http-tls")
	if addr == nil || dir == nil || addr.Value.String() == "" {
		return nil
	}
	if d := dir.Value.String(); d != "" {
		if _, err := ipc.LoadTLSConfig(d); err != nil {
			return fmt.Errorf("--http-tls %s: %w; give a folder made by `stackless cluster certs --out DIR`", d, err)
		}
		return nil
	}
	if observe.NeedsTLS(addr.Value.String()) { // a malformed address: checkAddressFlag said so already
		return usageErrorf("--http %s: %v: give --http-tls DIR (made by `stackless cluster certs`) or bind 127.0.0.1", addr.Value.String(), observe.ErrInsecure)
	}
	return nil
}

// start serves cfg on --http and prints the URL with its token on stderr.
// It returns nil, nil when --http is empty.
func (f *httpFlags) start(cmd *cobra.Command, cfg observe.Config) (*observe.Server, error) {
	if f.addr == "" {
		return nil, nil
	}
	if f.tlsDir != "" {
		tc, err := ipc.LoadTLSConfig(f.tlsDir)
		if err != nil {
			return nil, err
		}
		tc = tc.Clone()
		tc.ClientAuth = tls.NoClientCert // a browser has no client certificate: the token guards
		cfg.TLS = tc
	}
	cfg.Addr = f.addr
	cfg.Log = logger(cmd)
	srv, err := observe.Start(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "observer: %s (the token in it is needed to act: kill, throw, migrate, game controls)\n", srv.URL())
	return srv, nil
}

func newObserveCmd() *cobra.Command {
	var (
		hf   httpFlags
		wait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "observe [FILE]",
		Short: "Serve a web observer of a running cluster, or of a checkpoint file",
		Long: `Serve a web UI and a Prometheus /metrics endpoint.

Without FILE it observes the cluster of --cluster DIR (or --addr): its
workers, checkpoints, migrations and rollbacks as events, a filterable,
paged table of its tasklets (kill and migrate them from a tasklet's page),
and its busiest channels, updated live.

With FILE (a checkpoint database or a snapshot file) it browses its
generations and their worlds, read-only: the web form of
` + "`stackless inspect`" + `.

` + "`stackless demo gameai --http`" + `, ` + "`demo longtask --http`" + ` and ` + "`cluster up --http`" + `
serve the same observer beside their work.

It binds 127.0.0.1 and prints a URL with a random token: reading needs no
token on loopback, acting always does. Any other address needs --http-tls
and the token for every request. It runs until interrupted.`,
		Example: "  stackless observe\n" +
			"  stackless observe --cluster data/cluster --http 127.0.0.1:8080\n" +
			"  stackless observe data/longtask.db",
		Args: cobra.MaximumNArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if hf.addr == "" {
			return usageErrorf("--http must name an address such as %s", defaultHTTP)
		}
		cfg := observe.Config{}
		if len(args) == 1 {
			t, err := openTarget(args[0], wait, false)
			if err != nil {
				return err
			}
			t.close() // opened per request: the file stays free between looks
			cfg.File = &fileSource{path: args[0], wait: wait}
		} else {
			c, _, cancel, err := cf.dial(cmd) // fails at start when no cluster is up
			if err != nil {
				return err
			}
			cancel()
			dcfg, _ := cf.config() // what dial took
			r := &redialClient{c: c, dial: func(ctx context.Context) (*cluster.Client, error) {
				ctx, cancel := context.WithTimeout(ctx, cf.timeout)
				defer cancel()
				return cf.dialWith(ctx, dcfg)
			}}
			defer r.Close()
			cfg.Source = observe.NewClusterSource(r)
		}
		srv, err := hf.start(cmd, cfg)
		if err != nil {
			return err
		}
		defer srv.Close()
		<-cmd.Context().Done()
		return stoppedCleanly(cmd.Context()) // a service: SIGTERM exits 0, Ctrl-C 130
	}
	hf.add(cmd.Flags(), defaultHTTP)
	addLockWaitFlag(cmd.Flags(), &wait)
	return cmd
}

// fileSource is a checkpoint file for the observer: each look opens it
// read-only and builds exactly what `inspect -o json` prints.
type fileSource struct {
	path string
	wait time.Duration
}

func (f *fileSource) Path() string { return f.path }

func (f *fileSource) World(_ context.Context, gen uint64) (json.RawMessage, error) {
	t, err := openTarget(f.path, f.wait, false)
	if err != nil {
		return nil, err
	}
	defer t.close()
	v := &worldView{File: t.path, Tasklets: []taskletView{}, Channels: []channelView{}}
	if err := t.world(v, gen, gen != 0); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// storeTimeline lists db's generations for the observer's checkpoint
// timeline.
func storeTimeline(db *store.DB) func() []observe.Checkpoint {
	return func() []observe.Checkpoint {
		gens, err := db.List()
		if err != nil {
			return nil
		}
		out := make([]observe.Checkpoint, len(gens))
		for i, g := range gens {
			out[i] = observe.Checkpoint{Gen: g.Gen, At: g.Time, Bytes: g.Bytes}
		}
		return out
	}
}

// observeCluster serves the observer of the cluster cfg just started,
// through a client of its coordinator, until stop.
func observeCluster(cmd *cobra.Command, cfg cluster.Config, hf *httpFlags) (stop func(), err error) {
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	defer cancel()
	c, err := cluster.Dial(ctx, cluster.DialConfig{Dir: cfg.Dir, Log: logger(cmd, slog.LevelWarn)})
	if err != nil {
		return nil, fmt.Errorf("cluster up --http: %w", err)
	}
	srv, err := hf.start(cmd, observe.Config{Source: observe.NewClusterSource(c)})
	if err != nil {
		c.Close()
		return nil, err
	}
	return func() { srv.Close(); c.Close() }, nil
}
