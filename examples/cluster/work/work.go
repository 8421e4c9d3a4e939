package work

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

func init() {
	pickle.MustRegister("cluster.work", 1, &Work{})
	pickle.MustRegister("cluster.collector", 1, &Collector{})
	pickle.MustRegister("cluster.ticker", 1, &Ticker{})
	if err := pickle.RegisterValue[Digest](pickle.Default, "cluster.Digest"); err != nil {
		panic(err)
	}
	cluster.MustRegisterSpawner("work", spawnWork)
	cluster.MustRegisterSpawner("collector", spawnCollector)
	cluster.MustRegisterSpawner("ticker", spawnTicker)
}

// Digest is what a Work sends its collector: its seed and the first 8
// bytes of its chain's last hash.
type Digest struct {
	Seed uint64
	Sum  uint64
}

// Work computes a SHA-256 chain of Links links from Seed (its own tasklet
// ID when Seed is 0), PerStep links a step, then sends a Digest on Out.
type Work struct {
	Out     channel.ID
	Seed    uint64
	Links   int
	PerStep int
	Done    int
	Acc     []byte
	Sent    bool
}

// Chain runs n links of the hash chain from acc.
func Chain(acc []byte, n int) []byte {
	var h [sha256.Size]byte
	for range n {
		h = sha256.Sum256(acc)
		acc = h[:]
	}
	return append([]byte(nil), acc...)
}

// SeedBytes is where a chain starts.
func SeedBytes(seed uint64) []byte { return binary.BigEndian.AppendUint64(nil, seed) }

// Expected computes a Work's digest directly, without tasklets.
func Expected(seed uint64, links int) uint64 {
	return binary.BigEndian.Uint64(Chain(SeedBytes(seed), links))
}

// Step runs PerStep links and yields, so other tasklets (and the worker's
// control requests) get their turn.
func (w *Work) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if w.Acc == nil {
		if w.Seed == 0 {
			w.Seed = uint64(t.ID())
		}
		w.Acc = SeedBytes(w.Seed)
	}
	if w.Done < w.Links {
		n := min(w.PerStep, w.Links-w.Done)
		w.Acc = Chain(w.Acc, n)
		w.Done += n
		return t.Yield()
	}
	if !w.Sent {
		w.Sent = true
		return t.Send(w.Out, Digest{Seed: w.Seed, Sum: binary.BigEndian.Uint64(w.Acc)})
	}
	return t.Exit()
}

func spawnWork(a map[string]string) (tasklet.Behavior, error) {
	if err := cluster.CheckArgs(a, "out", "seed", "links", "per_step"); err != nil {
		return nil, err
	}
	w := &Work{}
	var err error
	if w.Out, err = cluster.ArgChan(a, "out"); err != nil {
		return nil, err
	}
	if w.Seed, err = cluster.ArgUint(a, "seed", 0); err != nil {
		return nil, err
	}
	if w.Links, err = cluster.ArgInt(a, "links", 200_000); err != nil {
		return nil, err
	}
	if w.PerStep, err = cluster.ArgInt(a, "per_step", 500); err != nil {
		return nil, err
	}
	if w.Links < 0 || w.PerStep < 1 {
		return nil, fmt.Errorf("links must be 0 or more and per_step 1 or more (got %d, %d)", w.Links, w.PerStep)
	}
	return w, nil
}

// Collector receives Want digests, folds them with XOR, prints the result
// once, and parks holding it.
type Collector struct {
	In      channel.ID
	Want    int
	Got     int
	Xor     uint64
	Wait    bool
	Done    bool
	Printed bool
}

// Step receives the next digest, or finishes.
func (c *Collector) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if c.Wait {
		d, ok := t.Value().(Digest)
		if !ok {
			return t.Fail(fmt.Errorf("collector: received a %T, want a work.Digest", t.Value()))
		}
		c.Got++
		c.Xor ^= d.Sum
		c.Wait = false
	}
	if c.Got < c.Want {
		c.Wait = true
		return t.Recv(c.In)
	}
	c.Done = true
	if !c.Printed {
		// An effect outside the tasklet's state: after a crash it may be
		// printed again (the cluster replays from the last checkpoint).
		c.Printed = true
		fmt.Fprintf(os.Stdout, "collector %v: %d digests, xor %016x\n", t.ID(), c.Got, c.Xor)
	}
	return t.Pause()
}

func spawnCollector(a map[string]string) (tasklet.Behavior, error) {
	if err := cluster.CheckArgs(a, "in", "want"); err != nil {
		return nil, err
	}
	c := &Collector{}
	var err error
	if c.In, err = cluster.ArgChan(a, "in"); err != nil {
		return nil, err
	}
	if c.Want, err = cluster.ArgInt(a, "want", 1); err != nil {
		return nil, err
	}
	if c.Want < 0 {
		return nil, fmt.Errorf("want must be 0 or more, got %d", c.Want)
	}
	return c, nil
}

// Ticker sleeps Every, Limit times, counting; then it parks.
type Ticker struct {
	Every time.Duration
	Limit int
	Count int
	Done  bool
}

// Step counts a tick and sleeps again.
func (k *Ticker) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if k.Count >= k.Limit {
		k.Done = true
		return t.Pause()
	}
	k.Count++
	return t.Sleep(k.Every)
}

// maxEveryMS bounds a ticker's period: more overflowed time.Duration into a
// negative sleep, which fired at once.
const maxEveryMS = 24 * 60 * 60 * 1000

func spawnTicker(a map[string]string) (tasklet.Behavior, error) {
	if err := cluster.CheckArgs(a, "every_ms", "limit"); err != nil {
		return nil, err
	}
	ms, err := cluster.ArgInt(a, "every_ms", 100)
	if err != nil {
		return nil, err
	}
	limit, err := cluster.ArgInt(a, "limit", 100)
	if err != nil {
		return nil, err
	}
	if ms < 1 || ms > maxEveryMS || limit < 0 {
		return nil, fmt.Errorf("every_ms must be 1 to %d (a day) and limit 0 or more (got %d, %d)", maxEveryMS, ms, limit)
	}
	return &Ticker{Every: time.Duration(ms) * time.Millisecond, Limit: limit}, nil
}
