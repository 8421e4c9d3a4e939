package scheduler

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Scheduler runs tasklets cooperatively on one goroutine. All its methods
// must be called from that goroutine (or between runs), except Post, Do and
// Hold (and the release function Hold returns), which are safe from any
// goroutine.
type Scheduler struct {
	node      uint16
	nextT     uint64 // last tasklet sequence handed out
	nextC     uint64
	runq      runQueue
	timers    timerWheel
	timerSeq  uint64
	clock     Clock
	vclock    *VirtualClock
	current   *rec
	prev      tasklet.ID
	immediate []*rec // thrown into "immediately" during the current step, in order
	tick      uint32
	steps     uint64
	sliceRun  int // rotation after this many consecutive steps in Run; the largest int for none: burst's one test a step
	paused    int

	onSchedule func(prev, next tasklet.ID)
	onChannel  func(ChannelEvent)
	onPause    func(tasklet.ID)
	onError    func(error)
	remote     Remote
	sendNow    RemoteSender        // remote, if it is one
	flushFn    func()              // see SetFlush
	pollFn     func(PollMode) bool // see SetPoll
	kindName   func(tasklet.Behavior) string
	ckpt       checkpointer
	host       *hostRef
	block      block // records for Spawn
	slabs      []any // behaviors for Make: a *core.Slab[B] for each B made while building a world
	lastCh     *channel.Channel
	rchans     remoteChans     // what waits on other nodes' channels share (carry.go)
	oneCase    [1]tasklet.Case // a remote wait's one case, for Remote.Op (blockRemote)
	noCh       channel.ID      // the last ID opSend found no channel for (0: none); a channel made here clears it
	// The buffered channel a TryRecvMany last drained, when no hook,
	// value check or tracking was on (see fanin.go): a fan-in server's
	// inbox, whose sends burst tries first without opSend's call.
	fillCh    *channel.Channel
	fillID    channel.ID                  // fillCh's, tested first: one compare for other sends
	next      *rec                        // runs next, ahead of the run queue (set by place, consumed by exec)
	rwaits    map[RemoteWait]*remoteGroup // waits of remote tasklets queued here
	elsewhere map[channel.ID]int          // senders waiting on other nodes (AddSendersElsewhere)
	later     []*rec                      // tasklets that already stepped in this Tick
	ticked    []*rec                      // the tasklets that stepped in this Tick, whose mark it clears

	failed  []error // failures awaiting the error handler or Run's caller
	running int     // nesting depth of Run, RunBudget and Tick
	hostT   *rec    // the host's record while it waits in Recv or Send (made on first use)

	track bool
	plain bool // no channel hook, value check or tracking (updatePlain)
	// plainRecv is plain but for a value check, which only sends need:
	// burst's paths for a receive, sleep and exit hold (a node's receiver).
	plainRecv bool
	dirtyT    []*rec
	dirtyC    []*channel.Channel
	deadT     []tasklet.ID
	deadC     []channel.ID

	// The only state shared with other goroutines.
	inboxMu sync.Mutex
	inbox   []inboxItem
	inboxN  atomic.Int32
	wake    chan struct{}
	holds   atomic.Int32

	// Last, so that adding it moved no hot field: set before running, read
	// by every send (valuecheck.go).
	checkValue func(any) error
	fx         *effectPool // effects (effect_pool.go); nil without WithEffects

	// Counters the observer reads (counters.go), after the hot fields so
	// that adding them moved none; each is a plain add on this goroutine.
	switches uint64 // tasklets switched in
	chanOps  uint64 // sends, receives and selects the tasklets did

	depthFirst bool // WithDepthFirst

	// The senders a TryRecvMany took values from, to wake (reused): as
	// channel.Drain lists them.
	woke       []*tasklet.T
	wokeOthers []channel.Waiter

	// Last: their page caches are a few cache lines that the hot fields
	// above need not share.
	tasks table[rec]
	chans table[channel.Channel]
}

// ChannelEvent is what the channel hook sees before every send and receive.
type ChannelEvent struct {
	Chan      channel.ID
	Tasklet   tasklet.ID
	Sending   bool
	WillBlock bool
}

