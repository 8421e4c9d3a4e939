package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/internal/shquote"
	"github.com/stackless-go/stackless/store"
)

// newCheckpointCmd groups the commands that manage the generations of a
// checkpoint database.
func newCheckpointCmd() *cobra.Command {
	var (
		wait time.Duration
		nf   natsFlags
	)
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "List, delete and export the generations of a checkpoint database",
		Long: `List, delete and export the generations of a bbolt checkpoint database
(such as data/longtask.db), or of a cluster directory (the --data DIR of
` + "`stackless cluster up`" + `, whose checkpoints are in NATS JetStream). Each
generation is one checkpoint: full, or incremental on top of a base
generation it needs (a cluster's are all full). With --nats URL --creds FILE
[--name NAME] instead of FILE|DIR, the generations of the cluster NAME on
those NATS servers (its buckets NAME_manifests and NAME_ckpt).`,
		RunE: groupRunE,
	}
	addLockWaitFlag(cmd.PersistentFlags(), &wait)
	nf.add(cmd.PersistentFlags(), true)
	cmd.AddCommand(newCheckpointLsCmd(&wait, &nf), newCheckpointRmCmd(&wait, &nf), newCheckpointExportCmd(&wait, &nf))
	return cmd
}

func newCheckpointLsCmd(wait *time.Duration, nf *natsFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "ls FILE|DIR",
		Short: "List the generations of a checkpoint database (or the one of a snapshot file)",
		Example: "  stackless checkpoint ls data/longtask.db\n  stackless checkpoint ls data/longtask.db -o json\n  stackless checkpoint ls data/cluster\n" +
			"  stackless checkpoint ls --nats nats://h1:4222,nats://h2:4222 --creds user.creds --name game",
		Args: targetArgs(nf, 0, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageErrorf("--limit must be 0 (all rows) or more, got %d", limit)
			}
			path, _ := nf.split(args)
			t, err := openTargetNamed(path, nf, *wait, false)
			if err != nil {
				return err
			}
			defer t.close()
			var gens []genView
			if t.snap != nil {
				gens = []genView{*t.snap}
			} else {
				list, err := t.db.List()
				if err != nil {
					return err
				}
				gens = genViews(list)
			}
			if outputOf(cmd) == formatJSON {
				if err := writeJSON(cmd.OutOrStdout(), gens); err != nil {
					return err
				}
				return auditOf(t)
			}
			var b bytes.Buffer
			if len(gens) == 0 {
				fmt.Fprintf(&b, "%s holds no generations\n", t.path)
			}
			writeGens(&b, gens, limit)
			if err := flush(cmd.OutOrStdout(), &b); err != nil {
				return err
			}
			return auditOf(t)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", defaultLimit, "rows to show, the newest (0: all)")
	atLeast(cmd.Flags(), "limit", "0")
	return cmd
}

// auditOf reports generations a cluster's store lost (a damaged file),
// which its list cannot show.
func auditOf(t *target) error {
	if a, ok := t.db.(interface{ Audit() error }); ok {
		return a.Audit()
	}
	return nil
}

// snapshotGen walks the snapshot file f (every checksum verified, never
// all of it in memory) and describes its one generation.
func snapshotGen(f *store.SnapshotFile) (*genView, error) {
	var g genView
	err := f.Walk(func(cp *store.Checkpoint) error {
		g = genView{Gen: cp.Gen, Full: true, Time: cp.Time, Bytes: int64(len(cp.Meta))}
		return nil
	}, func(key, value []byte) error {
		g.Records++
		g.Bytes += int64(len(key) + len(value))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &g, nil
}

type rmResult struct {
	File    string   `json:"file"`
	Deleted []uint64 `json:"deleted"`
}

func newCheckpointRmCmd(wait *time.Duration, nf *natsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm FILE|DIR GEN...",
		Short: "Delete generations from a checkpoint database",
		Long: `Delete generations from a checkpoint database. The newest are deleted first,
so an incremental generation and its base can go in one call; a base that
a generation left in the database still needs is refused.`,
		Example:           "  stackless checkpoint rm data/longtask.db 3 4\n  stackless checkpoint rm --nats nats://h1:4222 --creds user.creds 7",
		Args:              targetArgs(nf, 1, true),
		ValidArgsFunction: completeGens,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, rest := nf.split(args)
			gens := make([]uint64, 0, len(rest))
			for _, a := range rest {
				g, err := strconv.ParseUint(a, 10, 64)
				if err != nil || g == 0 {
					ls := "stackless checkpoint ls " + shquote.Quote(path)
					if path == "" {
						ls = "stackless checkpoint ls --nats URL"
					}
					return usageErrorf("%q is not a generation number: generations are numbered from 1 up; `%s` lists them", a, ls)
				}
				gens = append(gens, g)
			}
			slices.Sort(gens)
			gens = slices.Compact(gens)
			slices.Reverse(gens) // dependents before their bases
			t, err := openTargetNamed(path, nf, *wait, true)
			if err != nil {
				return err
			}
			defer t.close()
			if t.db == nil {
				return fmt.Errorf("%s is a snapshot file, not a checkpoint database: delete the file itself to get rid of it", t.path)
			}
			res := rmResult{File: t.path, Deleted: []uint64{}}
			var failed error
			for _, g := range gens {
				if err := t.db.Delete(g); errors.Is(err, store.ErrNotFound) {
					failed = t.notFound(g)
					break
				} else if err != nil {
					failed = err
					break
				}
				res.Deleted = append(res.Deleted, g)
			}
			if outputOf(cmd) == formatJSON {
				if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				for _, g := range res.Deleted {
					fmt.Fprintf(cmd.OutOrStdout(), "deleted generation %d\n", g)
				}
			}
			return failed
		},
	}
}

