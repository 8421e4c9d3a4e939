package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/internal/fsmode"
	"github.com/stackless-go/stackless/internal/shquote"
	"github.com/stackless-go/stackless/store"
)

// clusterOpenWait bounds opening the checkpoints of a cluster directory.
const clusterOpenWait = 30 * time.Second

// defaultLockWait is how long inspect and checkpoint wait for a checkpoint
// database that another process holds open.
const defaultLockWait = 2 * time.Second

// defaultLimit is how many rows a table shows unless --limit says otherwise.
const defaultLimit = 50

func newInspectCmd() *cobra.Command {
	var (
		gen   uint64
		limit int
		wait  time.Duration
		one   string
		nf    natsFlags
	)
	cmd := &cobra.Command{
		Use:   "inspect FILE|DIR",
		Short: "Show what a snapshot file or a checkpoint database holds",
		Long: `Show what a snapshot file or a bbolt checkpoint database holds.

For a database: its generations (number, full or incremental with its base,
time, records, bytes), then the newest generation's world, or the one --gen
names. For a snapshot file: its one world. A world is its header (clock,
tick, steps, run queue, timers, the kinds it was saved with), its tasklets
(ID, kind, version, state, what each waits on, steps, the behavior's
fields) and its channels (capacity, buffered values, balance = blocked
senders minus blocked receivers, closed). --tasklet ID shows one tasklet
with every field in full and, for a straight-line tasklet (stackless gen)
of a kind this binary knows (the demos' and the cluster's), the function,
file:line and call each of its frames is suspended at. A cluster's directory DIR (its checkpoints
are in NATS JetStream there, read through its running coordinator or,
with none running, directly), or a snapshot exported from it, holds one
world per worker: each worker's header is
shown, and every tasklet and channel names its worker. With --nats URL
--creds FILE [--name NAME] (and no FILE|DIR) it reads the generations of
the cluster NAME on those NATS servers.

Databases are opened read-only. A damaged file is reported with what is
damaged and what to do; it never crashes the command.

The kinds and value types of the program that wrote the file need not be
known here: behaviors are shown by their fields, values of the program's
own types by their type name and fields.

Tables show --limit rows each; -o json prints everything.`,
		Example: "  stackless inspect data/longtask.db\n" +
			"  stackless inspect data/longtask.db --gen 3 --limit 0\n" +
			"  stackless inspect data/longtask.db --gen 3 --tasklet t6\n" +
			"  stackless inspect world.snapshot -o json\n" +
			"  stackless inspect data/cluster\n" +
			"  stackless inspect --nats nats://h1:4222 --creds user.creds --name game --gen 12",
		Args: targetArgs(&nf, 0, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageErrorf("--limit must be 0 (all rows) or more, got %d", limit)
			}
			path, _ := nf.split(args)
			t, err := openTargetNamed(path, &nf, wait, false)
			if err != nil {
				return err
			}
			defer t.close()
			v := &worldView{File: t.path, Tasklets: []taskletView{}, Channels: []channelView{}}
			switch {
			case one != "":
				want, err := cluster.ParseTaskletID(one)
				if err != nil {
					return usageErrorf("--tasklet: %v", err)
				}
				v.only = uint64(want)
			case outputOf(cmd) != formatJSON:
				v.keep = limit
			default:
				v.stream = true
			}
			if err := t.world(v, gen, cmd.Flags().Changed("gen")); err != nil {
				return err
			}
			if one != "" {
				tv, err := findTasklet(v, one)
				if err != nil {
					return err
				}
				tv.Frames, tv.FramesNote = framesOf(tv)
				if outputOf(cmd) == formatJSON {
					return writeJSON(cmd.OutOrStdout(), tv)
				}
				return writeTasklet(cmd.OutOrStdout(), v, tv)
			}
			if outputOf(cmd) == formatJSON {
				return writeWorldJSON(cmd.OutOrStdout(), v)
			}
			return writeWorld(cmd.OutOrStdout(), v, limit)
		},
	}
	cmd.Flags().Uint64Var(&gen, "gen", 0, "generation `N` to show (default: the newest)")
	cmd.Flags().IntVar(&limit, "limit", defaultLimit, "rows per table (0: all)")
	cmd.Flags().StringVar(&one, "tasklet", "", "show only the tasklet `ID` (t123 or 123), with all its fields")
	addLockWaitFlag(cmd.Flags(), &wait)
	nf.add(cmd.Flags(), true)
	atLeast(cmd.Flags(), "gen", "1")
	atLeast(cmd.Flags(), "limit", "0")
	_ = cmd.RegisterFlagCompletionFunc("gen", completeGens)
	return cmd
}

