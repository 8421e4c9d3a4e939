package core_test

import (
	"errors"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

type rec = core.Rec[tasklet.Behavior, tasklet.Host, tasklet.Case]

// stepFn is a behavior made of a function.
type stepFn func(t *tasklet.T) tasklet.Op

func (f stepFn) Step(t *tasklet.T) tasklet.Op { return f(t) }

func newRec(f stepFn) *rec {
	return core.Make[tasklet.Behavior, tasklet.Host, tasklet.Case](7, f, nil)
}

// step runs one step the way the scheduler does.
func step(r *rec) (tasklet.Op, error) {
	r.BeginStep()
	op := r.Behavior().Step((*tasklet.T)(r))
	return op, r.EndStep()
}

func TestMake(t *testing.T) {
	r := newRec(func(t *tasklet.T) tasklet.Op { return t.Exit() })
	assert.Equal(t, uint64(7), r.ID())
	assert.Equal(t, uint8(tasklet.New), r.State())
	assert.Equal(t, -1, r.Chosen())
	assert.Zero(t, r.Steps())
	assert.Nil(t, r.Value())
	assert.False(t, r.HasFlag(core.FlagAtomic))
	assert.NotNil(t, r.Behavior())
	assert.False(t, r.Plain())
	assert.Nil(t, r.SelectCases())
	assert.Same(t, r, (*rec)((*tasklet.T)(r)), "a *tasklet.T is the same record")
}

func TestBlockHandsOutFreshDistinctRecords(t *testing.T) {
	h := &core.HostRef[tasklet.Host]{}
	var blk core.Block[tasklet.Behavior, tasklet.Host, tasklet.Case]
	seen := map[*rec]bool{}
	const n = 100 // several blocks
	for i := range n {
		r := blk.Make(uint64(i+1), stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() }), h)
		require.False(t, seen[r], "record %d handed out twice", i)
		seen[r] = true
		assert.Equal(t, uint64(i+1), r.ID())
		assert.Equal(t, uint8(tasklet.New), r.State())
		assert.Equal(t, -1, r.Chosen(), "a fresh record has chosen no case")
		assert.Zero(t, r.Steps())
		op, unread := step(r)
		assert.Equal(t, tasklet.OpExit, op.Kind())
		assert.NoError(t, unread)
	}
	assert.Len(t, seen, n)
}

func TestStepErrorHandling(t *testing.T) {
	errX := errors.New("x")
	tests := []struct {
		name   string
		read   bool
		deliv  error
		unread error
	}{
		{"no error", false, nil, nil},
		{"read", true, errX, nil},
		{"ignored", false, errX, errX},
		{"kill ignored", false, tasklet.ErrKilled, tasklet.ErrKilled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen error
			r := newRec(func(tk *tasklet.T) tasklet.Op {
				if tc.read {
					seen = tk.Err()
				}
				return tk.Yield()
			})
			r.Deliver("v", tc.deliv)
			v, err := r.Delivered()
			if tc.deliv == nil {
				assert.Equal(t, "v", v)
			} else {
				assert.Nil(t, v, "an error hides the value: they share a field")
			}
			assert.Equal(t, tc.deliv, err)
			op, unread := step(r)
			assert.Equal(t, tasklet.OpYield, op.Kind())
			assert.Equal(t, tc.unread, unread)
			if tc.read {
				assert.Equal(t, tc.deliv, seen)
			}
			assert.Equal(t, uint64(1), r.Steps())
			v, err = r.Delivered()
			assert.Nil(t, v, "the delivery is cleared after the step")
			assert.NoError(t, err)
		})
	}
}

func TestErrReadMarkDoesNotLeak(t *testing.T) {
	// An Err read in one step must not count as handling an error delivered
	// for a later step.
	errX := errors.New("x")
	n := 0
	r := newRec(func(tk *tasklet.T) tasklet.Op {
		n++
		if n == 1 {
			_ = tk.Err()
		}
		return tk.Yield()
	})
	_, unread := step(r)
	require.NoError(t, unread)
	r.Deliver(nil, errX)
	_, unread = step(r)
	assert.Equal(t, errX, unread)
}