// Remote carries operations on channels whose home is another node. Package
// ipc implements it.
type Remote interface {
	// Op is called when tasklet t does a Send, Recv or Select involving a
	// remote channel; t is blocked (state Blocked) until the remote side
	// answers through Scheduler.Complete. cases is the scheduler's: keep
	// what it needs (a copy, a value), not the slice.
	Op(t tasklet.ID, wait uint32, cases []tasklet.Case)
	// Cancel is called when t stops waiting (killed, or another case fired).
	Cancel(t tasklet.ID, wait uint32, cases []tasklet.Case)
	// Done is called on a channel's home node when the queued wait w of a
	// tasklet on node w.Node completed: case idx with value v or error err.
	// The tasklet's node finishes it with Scheduler.Complete.
	Done(w RemoteWait, idx int, v any, err error)
	// CloseRemote is called when a tasklet closes channel ch of another
	// node. It sends the close to the channel's home, behind everything
	// this node sent there before, so the values this node's tasklets sent
	// first are still received, and this node's sends after it fail with
	// channel.ErrClosed. It fails only when the close cannot be sent.
	CloseRemote(ch channel.ID) error
}

// Option configures a Scheduler.
type Option func(*Scheduler)

// WithNode sets the node number that prefixes every ID this scheduler hands
// out (default 0). Each node of a cluster needs its own.
func WithNode(n uint16) Option { return func(s *Scheduler) { s.node = n } }

// WithClock sets the clock; the default is a virtual clock starting at 0.
func WithClock(c Clock) Option { return func(s *Scheduler) { s.clock = c } }

// WithTimeslice makes Run rotate a tasklet that returns Continue to the back
// of the queue after n consecutive steps, so a busy tasklet cannot starve
// others. 0 (the default) lets Continue run on, as in Stackless.
func WithTimeslice(n int) Option {
	return func(s *Scheduler) {
		if n <= 0 {
			n = math.MaxInt
		}
		s.sliceRun = n
	}
}

// WithDepthFirst puts a tasklet that becomes runnable at the front of the
// run queue, ahead of the tasklets already waiting for their turn, as Go
// runs a new goroutine, and a receiver a send woke, next: a spawned tasklet
// (the newest first: a step that spawns A then B runs B, then A), and the
// partner of a rendezvous in which the caller continues (a channel with
// preference 1 or 0; with the default, -1, the partner runs at once
// anyway). A tree of spawns whose results go up channels with preference 1
// (the sender goes on, as a goroutine's send does) then runs depth first and
// keeps few tasklets alive at once (Skynet: a few dozen instead of all
// 1,111,111), their records reused as they end. It departs from Stackless,
// whose round robin appends both at the back (the default here too), and it
// is not part of a saved world: restore a world into a scheduler with the
// option it ran with to keep the same schedule.
func WithDepthFirst() Option { return func(s *Scheduler) { s.depthFirst = true } }

// WithErrorHandler receives every failure (a *TaskletError, a *HookError, a
// dropped posted value) instead of Run returning it (Stackless
// set_error_handler). It is called once per failure, on the scheduler's
// goroutine, between two steps (inside Run, RunBudget, Tick, Recv or Send)
// or at the end of the host call that caused it (Close, PostLocal, Drain),
// never in the middle of an operation. If it panics, the panic leaves that
// call with the world consistent, and the failures not yet handed over go
// to the next.
func WithErrorHandler(fn func(error)) Option { return func(s *Scheduler) { s.onError = fn } }

// WithScheduleHook is called at every switch with the tasklet that ran last
// and the one about to run (Stackless set_schedule_callback). A panic in it
// is reported as a *HookError (to the error handler, or as Run's error) and
// the switch goes on, as Stackless does with an error in its callback.
func WithScheduleHook(fn func(prev, next tasklet.ID)) Option {
	return func(s *Scheduler) { s.onSchedule = fn }
}

// WithPauseHook is called, on the scheduler's goroutine, when a tasklet's
// step returns Pause, with that tasklet, once it is paused. A host waiting
// for a tasklet to pause (package cluster's Await) learns of it at once,
// even when the scheduler then idles and would not return for a while. fn
// may read the scheduler (Info) but not change it, and must not panic: it
// runs between the step and the switch.
func WithPauseHook(fn func(tasklet.ID)) Option { return func(s *Scheduler) { s.onPause = fn } }

// WithChannelHook is called before every send and receive
// (Stackless set_channel_callback).
func WithChannelHook(fn func(ChannelEvent)) Option { return func(s *Scheduler) { s.onChannel = fn } }

// WithRemote routes operations on channels of other nodes to r.
func WithRemote(r Remote) Option { return func(s *Scheduler) { s.remote = r } }