// target is the file inspect or checkpoint works on: a snapshot file
// (verified on open, walked, never read whole), a checkpoint database (open, locked), or the checkpoints
// of a cluster directory (in its NATS JetStream store).
type target struct {
	path string
	ref  string   // how to name it again on the command line: the path, or --nats URL ...
	snap *genView // a snapshot file's one generation, verified by walking file
	// The snapshot file, open: every walk reads the file snap describes,
	// though another snapshot be written over its path meanwhile.
	file *store.SnapshotFile
	db   generations
}

// generations is what inspect and checkpoint need of a store of
// generations: a bbolt database (*store.DB) or a cluster's JetStream
// store (*cluster.Checkpoints).
type generations interface {
	List() ([]store.GenInfo, error)
	Latest() (uint64, error)
	Load(gen uint64) (*store.Checkpoint, error)
	Delete(gen uint64) error
	Close() error
}

// openTarget opens path as a snapshot file or a checkpoint database, the
// database read-only unless write is set (checkpoint rm): a read-only open
// skips bbolt's free-page list, so a damaged one does not stop reads. It
// never creates or initializes a file: a missing or empty one is an error.
func openTarget(path string, wait time.Duration, write bool) (*target, error) {
	return openTargetNamed(path, nil, wait, write)
}

// openTargetNamed is openTarget, or, when nf names NATS servers (path is
// then ""), the generations of the cluster nf names there; nf's --name
// picks the cluster of a cluster directory too.
func openTargetNamed(path string, nf *natsFlags, wait time.Duration, write bool) (*target, error) {
	name := ""
	if nf != nil {
		name = nf.name
	}
	if nf != nil && nf.url != "" {
		ctx, cancel := context.WithTimeout(context.Background(), clusterOpenWait)
		defer cancel()
		cps, err := cluster.OpenCheckpointsAt(ctx, cluster.CheckpointsConfig{NATS: nf.url, NATSCreds: nf.creds, Name: nf.name})
		if err != nil {
			return nil, err
		}
		return &target{path: cps.Path(), ref: nf.ref(), db: cps}, nil
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: no such file; give the path of a snapshot file or a checkpoint database (such as data/longtask.db)", path)
	case err != nil:
		return nil, err
	case st.IsDir() && cluster.IsClusterDir(path):
		ctx, cancel := context.WithTimeout(context.Background(), clusterOpenWait)
		defer cancel()
		cps, err := cluster.OpenCheckpointsAt(ctx, cluster.CheckpointsConfig{Dir: path, Name: name})
		if err != nil {
			return nil, err
		}
		return &target{path: path, ref: shquote.Quote(path), db: cps}, nil
	case st.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a cluster directory (no nats.seed); give a cluster directory (--data of `stackless cluster up`), or the path of a snapshot file or a checkpoint database", path)
	case !st.Mode().IsRegular():
		// Checked before any open: opening a FIFO would block.
		return nil, fmt.Errorf("%s is %s, not a regular file: give the path of a snapshot file or a checkpoint database (such as data/longtask.db)", path, fsmode.Describe(st.Mode()))
	case st.Size() == 0:
		return nil, fmt.Errorf("%s is empty: neither a snapshot file nor a checkpoint database", path)
	}
	snap, err := store.IsSnapshotFile(path)
	if err != nil {
		return nil, err
	}
	if snap {
		f, err := store.OpenSnapshotFile(path)
		if err != nil {
			return nil, err
		}
		g, err := snapshotGen(f)
		if err != nil {
			_ = f.Close() // opened for reading only
			return nil, err
		}
		return &target{path: path, ref: shquote.Quote(path), snap: g, file: f}, nil
	}
	opts := []store.Option{store.WithTimeout(wait)}
	if !write {
		opts = append(opts, store.WithReadOnly())
	}
	db, err := store.Open(path, opts...)
	if err != nil {
		if errors.Is(err, store.ErrNotDatabase) {
			return nil, fmt.Errorf("%s is not a stackless checkpoint database or snapshot file: %w. "+
				"inspect and checkpoint read the snapshot files of `stackless checkpoint export` and store.SaveFile, "+
				"and the checkpoint databases of programs (such as data/longtask.db) and the directories of `stackless cluster up` (--data DIR)", path, err)
		}
		return nil, err
	}
	return &target{path: path, ref: shquote.Quote(path), db: db}, nil
}