func TestFlags(t *testing.T) {
	r := newRec(nil)
	tk := (*tasklet.T)(r)
	assert.False(t, tk.SetAtomic(true))
	assert.True(t, r.HasFlag(core.FlagAtomic))
	assert.False(t, tk.SetBlockTrap(true))
	assert.True(t, r.HasFlag(core.FlagBlockTrap))
	f := r.Flags()
	assert.True(t, r.SetFlag(core.FlagAtomic, false))
	assert.True(t, r.SetFlag(core.FlagBlockTrap, false))
	assert.False(t, tk.Atomic())
	assert.False(t, tk.BlockTrap())
	assert.Zero(t, r.Flags())

	r.SetFlags(f)
	assert.True(t, tk.Atomic())
	assert.True(t, tk.BlockTrap())
	r.SetFlags(0xff)
	assert.Equal(t, f, r.Flags(), "only the persistent flags are kept")
	assert.False(t, r.Dirty(), "SetFlags does not touch the dirty mark")
}

func TestDirty(t *testing.T) {
	r := newRec(nil)
	assert.False(t, r.Dirty())
	assert.True(t, r.SetDirty(), "was clean")
	assert.False(t, r.SetDirty(), "was dirty")
	assert.True(t, r.Dirty())
	r.MarkClean()
	assert.False(t, r.Dirty())
	assert.Zero(t, r.Flags(), "the dirty mark is not persistent")
}

func TestWaits(t *testing.T) {
	r := newRec(func(t *tasklet.T) tasklet.Op { return t.Yield() })
	ids := []uint64{3, 4, 5}
	r.WaitOn(&ids[0], false)
	ch, send, ok := r.PlainWait()
	assert.True(t, ok)
	assert.Equal(t, uint64(3), ch)
	assert.False(t, send)
	assert.Nil(t, r.Value(), "a blocked tasklet has no value to see")
	v, err := r.Delivered()
	assert.Nil(t, v, "nor to save")
	assert.NoError(t, err)
	r.WaitOn(&ids[1], true)
	ch, send, ok = r.PlainWait()
	assert.True(t, ok && send)
	assert.Equal(t, uint64(4), ch)
	r.WaitOn(&ids[2], false)
	ch, send, ok = r.PlainWait()
	assert.True(t, ok)
	assert.False(t, send, "a Recv after a Send is a Recv")
	assert.Equal(t, uint64(5), ch)
	assert.Zero(t, r.Flags(), "the direction is not a saved flag")

	r.DeliverValue("v") // the wait ended with a value
	assert.False(t, r.Plain())
	assert.Equal(t, "v", r.Value())
	r.WaitOn(&ids[0], true)
	_, unread := step(r) // a sender woke without a delivery and stepped
	assert.NoError(t, unread)
	assert.False(t, r.Plain(), "the step's end forgets the wait")
	assert.Nil(t, r.Value())
	r.WaitOn(&ids[0], false)
	r.Deliver(nil, errors.New("closed"))
	assert.False(t, r.Plain(), "an error ends the wait too")
	assert.Error(t, r.Err())
	r.WaitOn(&ids[0], false)
	r.WaitSelect()
	assert.False(t, r.Plain(), "a select replaces a plain wait")

	cases := []tasklet.Case{tasklet.RecvCase(1), tasklet.TimeoutCase(time.Second)}
	(*tasklet.T)(r).Select(cases...)
	r.WaitSelect()
	assert.False(t, r.Plain())
	_, _, ok = r.PlainWait()
	assert.False(t, ok)
	cases[0] = tasklet.RecvCase(99)
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(1), tasklet.TimeoutCase(time.Second)}, r.SelectCases(), "Select copies the cases")

	r.SetSelect([]tasklet.Case{tasklet.DefaultCase()})
	assert.Equal(t, []tasklet.Case{tasklet.DefaultCase()}, r.SelectCases(), "a new select replaces the cases")

	fresh := newRec(nil)
	fresh.SetSelect(nil)
	assert.Nil(t, fresh.SelectCases(), "restoring no cases allocates nothing")
}

func TestWaitSequence(t *testing.T) {
	r := newRec(nil)
	assert.Zero(t, r.WaitSeq())
	assert.Equal(t, uint32(1), r.NextWait())
	assert.Equal(t, uint32(2), r.NextWait())
	assert.Equal(t, uint32(2), r.WaitSeq())
	r.SetWaitSeq(40)
	assert.Equal(t, uint32(41), r.NextWait())
}

