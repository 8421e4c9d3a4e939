package pickle_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// FuzzInspect feeds arbitrary bytes to InspectTasklet and InspectChannel,
// which read records from files the CLI is pointed at. They must never
// panic, and wherever the strict decoders accept a record the loose ones
// must accept it too and agree. Hostile seeds are committed under
// testdata/fuzz/FuzzInspect so that plain `go test` runs them.
func FuzzInspect(f *testing.F) {
	r := registry(f)
	ts := scheduler.TaskletState{ID: 3, Behavior: &Producer{Out: 9, I: 2, N: 5}, State: tasklet.Blocked, Steps: 4,
		Value: Point{5, 6}, Cases: []tasklet.Case{tasklet.SendCase(9, Point{7, 8}), tasklet.TimeoutCase(time.Second)}}
	plain := scheduler.TaskletState{ID: 4, Behavior: &Worker{Name: "w"}, State: tasklet.Runnable, Value: "hi"}
	for _, s := range []*scheduler.TaskletState{&ts, &plain} {
		b, err := r.DumpTasklet(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	cs := scheduler.ChannelState{ID: 7, Cap: 2, Buffer: []any{Point{1, 2}, 3},
		Senders: []scheduler.WaiterState{{Case: -1, Value: Point{3, 4}}}, Receivers: []scheduler.WaiterState{{Tasklet: 5, Case: -1}}}
	b, err := r.DumpChannel(&cs)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)

	bare := pickle.NewRegistry()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, reg := range []*pickle.Registry{r, bare} {
			got, err := reg.InspectTasklet(b)
			if want, werr := reg.Inspect(b); werr == nil {
				if err != nil {
					t.Fatalf("Inspect accepted what InspectTasklet rejected: %v", err)
				}
				if fmt.Sprintf("%+v", want) != fmt.Sprintf("%+v", got) {
					t.Fatalf("Inspect and InspectTasklet disagree:\n%+v\n%+v", want, got)
				}
			}
			gotC, err := reg.InspectChannel(b)
			if want, werr := reg.LoadChannel(b); werr == nil {
				if err != nil {
					t.Fatalf("LoadChannel accepted what InspectChannel rejected: %v", err)
				}
				if fmt.Sprintf("%+v", want) != fmt.Sprintf("%+v", gotC) {
					t.Fatalf("LoadChannel and InspectChannel disagree:\n%+v\n%+v", want, gotC)
				}
			}
		}
	})
}