func (t *target) close() {
	if t.db != nil {
		_ = t.db.Close() // read-only use: nothing to lose
	}
	if t.file != nil {
		_ = t.file.Close() // opened for reading only
	}
}

// world fills v with the target's world: the snapshot's, or generation gen
// of the database (the newest unless pick). It walks the world (fillFrom)
// and leaves v.walk to walk it again.
func (t *target) world(v *worldView, gen uint64, pick bool) error {
	if t.snap != nil {
		v.Type = "snapshot"
		if pick && gen != t.snap.Gen {
			return usageErrorf("--gen %d: %s is a snapshot file; it holds generation %d only", gen, t.path, t.snap.Gen)
		}
		v.walk = t.file.Walk
		return fillFrom(v, v.walk)
	}
	v.Type = "store"
	gens, err := t.db.List()
	if err != nil {
		return err
	}
	v.Generations = genViews(gens)
	if len(gens) == 0 {
		if pick {
			return fmt.Errorf("%s holds no generations, so not generation %d", t.path, gen)
		}
		return nil
	}
	if !pick {
		gen = gens[len(gens)-1].Gen
	}
	walk, err := t.walkOf(gen)
	if err != nil {
		return err
	}
	v.walk = walk
	err = fillFrom(v, walk)
	if errors.Is(err, store.ErrNotFound) {
		return t.notFound(gen)
	}
	return err
}

// load returns generation gen of the database, resolved.
func (t *target) load(gen uint64) (*store.Checkpoint, error) {
	cp, err := t.db.Load(gen)
	if errors.Is(err, store.ErrNotFound) {
		return nil, t.notFound(gen)
	}
	return cp, err
}

// notFound is the error for a generation the database does not hold.
func (t *target) notFound(gen uint64) error {
	return fmt.Errorf("%w: generation %d is not in %s; `stackless checkpoint ls %s` lists the stored ones",
		store.ErrNotFound, gen, t.path, t.ref)
}

// completeGens offers the generations of the database named by the first
// argument.
func completeGens(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	t, err := openTarget(args[0], 200*time.Millisecond, false)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer t.close()
	if t.db == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	gens, err := t.db.List()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]string, len(gens))
	for i, g := range gens {
		kind := "full"
		if g.Base != 0 {
			kind = fmt.Sprintf("on %d", g.Base)
		}
		out[i] = fmt.Sprintf("%d\t%s, %s", g.Gen, kind, g.Time.Format(time.DateTime))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// findTasklet picks the tasklet named id ("t123" or "123") out of v.
func findTasklet(v *worldView, id string) (taskletView, error) {
	want, err := cluster.ParseTaskletID(id)
	if err != nil {
		return taskletView{}, usageErrorf("--tasklet: %v", err)
	}
	for _, t := range v.Tasklets {
		if t.ID == uint64(want) {
			return t, nil
		}
	}
	where := v.File
	if v.Type == "store" {
		where = fmt.Sprintf("generation %d of %s", v.Gen, v.File)
	}
	return taskletView{}, fmt.Errorf("%v is not in %s (it holds %d tasklets; `stackless inspect %s` lists them)", want, where, v.nTasklets, shquote.Quote(v.File))
}
