package cluster_test

import (
	"fmt"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

// The ring of the chaos test: stations around a ring of buffered channels
// spread over the workers pass tokens on, each folding its index into the
// token, until the token has made its hops and goes to the ring sink. The
// XOR of every token's path is known in advance (ringExpected), whatever
// the timing, the kills and the rollbacks.
func init() {
	pickle.MustRegister("test.ringchans", 1, &RingChans{})
	pickle.MustRegister("test.station", 1, &Station{})
	pickle.MustRegister("test.ringsink", 1, &RingSink{})
	must(pickle.RegisterValue[Token](pickle.Default, "test.Token"))
	cluster.MustRegisterSpawner("ringchans", func(map[string]string) (tasklet.Behavior, error) { return &RingChans{}, nil })
	cluster.MustRegisterSpawner("station", func(a map[string]string) (tasklet.Behavior, error) {
		s := &Station{}
		var err error
		for k, p := range map[string]*channel.ID{"in": &s.In, "out": &s.Out, "sink": &s.Sink} {
			if *p, err = cluster.ArgChan(a, k); err != nil {
				return nil, err
			}
		}
		for k, p := range map[string]*int{"index": &s.Index, "first": &s.First, "tokens": &s.Tokens, "hops": &s.Hops, "pace_us": &s.PaceUS} {
			if *p, err = cluster.ArgInt(a, k, 0); err != nil {
				return nil, err
			}
		}
		return s, nil
	})
	cluster.MustRegisterSpawner("ringsink", func(a map[string]string) (tasklet.Behavior, error) {
		s := &RingSink{}
		var err error
		if s.In, err = cluster.ArgChan(a, "in"); err != nil {
			return nil, err
		}
		s.Want, err = cluster.ArgInt(a, "want", 1)
		s.Seen = make([]byte, (s.Want+7)/8)
		return s, err
	})
}

// RingChans only makes channels (its @chan arguments) on its worker.
type RingChans struct{}

func (*RingChans) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// Token is what hops around the ring.
type Token struct {
	ID   int
	Left int
	Acc  uint64
}

// foldStation is one hop's mark on a token.
func foldStation(acc uint64, station int) uint64 {
	acc ^= uint64(station + 1)
	acc *= 0x100000001b3
	return acc ^ acc>>29
}

// Station injects its own Tokens first (IDs First..), then receives tokens
// on In, folds its Index into them, and sends them on to Out, or to Sink
// after their last hop.
type Station struct {
	In, Out, Sink              channel.ID
	Index, First, Tokens, Hops int
	PaceUS                     int // sleep this long (µs) before passing a token on: the ring lasts on a fast machine too
	Injected                   int
	PC                         int
	Tok                        Token
}

func (s *Station) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	switch s.PC {
	case 0: // inject
		if s.Injected < s.Tokens {
			id := s.First + s.Injected
			s.Injected++
			return t.Send(s.Out, Token{ID: id, Left: s.Hops, Acc: uint64(id)})
		}
		s.PC = 1
		return t.Recv(s.In)
	case 1: // a token came
		tok, ok := t.Value().(Token)
		if !ok {
			return t.Fail(fmt.Errorf("station %d: got %T", s.Index, t.Value()))
		}
		tok.Acc = foldStation(tok.Acc, s.Index)
		tok.Left--
		s.Tok = tok
		if s.PaceUS > 0 {
			s.PC = 3
			return t.Sleep(time.Duration(s.PaceUS) * time.Microsecond)
		}
		return s.pass(t)
	case 3: // paced
		return s.pass(t)
	default: // sent on: wait for the next
		s.PC = 1
		return t.Recv(s.In)
	}
}

// pass sends the token on, or to the sink after its last hop.
func (s *Station) pass(t *tasklet.T) tasklet.Op {
	s.PC = 2
	if s.Tok.Left == 0 {
		return t.Send(s.Sink, s.Tok)
	}
	return t.Send(s.Out, s.Tok)
}

// RingSink receives Want tokens and parks with the XOR of their paths; a
// token seen twice is counted in Dups.
type RingSink struct {
	In   channel.ID
	Want int
	Got  int
	Dups int
	Xor  uint64
	Seen []byte
	Wait bool
	Done bool
}

func (s *RingSink) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if s.Wait {
		tok, ok := t.Value().(Token)
		if !ok || tok.ID < 0 || tok.ID >= s.Want {
			return t.Fail(fmt.Errorf("ring sink: got %v", t.Value()))
		}
		s.Wait = false
		if s.Seen[tok.ID/8]&(1<<(tok.ID%8)) != 0 {
			s.Dups++
		} else {
			s.Seen[tok.ID/8] |= 1 << (tok.ID % 8)
			s.Got++
			s.Xor ^= tok.Acc
		}
	}
	if s.Got == s.Want {
		s.Done = true
		return t.Pause()
	}
	s.Wait = true
	return t.Recv(s.In)
}

// ringExpected is the sink's XOR for a ring of `stations` stations, each
// injecting `per` tokens that make `hops` hops.
func ringExpected(stations, per, hops int) uint64 {
	var x uint64
	for st := range stations {
		for j := range per {
			id := st*per + j
			acc := uint64(id)
			for h := 1; h <= hops; h++ {
				acc = foldStation(acc, (st+h)%stations)
			}
			x ^= acc
		}
	}
	return x
}