type exportResult struct {
	File     string `json:"file"`
	Gen      uint64 `json:"gen"`
	To       string `json:"to"`
	Tasklets int    `json:"tasklets"`
	Channels int    `json:"channels"`
	Workers  int    `json:"workers,omitempty"` // a cluster checkpoint's worker worlds
	Bytes    int64  `json:"bytes"`
}

func newCheckpointExportCmd(wait *time.Duration, nf *natsFlags) *cobra.Command {
	var (
		gen   uint64
		force bool
	)
	cmd := &cobra.Command{
		Use:   "export FILE|DIR SNAPSHOT",
		Short: "Write a generation of a checkpoint database as a snapshot file",
		Long: `Write a generation of a checkpoint database (the newest, or the one --gen
names) as a snapshot file: one self-contained file holding that world, with
any incremental chain resolved. It is written atomically; an existing file
is only replaced with --force.`,
		Example: "  stackless checkpoint export data/longtask.db longtask.snapshot\n" +
			"  stackless checkpoint export data/longtask.db gen3.snapshot --gen 3\n" +
			"  stackless checkpoint export --nats nats://h1:4222 --creds user.creds cluster.snapshot",
		Args: targetArgs(nf, 1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, rest := nf.split(args)
			out := rest[0]
			if path != "" && same(path, out) {
				return usageErrorf("the snapshot would overwrite the database %s; give another path", path)
			}
			if out == "" {
				return usageErrorf("the SNAPSHOT path is empty: give the path of the snapshot file to write")
			}
			if err := atomicfile.Replaceable(out); err != nil { // --force replaces a file, never a device or FIFO
				return usageErrorf("%v", err)
			}
			if _, err := os.Lstat(out); err == nil && !force {
				return fmt.Errorf("%s exists; pass --force to replace it", out)
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			t, err := openTargetNamed(path, nf, *wait, false)
			if err != nil {
				return err
			}
			defer t.close()
			if t.db == nil {
				return fmt.Errorf("%s is a snapshot file already; copy it instead", t.path)
			}
			if !cmd.Flags().Changed("gen") {
				if gen, err = t.db.Latest(); err != nil {
					return err
				}
			}
			cp, err := t.load(gen)
			if err != nil {
				return err
			}
			res := exportResult{File: t.path, Gen: gen, To: out}
			if res.Tasklets, res.Channels, res.Workers, err = countRecords(cp); err != nil {
				return fmt.Errorf("%s: %w; not exported", t.path, err)
			}
			// Reading a large generation takes a while: an interrupt during
			// it was ignored, and the snapshot written anyway with exit 0.
			if err := cmd.Context().Err(); err != nil {
				return err
			}
			if err := store.WriteFile(out, cp); err != nil {
				return err
			}
			if st, err := os.Stat(out); err == nil {
				res.Bytes = st.Size()
			}
			if outputOf(cmd) == formatJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			of := ""
			if res.Workers > 0 {
				of = fmt.Sprintf(" (a cluster checkpoint of %d workers)", res.Workers)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote generation %d of %s to %s%s: %d tasklets, %d channels, %d bytes\n",
				res.Gen, res.File, res.To, of, res.Tasklets, res.Channels, res.Bytes)
			return err
		},
	}
	cmd.Flags().Uint64Var(&gen, "gen", 0, "generation `N` to export (default: the newest)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing snapshot file")
	atLeast(cmd.Flags(), "gen", "1")
	_ = cmd.RegisterFlagCompletionFunc("gen", completeGens)
	return cmd
}

// same reports whether two paths name the same file (or would).
func same(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
