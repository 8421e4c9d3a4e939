package scheduler_test

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// announcer tells every inbox the news in one step: TrySend never blocks
// and never switches, so one step can feed many channels.
type announcer struct {
	Inboxes []channel.ID
	News    string
}

func (a *announcer) Step(t *tasklet.T) tasklet.Op {
	for _, in := range a.Inboxes {
		if ok, err := t.TrySend(in, a.News); !ok || err != nil {
			return t.Fail(fmt.Errorf("inbox %v full or closed: %v", in, err))
		}
	}
	return t.Exit()
}

// listener drains its inbox in one step with TryRecv.
type listener struct {
	Name  string
	Inbox channel.ID
}

func (l *listener) Step(t *tasklet.T) tasklet.Op {
	for {
		v, ok, _ := t.TryRecv(l.Inbox)
		if !ok {
			return t.Exit()
		}
		fmt.Printf("%s heard %v\n", l.Name, v)
	}
}

func ExampleScheduler_TrySend() {
	s := scheduler.New()
	a := &announcer{News: "dawn"}
	var ls []*listener
	for _, name := range []string{"ann", "bob"} {
		in := s.NewChannel(4)
		a.Inboxes = append(a.Inboxes, in)
		ls = append(ls, &listener{Name: name, Inbox: in})
	}
	s.Spawn(a)
	for _, l := range ls {
		s.Spawn(l)
	}
	if err := s.Tick(); err != nil { // one round: every tasklet steps once
		fmt.Println(err)
	}
	// Output:
	// ann heard dawn
	// bob heard dawn
}
