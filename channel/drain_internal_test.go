package channel

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/tasklet"
)

func TestBombInFindsTheFirstBombAnywhere(t *testing.T) {
	for n := range 11 {
		vs := make([]any, n)
		for i := range vs {
			vs[i] = i
		}
		assert.Equal(t, -1, bombIn(vs), "no Bomb in %d values", n)
		for at := range n {
			vs[at] = Bomb{Err: errors.New("boom")}
			assert.Equal(t, at, bombIn(vs), "a Bomb at %d of %d", at, n)
			if at+1 < n {
				vs[at+1] = Bomb{}
				assert.Equal(t, at, bombIn(vs), "the first of two")
				vs[at+1] = at + 1
			}
			vs[at] = at
		}
	}
}

// After a drain, the buffer's array holds the buffered values and nothing
// else: the places values were taken from and not filled again are nil, so
// nothing drained stays reachable. Buffers full and not, wrapped or not,
// with plain blocked senders (moved in bulk) and posted values (taken one
// by one), drained in batches of every size.
func TestDrainLeavesNothingTakenInTheBuffer(t *testing.T) {
	for capacity := 1; capacity <= 8; capacity++ {
		for batch := 1; batch <= 10; batch++ {
			for senders := 0; senders <= 6; senders++ {
				c := New(1, capacity)
				next := 0
				for range capacity {
					c.BufPush(next)
					next++
				}
				for i := range senders {
					if i%3 == 2 {
						c.PushSender(Waiter{Value: next, Case: -1})
					} else {
						tk := newT(tasklet.ID(i + 1))
						c.PushSender(Waiter{T: tk, Seq: nextWait(tk), Case: -1, Value: next})
					}
					next++
				}
				want := 0
				dst := make([]any, batch)
				for {
					n, _, _ := c.Drain(dst, nil, nil)
					if n == 0 {
						break
					}
					for _, v := range dst[:n] {
						require.Equal(t, want, v, "cap %d batch %d senders %d: values in send order", capacity, batch, senders)
						want++
					}
					r := &c.more.buf
					for i, v := range r.buf {
						live := (i-r.head+len(r.buf))&(len(r.buf)-1) < r.len
						if !live {
							require.Nil(t, v, "cap %d batch %d senders %d: place %d of %d (head %d, len %d) keeps a taken value",
								capacity, batch, senders, i, len(r.buf), r.head, r.len)
						}
					}
				}
				require.Equal(t, next, want, "cap %d batch %d senders %d: every value drained", capacity, batch, senders)
			}
		}
	}
}