// WithKindNames names behaviors in errors and introspection (package pickle
// passes its registry's names); the default is the Go type.
func WithKindNames(fn func(tasklet.Behavior) string) Option {
	return func(s *Scheduler) { s.kindName = fn }
}

// WithChangeTracking records which tasklets and channels change between two
// calls of TakeChanges, for incremental checkpoints.
func WithChangeTracking() Option { return func(s *Scheduler) { s.track = true } }

// New returns an empty scheduler.
func New(opts ...Option) *Scheduler {
	s := &Scheduler{wake: make(chan struct{}, 1), fillCh: noFill, sliceRun: math.MaxInt}
	for _, o := range opts {
		o(s)
	}
	if s.clock == nil {
		s.clock = NewVirtualClock(0)
	}
	s.vclock, _ = s.clock.(*VirtualClock)
	s.host = &hostRef{H: s}
	build := s.block.Building // the table pages and spill chunks follow the records
	s.tasks.build, s.chans.build, s.runq.sp.build = build, build, build
	s.updatePlain()
	return s
}

// updatePlain recomputes plain, which burst tests once after a step in
// place of a test per hook, check and tracking on the paths of a send and
// a receive. Whatever sets one of them calls it.
func (s *Scheduler) updatePlain() {
	s.plainRecv = s.onChannel == nil && !s.track
	s.plain = s.plainRecv && s.checkValue == nil
}

// Node is the node number of this scheduler.
func (s *Scheduler) Node() uint16 { return s.node }

// Clock returns the scheduler's clock.
func (s *Scheduler) Clock() Clock { return s.clock }

// Now reads the scheduler's clock.
func (s *Scheduler) Now() time.Duration { return s.clock.Now() }

// SetErrorHandler replaces the error handler and returns the old one.
func (s *Scheduler) SetErrorHandler(fn func(error)) func(error) {
	old := s.onError
	s.onError = fn
	return old
}

// SetScheduleHook replaces the schedule hook and returns the old one.
func (s *Scheduler) SetScheduleHook(fn func(prev, next tasklet.ID)) func(prev, next tasklet.ID) {
	old := s.onSchedule
	s.onSchedule = fn
	return old
}

// SetChannelHook replaces the channel hook and returns the old one.
func (s *Scheduler) SetChannelHook(fn func(ChannelEvent)) func(ChannelEvent) {
	old := s.onChannel
	s.onChannel = fn
	s.updatePlain()
	s.forgetFill()
	return old
}

// SetRemote sets the router for remote channels.
func (s *Scheduler) SetRemote(r Remote) {
	s.remote = r
	s.sendNow, _ = r.(RemoteSender)
}

// RemoteSender is a Remote that can complete a plain Send to another
// node's channel at once (package ipc does, with credit from the
// channel's home): SendNow reports whether it took v, and the sender goes
// on as after a send into a buffer with room; if not, the send waits as
// any remote operation (Op). It is called on the scheduler's goroutine.
type RemoteSender interface {
	SendNow(t tasklet.ID, ch channel.ID, v any) bool
}

// KindOf names a behavior as errors and introspection show it.
func (s *Scheduler) KindOf(b tasklet.Behavior) string {
	if s.kindName != nil {
		if n := s.kindName(b); n != "" {
			return n
		}
	}
	return fmt.Sprintf("%T", b)
}

func (s *Scheduler) newTaskletID() tasklet.ID {
	s.nextT++
	return tasklet.ID(uint64(s.node)<<tasklet.NodeBits | s.nextT)
}

// Spawn starts b as a new tasklet at the back of the run queue (at the
// front with WithDepthFirst).
func (s *Scheduler) Spawn(b tasklet.Behavior) tasklet.ID {
	t := s.makeRec(s.newTaskletID(), b)
	s.tasks.put(uint64(t.ID()), t)
	t.SetState(tasklet.Runnable)
	switch {
	case s.depthFirst:
		s.runq.pushFront(t)
	case s.runq.room(): // pushBack's call costs a tenth of a spawn
		s.runq.storeBack(t)
	case !s.runq.sp.empty(): // behind a spill (a million spawned at once): straight to it
		s.runq.sp.push(t)
	default:
		s.runq.pushBack(t)
	}
	s.touch(t)
	return t.ID()
}

