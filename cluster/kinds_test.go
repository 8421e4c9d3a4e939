package cluster_test

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

// The kinds of the integration tests: registered with pickle (so worlds
// can be saved) and as spawners (so the tests can start them), in every
// process of the test binary.
func init() {
	pickle.MustRegister("test.pinger", 1, &Pinger{})
	pickle.MustRegister("test.ponger", 1, &Ponger{})
	pickle.MustRegister("test.source", 1, &Source{})
	pickle.MustRegister("test.mapper", 1, &Mapper{})
	pickle.MustRegister("test.sink", 1, &Sink{})
	pickle.MustRegister("test.work", 1, &Work{})
	pickle.MustRegister("test.collector", 1, &Collector{})
	must(pickle.RegisterValue[Digest](pickle.Default, "test.Digest"))
	cluster.MustRegisterSpawner("pinger", func(a map[string]string) (tasklet.Behavior, error) {
		p := &Pinger{}
		var err error
		if p.Out, err = cluster.ArgChan(a, "out"); err != nil {
			return nil, err
		}
		if p.In, err = cluster.ArgChan(a, "in"); err != nil {
			return nil, err
		}
		p.N, err = cluster.ArgInt(a, "n", 10)
		return p, err
	})
	cluster.MustRegisterSpawner("ponger", func(a map[string]string) (tasklet.Behavior, error) {
		p := &Ponger{}
		for i, k := range []string{"a", "b"} {
			var err error
			if p.In[i], err = cluster.ArgChan(a, "in"+k); err != nil {
				return nil, err
			}
			if p.Out[i], err = cluster.ArgChan(a, "out"+k); err != nil {
				return nil, err
			}
		}
		return p, nil
	})
	cluster.MustRegisterSpawner("source", func(a map[string]string) (tasklet.Behavior, error) {
		s := &Source{}
		var err error
		if s.Out, err = cluster.ArgChan(a, "out"); err != nil {
			return nil, err
		}
		if _, ok := a["gate"]; ok {
			if s.Gate, err = cluster.ArgChan(a, "gate"); err != nil {
				return nil, err
			}
		}
		s.N, err = cluster.ArgInt(a, "n", 100)
		return s, err
	})
	cluster.MustRegisterSpawner("mapper", func(a map[string]string) (tasklet.Behavior, error) {
		m := &Mapper{}
		var err error
		if m.In, err = cluster.ArgChan(a, "in"); err != nil {
			return nil, err
		}
		m.Out, err = cluster.ArgChan(a, "out")
		return m, err
	})
	cluster.MustRegisterSpawner("sink", func(a map[string]string) (tasklet.Behavior, error) {
		s := &Sink{}
		var err error
		s.In, err = cluster.ArgChan(a, "in")
		return s, err
	})
	cluster.MustRegisterSpawner("work", func(a map[string]string) (tasklet.Behavior, error) {
		// A key the kind does not know is refused, as the product's kinds
		// do: a test passed "links" here, and ran the default rounds.
		if err := cluster.CheckArgs(a, "out", "seed", "rounds", "per_step"); err != nil {
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
		if w.Rounds, err = cluster.ArgInt(a, "rounds", 100); err != nil {
			return nil, err
		}
		w.PerStep, err = cluster.ArgInt(a, "per_step", 100)
		return w, err
	})
	cluster.MustRegisterSpawner("collector", func(a map[string]string) (tasklet.Behavior, error) {
		if err := cluster.CheckArgs(a, "in", "want"); err != nil {
			return nil, err
		}
		c := &Collector{}
		var err error
		if c.In, err = cluster.ArgChan(a, "in"); err != nil {
			return nil, err
		}
		c.Want, err = cluster.ArgInt(a, "want", 1)
		return c, err
	})
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Pinger sends 1..N on Out and adds up the answers from In, then parks.
type Pinger struct {
	Out, In channel.ID
	N, I    int
	Sum     int
	PC      int
	Done    bool
}

func (p *Pinger) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	switch p.PC {
	case 1: // sent: wait for the answer
		p.PC = 2
		return t.Recv(p.In)
	case 2:
		p.Sum += t.Value().(int)
	}
	if p.I == p.N {
		p.Done = true
		return t.Pause()
	}
	p.I++
	p.PC = 1
	return t.Send(p.Out, p.I)
}

// Ponger answers on two pairs of channels at once with a select: a value
// v from In[k] goes back doubled on Out[k].
type Ponger struct {
	In, Out [2]channel.ID
	Pending int // the answer to send, when Busy
	Busy    bool
	To      int
	Served  int
}

func (p *Ponger) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if p.Busy {
		p.Busy = false
		return t.Select(tasklet.RecvCase(p.In[0]), tasklet.RecvCase(p.In[1]))
	}
	if k := t.Chosen(); k >= 0 && t.Value() != nil {
		p.Busy, p.To, p.Pending = true, k, 2*t.Value().(int)
		p.Served++
		return t.Send(p.Out[k], p.Pending)
	}
	return t.Select(tasklet.RecvCase(p.In[0]), tasklet.RecvCase(p.In[1]))
}

