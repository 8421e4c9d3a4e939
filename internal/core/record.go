package core

import (
	"unsafe"
)

// HostRef lets every record of a scheduler share one pointer to its Host,
// keeping a record in a smaller size class than an interface field would.
type HostRef[H any] struct{ H H }

// Rec is a tasklet's record. Every field is unexported: tasklet.T has Rec's
// underlying type, so an exported field would be a field of tasklet.T too.
//
// It is 64 bytes, the size every idle tasklet pays: the select index keeps
// 16 bits here, and one past 32,766 goes to the record's own ext, which
// only a selecting record makes; the scheduler's scratch is a flag bit; and
// the channel of a plain wait shares the field of the delivered value,
// which a blocked tasklet has none of.
type Rec[B, H, C any] struct {
	id    uint64
	b     B
	ext   *ext[H, C] // the scheduler; its select cases once it has its own
	steps uint64
	// The delivered value, or the delivered error with flagErr set, or,
	// while the tasklet waits in a plain Send or Recv, a waitOn naming the
	// channel (until a delivery or the end of its next step replaces it).
	value  any
	wait   uint32
	chosen int16 // the select case that fired, -1 none, chosenFar: in ext.chosen
	state  uint8
	flags  uint8
}

// waitOn is the channel of a plain wait, in Rec.value: a pointer to its ID
// (in the channel, or on its own for a channel of another node), so that
// it goes into an interface without an allocation.
type waitOn struct{ ch *uint64 }

// chosenFar in Rec.chosen says the index is in ext.chosen.
const chosenFar = -1 << 15

// ext is what a record reaches through its one pointer: the scheduler it
// runs on, and the cases of its last Select. Records that never selected
// share one ext per scheduler (own false) and never write to it; a record's
// first Select gives it its own, reused after, which also keeps a select
// index too big for the record. One pointer for all of it keeps the record
// small: 8 bytes per field moved here, per tasklet, idle or not.
type ext[H, C any] struct {
	host   *HostRef[H]
	cases  []C
	chosen int // the select case that fired, when Rec.chosen is chosenFar
	own    bool
	carry  bool // a Carrier's: cases is one send, its value in Rec.value
}

// extFor returns an ext shared by records on h that never selected.
func extFor[H, C any](h *HostRef[H]) *ext[H, C] { return &ext[H, C]{host: h} }

// Flags. Atomic and BlockTrap are persistent (saved with the tasklet); the
// others are bookkeeping.
const (
	FlagAtomic    uint8 = 1 << 1
	FlagBlockTrap uint8 = 1 << 2
	// FlagMark is the scheduler's scratch: a tasklet that stepped in the
	// current Tick, or one a restore has seen. Whoever sets it clears it.
	FlagMark uint8 = 1 << 5

	flagErrRead  uint8 = 1 << 0
	flagDirty    uint8 = 1 << 3
	flagWaitSend uint8 = 1 << 4 // the plain wait is a Send (else a Recv)
	flagErr      uint8 = 1 << 6 // value holds a delivered error (one field for both: 16 bytes less per tasklet)
	flagStale    uint8 = 1 << 7 // a wait ended leaving entries in queues or timers (see Reuse)

	persistent = FlagAtomic | FlagBlockTrap
)

// New is the state of a record that was never stepped (tasklet.New).
const stateNew = 0

// Init makes r a fresh record: state New, no select case chosen.
func (r *Rec[B, H, C]) Init(id uint64, b B, h *HostRef[H]) {
	r.init(id, b, extFor[H, C](h))
}

func (r *Rec[B, H, C]) init(id uint64, b B, e *ext[H, C]) {
	r.id, r.b, r.ext, r.chosen = id, b, e, -1
}

// Make returns a new record in state New.
func Make[B, H, C any](id uint64, b B, h *HostRef[H]) *Rec[B, H, C] {
	r := &Rec[B, H, C]{state: stateNew}
	r.Init(id, b, h)
	return r
}

// blockBytes is the size of the blocks records come in: 8 records of 64
// bytes fill the 512-byte size class exactly, and 512 is the largest class
// whose objects have no allocator header, which the collector scans from
// the span's pointer bitmap; blocks of 8 KiB, each with a header, were
// scanned through it at a higher cost per pointer, which a world of a
// million live tasklets pays in every collection while its heap grows.
// A block still makes the allocation per spawn an eighth.
const blockBytes = 512

// blockRecs is how many records a block holds.
func blockRecs(size uintptr) int { return max(1, int(blockBytes/size)) }

// blockLen is blockRecs for the 64-byte record, which every Block has.
const blockLen = 8

