package tasklet

// The methods in this file are the scheduler's side of T: package scheduler
// (and pickle, when it restores a tasklet) call them. Behaviors must not.

// NewHost wraps h for Make; a scheduler makes one and shares it.
func NewHost(h Host) *HostRef { return &HostRef{r: &hostRef{h}} }

// HostRef is a shared reference to a Host.
type HostRef struct{ r *hostRef }

// Make returns a new tasklet record in state New.
func Make(id ID, b Behavior, h *HostRef) *T {
	return &T{id: id, b: b, host: h.r, chosen: -1}
}

// blockSize is how many records a Block allocates at once: enough to make
// the allocation per spawn small, few enough that a long-lived tasklet keeps
// only a few kilobytes of dead neighbours in memory.
const blockSize = 32

// Block hands out tasklet records from blocks allocated blockSize at a
// time, so a program that spawns a million tasklets makes a thirty-second
// of the allocations. A block stays in memory while any of its records is
// referenced. The zero Block is ready to use; it is not safe for
// concurrent use (a scheduler has one).
type Block struct{ free []T }

// Make is Make with a record from the block.
func (a *Block) Make(id ID, b Behavior, h *HostRef) *T {
	if len(a.free) == 0 {
		a.free = make([]T, blockSize)
	}
	t := &a.free[0]
	a.free = a.free[1:]
	t.id, t.b, t.host, t.chosen = id, b, h.r, -1
	return t
}

// State is the tasklet's life-cycle state.
func (t *T) State() State { return t.state }

// SetState moves the tasklet to s.
func (t *T) SetState(s State) { t.state = s }

// Deliver sets what the next step sees as Value and Err.
func (t *T) Deliver(v any, err error) {
	t.value, t.err = v, err
	t.flags &^= flagErrRead
}

// Delivered returns the pending value and error without marking the error read.
func (t *T) Delivered() (any, error) { return t.value, t.err }

// SetChosen records which select case fired (-1: none).
func (t *T) SetChosen(i int) { t.chosen = int32(i) }

// WaitOn records a plain Send or Recv wait on ch (the value a sender offers
// lives in the channel's queue).
func (t *T) WaitOn(ch ChanID, send bool) {
	t.wch = ch
	t.flags &^= flagWaitSend | flagWaitRecv
	if send {
		t.flags |= flagWaitSend
	} else {
		t.flags |= flagWaitRecv
	}
}

// WaitSelect records that the wait is the select of the last t.Select.
func (t *T) WaitSelect() { t.flags &^= flagWaitSend | flagWaitRecv }

// Plain reports whether the current wait is a plain Send or Recv.
func (t *T) Plain() bool { return t.flags&(flagWaitSend|flagWaitRecv) != 0 }

// Cases describes the current wait: one case for a plain Send or Recv
// (without the value, which the channel holds), else the select's cases.
func (t *T) Cases() []Case {
	switch {
	case t.flags&flagWaitSend != 0:
		return []Case{{Dir: DirSend, Chan: t.wch}}
	case t.flags&flagWaitRecv != 0:
		return []Case{{Dir: DirRecv, Chan: t.wch}}
	case t.sel != nil:
		return t.sel.cases
	}
	return nil
}

// SelectCases returns the cases of the last Select without allocating.
func (t *T) SelectCases() []Case {
	if t.sel == nil {
		return nil
	}
	return t.sel.cases
}

// SetCases restores a wait: a single case becomes a plain wait when plain
// is set, else the cases are the select's.
func (t *T) SetCases(c []Case, plain bool) {
	if plain && len(c) == 1 {
		t.WaitOn(c[0].Chan, c[0].Dir == DirSend)
		return
	}
	t.WaitSelect()
	if len(c) == 0 && t.sel == nil {
		return
	}
	if t.sel == nil {
		t.sel = new(selectBuf)
	}
	t.sel.cases = append(t.sel.cases[:0], c...)
}

// WaitSeq identifies the tasklet's current wait; a queue entry with another
// sequence is stale.
func (t *T) WaitSeq() uint32 { return t.wait }

// NextWait starts a new wait (making older queue entries stale) and returns
// its sequence.
func (t *T) NextWait() uint32 {
	t.wait++
	return t.wait
}

// SetWaitSeq restores the wait sequence.
func (t *T) SetWaitSeq(s uint32) { t.wait = s }

// Mark and SetMark are scratch space for the scheduler (the tick a tasklet
// last ran in).
func (t *T) Mark() uint32           { return t.mark }
func (t *T) SetMark(m uint32)       { t.mark = m }
func (t *T) SetSteps(n uint64)      { t.steps = n }
func (t *T) SetHost(h *HostRef)     { t.host = h.r }
func (t *T) SetBehavior(b Behavior) { t.b = b }

// Step runs one step of the behavior and returns its Op and the delivered
// error if the step did not read it. It clears the delivery afterwards.
func (t *T) Step() (op Op, unread error) {
	t.steps++
	op = t.b.Step(t)
	if t.err != nil {
		if t.flags&flagErrRead == 0 {
			unread = t.err
		}
		t.err = nil
	}
	if t.value != nil {
		t.value = nil
	}
	return op, unread
}

// Dirty reports whether the tasklet changed since MarkClean.
func (t *T) Dirty() bool { return t.flags&flagDirty != 0 }

// SetDirty marks the tasklet changed and reports whether it was clean.
func (t *T) SetDirty() (wasClean bool) {
	wasClean = t.flags&flagDirty == 0
	t.flags |= flagDirty
	return wasClean
}

// MarkClean clears the changed mark.
func (t *T) MarkClean() { t.flags &^= flagDirty }

// Flags are the persistent flags (atomic, block trap) for serialization.
func (t *T) Flags() uint8 { return t.flags & (flagAtomic | flagBlockTrap) }

// SetFlags restores the persistent flags.
func (t *T) SetFlags(f uint8) {
	t.flags = t.flags&^(flagAtomic|flagBlockTrap) | f&(flagAtomic|flagBlockTrap)
}
