package scheduler

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Kill delivers tasklet.ErrKilled to the tasklet's next step (Stackless
// kill). A blocked or sleeping tasklet is unblocked first, so the balance of
// its channels moves back toward zero. pending=false runs it next, before
// the caller (from inside a step: right after this step); pending=true only
// makes it runnable. Killing a dead tasklet does nothing.
func (s *Scheduler) Kill(id tasklet.ID, pending bool) error {
	err := s.Throw(id, tasklet.ErrKilled, pending)
	if errors.Is(err, ErrDead) {
		return nil
	}
	return err
}

// Throw delivers err to the tasklet's next step, which may handle it (read
// it with t.Err and go on) or not (and fail with it). See Kill for pending.
func (s *Scheduler) Throw(id tasklet.ID, err error, pending bool) error {
	t, e := s.lookup(id)
	if e != nil {
		return e
	}
	if t == s.current {
		return fmt.Errorf("scheduler: throw into %v: %w; the step itself should return t.Fail or handle the error", id, ErrCurrent)
	}
	if err == nil {
		err = tasklet.ErrKilled
	}
	switch t.State() {
	case tasklet.Blocked, tasklet.Sleeping:
		s.endWait(t, cancelled)
	case tasklet.Runnable:
		// Pending, or already thrown into immediately by this step: deliver
		// and leave it where it is.
		if pending || slices.Contains(s.immediate, t) {
			t.Deliver(nil, err)
			s.touch(t)
			return nil
		}
		s.dequeue(t)
	case tasklet.Paused:
		s.paused--
	}
	t.Deliver(nil, err)
	t.SetChosen(-1)
	t.SetState(tasklet.Runnable)
	s.touch(t)
	switch {
	case pending:
		s.runq.pushBack(t)
	case s.current != nil:
		s.immediate = append(s.immediate, t)
	default:
		s.runq.pushFront(t)
	}
	return nil
}

// dequeue takes a runnable tasklet out of wherever it waits for its turn:
// the run queue, the tasklets thrown into immediately by the running step, or
// the tasklets that already stepped in the current Tick.
func (s *Scheduler) dequeue(t *rec) {
	if s.runq.remove(t) {
		return
	}
	if i := slices.Index(s.immediate, t); i >= 0 {
		s.immediate = slices.Delete(s.immediate, i, i+1)
		return
	}
	if i := slices.Index(s.later, t); i >= 0 {
		s.later = slices.Delete(s.later, i, i+1)
	}
}

// Insert makes a paused or new tasklet runnable at the back of the queue.
func (s *Scheduler) Insert(id tasklet.ID) error {
	t, err := s.lookup(id)
	if err != nil {
		return err
	}
	switch t.State() {
	case tasklet.Blocked, tasklet.Sleeping:
		return fmt.Errorf("scheduler: insert %v: %w; send to it, close its channel or kill it", id, ErrBlocked)
	case tasklet.Runnable:
		return nil
	case tasklet.Paused:
		s.paused--
	}
	t.SetState(tasklet.Runnable)
	s.touch(t)
	s.runq.pushBack(t)
	return nil
}

// Remove takes a runnable tasklet out of the run queue, pausing it until
// Insert. The running tasklet pauses itself by returning t.Pause().
func (s *Scheduler) Remove(id tasklet.ID) error {
	t, err := s.lookup(id)
	if err != nil {
		return err
	}
	if t == s.current {
		return fmt.Errorf("scheduler: remove %v: %w; return t.Pause() from its step instead", id, ErrCurrent)
	}
	switch t.State() {
	case tasklet.Blocked, tasklet.Sleeping:
		return fmt.Errorf("scheduler: remove %v: %w", id, ErrBlocked)
	case tasklet.Paused:
		return nil
	case tasklet.Runnable:
		s.dequeue(t)
	}
	t.SetState(tasklet.Paused)
	s.paused++
	s.touch(t)
	return nil
}

// Close closes a channel: every blocked receiver and sender wakes with
// channel.ErrClosed (at the back of the run queue, in queue order); values
// already buffered can still be received. Values posted from outside that
// were still waiting are reported to the error handler as lost. A channel
// of another node is closed at its home, through the Remote
// (Remote.CloseRemote), as soon as what this node sent there before has
// arrived; Close returns once the close is on its way.
func (s *Scheduler) Close(id channel.ID) error {
	defer s.settle()
	c := s.chans.get(uint64(id))
	if c == nil {
		if s.isRemote(id) {
			return s.remote.CloseRemote(id)
		}
		_, err := s.chanFor(id)
		if errors.Is(err, channel.ErrClosed) {
			return nil
		}
		return err
	}
	s.touchChan(c)
	c.SetClosed(true)
	var w channel.Waiter
	for c.PopReceiver(&w) {
		s.receiverGets(w, nil, channel.ErrClosed)
	}
	for c.PopSender(&w) {
		switch {
		case w.T != nil:
			s.wakeClosed(w)
		case w.Remote() != nil:
			s.remoteFired(w, nil, channel.ErrClosed)
		default:
			s.report(fmt.Errorf("scheduler: value %v posted to %v was dropped: the channel was closed before anyone received it", w.Value, id))
		}
	}
	s.dropIfIdle(c)
	return nil
}