// Past chunkFrom records made, while at most an eighth of them were let go
// (a world being built: a level's entities, a restore, a tree that
// spawns before anything ends; see Ended), a Block takes its records in chunks of
// half of what it made (at most chunkMax, 8 MiB, which holds three aligned
// huge pages wherever it lands), on huge pages or small ones, whichever has
// faulted in faster in this process (hugepage.Fault): building a big world
// is mostly first touches of fresh pages; records that fault in 2 MiB at a
// time made a cold Skynet tree of 1.1 M tasklets 10-20% faster where huge
// pages were cheap (docs/benchmarks-history.md, round 12), and 50% slower
// on a VM whose host had taken back the guest's free memory (round 15).
// Smaller worlds keep the blocks: the records of a chunk not yet handed
// out count in the heap (untouched, they take no memory), which at
// 100,000 idle tasklets was 8 bytes a tasklet with chunks from 4,096.
const (
	chunkFrom = 1 << 17
	chunkMax  = 1 << 17
)

// Block hands out records from blocks of blockBytes, so a program that
// spawns a million tasklets makes an eighth of the allocations, and takes
// back the records of tasklets that ended (Reuse), handing them out again
// before touching a block: a program whose tasklets come and go (a tree of
// spawns run depth first, a server's short-lived tasklets) keeps reusing the
// same few records, warm in the cache, with no allocation and nothing new
// for the collector. A block stays in memory while any of its records is
// referenced. The zero Block is ready to use; it is not safe for concurrent
// use (a scheduler has one).
type Block[B, H, C any] struct {
	free   []Rec[B, H, C]
	spare  []*Rec[B, H, C] // records of ended tasklets, the last one taken back first
	shared *ext[H, C]      // the ext its records share: one Block serves one host
	made   int             // fresh records handed out
	ended  int             // records let go, not taken back, since the last Release
}

// maxSpare bounds the records a Block keeps for reuse: enough for the
// tasklets a program starts and ends at a time, few enough (64 KiB of
// records, pinning at most as many blocks) that a program whose tasklets
// all ended once does not keep their memory for good.
const maxSpare = 1024

// Make is Make with a record from the block: a taken-back one if there is
// one, else a fresh one.
func (a *Block[B, H, C]) Make(id uint64, b B, h *HostRef[H]) *Rec[B, H, C] {
	if n := len(a.spare); n > 0 {
		r := a.spare[n-1]
		a.spare = a.spare[:n-1]
		// Reuse cleared the rest.
		r.id, r.b, r.ext, r.chosen, r.state = id, b, a.shared, -1, stateNew
		return r
	}
	return a.fresh(id, b, h)
}

// fresh is Make past the spare records, kept apart (and out of line) so
// Make inlines.
//
//go:noinline
func (a *Block[B, H, C]) fresh(id uint64, b B, h *HostRef[H]) *Rec[B, H, C] {
	if a.shared == nil {
		a.shared = &ext[H, C]{host: h} // one Block serves one host
	}
	if len(a.free) == 0 {
		a.refill()
	}
	a.made++
	r := &a.free[0]
	a.free = a.free[1:]
	r.id, r.b, r.ext, r.chosen = id, b, a.shared, -1
	return r
}

// refill gives the block its next free records.
func (a *Block[B, H, C]) refill() {
	if n := a.Building(); n > 0 {
		a.free = chunk[Rec[B, H, C]](n)
		return
	}
	// One array type, not a slice of records: the allocator copies an
	// array's pointer mask once, where it repeats a record's 8 times (16
	// instructions a record, a seventh of the block's cost).
	if n := blockRecs(unsafe.Sizeof(Rec[B, H, C]{})); n == blockLen {
		a.free = new([blockLen]Rec[B, H, C])[:]
	} else {
		a.free = make([]Rec[B, H, C], n)
	}
}

// Reuse takes back the record of a tasklet that ended, for a later Make.
// The caller must keep no reference through which the record could be
// taken for its old tasklet: the scheduler's run queue, tables and current
// step are done with it. A record whose tasklet ever left entries behind
// (LeftEntries: channel queue entries and timers dropped lazily, which name
// the record and a wait sequence) is not taken: a new tasklet's waits
// start again at sequence 0, as on a fresh record, so that a world's
// schedule and wait sequences do not depend on which records were reused,
// and such an entry could match one of them (the generation check). It
// reports whether the record was kept; the rest go to the collector.
func (a *Block[B, H, C]) Reuse(r *Rec[B, H, C]) bool {
	if len(a.spare) >= maxSpare || r.ext == nil || r.flags&flagStale != 0 {
		return false
	}
	if a.shared == nil { // a block that only ever took records back
		a.shared = &ext[H, C]{host: r.ext.host}
	}
	if r.ext.own {
		r.ext.cases = nil // its select's values; Make gives the record the shared ext
	}
	var zb B
	r.b = zb // let go of the old tasklet's state (its value went after its last step)
	r.steps, r.value, r.wait, r.flags = 0, nil, 0, 0
	a.spare = append(a.spare, r)
	return true
}

