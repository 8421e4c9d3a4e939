package pickle

import (
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/stackless-go/stackless/internal/mpack"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Checkpoints and restores of big worlds spend most of their time on
// tasklet records, and almost all of them have one shape: no pending value
// or error, a wait whose cases carry no value, and a behavior whose kind
// has a struct plan. Through msgpack's Encoder and Decoder each such record
// cost a pooled coder, a closure, a cost walk of the behavior, a sync.Map
// lookup of its plan and two allocations (the cases, the behavior). Records
// of that shape are now written and read with mpack and the cursor alone:
// the plan bounds what it allocates as it reads (cursor.limit, the bound
// checkCost applies), and a world's cases and behaviors come from slabs.
//
// The fast paths are exact copies of the msgpack paths for that shape
// (taskfast_internal_test.go compares them byte for byte, and a fuzz
// target compares the readers). Anything else, and any doubt (an unusual
// encoding, damage, an allocation over the bound), makes the fast path give
// up: the msgpack path then does the whole record, and it alone decides
// what is an error and how it is worded.

// kindPlan is a kind's struct plan, looked up once.
type kindPlan struct {
	once sync.Once
	sp   *structPlan
}

// structPlan returns the plan of a pointer kind, nil if it has none.
func (k *Kind) structPlan() *structPlan {
	if !k.ptr || k.plan == nil {
		return nil
	}
	k.plan.once.Do(func() { k.plan.sp = planFor(k.typ) })
	return k.plan.sp
}

// appendTaskletFast appends ts's record in the common shape, exactly as
// the msgpack path writes it; ok is false (dst unchanged) for any other.
func appendTaskletFast(dst []byte, ts *scheduler.TaskletState, k *Kind) (out []byte, ok bool) {
	if ts.Value != nil || ts.Err != nil {
		return dst, false
	}
	for i := range ts.Cases {
		if c := &ts.Cases[i]; c.Value != nil || c.Dir >= tasklet.DirDo {
			return dst, false
		}
	}
	sp := k.structPlan()
	if sp == nil {
		return dst, false
	}
	p := reflect.ValueOf(ts.Behavior).UnsafePointer()
	if p == nil {
		return dst, false
	}
	out = mpack.AppendArrayLen(dst, taskletFields)
	out = mpack.AppendStr(out, "t")
	out = mpack.AppendUint(out, FormatVersion)
	out = mpack.AppendUint(out, uint64(ts.ID))
	out = mpack.AppendStr(out, k.Name)
	out = mpack.AppendUint(out, uint64(k.Version))
	out = mpack.AppendUint(out, uint64(ts.State))
	out = mpack.AppendUint(out, uint64(ts.Flags))
	out = mpack.AppendUint(out, ts.Steps)
	out = mpack.AppendUint(out, uint64(ts.Wait))
	out = mpack.AppendInt(out, int64(ts.Chosen))
	out = mpack.AppendBool(out, ts.Plain)
	out = append(out, 0xc0, 0xc0) // no value, no error
	if len(ts.Cases) == 0 {
		out = append(out, 0xc0)
	} else {
		out = mpack.AppendArrayLen(out, len(ts.Cases))
		for _, c := range ts.Cases {
			out = append(out, 0x94) // [dir, chan, value, timeout]
			out = mpack.AppendUint(out, uint64(c.Dir))
			out = mpack.AppendUint(out, uint64(c.Chan))
			out = append(out, 0xc0)
			out = mpack.AppendInt(out, int64(c.Timeout))
		}
	}
	return sp.append(out, p), true
}

// appendChannelFast appends cs's record when its buffer is empty and no
// waiter carries a value, exactly as the msgpack path writes it.
func appendChannelFast(dst []byte, cs *scheduler.ChannelState) (out []byte, ok bool) {
	if len(cs.Buffer) != 0 {
		return dst, false
	}
	for _, q := range [2][]scheduler.WaiterState{cs.Senders, cs.Receivers} {
		for i := range q {
			if q[i].Value != nil {
				return dst, false
			}
		}
	}
	out = mpack.AppendArrayLen(dst, channelFields)
	out = mpack.AppendStr(out, "c")
	out = mpack.AppendUint(out, FormatVersion)
	out = mpack.AppendUint(out, uint64(cs.ID))
	out = mpack.AppendUint(out, uint64(cs.Cap))
	out = mpack.AppendInt(out, int64(cs.Preference))
	out = mpack.AppendBool(out, cs.ScheduleAll)
	out = mpack.AppendBool(out, cs.Closed)
	out = append(out, 0x90) // the empty buffer
	for _, q := range [2][]scheduler.WaiterState{cs.Senders, cs.Receivers} {
		out = mpack.AppendArrayLen(out, len(q))
		for i := range q {
			w := &q[i]
			if w.Remote {
				out = append(out, 0x95)
			} else {
				out = append(out, 0x93)
			}
			out = mpack.AppendUint(out, uint64(w.Tasklet))
			out = mpack.AppendInt(out, int64(w.Case))
			out = append(out, 0xc0)
			if w.Remote {
				out = mpack.AppendUint(out, uint64(w.Node))
				out = mpack.AppendUint(out, uint64(w.Seq))
			}
		}
	}
	return out, true
}

// loadTaskletFast reads a whole tasklet record of the common shape into
// rec without Scan: every read is bounds-checked, every count is bounded by
// the bytes left or by the allocation limit, and a record is taken only if
// it was read to its last byte, so what it takes Scan would take too (a
// fuzz target checks that). On false the caller starts over from Scan.
func (r *Registry) loadTaskletFast(b []byte, rec *TaskletRecord, sl *slabs) bool {
	c := cursor{b: b}
	kind, err := readFixed(&c, rec)
	if err != nil {
		return false
	}
	k := r.kind(string(kind))
	if k == nil {
		return false
	}
	rec.Kind = k.Name
	return loadRestFast(&c, rec, k, sl)
}

// loadRestFast reads what follows a tasklet record's fixed fields (c is
// past them, rec has them and k is the record's kind) when it has the
// common shape; false when the msgpack path must read it. On false rec's
// Cases and Behavior may be half set.
func loadRestFast(c *cursor, rec *TaskletRecord, k *Kind, sl *slabs) bool {
	if k == nil || rec.Version != k.Version {
		return false
	}
	sp := k.structPlan()
	if sp == nil || c.off+3 > len(c.b) || c.b[c.off] != 0xc0 || c.b[c.off+1] != 0xc0 {
		return false // a pending value or error: the decoder's job
	}
	c.off += 2
	if c.b[c.off] == 0xc0 {
		c.off++
	} else {
		n := c.arrayLen()
		if c.err != nil || n > (len(c.b)-c.off)/5 { // a case takes 5 bytes at least
			return false
		}
		if n == 0 {
			goto behavior // the msgpack path leaves an empty list nil too
		}
		cases := sl.takeCases(n)
		for i := range cases {
			if c.arrayLen() != 4 {
				return false
			}
			dir, ch := c.uint(), c.uint()
			if v, ok := c.next(); !ok || v != 0xc0 || dir >= uint64(tasklet.DirDo) {
				return false // a carried value or an effect: the decoder's job
			}
			cases[i] = tasklet.Case{Dir: tasklet.Dir(dir), Chan: tasklet.ChanID(ch), Timeout: time.Duration(c.int())}
		}
		if c.err != nil {
			return false
		}
		rec.Cases = cases
	}
behavior:
	rest := c.b[c.off:]
	bc := cursor{b: rest, limit: maxAmplification*len(rest) + costSlack} // checkCost's bound
	p := sl.behavior(k)
	if sp.decode(&bc, p); bc.err != nil || bc.off != len(rest) {
		return false
	}
	b, ok := reflect.NewAt(k.typ, p).Interface().(tasklet.Behavior)
	rec.Behavior = b
	return ok
}

// slabs hands out the cases, behaviors and channel waiters of one world's
// records carved from larger blocks. A nil *slabs allocates each alone.
// A behavior keeps its block alive: up to behaviorBlock bytes per kind
// stay allocated while any tasklet of that block lives.
type slabs struct {
	cases   []tasklet.Case
	behav   []behaviorSlab
	waiters waiterSlab
}

type behaviorSlab struct {
	k    *Kind
	next unsafe.Pointer // the next free behavior in the block
	left int
}

const (
	caseSlabBlock = 1024
	behaviorBlock = 4 << 10 // bytes of behaviors per block (at most 128 of them)
)

func (s *slabs) takeCases(n int) []tasklet.Case {
	if s == nil || n > caseSlabBlock {
		return make([]tasklet.Case, n)
	}
	if len(s.cases) < n {
		s.cases = make([]tasklet.Case, caseSlabBlock)
	}
	out := s.cases[:n:n] // full capacity: an append by the owner copies
	s.cases = s.cases[n:]
	return out
}

// behavior returns a zeroed value of k's struct type.
func (s *slabs) behavior(k *Kind) unsafe.Pointer {
	if s == nil {
		return reflect.New(k.typ).UnsafePointer()
	}
	var bs *behaviorSlab
	for i := range s.behav {
		if s.behav[i].k == k {
			bs = &s.behav[i]
			break
		}
	}
	if bs == nil {
		s.behav = append(s.behav, behaviorSlab{k: k})
		bs = &s.behav[len(s.behav)-1]
	}
	size := k.typ.Size()
	if bs.left == 0 {
		n := min(max(behaviorBlock/max(int(size), 1), 1), 128)
		bs.next, bs.left = reflect.MakeSlice(reflect.SliceOf(k.typ), n, n).UnsafePointer(), n
	}
	p := bs.next
	if bs.left--; bs.left > 0 { // never past the block's end
		bs.next = unsafe.Add(p, size)
	}
	return p
}

// waiterSlab returns the slab of channel waiters (nil without slabs).
func (s *slabs) waiterSlab() *waiterSlab {
	if s == nil {
		return nil
	}
	return &s.waiters
}
