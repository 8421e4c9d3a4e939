package flowtest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Heard collects what heralds shout, for the defer scenarios to report:
// deferred calls have no other way out of a function that has returned.
// The scenarios reset it.
var Heard []string

// Herald shouts through a value receiver, saved at the defer.
type Herald struct{ Name string }

func (h Herald) shout(msg string) { Heard = append(Heard, h.Name+": "+msg) }

// Tally counts through a pointer receiver: a deferred call on a variable
// sees the variable as it is when the call runs.
type Tally struct{ N int }

func (c *Tally) add(n int) { c.N += n }

// Producer sends n values and closes its channel with a deferred t.Close,
// on every way out.
//
//stackless:tasklet kind=flowtest.producer version=1
func Producer(t *tasklet.Flow, ch channel.ID, n int) error {
	defer t.Close(ch)
	for i := range n {
		if err := t.Send(ch, i); err != nil {
			return err
		}
	}
	return nil
}

// Consumer sums what arrives until the channel is closed.
//
//stackless:tasklet kind=flowtest.consumer version=1
func Consumer(t *tasklet.Flow, ch, out channel.ID) error {
	sum := 0
	for {
		v, err := t.Recv(ch)
		if errors.Is(err, channel.ErrClosed) {
			return t.Send(out, fmt.Sprint("consumed ", sum))
		}
		if err != nil {
			return err
		}
		sum += v.(int)
	}
}

// Deferrals calls flows whose deferred calls run in every way Go runs
// them, across suspension points, and reports what they did.
//
//stackless:tasklet kind=flowtest.deferrals version=1
func Deferrals(t *tasklet.Flow, out channel.ID) error {
	Heard = nil
	trail, err := layers(t, 3)
	if err := t.Send(out, fmt.Sprint("layers: ", trail, " ", err)); err != nil {
		return err
	}
	trail, err = layers(t, 0)
	if err := t.Send(out, fmt.Sprint("layers: ", trail, " ", err)); err != nil {
		return err
	}
	first, err := readFirst(t, "abc")
	if err := t.Send(out, fmt.Sprint("read: ", first, " ", err)); err != nil {
		return err
	}
	if err := t.Send(out, declared(t, 1)); err != nil {
		return err
	}
	n, c := counted(t, 2)
	if err := t.Send(out, fmt.Sprint("counted: ", n, " ", c)); err != nil {
		return err
	}
	if err := t.Send(out, fmt.Sprint("heard: ", Heard)); err != nil {
		return err
	}
	return nil
}

// layers defers literals that change its named results, the last
// deferred running first, and a herald whose name and message are taken
// at the defer; an error return is wrapped by a deferred literal.
func layers(t *tasklet.Flow, n int) (trail string, err error) {
	h := Herald{Name: "first"}
	defer func() {
		if err != nil {
			err = fmt.Errorf("layers %d: %w", n, err)
		}
		trail += "A"
	}()
	defer h.shout(fmt.Sprint("n was ", n))
	h.Name = "second"
	if n == 0 {
		defer func() { trail += "zero" }()
		return "", errors.New("nothing to do")
	}
	defer func() { trail += "B" }()
	for i := range n {
		if err := t.Yield(); err != nil {
			return trail, err
		}
		trail += fmt.Sprint(i)
	}
	return trail + ".", nil
}

// counted returns unnamed results: they are set before its deferred calls
// run, which therefore cannot change them; a deferred pointer method and
// a literal see the variable as it is at the return.
func counted(t *tasklet.Flow, by int) (int, string) {
	var c Tally
	seen := ""
	defer func() { Heard = append(Heard, fmt.Sprint("counted saw ", c.N, seen)) }()
	defer c.add(by * 10)
	defer sumAll([]int{by, 2}, nil) // fresh values, saved across the yield: they share nothing
	c.add(by)
	if err := t.Yield(); err != nil {
		return -1, err.Error()
	}
	seen = " after the yield"
	c.add(by)
	return c.N, seen
}

// Unwinder panics two frames down: each frame's deferred calls run on the
// way up, the inner first, and the tasklet fails with the panic.
//
//stackless:tasklet kind=flowtest.unwinder version=1
func Unwinder(t *tasklet.Flow, out channel.ID) error {
	Heard = nil
	defer Herald{Name: "outer"}.shout("unwound")
	_ = t.Send(out, "unwinding")
	blowUp(t)
	return nil
}

func blowUp(t *tasklet.Flow) {
	defer Herald{Name: "inner"}.shout("unwound")
	_ = t.Yield()
	panic("boom")
}

// Listener reports what was heard after the others ran.
//
//stackless:tasklet kind=flowtest.listener version=1
func Listener(t *tasklet.Flow, out channel.ID, waits int) error {
	for range waits {
		if err := t.Yield(); err != nil {
			return err
		}
	}
	return t.Send(out, fmt.Sprint("heard: ", Heard))
}

// Victim is killed while it waits: the kill is its Recv's error, which it
// returns, and its deferred calls run.
//
//stackless:tasklet kind=flowtest.victim version=1
func Victim(t *tasklet.Flow, in channel.ID) error {
	Heard = nil
	defer Herald{Name: "victim"}.shout("cleaned up")
	for {
		if _, err := t.Recv(in); err != nil {
			return err
		}
	}
}

// Killer kills the victim once it waits.
//
//stackless:tasklet kind=flowtest.killer version=1
func Killer(t *tasklet.Flow, out channel.ID, victim tasklet.ID) error {
	if err := t.Yield(); err != nil {
		return err
	}
	return t.Send(out, fmt.Sprint("kill: ", t.Host().Kill(victim, false)))
}

// readFirst defers calls on values no save can hold (a *strings.Reader as
// a receiver and as a captured local): no point follows the defers, so
// the frame keeps them out of saves.
func readFirst(t *tasklet.Flow, s string) (string, error) {
	if err := t.Yield(); err != nil {
		return "", err
	}
	r := strings.NewReader(s)
	defer r.Reset("")
	left := 0
	defer func() { Heard = append(Heard, fmt.Sprint("left unread ", left, " of ", r.Size())) }()
	defer note[int](3)
	b, err := r.ReadByte()
	left = r.Len()
	return string(b), err
}

// declared defers a literal reading locals declared in a block without a
// point: with := beside a name it does not read, and with var.
func declared(t *tasklet.Flow, k int) (out string) {
	if k > 0 {
		x, y := k*2, k*3
		var z int
		z += y
		defer func() { out += fmt.Sprint(" x", x, " z", z) }()
		x++
	}
	if err := t.Yield(); err != nil {
		return err.Error()
	}
	return "declared"
}

// note is generic, deferred instantiated by hand.
func note[T any](v T) { Heard = append(Heard, fmt.Sprint("noted ", v)) }

// sumAll notes the sum of xs and of extra's values.
func sumAll(xs []int, extra map[string]int) {
	n := 0
	for _, x := range xs {
		n += x
	}
	for _, x := range extra {
		n += x
	}
	Heard = append(Heard, fmt.Sprint("total ", n))
}