func (s *Scheduler) wakeClosed(w channel.Waiter) {
	recOf(w.T).Deliver(nil, channel.ErrClosed)
	s.wakeWaiter(recOf(w.T), w.Case)
	s.runq.pushBack(recOf(w.T))
}

// Balance is the channel's blocked senders minus blocked receivers.
func (s *Scheduler) Balance(id channel.ID) int {
	if c := s.chans.get(uint64(id)); c != nil {
		return c.Balance() + s.elsewhere[id]
	}
	return 0
}

// AddSendersElsewhere counts d more (or, negative, fewer) senders blocked
// on channel id of this node that wait on their own node, not in the
// channel's queue here (package ipc parks sends there while the channel's
// buffer is full): Balance counts them.
func (s *Scheduler) AddSendersElsewhere(id channel.ID, d int) {
	if s.elsewhere == nil {
		s.elsewhere = make(map[channel.ID]int)
	}
	if k := s.elsewhere[id] + d; k > 0 {
		s.elsewhere[id] = k
	} else {
		delete(s.elsewhere, id)
	}
}

func (s *Scheduler) sleep(t *rec, d time.Duration) {
	t.NextWait()
	if d <= 0 {
		// Nothing to wait for: a yield. (A timer due now would, on a
		// virtual clock, wait until the run queue is empty.)
		s.runq.pushBack(t)
		return
	}
	t.SetState(tasklet.Sleeping)
	var now time.Duration
	if s.vclock != nil { // without the interface call
		now = s.vclock.Now()
	} else {
		now = s.clock.Now()
	}
	s.timerSeq++
	w := &s.timers
	if w.len() >= w.limit { // push, with the timer made after the sweep call
		w.sweep()
	}
	w.file(timer{at: deadline(now, d), seq: s.timerSeq, t: t, wait: t.WaitSeq(), idx: -1})
}

// deadline is now+d, or the latest time there is when that overflows: a
// sleep of math.MaxInt64 waits forever instead of firing at once.
func deadline(now, d time.Duration) time.Duration {
	if at := now + d; d <= 0 || at >= now {
		return at
	}
	return math.MaxInt64
}

func (s *Scheduler) addTimer(t *rec, at time.Duration, idx int) {
	s.timerSeq++
	s.timers.push(timer{at: at, seq: s.timerSeq, t: t, wait: t.WaitSeq(), idx: int32(idx)})
}

// nextTimer is the deadline of the earliest live timer.
func (s *Scheduler) nextTimer() (time.Duration, bool) {
	for tm := s.timers.first(); tm != nil; tm = s.timers.first() {
		if tm.live() {
			return tm.at, true
		}
		s.timers.pop()
	}
	return 0, false
}

// fireTimers wakes every tasklet whose timer is due, earliest first. When
// many are due at once (a game tick), it takes them all out first and reads
// what waking them will touch in passes of independent loads (warmTimers),
// so the cache misses overlap instead of coming one after another.
func (s *Scheduler) fireTimers() {
	if s.timers.len() == 0 {
		return
	}
	s.fireDue(s.clock.Now())
}

// fireDue wakes every tasklet whose timer is due at now.
func (s *Scheduler) fireDue(now time.Duration) {
	if tm := s.timers.head(); tm == nil || tm.at > now {
		return
	}
	s.fireFrom(now)
}

// jump moves the virtual clock to the next live timer and fires what is
// due then: what Run does whenever nothing is runnable. It reports false,
// the clock left where it is, when no live timer is left.
func (s *Scheduler) jump() bool {
	if t := s.jumpAlone(); t != nil {
		s.runq.pushBack(t)
		return true
	}
	return s.jumpSlow()
}

// jumpAlone is jump for the common case among many sleepers: the window's
// next timer live and due alone. It moves the clock, fires the timer and
// returns its tasklet, which the caller runs next or queues; it returns
// nil, having done nothing, in every other case (jumpSlow's).
func (s *Scheduler) jumpAlone() *rec {
	w := &s.timers
	i := w.wi
	if i+1 >= len(w.win) {
		return nil
	}
	tm := &w.win[i]
	if !tm.live() || w.win[i+1].at == tm.at || len(w.due.h) != 0 && w.due.h[0].at <= tm.at {
		return nil // stale, not first, or not alone
	}
	if s.vclock.moveTo(tm.at) != tm.at { // set ahead meanwhile: others may be due
		return nil
	}
	w.took(i)
	return s.awake(tm)
}