// Source sends 1..N on Out, then 0 to say it is done. (A tasklet cannot
// close a channel homed on another node: Scheduler.Close refuses remote
// channels, so the pipeline ends with a sentinel.) With a Gate it receives
// once from Gate before the 0: a test keeps the pipeline from ending until
// it has done what must happen mid-run (a Source of N 0 on the gate opens
// it).
type Source struct {
	Out  channel.ID
	Gate channel.ID // if set, the 0 waits for a value from it
	N, I int
	Sent bool
	Open bool // the gate was asked: the 0 follows its value
}

func (s *Source) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if s.I == s.N {
		if s.Sent {
			return t.Exit()
		}
		if s.Gate != 0 && !s.Open {
			s.Open = true
			return t.Recv(s.Gate)
		}
		s.Sent = true
		return t.Send(s.Out, 0)
	}
	s.I++
	return t.Send(s.Out, s.I)
}

// Mapper sends f(v) on Out for every v from In, and passes the 0 that ends
// the stream on.
type Mapper struct {
	In, Out channel.ID
	Have    bool
	V       int
	End     bool
}

func mapValue(v int) int { return v*v%1000003 + 7 }

func (m *Mapper) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if m.End {
		return t.Exit()
	}
	if m.Have { // sent: receive the next
		m.Have = false
		return t.Recv(m.In)
	}
	if v, ok := t.Value().(int); ok {
		if v == 0 {
			m.End = true
			return t.Send(m.Out, 0)
		}
		m.V, m.Have = mapValue(v), true
		return t.Send(m.Out, m.V)
	}
	return t.Recv(m.In)
}

// Sink folds what it receives into an order-sensitive hash, and parks at
// the 0 that ends the stream.
type Sink struct {
	In   channel.ID
	N    int
	Hash uint64
	Done bool
}

func foldHash(h uint64, v int) uint64 { return h*1099511628211 ^ uint64(v) }

func (s *Sink) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if v, ok := t.Value().(int); ok {
		if v == 0 {
			s.Done = true
			return t.Pause()
		}
		s.N++
		s.Hash = foldHash(s.Hash, v)
	}
	return t.Recv(s.In)
}

// Digest is what a Work sends its collector. Pid, Began and At say which
// process sent it and when the chain began and ended (Unix ns), for the
// scaling benchmark's per-worker figures.
type Digest struct {
	Seed  uint64
	Sum   uint64
	Pid   int
	Began int64
	At    int64
}

// Work computes a SHA-256 chain of Rounds*PerStep links from its seed (its
// own ID when none is given), PerStep links a step (CPU-bound), and sends
// the result to Out.
type Work struct {
	Out     channel.ID
	Seed    uint64
	Rounds  int
	PerStep int
	Done    int
	Acc     []byte
	Sent    bool
	Began   int64 // Unix ns of the first step
}

// chain runs n links of the hash chain.
func chain(acc []byte, n int) []byte {
	var h [sha256.Size]byte
	for range n {
		h = sha256.Sum256(acc)
		acc = h[:]
	}
	return append([]byte(nil), acc...)
}

func seedBytes(seed uint64) []byte { return binary.BigEndian.AppendUint64(nil, seed) }

// expectedDigest computes a Work's result directly, as an independent model.
func expectedDigest(seed uint64, links int) uint64 {
	return binary.BigEndian.Uint64(chain(seedBytes(seed), links))
}

func (w *Work) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if w.Acc == nil {
		if w.Seed == 0 {
			w.Seed = uint64(t.ID())
		}
		w.Acc = seedBytes(w.Seed)
		w.Began = time.Now().UnixNano()
	}
	if w.Done < w.Rounds {
		w.Acc = chain(w.Acc, w.PerStep)
		w.Done++
		return t.Yield()
	}
	if !w.Sent {
		w.Sent = true
		return t.Send(w.Out, Digest{Seed: w.Seed, Sum: binary.BigEndian.Uint64(w.Acc),
			Pid: os.Getpid(), Began: w.Began, At: time.Now().UnixNano()})
	}
	return t.Exit()
}

// Collector receives Want digests and parks with their XOR (order-free).
// It keeps where and when each chain ran (Pids, Began, At: one entry per
// digest) for the scaling benchmark, and whose digest it was (Seeds), so a
// test sees each sender counted exactly once.
type Collector struct {
	In    channel.ID
	Want  int
	Got   int
	Xor   uint64
	Wait  bool
	Done  bool
	Pids  []int
	Began []int64
	At    []int64
	Seeds []uint64
}

func (c *Collector) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if c.Wait {
		d, ok := t.Value().(Digest)
		if !ok {
			return t.Fail(fmt.Errorf("collector: got %T", t.Value()))
		}
		c.Got++
		c.Xor ^= d.Sum
		c.Pids, c.Began, c.At = append(c.Pids, d.Pid), append(c.Began, d.Began), append(c.At, d.At)
		c.Seeds = append(c.Seeds, d.Seed)
		c.Wait = false
	}
	if c.Got == c.Want {
		c.Done = true
		return t.Pause()
	}
	c.Wait = true
	return t.Recv(c.In)
}
