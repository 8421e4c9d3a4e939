package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// PingSender sends 1 on ch n times: one half of the ping-pong benchmark.
//
//stackless:tasklet kind=flowtest.pingsender version=1
func PingSender(t *tasklet.Flow, ch channel.ID, n int) error {
	for range n {
		if err := t.Send(ch, 1); err != nil {
			return err
		}
	}
	return nil
}

// PingReceiver receives n ints on ch and checks their sum.
//
//stackless:tasklet kind=flowtest.pingreceiver version=1
func PingReceiver(t *tasklet.Flow, ch channel.ID, n int) error {
	sum := 0
	for range n {
		v, err := tasklet.RecvAs[int](t, ch)
		if err != nil {
			return err
		}
		sum += v
	}
	if sum != n {
		return fmt.Errorf("received %d, want %d", sum, n)
	}
	return nil
}

// Yielder yields n times, each through depth-1 nested calls.
//
//stackless:tasklet kind=flowtest.yielder version=1
func Yielder(t *tasklet.Flow, n, depth int) error {
	for i := 0; i < n; i++ {
		var err error
		switch depth {
		case 1:
			err = t.Yield()
		case 2:
			err = deep2(t, i)
		case 3:
			err = deep3(t, i)
		default:
			err = deep4(t, i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func deep4(t *tasklet.Flow, x int) error { return deep3(t, x+1) }

func deep3(t *tasklet.Flow, x int) error { return deep2(t, x+1) }

func deep2(t *tasklet.Flow, x int) error {
	if err := t.Yield(); err != nil {
		return err
	}
	if x < 0 {
		return fmt.Errorf("negative %d", x)
	}
	return nil
}

// Flat holds the live data of Deep (four ints) in one frame, for the dump
// benchmark.
//
//stackless:tasklet kind=flowtest.flat version=1
func Flat(t *tasklet.Flow, a, b, c, d int) error {
	_ = t.Yield()
	return t.Send(channel.ID(a+b+c+d), 0)
}

// Deep holds four ints in four frames, one each, for the dump benchmark.
//
//stackless:tasklet kind=flowtest.deep version=1
func Deep(t *tasklet.Flow, a int) error {
	_ = frameA(t, a+1)
	return t.Send(channel.ID(a), 0)
}

func frameA(t *tasklet.Flow, x int) error {
	_ = frameB(t, x+1)
	return t.Send(channel.ID(x), 0)
}

func frameB(t *tasklet.Flow, x int) error {
	_ = frameC(t, x+1)
	return t.Send(channel.ID(x), 0)
}

func frameC(t *tasklet.Flow, x int) error {
	_ = t.Yield()
	return t.Send(channel.ID(x), 0)
}

// RecYielder is Yielder with its nested calls made by recursion: each
// frame below the tasklet's is held by pointer, made at its call.
//
//stackless:tasklet kind=flowtest.recyielder version=1
func RecYielder(t *tasklet.Flow, n, depth int) error {
	for i := 0; i < n; i++ {
		if err := sink(t, depth-1); err != nil {
			return err
		}
	}
	return nil
}

func sink(t *tasklet.Flow, k int) error {
	if k <= 0 {
		return t.Yield()
	}
	return sink(t, k-1)
}

// DeferYielder is Yielder at depth 2 with a deferred call in the callee
// (one that changes its named result), for the cost of a defer.
//
//stackless:tasklet kind=flowtest.deferyielder version=1
func DeferYielder(t *tasklet.Flow, n int) error {
	calls := 0
	for i := 0; i < n; i++ {
		c, err := deferred2(t, i)
		if err != nil {
			return err
		}
		calls += c
	}
	if calls != n {
		return fmt.Errorf("the deferred calls ran %d times, want %d", calls, n)
	}
	return nil
}

func deferred2(t *tasklet.Flow, x int) (ran int, err error) {
	defer func() { ran++ }()
	if err := t.Yield(); err != nil {
		return 0, err
	}
	if x < 0 {
		return 0, fmt.Errorf("negative %d", x)
	}
	return 0, nil
}