// SpawnPaused creates b as a tasklet that waits, paused, for Insert.
func (s *Scheduler) SpawnPaused(b tasklet.Behavior) tasklet.ID {
	t := s.makeRec(s.newTaskletID(), b)
	s.tasks.put(uint64(t.ID()), t)
	t.SetState(tasklet.Paused)
	s.paused++
	s.touch(t)
	return t.ID()
}

// Adopt adds an existing tasklet record (one that Release let go, on this
// or another scheduler) under its own ID, paused. Insert or a pending
// delivery makes it run.
func (s *Scheduler) Adopt(tk *tasklet.T) error {
	t := recOf(tk)
	if s.tasks.get(uint64(t.ID())) != nil {
		return fmt.Errorf("scheduler: adopt %v: a tasklet with that ID exists already", t.ID())
	}
	t.SetHost(s.host)
	t.SetState(tasklet.Paused)
	s.paused++
	s.tasks.put(uint64(t.ID()), t)
	s.touch(t)
	return nil
}

// Release takes a paused tasklet out of this scheduler without ending it, so
// it can move to another node. The record is returned.
func (s *Scheduler) Release(id tasklet.ID) (*tasklet.T, error) {
	t, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if t.State() != tasklet.Paused && t.State() != tasklet.New {
		return nil, fmt.Errorf("scheduler: release %v: tasklet is %v; only a paused tasklet can leave (Remove it first)", id, t.State())
	}
	if t.State() == tasklet.Paused {
		s.paused--
	}
	s.tasks.del(uint64(id))
	if s.track {
		s.deadT = append(s.deadT, id)
	}
	return t.T(), nil
}

// NewChannel makes a channel; capacity 0 makes a rendezvous channel. It
// lives until it is closed and drained: its ID is plain data, which any
// tasklet or save may hold, so it is never collected unnamed.
func (s *Scheduler) NewChannel(capacity int) channel.ID {
	s.nextC++
	id := channel.ID(uint64(s.node)<<tasklet.NodeBits | s.nextC)
	c := channel.New(id, capacity)
	s.chans.put(uint64(id), c)
	s.noCh = 0
	s.touchChan(c)
	return id
}

// ch finds a local channel, with a one-entry cache for the common case of
// a tasklet working one channel.
func (s *Scheduler) ch(id channel.ID) *channel.Channel {
	if c := s.lastCh; c != nil && c.ID() == id {
		return c
	}
	return s.chLookup(id)
}

// chLookup is ch past its one-entry cache, kept apart so ch inlines.
func (s *Scheduler) chLookup(id channel.ID) *channel.Channel {
	c := s.chans.get(uint64(id))
	if c != nil {
		s.lastCh = c
	}
	return c
}

// Channel returns the channel with the given ID, for inspection and for
// setting preference; nil if there is none on this node.
func (s *Scheduler) Channel(id channel.ID) *channel.Channel { return s.chans.get(uint64(id)) }

// Behavior returns the live behavior (the state) of tasklet id, or nil if
// there is no such live tasklet here. It is the tasklet's own value, not a
// copy: read it between steps.
func (s *Scheduler) Behavior(id tasklet.ID) tasklet.Behavior {
	if t := s.tasks.get(uint64(id)); t != nil {
		return t.Behavior()
	}
	return nil
}

// Wait is what a blocked tasklet waits on.
type Wait struct {
	Seq   uint32         // the wait's sequence (Remote.Op and Complete name it)
	Plain bool           // a plain Send or Recv, whose completion is case -1
	Cases []tasklet.Case // the one case of a plain wait (without its value), or the select's
}

// WaitOf describes the current wait of tasklet id; ok is false if there is
// no such live tasklet here or it is not blocked. Cases are shared with the
// scheduler: do not modify them.
func (s *Scheduler) WaitOf(id tasklet.ID) (w Wait, ok bool) {
	t := s.tasks.get(uint64(id))
	if t == nil || t.State() != tasklet.Blocked {
		return Wait{}, false
	}
	return Wait{Seq: t.WaitSeq(), Plain: t.Plain(), Cases: t.Cases()}, true
}

// SendWaits reports whether tasklet id is still blocked in wait seq, and
// the index that wait completes with (-1 for a plain one): WaitOf for a
// caller that completes many waits of one send case and keeps their values
// itself (package ipc's sends parked for credit), so it reads nothing of
// the wait but the tasklet's record.
func (s *Scheduler) SendWaits(id tasklet.ID, seq uint32) (idx int, ok bool) {
	t := s.tasks.get(uint64(id))
	if t == nil || t.State() != tasklet.Blocked || t.WaitSeq() != seq {
		return 0, false
	}
	if t.Plain() {
		return -1, true
	}
	return 0, true
}

