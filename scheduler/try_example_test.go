package scheduler_test

import (
	"context"
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

// server takes every request that arrived in one step and waits with Recv
// only when its inbox is empty.
type server struct {
	Inbox channel.ID
	Left  int
	batch []any `stackless:"-"` // scratch of one step, not saved
}

func (s *server) Step(t *tasklet.T) tasklet.Op {
	if v := t.Value(); v != nil { // what the Recv delivered
		fmt.Println("woken by", v)
		s.Left--
	}
	if s.batch == nil {
		s.batch = make([]any, 8)
	}
	for {
		n, err := t.TryRecvMany(s.Inbox, s.batch)
		if err != nil {
			return t.Fail(err)
		}
		if n > 0 {
			fmt.Println("drained", s.batch[:n])
		}
		s.Left -= n
		clear(s.batch[:n])
		if n < len(s.batch) {
			break
		}
	}
	if s.Left == 0 {
		return t.Exit()
	}
	return t.Recv(s.Inbox)
}

// client sends one request.
type client struct {
	Inbox channel.ID
	Name  string
}

func (c *client) Step(t *tasklet.T) tasklet.Op {
	if t.Steps() > 1 {
		return t.Exit()
	}
	return t.Send(c.Inbox, c.Name)
}

func ExampleScheduler_TryRecvMany() {
	s := scheduler.New()
	inbox := s.NewChannel(2)
	s.Channel(inbox).SetPreference(channel.PreferSender) // a client goes on after its send
	names := []string{"a", "b", "c", "d", "e"}
	s.Spawn(&server{Inbox: inbox, Left: len(names)})
	for _, name := range names {
		s.Spawn(&client{Inbox: inbox, Name: name})
	}
	if err := s.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// woken by a
	// drained [b c d e]
}
