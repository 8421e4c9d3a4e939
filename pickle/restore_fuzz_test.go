package pickle_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// FuzzRestoreEdited edits the worlds of the seeds as a program, a tool or a
// player editing a save could, field by field (the bytes of b choose the
// edits), and restores them. A world Restore accepts must run without the
// scheduler failing or hanging, must hand out tasklet and channel IDs none of its own
// holds, and must save again into a world that restores.
func FuzzRestoreEdited(f *testing.F) {
	for i := range 13 {
		f.Add(uint8(i), []byte{})
	}
	// The counters behind the IDs in use (handWorld holds tasklet 2 and
	// channels 1 and 2).
	f.Add(uint8(12), []byte{0, 1})
	f.Add(uint8(12), []byte{1, 0})
	worlds := seedWorlds()
	reg := fuzzRegistry()
	f.Fuzz(func(t *testing.T, which uint8, edits []byte) {
		enc, err := reg.DumpWorld(worlds[int(which)%len(worlds)])
		if err != nil {
			t.Fatal(err)
		}
		w, err := reg.LoadWorld(enc) // a copy to edit
		if err != nil {
			t.Fatal(err)
		}
		edit(w, &editor{b: edits})
		tasklets, chans := idsOf(w)
		s, err := scheduler.Restore(w)
		if err != nil {
			return
		}
		if id := s.NewChannel(0); slices.Contains(chans, id) {
			t.Fatalf("NewChannel after the restore handed out %v, a channel of the world", id)
		}
		if id := s.Spawn(&Prog{Name: "new"}); slices.Contains(tasklets, id) {
			t.Fatalf("Spawn after the restore handed out %v, a tasklet of the world", id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for range 50 {
			if _, err := s.RunBudget(ctx, 20, scheduler.Total|scheduler.Soft); err != nil || s.Len() == 0 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatal("1,000 steps on a virtual clock took 2 s: the scheduler hung")
		}
		again, err := reg.DumpWorld(s.World())
		if err != nil {
			return // a value the edits put where it cannot be saved
		}
		w2, err := reg.LoadWorld(again)
		if err != nil {
			t.Fatalf("a world saved after the restore does not load: %v", err)
		}
		if _, err := scheduler.Restore(w2); err != nil {
			t.Fatalf("a world saved after the restore does not restore: %v", err)
		}
	})
}

func idsOf(w *scheduler.World) (ts []tasklet.ID, cs []channel.ID) {
	for _, t := range w.Tasklets {
		ts = append(ts, t.ID)
	}
	for _, c := range w.Channels {
		cs = append(cs, c.ID)
	}
	return ts, cs
}

// editor hands out the fuzzer's bytes as choices.
type editor struct {
	b []byte
	i int
}

func (e *editor) byte() int {
	if e.i >= len(e.b) {
		return 0
	}
	e.i++
	return int(e.b[e.i-1])
}

func (e *editor) pick(n int) int {
	if n <= 0 {
		return 0
	}
	return e.byte() % n
}

// edit changes fields of w, one edit per choice until the bytes run out.
func edit(w *scheduler.World, e *editor) {
	task := func() *scheduler.TaskletState {
		if len(w.Tasklets) == 0 {
			return &scheduler.TaskletState{}
		}
		return &w.Tasklets[e.pick(len(w.Tasklets))]
	}
	ch := func() *scheduler.ChannelState {
		if len(w.Channels) == 0 {
			return &scheduler.ChannelState{}
		}
		return &w.Channels[e.pick(len(w.Channels))]
	}
	timer := func() *scheduler.TimerState {
		if len(w.Timers) == 0 {
			return &scheduler.TimerState{}
		}
		return &w.Timers[e.pick(len(w.Timers))]
	}
	for e.i < len(e.b) {
		switch e.pick(30) {
		case 0:
			w.NextTasklet = uint64(e.pick(16))
		case 1:
			w.NextChannel = uint64(e.pick(8))
		case 2:
			task().State = tasklet.State(e.pick(8))
		case 3:
			c := ch()
			c.Senders, c.Receivers = c.Receivers, c.Senders
		case 4:
			c := ch()
			c.Buffer = append(c.Buffer, e.byte())
			if e.pick(2) == 0 {
				c.Cap = len(c.Buffer)
			}
		case 5:
			c := ch()
			c.Closed = !c.Closed
		case 6:
			timer().Case = e.pick(5) - 1
		case 7:
			if len(w.Timers) > 0 {
				w.Timers = append(w.Timers, *timer())
			}
		case 8:
			timer().At = time.Duration(e.pick(256)-128) * time.Millisecond
		case 9:
			ch().Cap = e.pick(5) - 1
		case 10:
			task().Chosen = e.pick(6) - 2
		case 11:
			task().Wait = uint32(e.pick(4))
		case 12:
			t := task()
			t.Plain = !t.Plain
		case 13:
			if t := task(); len(t.Cases) > 0 {
				t.Cases[e.pick(len(t.Cases))].Chan = tasklet.ChanID(e.pick(6))
			}
		case 14:
			if t := task(); len(t.Cases) > 0 {
				t.Cases[e.pick(len(t.Cases))].Dir = tasklet.Dir(e.pick(6))
			}
		case 15:
			if len(w.RunQueue) > 0 && e.pick(2) == 0 {
				w.RunQueue = w.RunQueue[1:]
			} else {
				w.RunQueue = append(w.RunQueue, task().ID)
			}
		case 16:
			ch().Preference = e.pick(7) - 3
		case 17:
			w.Clock = time.Duration(e.pick(256)-128) * time.Millisecond
		case 18:
			w.Node = uint16(e.pick(3))
		case 19:
			task().Flags = uint8(e.byte())
		case 20:
			task().ID = tasklet.ID(e.pick(12))
		case 21:
			if q := waiters(ch(), e); len(*q) > 0 {
				(*q)[e.pick(len(*q))].Case = e.pick(5) - 1
			}
		case 22:
			if q := waiters(ch(), e); len(*q) > 0 {
				(*q)[e.pick(len(*q))].Tasklet = tasklet.ID(e.pick(12))
			}
		case 23:
			if q := waiters(ch(), e); len(*q) > 0 {
				wt := &(*q)[e.pick(len(*q))]
				wt.Remote, wt.Node, wt.Seq = !wt.Remote, uint16(e.pick(3)), uint32(e.pick(4))
			}
		case 24:
			if q := waiters(ch(), e); len(*q) > 0 {
				*q = append(*q, (*q)[e.pick(len(*q))])
			} else {
				*q = append(*q, scheduler.WaiterState{Tasklet: tasklet.ID(e.pick(12)), Case: e.pick(3) - 1, Value: e.byte()})
			}
		case 25:
			t := task()
			switch e.pick(3) {
			case 0:
				t.Value = e.byte()
			case 1:
				t.Err = tasklet.ErrKilled
			default:
				t.Value, t.Err = nil, nil
			}
		case 26:
			if n := len(w.RunQueue); n > 1 {
				i, j := e.pick(n), e.pick(n)
				w.RunQueue[i], w.RunQueue[j] = w.RunQueue[j], w.RunQueue[i]
			}
		case 27:
			if t := task(); e.pick(2) == 0 {
				t.Cases = append(t.Cases, tasklet.RecvCase(tasklet.ChanID(e.pick(6))))
			} else {
				t.Cases = append(t.Cases, tasklet.TimeoutCase(time.Duration(e.pick(9)-2)*time.Millisecond))
			}
		case 28:
			if len(w.Tasklets) > 0 {
				w.Tasklets = slices.Delete(w.Tasklets, 0, 1)
			}
		case 29:
			w.Timers = append(w.Timers, scheduler.TimerState{At: time.Duration(e.pick(16)) * time.Millisecond,
				Seq: uint64(e.pick(8)), Tasklet: task().ID, Case: e.pick(4) - 1})
		}
	}
}

// waiters is one of c's queues, chosen by e.
func waiters(c *scheduler.ChannelState, e *editor) *[]scheduler.WaiterState {
	if e.pick(2) == 0 {
		return &c.Senders
	}
	return &c.Receivers
}