// Forget lets go of the state of a tasklet that ended, in a record that
// is not taken back for reuse: records come in blocks and chunks, and one
// live record keeps its whole block, so an ended one must not keep its
// behavior, its last delivery or its select's values with it. The ID and
// the wait sequence, which stale queue entries and timers check, stay.
func (r *Rec[B, H, C]) Forget() {
	var zb B
	r.b, r.value = zb, nil
	if r.ext != nil && r.ext.own {
		r.ext.cases = nil
	}
}

// Building reports how many records the block's next chunk holds while
// a big world is being built (see chunkFrom), and 0 when it takes no
// chunks. Slabs of behaviors follow it.
func (a *Block[B, H, C]) Building() int {
	if a.made >= chunkFrom && a.ended <= a.made/8 {
		return min(a.made/2, chunkMax)
	}
	return 0
}

// Ended tells the block that a record of an ended tasklet was not taken
// back (Reuse refused it, or the caller did not offer it); once more than
// an eighth of the records it made were, it takes no new chunk. A chunk
// stays while any of its records lives, so a world that shrank with a few
// stragglers in every chunk, then grew again, would take new chunks each
// time and keep the old ones; in blocks, a straggler keeps 512 bytes. So
// chunks serve a world as it is built (a level's entities, a restore, a
// tree that spawns before anything ends), and what a world keeps in them
// is bounded by the records it was built with.
func (a *Block[B, H, C]) Ended() { a.ended++ }

// Release lets go of what the block keeps for a world of chunks whose
// last tasklet ended (the rest of its chunk), lets the next world take
// chunks again, and reports whether the world was one of chunks.
func (a *Block[B, H, C]) Release() bool {
	a.ended = 0
	if a.made < chunkFrom {
		return false
	}
	a.spare, a.free, a.made = nil, nil, 0
	return true
}

// ID is the tasklet's ID.
func (r *Rec[B, H, C]) ID() uint64 { return r.id }

// Behavior is the tasklet's behavior (its state).
func (r *Rec[B, H, C]) Behavior() B { return r.b }

// SetBehavior replaces the behavior.
func (r *Rec[B, H, C]) SetBehavior(b B) { r.b = b }

// Host is the scheduler the tasklet runs on.
func (r *Rec[B, H, C]) Host() H { return r.ext.host.H }

// SetHost moves the record to another scheduler.
func (r *Rec[B, H, C]) SetHost(h *HostRef[H]) {
	switch {
	case r.ext != nil && r.ext.own:
		r.ext.host = h
	case r.ext == nil || r.ext.host != h:
		r.ext = extFor[H, C](h)
	}
}

// State is the life-cycle state (a tasklet.State).
func (r *Rec[B, H, C]) State() uint8 { return r.state }

// SetState moves the tasklet to s.
func (r *Rec[B, H, C]) SetState(s uint8) { r.state = s }

// Steps is how many steps the tasklet has run.
func (r *Rec[B, H, C]) Steps() uint64 { return r.steps }

// SetSteps restores the step count.
func (r *Rec[B, H, C]) SetSteps(n uint64) { r.steps = n }

// own returns the record's own ext, made (with the shared one's host) if
// it has none: the shared one is never written to.
func (r *Rec[B, H, C]) own() *ext[H, C] {
	if r.ext == nil || !r.ext.own {
		var h *HostRef[H]
		if r.ext != nil {
			h = r.ext.host
		}
		r.ext = &ext[H, C]{host: h, chosen: -1, own: true}
	}
	return r.ext
}

// Value is the delivered value.
func (r *Rec[B, H, C]) Value() any {
	if r.flags&flagErr != 0 {
		return nil
	}
	if _, ok := r.value.(waitOn); ok {
		return nil
	}
	return r.value
}

// Err returns the delivered error and marks it read.
func (r *Rec[B, H, C]) Err() error {
	r.flags |= flagErrRead
	return r.delivErr()
}

func (r *Rec[B, H, C]) delivErr() error {
	if r.flags&flagErr == 0 {
		return nil
	}
	return r.value.(error)
}