func TestSetters(t *testing.T) {
	r := newRec(nil)
	r.SetState(uint8(tasklet.Sleeping))
	assert.Equal(t, uint8(tasklet.Sleeping), r.State())
	r.SetChosen(2)
	assert.Equal(t, 2, (*tasklet.T)(r).Chosen())
	assert.False(t, r.SetFlag(core.FlagMark, true))
	assert.True(t, r.HasFlag(core.FlagMark))
	assert.Zero(t, r.Flags(), "the scratch mark is not saved")
	r.SetSteps(77)
	assert.Equal(t, uint64(77), r.Steps())
	r.SetBehavior(stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() }))
	op, _ := step(r)
	assert.Equal(t, tasklet.OpExit, op.Kind())
	assert.Equal(t, uint64(78), r.Steps())
}

type touchValue struct{ A, B int64 }

type touchPtr struct{ N byte }

func (touchValue) Step(*int) int { return 0 }
func (*touchPtr) Step(*int) int  { return 0 }

// Touch reads whatever behavior a record holds, or none, without faulting.
func TestTouchAnyBehavior(t *testing.T) {
	type stepper interface{ Step(*int) int }
	var nilPtr *touchPtr
	for _, b := range []stepper{nil, touchValue{A: 3}, &touchPtr{N: 7}, nilPtr} {
		r := core.Make[stepper, int, int](1, b, nil)
		r.BeginStep()
		assert.GreaterOrEqual(t, r.Touch(), uintptr(1), "%T", b)
	}
}

// fakeHost stands for a scheduler, told apart by name.
type fakeHost struct {
	tasklet.Host
	name string
}

// A record is 64 bytes: its scheduler and its select cases share one
// pointer (it was 88 with one each), a select index past 16 bits lives
// behind it too, the scheduler's scratch is a flag bit, and a plain wait's
// channel shares the delivered value's field (80 with a 32-bit index, a
// 32-bit scratch word and the channel's ID inline).
func TestRecordSize(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(rec{}), uintptr(64))
}

// A block of records fills its size class exactly, with no allocator header:
// a block that rounded up to the next class would cost every tasklet bytes,
// and one past 512 bytes would be scanned by the collector through a header.
func TestBlockFitsItsSizeClass(t *testing.T) {
	h := &core.HostRef[tasklet.Host]{}
	var blk core.Block[tasklet.Behavior, tasklet.Host, tasklet.Case]
	exit := stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() })
	blk.Make(1, exit, h) // the shared ext
	const perBlock = 512 / unsafe.Sizeof(rec{})
	next := uint64(2)
	// Other goroutines (the race detector's, the test runner's) may
	// allocate while the records are made, and that only adds: the best of
	// three tries is the blocks' own cost.
	var blocks, bytes uint64
	for try := 0; try < 3; try++ {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 * perBlock {
			blk.Make(next, exit, h)
			next++
		}
		runtime.ReadMemStats(&after)
		b, n := after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc
		if try == 0 || n < bytes {
			blocks, bytes = b, n
		}
	}
	// Each try makes 800 records: 7 fill the block the try before began,
	// the other 793 take 100 blocks (a little slack for anything else
	// allocated meanwhile).
	assert.GreaterOrEqual(t, blocks, uint64(100), "blocks of %d records", perBlock)
	assert.LessOrEqual(t, blocks, uint64(102), "blocks of %d records", perBlock)
	assert.LessOrEqual(t, bytes, blocks*512, "512 bytes per block")
}

// A select index past the record's 16 bits is kept in its own ext.
func TestChosenPast16Bits(t *testing.T) {
	h := &core.HostRef[tasklet.Host]{}
	var blk core.Block[tasklet.Behavior, tasklet.Host, tasklet.Case]
	r, other := blk.Make(1, nil, h), blk.Make(2, nil, h)
	for _, i := range []int{-1, 0, 32766, 32767, 32768, 1 << 20, -32768, -1} {
		r.SetChosen(i)
		assert.Equal(t, i, r.Chosen())
		assert.Equal(t, -1, other.Chosen(), "a neighbour's index is its own")
	}
}

