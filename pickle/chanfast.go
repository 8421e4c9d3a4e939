package pickle

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Restoring a big world decodes one channel record per inbox, and almost
// every one of them is idle: nothing buffered, only tasklets waiting with no
// value. Going through the msgpack decoder for those cost a pooled decoder,
// a closure, the tag string and a growing waiter slice each. An idle
// channel is now read with the allocation-free cursor straight from the
// scanned bytes, its waiters carved from a slab shared by the whole world.
// Anything else (a buffered or carried value, an unusual encoding, damage)
// makes the fast path give up, and the decoder reads the record from the
// start: it alone decides what is an error and how it is worded. The fast
// path runs before Scan: its reads are bounds-checked, a waiter count is
// bounded by the bytes left, and it takes a record only when it read it to
// the last byte, so what it takes Scan takes too.

// waiterSlab hands out waiter slices carved from larger blocks, so the
// channels of one world share a few allocations instead of one each.
type waiterSlab []scheduler.WaiterState

const waiterSlabBlock = 1024

// take returns a slice of n waiters (full length and capacity, so an
// append by a later owner copies instead of overwriting a neighbour).
func (s *waiterSlab) take(n int) []scheduler.WaiterState {
	if n == 0 {
		return nil
	}
	if s == nil {
		return make([]scheduler.WaiterState, n)
	}
	if len(*s) < n {
		*s = make(waiterSlab, max(n, waiterSlabBlock))
	}
	out := (*s)[:n:n]
	*s = (*s)[n:]
	return out
}

// loadChannelInto decodes a channel record into cs (which must be zero),
// with the same checks and errors as the decoder path.
func (r *Registry) loadChannelInto(b []byte, cs *scheduler.ChannelState, slab *waiterSlab) error {
	if len(b) > r.maxRecord {
		return fmt.Errorf("pickle: channel record: %w: %d bytes, the limit is %d", ErrTooLarge, len(b), r.maxRecord)
	}
	if idleChannel(b, cs, slab) {
		return nil
	}
	*cs = scheduler.ChannelState{}
	// decode checks the record with Scan before msgpack sees it.
	return r.decode(b, "channel record", func(d *msgpack.Decoder) error { return r.decodeChannel(d, cs, r.decodeValue) })
}

// idleChannel reads b into cs when it is an idle channel in the encoder's
// own shape, and reports whether it did. On false cs may be half filled.
func idleChannel(b []byte, cs *scheduler.ChannelState, slab *waiterSlab) bool {
	c := cursor{b: b}
	if c.envelope(channelFields, "c") != nil {
		return false
	}
	id, capacity, pref := c.uint(), c.uint(), c.int()
	cs.ScheduleAll, cs.Closed = c.bool(), c.bool()
	if c.err != nil || capacity > 1<<31 || c.arrayLen() != 0 || c.err != nil {
		return false
	}
	cs.ID, cs.Cap, cs.Preference = channel.ID(id), int(capacity), int(pref)
	for _, q := range []*[]scheduler.WaiterState{&cs.Senders, &cs.Receivers} {
		n := c.arrayLen()
		if c.err != nil || n > (len(b)-c.off)/4 { // a waiter takes 4 bytes at least: a bound before allocating
			return false
		}
		ws := slab.take(n)
		for i := range ws {
			if c.arrayLen() != 3 {
				return false
			}
			t, ci := c.uint(), c.int()
			if v, ok := c.next(); !ok || v != 0xc0 { // a carried value: the decoder's job
				return false
			}
			ws[i] = scheduler.WaiterState{Tasklet: tasklet.ID(t), Case: int(ci)}
		}
		*q = ws
	}
	return c.err == nil && c.off == len(b)
}
