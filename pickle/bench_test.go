package pickle_test

// One op of BenchmarkDumpTasklet is encoding one suspended tasklet (a
// behavior with an int, a string, a channel ID and a small slice) into a
// reused buffer; one op of BenchmarkLoadTasklet is decoding that record into
// a fresh behavior. B/record is the record's size; overhead-B is what the
// record adds beyond the msgpack encoding of the behavior's own fields.

import (
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

type Guard struct {
	HP    int
	Name  string
	Eyes  channel.ID
	Route []int
}

func (g *Guard) Step(t *tasklet.T) tasklet.Op { return t.Recv(g.Eyes) }

func benchState(b *testing.B) (*pickle.Registry, *scheduler.TaskletState) {
	r := pickle.NewRegistry()
	if err := r.Register("guard", 1, &Guard{}); err != nil {
		b.Fatal(err)
	}
	g := &Guard{HP: 100, Name: "north-gate", Eyes: 1<<48 | 42, Route: []int{3, 1, 4, 1}}
	return r, &scheduler.TaskletState{ID: 1<<48 | 1234, Behavior: g, State: tasklet.Blocked, Steps: 57, Wait: 12,
		Chosen: -1, Plain: true, Cases: []tasklet.Case{tasklet.RecvCase(g.Eyes)}}
}

func BenchmarkDumpTasklet(b *testing.B) {
	r, ts := benchState(b)
	buf := make([]byte, 0, 256)
	var err error
	b.ReportAllocs()
	for b.Loop() {
		buf, err = r.AppendTasklet(buf[:0], ts)
		if err != nil {
			b.Fatal(err)
		}
	}
	own, _ := msgpack.Marshal(ts.Behavior)
	b.ReportMetric(float64(len(buf)), "B/record")
	b.ReportMetric(float64(len(buf)-len(own)), "overhead-B")
}

func BenchmarkLoadTasklet(b *testing.B) {
	r, ts := benchState(b)
	rec, err := r.DumpTasklet(ts)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.LoadTasklet(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rec)), "B/record")
}
