package cluster

// Checkpoints gives tools (`stackless checkpoint ls|rm|export DIR`,
// `stackless inspect DIR`) the generations a cluster stored in JetStream,
// in the shape of a store database: a generation loads as a
// store.Checkpoint whose Meta is the cluster header (IsCheckpoint) and
// whose records are the worker worlds (DecodeCheckpoint), so what reads a
// cluster generation exported to a snapshot file reads these too.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/stackless-go/stackless/internal/shquote"
	"github.com/stackless-go/stackless/store"
)

// Checkpoints is an open view of a cluster's stored generations.
type Checkpoints struct {
	gs  *genStore
	dir string
}

// IsClusterDir reports whether path is a cluster directory whose
// checkpoints are in the embedded NATS store (a folder holding nats.seed).
func IsClusterDir(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return false
	}
	_, err = os.Stat(dirLayout{path}.NATSSeed())
	return err == nil
}

// CheckpointsConfig says where a cluster's checkpoints are: the embedded
// store of its directory Dir, or the NATS servers NATS (with the
// credentials file NATSCreds); Name is the cluster's name there (default
// DefaultName).
type CheckpointsConfig struct {
	Dir       string
	NATS      string
	NATSCreds string
	Name      string
}

// OpenCheckpoints opens the checkpoints of the cluster in dir: through the
// NATS server of its running coordinator, or, with none running, through
// an embedded server started in this process on the cluster's store
// (listening nowhere) until Close.
func OpenCheckpoints(ctx context.Context, dir string) (*Checkpoints, error) {
	return OpenCheckpointsAt(ctx, CheckpointsConfig{Dir: dir})
}

// OpenCheckpointsAt opens the checkpoints cfg names: on the NATS servers
// of cfg.NATS, or of the directory cfg.Dir as OpenCheckpoints does. The
// same keep-K retention applies as for the cluster's own saves (Delete
// removes one generation, objects and all).
func OpenCheckpointsAt(ctx context.Context, cfg CheckpointsConfig) (*Checkpoints, error) {
	if err := ValidateName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.NATS != "" {
		return openNATSCheckpoints(ctx, cfg)
	}
	dir := cfg.Dir
	l := dirLayout{dir}
	if _, err := os.Stat(l.NATSSeed()); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cluster: %s holds no cluster checkpoints (no %s; `stackless cluster up --data %s` makes them)", dir, natsSeedName, shquote.Quote(dir))
	}
	var (
		nc    *nats.Conn
		e     *embeddedNATS
		where string
	)
	e, err := startNATS(l, false)
	switch {
	case err == nil:
		if nc, err = e.connect("stackless checkpoints"); err != nil {
			e.close()
			return nil, err
		}
		where = "the NATS store of " + dir
	case errors.Is(err, ErrNATSLocked):
		if nc, err = dialNATS(l, "stackless checkpoints"); err != nil {
			return nil, err
		}
		where = "the NATS store of " + dir + " (its coordinator's server)"
	default:
		return nil, err
	}
	// The buckets as they are: making them (as a coordinator does) writes
	// their configuration, which on a full disk failed every read of the
	// generations stored before. Made only for a cluster that has none.
	gs, err := openExistingGenStore(ctx, nc, bucketNames(cfg.Name), where)
	if errors.Is(err, ErrNoCheckpoints) {
		gs, err = openNamedGenStore(ctx, nc, bucketNames(cfg.Name), 0, where)
	}
	if err != nil {
		nc.Close()
		if e != nil {
			e.close()
		}
		return nil, err
	}
	if e != nil {
		gs.damage, gs.lag = e.notes.damage, 0 // one server: no replica lags behind
	}
	gs.close = func() {
		nc.Close()
		if e != nil {
			e.close()
		}
	}
	return &Checkpoints{gs: gs, dir: dir}, nil
}