// Records of one scheduler share what they reach through that pointer
// until one of them selects or moves: neither may change the others.
func TestRecordsShareTheirSchedulerNotTheirCases(t *testing.T) {
	ha := &core.HostRef[tasklet.Host]{H: fakeHost{name: "a"}}
	hb := &core.HostRef[tasklet.Host]{H: fakeHost{name: "b"}}
	var blk core.Block[tasklet.Behavior, tasklet.Host, tasklet.Case]
	exit := stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() })
	r1, r2, r3 := blk.Make(1, exit, ha), blk.Make(2, exit, ha), blk.Make(3, exit, ha)
	for _, r := range []*rec{r1, r2, r3} {
		assert.Equal(t, fakeHost{name: "a"}, r.Host())
		assert.Nil(t, r.SelectCases())
	}

	r1.SetSelect(nil)
	assert.Nil(t, r1.SelectCases(), "an empty select needs no buffer")
	r1.SetSelect([]tasklet.Case{tasklet.RecvCase(7), tasklet.DefaultCase()})
	assert.Len(t, r1.SelectCases(), 2)
	assert.Nil(t, r2.SelectCases(), "one record's select is not its neighbour's")
	assert.Equal(t, fakeHost{name: "a"}, r1.Host(), "selecting keeps the scheduler")
	r1.SetSelect([]tasklet.Case{tasklet.RecvCase(8)})
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(8)}, r1.SelectCases())

	r2.SetHost(hb) // a record that never selected moves
	assert.Equal(t, fakeHost{name: "b"}, r2.Host())
	assert.Equal(t, fakeHost{name: "a"}, r3.Host(), "its neighbours stay")
	r1.SetHost(hb) // one that selected moves with its cases
	assert.Equal(t, fakeHost{name: "b"}, r1.Host())
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(8)}, r1.SelectCases())
	assert.Equal(t, fakeHost{name: "a"}, r3.Host())

	var blkB core.Block[tasklet.Behavior, tasklet.Host, tasklet.Case]
	r4 := blkB.Make(4, exit, hb) // another scheduler's block
	assert.Equal(t, fakeHost{name: "b"}, r4.Host())
	assert.Equal(t, fakeHost{name: "a"}, r3.Host())
}

// Records that wait carried share the carrier's case, each with its own
// value; a record that selected keeps its own buffer and does not carry.
func TestCarriedWaits(t *testing.T) {
	h := &core.HostRef[tasklet.Host]{H: fakeHost{name: "a"}}
	var blk core.Block[tasklet.Behavior, tasklet.Host, tasklet.Case]
	exit := stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() })
	r1, r2, r3 := blk.Make(1, exit, h), blk.Make(2, exit, h), blk.Make(3, exit, h)
	cr := core.NewCarrier(h, tasklet.SendCase(9, nil))
	assert.Equal(t, tasklet.SendCase(9, nil), cr.Case())

	r3.SetSelect([]tasklet.Case{tasklet.RecvCase(8)})
	assert.True(t, r1.Shares())
	assert.False(t, r3.Shares(), "a record that selected has its own buffer")

	r1.WaitCarried(cr, "one")
	r2.WaitCarried(cr, "two")
	for _, c := range []struct {
		r    *rec
		want any
	}{{r1, "one"}, {r2, "two"}} {
		cs, v, ok := c.r.Carried()
		require.True(t, ok)
		assert.Equal(t, tasklet.SendCase(9, nil), cs)
		assert.Equal(t, c.want, v)
		assert.Nil(t, c.r.SelectCases(), "a carried case is read with its value, through Carried")
		assert.Equal(t, fakeHost{name: "a"}, c.r.Host())
		assert.True(t, c.r.Shares(), "carrying is not owning")
	}
	_, _, ok := r3.Carried()
	assert.False(t, ok)

	r1.WaitOn(new(uint64), true) // its next wait is a plain one
	_, _, ok = r1.Carried()
	assert.False(t, ok)
	r2.SetSelect([]tasklet.Case{tasklet.RecvCase(7)}) // or a select
	_, _, ok = r2.Carried()
	assert.False(t, ok)
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(7)}, r2.SelectCases())
	r1.WaitCarried(cr, "again")
	require.True(t, blk.Reuse(r1), "a carried record goes back to its block like any")
	assert.Nil(t, blk.Make(4, exit, h).SelectCases())
	assert.Equal(t, tasklet.SendCase(9, nil), cr.Case(), "and the shared case is untouched")
}

// An ended record that is not reused forgets its tasklet's state, and
// keeps what stale entries check: its ID and wait sequence.
func TestForget(t *testing.T) {
	r := newRec(func(t *tasklet.T) tasklet.Op { return t.Yield() })
	r.SetSelect([]tasklet.Case{tasklet.SendCase(3, "big value")})
	r.NextWait()
	r.DeliverValue("last")
	r.Forget()
	assert.Nil(t, r.Behavior())
	assert.Nil(t, r.Value())
	assert.Nil(t, r.SelectCases())
	assert.Equal(t, uint64(7), r.ID())
	assert.Equal(t, uint32(1), r.WaitSeq())
}
