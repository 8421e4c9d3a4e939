package tasklet

import (
	"errors"
	"fmt"
	"time"
)

// ID identifies a tasklet, unique across a cluster: the top 16 bits are the
// node that created it, the rest a per-node sequence. The zero ID means "none".
type ID uint64

// ChanID identifies a channel, unique across a cluster, laid out like [ID].
// Package channel re-exports it as channel.ID.
type ChanID uint64

// NodeBits is how many low bits of an ID hold the per-node sequence.
const NodeBits = 48

// Node returns the node that created the tasklet.
func (id ID) Node() uint16 { return uint16(id >> NodeBits) }

// Node returns the node that created the channel (its home node).
func (id ChanID) Node() uint16 { return uint16(id >> NodeBits) }

func (id ID) String() string     { return fmt.Sprintf("t%d", uint64(id)) }
func (id ChanID) String() string { return fmt.Sprintf("ch%d", uint64(id)) }

// Behavior is a tasklet's code and, in its exported fields, its whole state.
// Step runs to the next suspension point and returns what the tasklet waits
// for. Step must not keep pointers to the T or block the goroutine.
type Behavior interface {
	Step(t *T) Op
}

// Errors delivered to tasklets and returned by the runtime.
var (
	// ErrKilled is delivered by a kill (Stackless TaskletExit). A tasklet that
	// does not read it exits silently; one that reads it may go on.
	ErrKilled = errors.New("tasklet killed")
	// ErrBlockTrap is delivered when a tasklet with the block trap set tries
	// an operation that would block.
	ErrBlockTrap = errors.New("tasklet: operation would block and the block trap is set")
)

// State is where a tasklet is in its life cycle.
type State uint8

// Life-cycle states.
const (
	New      State = iota // created, never stepped, not yet in the run queue
	Runnable              // in the run queue (or running)
	Blocked               // waiting on a channel or a select
	Sleeping              // waiting for a timer
	Paused                // alive, in no queue (removed, or interrupted by the watchdog)
	Dead                  // finished
)

var stateNames = [...]string{"new", "runnable", "blocked", "sleeping", "paused", "dead"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ParseState is the inverse of State.String.
func ParseState(s string) (State, error) {
	for i, n := range stateNames {
		if n == s {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("tasklet: unknown state %q", s)
}

// Alive reports whether the tasklet has not finished.
func (s State) Alive() bool { return s != Dead }

// Host is what a step may ask of the scheduler that runs it. Package
// scheduler implements it; tests may fake it.
type Host interface {
	Spawn(b Behavior) ID
	NewChannel(capacity int) ChanID
	Close(ch ChanID) error
	Balance(ch ChanID) int
	Kill(id ID, pending bool) error
	Throw(id ID, err error, pending bool) error
	Insert(id ID) error
	Now() time.Duration
}