// jumpSlow is jump for every case: stale timers dropped, ties and timers
// set into the window since it was sorted fired in order, and the next
// window made.
func (s *Scheduler) jumpSlow() bool {
	w := &s.timers
	for {
		tm := w.head()
		if tm == nil {
			return false
		}
		if tm.live() {
			s.fireFrom(s.vclock.moveTo(tm.at))
			return true
		}
		w.pop()
	}
}

// fireFrom wakes every tasklet whose timer is due at now, the first timer
// being due. The one timer due alone is fired without the batch.
func (s *Scheduler) fireFrom(now time.Duration) {
	w := &s.timers
	one := w.pop()
	if next := w.head(); next == nil || next.at > now {
		s.fire(&one)
		return
	}
	due := w.popDue(append(w.batch[:0], one), now)
	s.warmTimers(due)
	for i := range due {
		s.fire(&due[i])
		due[i] = timer{} // let finished tasklets go
	}
}

// fire wakes the tasklet of tm unless tm is stale.
func (s *Scheduler) fire(tm *timer) {
	if tm.live() {
		s.ring(tm)
	}
}

// ring wakes the tasklet of tm, a live timer, into the run queue.
func (s *Scheduler) ring(tm *timer) {
	t := s.awake(tm)
	if s.runq.room() {
		s.runq.storeBack(t)
	} else {
		s.runq.pushBack(t)
	}
}

// awake makes the tasklet of tm, a live timer, runnable and returns it.
func (s *Scheduler) awake(tm *timer) *rec {
	t := tm.t
	if tm.idx >= 0 { // a select's timeout case
		s.endWait(t, int(tm.idx))
	} else {
		t.NextWait()
	}
	t.SetChosen(int(tm.idx))
	t.SetState(tasklet.Runnable)
	s.touch(t)
	return t
}

// Post sends v on a channel from outside the scheduler (a game engine's
// input, a network reader). It is safe from any goroutine and never blocks:
// the value is handed over between steps; if no receiver waits and the
// buffer is full it waits in the channel like a blocked sender, so nothing
// is lost.
func (s *Scheduler) Post(ch channel.ID, v any) {
	s.enqueue(inboxItem{ch: ch, v: v})
}

// Do runs fn on the scheduler's goroutine between two steps. It is safe from
// any goroutine; fn may call any method of s.
func (s *Scheduler) Do(fn func(*Scheduler)) {
	s.enqueue(inboxItem{fn: fn})
}

// Hold tells Run that outside input may still arrive, so an empty run queue
// is a wait, not a deadlock. Call the returned function when the source is
// gone. Safe from any goroutine.
func (s *Scheduler) Hold() (release func()) {
	s.holds.Add(1)
	released := false
	return func() {
		s.Do(func(*Scheduler) {
			if !released {
				released = true
				s.holds.Add(-1)
			}
		})
	}
}

type inboxItem struct {
	ch channel.ID
	v  any
	fn func(*Scheduler)
}

func (s *Scheduler) enqueue(it inboxItem) {
	s.inboxMu.Lock()
	s.inbox = append(s.inbox, it)
	s.inboxN.Add(1)
	s.inboxMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) drainInbox() {
	s.inboxMu.Lock()
	items := s.inbox
	s.inbox = nil
	s.inboxN.Store(0)
	s.inboxMu.Unlock()
	for _, it := range items {
		if it.fn != nil {
			it.fn(s)
			continue
		}
		s.postLocal(it.ch, it.v)
	}
}

// postLocal delivers a posted value: to a waiting receiver (made runnable at
// the back), into the buffer, or queued as a sender without a tasklet.
func (s *Scheduler) postLocal(id channel.ID, v any) {
	c, err := s.chanFor(id)
	if err != nil {
		s.report(fmt.Errorf("scheduler: posted value %v was dropped: %w", v, err))
		return
	}
	s.touchChan(c)
	if c.Closed() {
		s.report(fmt.Errorf("scheduler: posted value %v was dropped: %v is closed", v, id))
		return
	}
	var w channel.Waiter
	if c.PopReceiver(&w) {
		s.receiverGets(w, v, nil)
		return
	}
	if !c.BufFull() {
		c.BufPush(v)
		return
	}
	c.PushSender(channel.Waiter{Value: v, Case: -1})
}

// PostLocal is Post for the scheduler's own goroutine: the value is handed
// over at once (package ipc delivers remote sends with it).
func (s *Scheduler) PostLocal(ch channel.ID, v any) {
	s.postLocal(ch, v)
	s.settle()
}
