package channel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/tasklet"
)

// The waiter queues against a model, a slice of the live waiters in order:
// random runs of pushes (senders with values, receivers, select cases),
// forgets in the scheduler's order (the entry forgotten, then its tasklet's
// next wait) and takes. Every take must give the model's first waiter,
// the balance must be the model's, and the queue must hold no more than
// twice its live entries and 33 besides, however many were forgotten.
func TestQueuesAgainstAModel(t *testing.T) {
	dropped, shrinks := 0, 0
	for seed := range uint64(200) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			c := New(1, 0)
			send := r.IntN(2) == 0 // one direction a run: a channel never has both waiting
			var model []*tasklet.T
			next := tasklet.ID(1)
			for op := range 3000 {
				grow := op/500%2 == 0 // phases that grow the queue, then ones that forget
				var stale int32
				arrays := 0
				if c.more != nil {
					stale, arrays = c.more.recv.stale+c.more.send.stale, len(c.more.recv.ts)+len(c.more.send.ts)
				}
				k := r.IntN(10)
				if !grow {
					k = 3 + r.IntN(7)
				}
				switch {
				case k < 5 && grow || k < 4 || len(model) == 0: // push
					tk := newT(next)
					next++
					w := Waiter{T: tk, Seq: nextWait(tk), Case: -1}
					if r.IntN(4) == 0 {
						w.Case = int32(r.IntN(3))
					}
					if send {
						w.Value = int(tk.ID())
						c.PushSender(w)
					} else {
						c.PushReceiver(w)
					}
					model = append(model, tk)
				case k < 8: // forget one
					i := r.IntN(len(model))
					if send {
						c.ForgetSender()
					} else {
						c.ForgetReceiver()
					}
					nextWait(model[i])
					model = slices.Delete(model, i, i+1)
				default: // take the first
					var w Waiter
					var ok bool
					if send {
						ok = c.PopSender(&w)
					} else {
						ok = c.PopReceiver(&w)
					}
					require.True(t, ok, "op %d: nothing taken with %d waiting", op, len(model))
					require.Equal(t, model[0].ID(), w.T.ID(), "op %d: FIFO order", op)
					if send {
						require.Equal(t, int(w.T.ID()), w.Value, "op %d: the sender's value", op)
					}
					model = model[1:]
				}
				want := len(model)
				if !send {
					want = -want
				}
				require.Equal(t, want, c.Balance(), "op %d", op)
				if c.more != nil {
					q := &c.more.recv
					if send {
						q = &c.more.send
					}
					require.Equal(t, q.len, q.live+q.stale, "op %d: entries counted", op)
					require.LessOrEqual(t, int(q.len), 2*len(model)+34, "op %d: forgotten entries kept", op)
					if q.stale+1 < stale {
						dropped++
					}
					if len(c.more.recv.ts)+len(c.more.send.ts) < arrays {
						shrinks++
					}
				}
			}
		})
	}
	require.Positive(t, dropped, "no run dropped forgotten entries")
	require.Positive(t, shrinks, "no run moved a queue into smaller arrays")
	t.Logf("forgotten entries dropped at once %d times, arrays shrunk %d times", dropped, shrinks)
}