// openNATSCheckpoints opens the buckets of a cluster on outside NATS
// servers, as they are: a tool makes none and changes no replica count.
func openNATSCheckpoints(ctx context.Context, cfg CheckpointsConfig) (*Checkpoints, error) {
	names := bucketNames(cfg.Name)
	where := natsWhere(cfg.NATS, cfg.Name)
	nc, err := connectOutside(cfg.NATS, cfg.NATSCreds, "stackless checkpoints")
	if err != nil {
		return nil, err
	}
	gs, err := openExistingGenStore(ctx, nc, names, where)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Checkpoints{gs: gs, dir: where}, nil
}

// Close releases the connection (and the server it started).
func (c *Checkpoints) Close() error {
	c.gs.close()
	return nil
}

// Path is the cluster directory, or names the NATS servers and the
// cluster's name.
func (c *Checkpoints) Path() string { return c.dir }

// List describes the committed generations, oldest first. A generation
// whose manifest does not decode is listed with no time and no size (Load
// says what is wrong with it).
func (c *Checkpoints) List() ([]store.GenInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsOpTimeout)
	defer cancel()
	gens, err := c.gs.gens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]store.GenInfo, 0, len(gens))
	for _, g := range gens {
		gi := store.GenInfo{Gen: g}
		if m, err := c.gs.manifestOf(ctx, g); err == nil {
			gi.Time, gi.Records = m.Time, len(m.Worlds)
			for _, w := range m.Worlds {
				gi.Bytes += w.Size
			}
		}
		out = append(out, gi)
	}
	return out, nil
}

// Latest is the newest committed generation (store.ErrEmpty when none).
func (c *Checkpoints) Latest() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsOpTimeout)
	defer cancel()
	gens, err := c.gs.gens(ctx)
	if err != nil {
		return 0, err
	}
	if len(gens) == 0 {
		if _, err := c.gs.audit(ctx); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%s: %w", c.gs.where, store.ErrEmpty)
	}
	return gens[len(gens)-1], nil
}

// Audit returns an error wrapping ErrLost when the store lost generations
// whose worlds it still holds (a damaged file: List does not show them),
// and one wrapping ErrSnapshot for listed generations whose worlds are
// missing (checked where this process runs the store's server); nil when
// it finds neither.
func (c *Checkpoints) Audit() error {
	ctx, cancel := context.WithTimeout(context.Background(), jsOpTimeout)
	defer cancel()
	h, err := c.gs.holdings(ctx) // listed once for both
	if err != nil {
		return err
	}
	_, lost := c.gs.auditOf(ctx, h)
	if lost != nil && !errors.Is(lost, ErrLost) {
		return lost
	}
	return errors.Join(lost, c.gs.unloadable(ctx, h))
}

// Load reads generation gen, checked, as a store.Checkpoint (see the file
// comment). A generation not stored wraps store.ErrNotFound; a damaged
// one, ErrSnapshot.
func (c *Checkpoints) Load(gen uint64) (*store.Checkpoint, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jsOpTimeout)
	defer cancel()
	s, err := c.gs.load(ctx, gen)
	if err != nil {
		return nil, err
	}
	return s.checkpoint()
}

// Delete removes generation gen (store.ErrNotFound when it is not stored).
func (c *Checkpoints) Delete(gen uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), jsOpTimeout)
	defer cancel()
	return c.gs.delete(ctx, gen)
}

// checkpoint renders s as a store.Checkpoint: the header as Meta, one
// record per world.
func (s *clusterSnapshot) checkpoint() (*store.Checkpoint, error) {
	h := header{Format: snapshotFormat, Kind: headerKind, NextNode: s.NextNode}
	cp := &store.Checkpoint{Gen: s.Gen, Time: s.Time}
	for _, w := range s.Worlds {
		h.Worlds = append(h.Worlds, headerWorld{Node: w.Node, Hosts: w.Hosts})
		cp.Records = append(cp.Records, store.Record{Key: worldKey(w.Node), Value: w.Blob})
	}
	meta, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("cluster: generation %d: %w", s.Gen, err)
	}
	cp.Meta = meta
	return cp, nil
}