// CompleteSend is Complete for a wait of one case that SendWaits found
// (idx as it said): the case that completes is the only one, so there is
// no other to forget or cancel, and endWait's pass over the cases is
// skipped. It reports false for a stale answer, as Complete does.
func (s *Scheduler) CompleteSend(id tasklet.ID, seq uint32, idx int, err error) bool {
	t := s.tasks.get(uint64(id))
	if t == nil || t.State() != tasklet.Blocked || t.WaitSeq() != seq {
		return false
	}
	if idx != -1 {
		t.c().LeftEntries() // as endWait: the select's record may be named still
	}
	t.NextWait()
	t.Deliver(nil, err)
	t.SetChosen(idx)
	t.SetState(tasklet.Runnable)
	s.touch(t)
	s.runq.pushBack(t)
	return true
}

func (s *Scheduler) lookup(id tasklet.ID) (*rec, error) {
	if t := s.tasks.get(uint64(id)); t != nil {
		return t, nil
	}
	if id.Node() == s.node && uint64(id)&(1<<tasklet.NodeBits-1) <= s.nextT && id != 0 {
		return nil, fmt.Errorf("scheduler: tasklet %v: %w", id, ErrDead)
	}
	return nil, fmt.Errorf("scheduler: tasklet %v: %w", id, ErrNoTasklet)
}

// Len is the number of live tasklets.
func (s *Scheduler) Len() int { return s.tasks.n }

// Has reports whether tasklet id lives here: Info without its cost.
func (s *Scheduler) Has(id tasklet.ID) bool { return s.tasks.get(uint64(id)) != nil }

// RunCount is the number of runnable tasklets, counting the one whose step
// is running (Stackless getruncount, which counts the current tasklet; it
// also counts the main tasklet, which here is the host: the caller of Run,
// not a tasklet).
func (s *Scheduler) RunCount() int {
	n := s.runq.len() + len(s.later) + len(s.immediate)
	if s.next != nil {
		n++
	}
	if s.current != nil && s.current.State() == tasklet.Runnable {
		n++
	}
	if h := s.hostT; h != nil && s.running > 0 && h.State() == tasklet.Runnable {
		n-- // the host waits in the run queue for its turn; it is no tasklet
	}
	return n
}

// Steps is the total number of steps run.
func (s *Scheduler) Steps() uint64 { return s.steps }

// Current is the tasklet whose step is running, or 0 between steps.
func (s *Scheduler) Current() tasklet.ID {
	if s.current == nil {
		return 0
	}
	return s.current.ID()
}

func (s *Scheduler) touch(t *rec) {
	if s.track && t.SetDirty() {
		s.dirtyT = append(s.dirtyT, t)
	}
}

func (s *Scheduler) touchChan(c *channel.Channel) {
	if s.track && c.MarkDirty() {
		s.dirtyC = append(s.dirtyC, c)
	}
}

// Changes lists what changed since the previous TakeChanges.
type Changes struct {
	Tasklets     []tasklet.ID // new or changed, alive
	Channels     []channel.ID // new or changed, existing
	DeadTasklets []tasklet.ID // gone (finished or released)
	DeadChannels []channel.ID // gone (closed and drained)
}

// TakeChanges returns what changed since the last call and starts a new
// period. It needs WithChangeTracking.
func (s *Scheduler) TakeChanges() Changes {
	var ch Changes
	for _, t := range s.dirtyT {
		t.MarkClean()
		if s.tasks.get(uint64(t.ID())) == t {
			ch.Tasklets = append(ch.Tasklets, t.ID())
		}
	}
	for _, c := range s.dirtyC {
		c.MarkClean()
		if s.chans.get(uint64(c.ID())) == c {
			ch.Channels = append(ch.Channels, c.ID())
		}
	}
	ch.DeadTasklets, ch.DeadChannels = s.deadT, s.deadC
	slices.Sort(ch.Tasklets)
	slices.Sort(ch.Channels)
	s.dirtyT, s.dirtyC, s.deadT, s.deadC = s.dirtyT[:0], s.dirtyC[:0], nil, nil
	return ch
}

func sortUint64(k []uint64) { slices.Sort(k) }
