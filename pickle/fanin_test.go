package pickle_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// FanServer drains In with TryRecvMany, three values at a time, and waits
// with Recv when it is empty; Got is every value in the order it came.
type FanServer struct {
	In    channel.ID
	Left  int
	Got   []int
	batch []any `stackless:"-"` // scratch of one step: not state
}

func (f *FanServer) Step(t *tasklet.T) tasklet.Op {
	if v, ok := t.Value().(int); ok {
		f.Got = append(f.Got, v)
		f.Left--
	}
	if f.batch == nil {
		f.batch = make([]any, 3)
	}
	for f.Left > 0 {
		n, err := t.TryRecvMany(f.In, f.batch)
		if err != nil {
			return t.Fail(err)
		}
		for _, v := range f.batch[:n] {
			f.Got = append(f.Got, v.(int))
		}
		f.Left -= n
		if n < len(f.batch) {
			break
		}
	}
	if f.Left == 0 {
		return t.Exit()
	}
	return t.Recv(f.In)
}

// FanClient sends Base+1 .. Base+N on Out.
type FanClient struct {
	Out     channel.ID
	Base, I int
	N       int
}

func (f *FanClient) Step(t *tasklet.T) tasklet.Op {
	if f.I == f.N {
		return t.Exit()
	}
	f.I++
	return t.Send(f.Out, f.Base+f.I)
}

// buildFanIn is five clients of six values each on an inbox of four with
// preference 1, and the server.
func buildFanIn() (*scheduler.Scheduler, *FanServer) {
	s := scheduler.New()
	in := s.NewChannel(4)
	s.Channel(in).SetPreference(channel.PreferSender)
	srv := &FanServer{In: in, Left: 30}
	s.Spawn(srv)
	for i := range 5 {
		s.Spawn(&FanClient{Out: in, Base: 100 * i, N: 6})
	}
	return s, srv
}

// TestFanInServerRunPickled saves the fan-in world after k steps (the
// server waiting in Recv on an empty inbox, clients blocked on a full one,
// or woken by a drain and not yet run), restores it and runs it on: the
// server receives the values in the order of the run that was never
// interrupted.
func TestFanInServerRunPickled(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("fanserver", 1, &FanServer{}))
	require.NoError(t, r.Register("fanclient", 1, &FanClient{}))
	ctx := context.Background()
	ref, refSrv := buildFanIn()
	require.NoError(t, ref.Run(ctx))
	require.Len(t, refSrv.Got, 30)

	// Snapshots with the server waiting in Recv (on an empty inbox), and with
	// clients blocked on a full one (the server queued behind them).
	serverWaits, clientsWait := 0, 0
	for k := range 40 {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			s, _ := buildFanIn()
			if k > 0 {
				_, err := s.RunBudget(ctx, k, scheduler.Total|scheduler.Soft)
				require.NoError(t, err)
			}
			blob, err := r.DumpWorld(s.World())
			require.NoError(t, err)
			w, err := r.LoadWorld(blob)
			require.NoError(t, err)
			s2, err := scheduler.Restore(w)
			require.NoError(t, err)

			var srv *FanServer
			for _, ts := range w.Tasklets {
				if b, ok := ts.Behavior.(*FanServer); ok {
					srv = b
					if ts.State == tasklet.Blocked {
						serverWaits++
					}
				}
			}
			if len(w.Channels) > 0 && len(w.Channels[0].Senders) > 0 {
				clientsWait++
			}
			if srv == nil { // the server had finished: its record is gone
				return
			}
			require.NoError(t, s2.Run(ctx))
			assert.Equal(t, refSrv.Got, srv.Got)
		})
	}
	assert.Positive(t, serverWaits, "some snapshot must catch the server waiting in Recv")
	assert.Positive(t, clientsWait, "some snapshot must catch clients blocked on the full inbox")
}