// Deliver sets what the next step sees as Value and Err. A step sees one
// or the other: an error hides the value.
func (r *Rec[B, H, C]) Deliver(v any, err error) {
	if err != nil {
		r.value = err
		r.flags = r.flags&^flagErrRead | flagErr
		return
	}
	r.value = v
	r.flags &^= flagErrRead | flagErr
}

// DeliverValue is Deliver(v, nil), small enough to inline on the path of
// every received value.
func (r *Rec[B, H, C]) DeliverValue(v any) {
	r.value = v
	r.flags &^= flagErrRead | flagErr
}

// Delivered returns the pending value and error without marking the error read.
func (r *Rec[B, H, C]) Delivered() (any, error) { return r.Value(), r.delivErr() }

// Chosen is the index of the select case that fired, or -1.
func (r *Rec[B, H, C]) Chosen() int {
	if r.chosen == chosenFar {
		return r.ext.chosen
	}
	return int(r.chosen)
}

// SetChosen records which select case fired (-1: none). An index past
// 32,766 (or another negative one, from a restored world) goes to the
// record's own ext; the test folds away where i is a constant, as it is on
// the path of every rendezvous.
func (r *Rec[B, H, C]) SetChosen(i int) {
	if uint(i+1) < 1<<15 {
		r.chosen = int16(i)
		return
	}
	r.setChosenFar(i)
}

func (r *Rec[B, H, C]) setChosenFar(i int) {
	r.own().chosen = i
	r.chosen = chosenFar
}

// HasFlag reports whether flag f is set.
func (r *Rec[B, H, C]) HasFlag(f uint8) bool { return r.flags&f != 0 }

// SetFlag sets or clears flag f and returns its old setting.
func (r *Rec[B, H, C]) SetFlag(f uint8, on bool) bool {
	old := r.flags&f != 0
	if on {
		r.flags |= f
	} else {
		r.flags &^= f
	}
	return old
}

// Flags are the persistent flags (atomic, block trap) for serialization.
func (r *Rec[B, H, C]) Flags() uint8 { return r.flags & persistent }

// SetFlags restores the persistent flags.
func (r *Rec[B, H, C]) SetFlags(f uint8) { r.flags = r.flags&^persistent | f&persistent }

// Dirty reports whether the tasklet changed since MarkClean.
func (r *Rec[B, H, C]) Dirty() bool { return r.flags&flagDirty != 0 }

// SetDirty marks the tasklet changed and reports whether it was clean.
func (r *Rec[B, H, C]) SetDirty() (wasClean bool) {
	wasClean = r.flags&flagDirty == 0
	r.flags |= flagDirty
	return wasClean
}

// MarkClean clears the changed mark.
func (r *Rec[B, H, C]) MarkClean() { r.flags &^= flagDirty }

// WaitOn records a plain Send or Recv wait on the channel whose ID ch
// points to (the value a sender offers lives in the channel's queue). It
// takes the place of the delivered value: call it once the step that
// waits has ended (EndStep), and deliver only once the wait has ended.
func (r *Rec[B, H, C]) WaitOn(ch *uint64, send bool) {
	r.value = waitOn{ch}
	if send {
		r.flags |= flagWaitSend
	} else {
		r.flags &^= flagWaitSend
	}
}

// WaitSelect records that the wait is the select of the last Select.
func (r *Rec[B, H, C]) WaitSelect() {
	if _, ok := r.value.(waitOn); ok {
		r.value = nil
	}
}

// Plain reports whether the current wait is a plain Send or Recv. It
// answers for a blocked tasklet; one that woke may have lost the mark.
func (r *Rec[B, H, C]) Plain() bool {
	_, ok := r.value.(waitOn)
	return ok
}

// PlainWait returns the channel of a plain wait and whether it sends; ok is
// false when the wait is a select.
func (r *Rec[B, H, C]) PlainWait() (ch uint64, send, ok bool) {
	w, ok := r.value.(waitOn)
	if !ok {
		return 0, false, false
	}
	return *w.ch, r.flags&flagWaitSend != 0, true
}

// SelectCases returns the cases of the last Select without allocating;
// none for a carried wait, whose case has its value apart (Carried).
func (r *Rec[B, H, C]) SelectCases() []C {
	if r.ext == nil || r.ext.carry {
		return nil
	}
	return r.ext.cases // nil in a shared ext
}

// A Carrier is the wait of one send case on one channel that records
// without an ext of their own share, each holding the value it sends in
// its own value field (WaitCarried): such a wait allocates nothing and
// writes nothing outside the record, where an ext and a case buffer of the
// tasklet's own took 112 bytes for its life, and writing the case into
// them was a cache miss a value in a stream of a thousand senders
// (docs/benchmarks-history.md, round 16).
type Carrier[H, C any] struct{ e *ext[H, C] }

