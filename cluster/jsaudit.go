package cluster

// An audit of the generation store against what only damage can do. The
// generation counter only grows, and a world object "g<gen>/w<node>" is
// written after its number was taken, so an object above the counter
// means the manifests' stream lost messages: a damaged block file under
// DIR/nats, which the NATS server drops on start with nothing but a log
// line (seen: an emptied or bit-flipped KV_<name>_manifests block made
// `cluster up` start an empty cluster over ten generations, and
// `checkpoint ls` say "holds no generations").

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrLost is returned when the checkpoint store lost the manifests of
// generations whose worlds it still holds.
var ErrLost = errors.New("cluster: the checkpoint store lost generations")

// lostError describes what the audit found.
type lostError struct {
	where, bucket string
	counter       uint64 // 0: the counter is gone
	lo, hi        uint64 // the generations of the objects above the counter
	objects       int
}

func (e *lostError) Error() string {
	counter := "is gone"
	if e.counter > 0 {
		counter = "says " + strconv.FormatUint(e.counter, 10)
	}
	gens := "generation " + strconv.FormatUint(e.lo, 10)
	if e.hi > e.lo {
		gens = fmt.Sprintf("generations %d-%d", e.lo, e.hi)
	}
	return fmt.Sprintf("%v: %s holds %d world object(s) of %s, but its generation counter %s: the bucket %s lost their manifests (a damaged or truncated file of the store)",
		ErrLost, e.where, e.objects, gens, counter, e.bucket)
}

func (e *lostError) Unwrap() error { return ErrLost }

// telling picks the line that says most: one naming a corrupt record or
// lost data, else the first.
func telling(lines []string) string {
	for _, l := range lines {
		if strings.Contains(l, "corrupt") || strings.Contains(l, "lost") {
			return l
		}
	}
	return lines[0]
}

// audit returns a *lostError when world objects stand above the
// generation counter with no manifest, nil when none do. need is the
// highest generation the store still holds (an object or a manifest): the
// counter must not be below it, or new generations would write over it.
// Objects are listed before the counter is read, so a checkpoint written
// meanwhile (its number first, its objects after) never looks like a loss.
func (g *genStore) audit(ctx context.Context) (need uint64, err error) {
	h, err := g.holdings(ctx)
	if err != nil {
		return 0, err
	}
	return g.auditOf(ctx, h)
}

// holdings is what a store holds: its world objects and its generations,
// listed in that order.
type holdings struct {
	objects []*jetstream.ObjectInfo
	gens    []uint64
}

func (g *genStore) holdings(ctx context.Context) (holdings, error) {
	infos, err := g.listObjects(ctx)
	if err != nil {
		return holdings{}, fmt.Errorf("cluster: list the world objects in %s: %w", g.where, err)
	}
	gens, err := g.gens(ctx)
	if err != nil {
		return holdings{}, err
	}
	return holdings{objects: infos, gens: gens}, nil
}

// auditOf is audit of the holdings h, listed before it reads the counter.
func (g *genStore) auditOf(ctx context.Context, h holdings) (need uint64, err error) {
	infos, gens := h.objects, h.gens
	if len(gens) > 0 {
		need = gens[len(gens)-1]
	}
	var counter uint64
	e, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValueEntry, error) { return g.kv.Get(ctx, genKey) })
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return 0, fmt.Errorf("cluster: read the generation counter in %s: %w", g.where, err)
	default:
		if counter, err = strconv.ParseUint(string(e.Value()), 10, 64); err != nil {
			return 0, fmt.Errorf("%w: the generation counter %q in %s is not a number", ErrSnapshot, e.Value(), g.names.Manifests)
		}
	}
	lost := &lostError{where: g.where, bucket: g.names.Manifests, counter: counter}
	for _, o := range infos {
		gen, ok := objectGen(o.Name)
		if !ok {
			continue
		}
		need = max(need, gen)
		if gen <= counter || slices.Contains(gens, gen) {
			continue
		}
		if lost.objects == 0 || gen < lost.lo {
			lost.lo = gen
		}
		lost.hi = max(lost.hi, gen)
		lost.objects++
	}
	if lost.objects == 0 {
		return need, nil
	}
	return need, g.noted(lost)
}

// raiseCounter sets the generation counter to at least gen, so that the
// generations written after a loss take numbers above the objects that
// survived it instead of writing over them.
func (g *genStore) raiseCounter(ctx context.Context, gen uint64) error {
	if _, err := g.setCounter(ctx, func(last uint64) (uint64, bool) { return gen, last < gen }); err != nil {
		return fmt.Errorf("cluster: raise the generation counter in %s to %d: %w", g.where, gen, err)
	}
	return nil
}

// unloadable returns an error naming each generation of h whose manifest names
// a world object the store lacks, or holds at another size (a damaged
// block of the objects' stream, dropped as the server started), nil when
// every world is there. Sizes are compared, not digests: reading every
// world is what a load does. Only where objects are listed from the one
// server (g.lag 0): a replica that lags would miss the newest.
func (g *genStore) unloadable(ctx context.Context, h holdings) error {
	if g.lag != 0 {
		return nil
	}
	size := make(map[string]uint64, len(h.objects))
	for _, o := range h.objects {
		size[o.Name] = o.Size
	}
	gens := h.gens
	var bad []string
	for _, gen := range slices.Backward(gens) {
		m, err := g.manifestOf(ctx, gen)
		if err != nil {
			bad = append(bad, fmt.Sprintf("generation %d (its manifest: %v)", gen, err))
			continue
		}
		for _, w := range m.Worlds {
			if n, ok := size[w.Object]; !ok {
				bad = append(bad, fmt.Sprintf("generation %d (world %s is missing)", gen, w.Object))
				break
			} else if int64(n) != w.Size {
				bad = append(bad, fmt.Sprintf("generation %d (world %s holds %d bytes, its manifest says %d)", gen, w.Object, n, w.Size))
				break
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	then := "cluster up resumes the newest one that loads"
	if len(bad) == len(gens) {
		then = "cluster up refuses to start until one does, or with --fresh"
	}
	return g.noted(fmt.Errorf("cluster: %d of the %d generations in %s cannot be loaded (%w): %s; %s",
		len(bad), len(gens), g.where, ErrSnapshot, strings.Join(bad, ", "), then))
}
