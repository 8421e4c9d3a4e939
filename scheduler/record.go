package scheduler

import (
	"unsafe"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

// rec is a tasklet record as the scheduler keeps it. A *tasklet.T is the
// same record as its behavior sees it, with only the behavior's methods;
// both are internal/core's record, so converting between them costs
// nothing. The methods here give the record's fields their tasklet types.
type rec core.Rec[tasklet.Behavior, tasklet.Host, tasklet.Case]

type coreRec = core.Rec[tasklet.Behavior, tasklet.Host, tasklet.Case]

// hostRef is the scheduler's shared pointer to itself as every record's Host.
type hostRef = core.HostRef[tasklet.Host]

// block hands out records a block at a time.
type block = core.Block[tasklet.Behavior, tasklet.Host, tasklet.Case]

// recOf is the scheduler's view of a tasklet record.
func recOf(t *tasklet.T) *rec { return (*rec)(t) }

// recsOf is recOf for a slice: the same memory, no copy.
func recsOf(ts []*tasklet.T) []*rec {
	if len(ts) == 0 {
		return nil
	}
	return unsafe.Slice((**rec)(unsafe.Pointer(&ts[0])), len(ts))
}

func (r *rec) c() *coreRec { return (*coreRec)(r) }

// T is the record as the tasklet's behavior sees it.
func (r *rec) T() *tasklet.T { return (*tasklet.T)(r) }

func (r *rec) ID() tasklet.ID                 { return tasklet.ID(r.c().ID()) }
func (r *rec) Behavior() tasklet.Behavior     { return r.c().Behavior() }
func (r *rec) SetBehavior(b tasklet.Behavior) { r.c().SetBehavior(b) }
func (r *rec) SetHost(h *hostRef)             { r.c().SetHost(h) }
func (r *rec) State() tasklet.State           { return tasklet.State(r.c().State()) }
func (r *rec) SetState(s tasklet.State)       { r.c().SetState(uint8(s)) }
func (r *rec) Steps() uint64                  { return r.c().Steps() }
func (r *rec) SetSteps(n uint64)              { r.c().SetSteps(n) }
func (r *rec) Deliver(v any, err error)       { r.c().Deliver(v, err) }
func (r *rec) Delivered() (any, error)        { return r.c().Delivered() }
func (r *rec) Chosen() int                    { return r.c().Chosen() }
func (r *rec) SetChosen(i int)                { r.c().SetChosen(i) }
func (r *rec) Atomic() bool                   { return r.c().HasFlag(core.FlagAtomic) }
func (r *rec) BlockTrap() bool                { return r.c().HasFlag(core.FlagBlockTrap) }
func (r *rec) Flags() uint8                   { return r.c().Flags() }
func (r *rec) SetFlags(f uint8)               { r.c().SetFlags(f) }
func (r *rec) SetDirty() bool                 { return r.c().SetDirty() }
func (r *rec) MarkClean()                     { r.c().MarkClean() }
func (r *rec) WaitSelect()                    { r.c().WaitSelect() }
func (r *rec) Plain() bool                    { return r.c().Plain() }
func (r *rec) SelectCases() []tasklet.Case    { return r.c().SelectCases() }
func (r *rec) WaitSeq() uint32                { return r.c().WaitSeq() }
func (r *rec) NextWait() uint32               { return r.c().NextWait() }
func (r *rec) SetWaitSeq(s uint32)            { r.c().SetWaitSeq(s) }
func (r *rec) Marked() bool                   { return r.c().HasFlag(core.FlagMark) }
func (r *rec) SetMark(on bool)                { r.c().SetFlag(core.FlagMark, on) }

// WaitOn records a plain wait on local channel c, naming it by the ID the
// channel holds: no allocation on the path of every blocking Send and Recv.
func (r *rec) WaitOn(c *channel.Channel, send bool) { r.c().WaitOn(c.IDRef(), send) }

// WaitOnID records a plain wait on a channel with no object here (another
// node's, or one a restore has not made yet): its ID gets 8 bytes of its own.
func (r *rec) WaitOnID(ch channel.ID, send bool) {
	id := uint64(ch)
	r.c().WaitOn(&id, send)
}

// Cases describes the current wait: one case for a plain Send or Recv
// (without the value, which the channel holds), else the select's cases.
func (r *rec) Cases() []tasklet.Case {
	if cs, ok := r.plainCase(); ok {
		return []tasklet.Case{cs}
	}
	if cs, ok := r.carried(); ok {
		return []tasklet.Case{cs}
	}
	return r.c().SelectCases()
}

// casesIn is Cases with a plain wait's case put in *one, for callers that
// only read the cases: one on their stack, they allocate nothing per
// tasklet (a checkpoint's effects, a restore's checks, a kill).
func (r *rec) casesIn(one *[1]tasklet.Case) []tasklet.Case {
	if cs, ok := r.plainCase(); ok {
		one[0] = cs
		return one[:]
	}
	if cs, ok := r.carried(); ok {
		one[0] = cs
		return one[:]
	}
	return r.c().SelectCases()
}

// plainCase is the one case of a plain Send or Recv wait; ok is false for
// a select.
func (r *rec) plainCase() (cs tasklet.Case, ok bool) {
	ch, send, ok := r.c().PlainWait()
	if !ok {
		return cs, false
	}
	cs = tasklet.Case{Dir: tasklet.DirRecv, Chan: tasklet.ChanID(ch)}
	if send {
		cs.Dir = tasklet.DirSend
	}
	return cs, true
}

// SetCases restores a wait: a single case becomes a plain wait when plain
// is set, else the cases are the select's.
func (r *rec) SetCases(c []tasklet.Case, plain bool) {
	if plain && len(c) == 1 {
		r.WaitOnID(c[0].Chan, c[0].Dir == tasklet.DirSend)
		return
	}
	r.WaitSelect()
	r.c().SetSelect(c)
}

// Step runs one step of the behavior and returns its Op and the delivered
// error if the step did not read it. It clears the delivery afterwards.
func (r *rec) Step() (op tasklet.Op, unread error) {
	c := r.c()
	c.BeginStep()
	op = c.Behavior().Step(r.T())
	return op, c.EndStep()
}

// makeRec returns a fresh record, in state New, from the scheduler's block.
func (s *Scheduler) makeRec(id tasklet.ID, b tasklet.Behavior) *rec {
	return (*rec)(s.block.Make(uint64(id), b, s.host))
}

// recycle gives the record of a tasklet that just ended (always the one
// whose step ran: every death goes through its own step) back to the block
// for the next Spawn, unless it may still be named by stale entries
// (core's Reuse). Its ID stays readable until then, which the run loop
// needs right after. Not with change tracking, whose list of changed
// records would name a reused record twice, and never the host's record.
// A record not taken back forgets its tasklet's state: it stays in memory
// while a live record shares its block, or a stale entry names it.
func (s *Scheduler) recycle(t *rec) {
	if t == s.hostT {
		return
	}
	if s.track || !s.block.Reuse(t.c()) {
		s.block.Ended()
		t.c().Forget()
	}
}
