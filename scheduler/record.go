package scheduler

import (
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

func (r *rec) c() *coreRec { return (*coreRec)(r) }

// T is the record as the tasklet's behavior sees it.
func (r *rec) T() *tasklet.T { return (*tasklet.T)(r) }

func (r *rec) ID() tasklet.ID                  { return tasklet.ID(r.c().ID()) }
func (r *rec) Behavior() tasklet.Behavior      { return r.c().Behavior() }
func (r *rec) SetBehavior(b tasklet.Behavior)  { r.c().SetBehavior(b) }
func (r *rec) SetHost(h *hostRef)              { r.c().SetHost(h) }
func (r *rec) State() tasklet.State            { return tasklet.State(r.c().State()) }
func (r *rec) SetState(s tasklet.State)        { r.c().SetState(uint8(s)) }
func (r *rec) Steps() uint64                   { return r.c().Steps() }
func (r *rec) SetSteps(n uint64)               { r.c().SetSteps(n) }
func (r *rec) Deliver(v any, err error)        { r.c().Deliver(v, err) }
func (r *rec) Delivered() (any, error)         { return r.c().Delivered() }
func (r *rec) Chosen() int                     { return r.c().Chosen() }
func (r *rec) SetChosen(i int)                 { r.c().SetChosen(i) }
func (r *rec) Atomic() bool                    { return r.c().HasFlag(core.FlagAtomic) }
func (r *rec) BlockTrap() bool                 { return r.c().HasFlag(core.FlagBlockTrap) }
func (r *rec) Flags() uint8                    { return r.c().Flags() }
func (r *rec) SetFlags(f uint8)                { r.c().SetFlags(f) }
func (r *rec) SetDirty() bool                  { return r.c().SetDirty() }
func (r *rec) MarkClean()                      { r.c().MarkClean() }
func (r *rec) WaitOn(ch channel.ID, send bool) { r.c().WaitOn(uint64(ch), send) }
func (r *rec) WaitSelect()                     { r.c().WaitSelect() }
func (r *rec) Plain() bool                     { return r.c().Plain() }
func (r *rec) SelectCases() []tasklet.Case     { return r.c().SelectCases() }
func (r *rec) WaitSeq() uint32                 { return r.c().WaitSeq() }
func (r *rec) NextWait() uint32                { return r.c().NextWait() }
func (r *rec) SetWaitSeq(s uint32)             { r.c().SetWaitSeq(s) }
func (r *rec) Marked() bool                    { return r.c().HasFlag(core.FlagMark) }
func (r *rec) SetMark(on bool)                 { r.c().SetFlag(core.FlagMark, on) }

// Cases describes the current wait: one case for a plain Send or Recv
// (without the value, which the channel holds), else the select's cases.
func (r *rec) Cases() []tasklet.Case {
	if ch, send, ok := r.c().PlainWait(); ok {
		if send {
			return []tasklet.Case{{Dir: tasklet.DirSend, Chan: tasklet.ChanID(ch)}}
		}
		return []tasklet.Case{{Dir: tasklet.DirRecv, Chan: tasklet.ChanID(ch)}}
	}
	return r.c().SelectCases()
}

// SetCases restores a wait: a single case becomes a plain wait when plain
// is set, else the cases are the select's.
func (r *rec) SetCases(c []tasklet.Case, plain bool) {
	if plain && len(c) == 1 {
		r.WaitOn(c[0].Chan, c[0].Dir == tasklet.DirSend)
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
func (s *Scheduler) recycle(t *rec) {
	if s.track || t == s.hostT {
		return
	}
	s.block.Reuse(t.c())
}