// NewCarrier returns the Carrier of case c (whose value is not used) for
// records on host h.
func NewCarrier[H, C any](h *HostRef[H], c C) Carrier[H, C] {
	b := &struct { // one allocation for the ext and its case
		e   ext[H, C]
		one [1]C
	}{one: [1]C{c}}
	b.e = ext[H, C]{host: h, cases: b.one[:], carry: true}
	return Carrier[H, C]{&b.e}
}

// Case is the carrier's case, its value left out.
func (c Carrier[H, C]) Case() C { return c.e.cases[0] }

// Shares reports whether the record has no ext of its own, as WaitCarried
// needs: a record that selected keeps its own, for its next select.
func (r *Rec[B, H, C]) Shares() bool { return r.ext == nil || !r.ext.own }

// WaitCarried records a wait in c's send of v, v held in the record: call
// it, on a record that Shares, where SetSelectOne and WaitSelect would go.
// The wait is over when a delivery replaces v; until the record's next
// wait, SelectCases reads none.
func (r *Rec[B, H, C]) WaitCarried(c Carrier[H, C], v any) { r.ext, r.value = c.e, v }

// Carried returns the case of a carried wait and the value it sends; ok is
// false if the record's last wait was not carried. The caller checks that
// the record is blocked: the value field holds the value only until the
// wait ends (a delivery replaces it).
func (r *Rec[B, H, C]) Carried() (c C, v any, ok bool) {
	if r.ext == nil || !r.ext.carry {
		return c, nil, false
	}
	if _, plain := r.value.(waitOn); plain {
		return c, nil, false // a plain wait since
	}
	return r.ext.cases[0], r.value, true
}

// SetSelect copies cases into the select buffer (the record's own ext, made
// on first use, reused after).
func (r *Rec[B, H, C]) SetSelect(cases []C) {
	if len(cases) == 0 && (r.ext == nil || !r.ext.own) {
		return
	}
	e := r.own()
	e.cases = append(e.cases[:0], cases...)
}

// SetSelectOne is SetSelect of one case, without a slice to copy from.
func (r *Rec[B, H, C]) SetSelectOne(c C) {
	e := r.own()
	e.cases = append(e.cases[:0], c)
}

// LeftEntries notes that a wait ended leaving entries that still name the
// record (a select's other cases, a cancelled wait's queue entry or timer):
// the record is then never reused (Reuse).
func (r *Rec[B, H, C]) LeftEntries() { r.flags |= flagStale }

// WaitSeq identifies the tasklet's current wait; a queue entry with another
// sequence is stale.
func (r *Rec[B, H, C]) WaitSeq() uint32 { return r.wait }

// NextWait starts a new wait (making older queue entries stale) and returns
// its sequence.
func (r *Rec[B, H, C]) NextWait() uint32 {
	r.wait++
	return r.wait
}

// SetWaitSeq restores the wait sequence.
func (r *Rec[B, H, C]) SetWaitSeq(s uint32) { r.wait = s }

// BeginStep counts a step; call it before the behavior's Step.
func (r *Rec[B, H, C]) BeginStep() { r.steps++ }

// EndStep clears the delivery after a step and returns the delivered error
// if the step did not read it.
func (r *Rec[B, H, C]) EndStep() (unread error) {
	if r.flags&flagErr != 0 {
		if r.flags&flagErrRead == 0 {
			unread = r.value.(error)
		}
		r.flags &^= flagErr
	}
	if r.value != nil {
		r.value = nil
	}
	return unread
}

// Erred reports whether the step was delivered an error: EndStep then has
// work beyond clearing the value. One test on the path of every step that
// runs without one, where EndStep's result took two.
func (r *Rec[B, H, C]) Erred() bool { return r.flags&flagErr != 0 }

// ClearValue drops the delivered value: EndStep of a step that was
// delivered no error (not Erred).
func (r *Rec[B, H, C]) ClearValue() {
	if r.value != nil {
		r.value = nil
	}
}

// Touch reads the record and the first byte of its behavior and returns
// something computed from both, so the loads are not optimized away. A
// caller about to run many tasklets touches them all first: the processor
// overlaps independent loads, so their memory arrives together instead of
// one cache miss after another, step by step.
func (r *Rec[B, H, C]) Touch() uintptr {
	n := uintptr(r.steps)
	// The data word of the interface: a pointer to the behavior's value, or
	// the value itself when it is a pointer.
	if p := (*[2]unsafe.Pointer)(unsafe.Pointer(&r.b))[1]; p != nil {
		n += uintptr(*(*byte)(p))
	}
	return n
}
