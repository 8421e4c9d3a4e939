package ipc

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/mpack"
	"github.com/stackless-go/stackless/pickle"
)

// A stream of sends on credit (credit.go) used to cost a message per value
// on both nodes: a frame encoded, read, decoded, handed to the scheduler
// and applied, each on its own. A PUTS frame carries the values that
// consecutive sends on credit put on one channel of the peer: the link
// keeps the frame open at the tail of its queue and appends each value to
// it, so the frame grows while the sends of a slice follow each other, and
// anything else queued on the link (another channel's PUT, an OP, a
// CANCEL) closes it first, so the link's order is exactly the order sent.
// The home applies a frame's values one after the other in one pass and
// gives the credit back in one GRANT.
//
// Body: [PUTS, chan, v1, ..., vN] as a msgpack array32 (its count and the
// frame length are filled in when the frame closes). Values of type int,
// string and non-nil []byte are written as bare msgpack scalars (the
// common stream value, without the type name every other value carries);
// every other value is a typed value of the registry, as in a PUT.

// maxPutValues bounds the values of one PUTS frame, on both ends.
const maxPutValues = 4096

// appendPutValue appends v as a PUTS value.
func appendPutValue(b []byte, reg *pickle.Registry, v any) ([]byte, error) {
	switch x := v.(type) {
	case int:
		return mpack.AppendInt(b, int64(x)), nil
	case string:
		return mpack.AppendStr(b, x), nil
	case []byte:
		if x != nil {
			return mpack.AppendBin(b, x), nil
		}
	}
	return reg.AppendValue(b, v)
}

// appendPuts appends a whole PUTS body (a frame not built in place).
func appendPuts(b []byte, reg *pickle.Registry, ch channel.ID, vals []any) ([]byte, error) {
	if len(vals) == 0 || len(vals) > maxPutValues {
		return b, fmt.Errorf("ipc: encode: a PUTS of %d values (1 to %d)", len(vals), maxPutValues)
	}
	b = mpack.AppendArrayLen(b, 2+len(vals))
	b = mpack.AppendUint(b, uint64(kPuts))
	b = mpack.AppendUint(b, uint64(ch))
	var err error
	for _, v := range vals {
		if b, err = appendPutValue(b, reg, v); err != nil {
			return b, fmt.Errorf("ipc: the value sent on %v: %w", ch, err)
		}
	}
	return b, nil
}

// decodePuts reads the rest of a PUTS body of n fields (the kind is read)
// into m, its values appended to *vals. The body is not validated by
// ScanAll first, as other messages are: the cursor checks every length
// against the body, a typed value is scanned on its own (raw, with the
// same limits), a value is appended only once read (so n cannot make it
// allocate more than the body holds; it is bounded by maxPutValues
// besides), and the body must end with the last value.
func decodePuts(c *cursor, reg *pickle.Registry, m *message, n int, vals *[]any) error {
	if n < 3 || n-2 > maxPutValues {
		return fmt.Errorf("%w: a PUTS with %d values (1 to %d)", ErrBadFrame, n-2, maxPutValues)
	}
	m.Chan = channel.ID(c.uint())
	vs, start := *vals, len(*vals)
	err := c.putValues(reg, n-2, &vs)
	switch {
	case err != nil:
	case c.err != nil:
		err = c.err
	case c.off != len(c.b):
		err = fmt.Errorf("%w: %d bytes after the PUTS message", ErrBadFrame, len(c.b)-c.off)
	}
	if err != nil {
		clear(vs[start:])
		*vals = vs[:start] // nothing of a refused frame stays
		return err
	}
	*vals = vs
	m.Values = vs[start:len(vs):len(vs)]
	return nil
}

// putValues appends k PUTS values to *vs. A stream's counters (a positive
// fixint, a uint8 or a uint16) are read in the loop, with the cursor in
// locals and ints under 256 boxed from a table, without putValue's call and
// (any, error) result; anything else goes through putValue.
func (c *cursor) putValues(reg *pickle.Registry, k int, vs *[]any) error {
	out, b, off := *vs, c.b, c.off
	var ints []int // where uint16s are boxed (intAt)
	for ; k > 0; k-- {
		if off < len(b) {
			switch x := b[off]; {
			case x <= 0x7f:
				out = append(out, smallInts[x])
				off++
				continue
			case x == 0xcc && len(b)-off >= 2:
				out = append(out, smallInts[b[off+1]])
				off += 2
				continue
			case x == 0xcd && len(b)-off >= 3:
				// Boxed in place in a block shared by the batch: a
				// stream's counters are mostly uint16s, and boxing each
				// one (convT64) was a tiny allocation a value.
				if len(ints) == 0 {
					ints = make([]int, min(k, 256))
				}
				ints[0] = int(binary.BigEndian.Uint16(b[off+1:]))
				out = append(out, intAt(&ints[0]))
				ints = ints[1:]
				off += 3
				continue
			}
		}
		c.off = off
		v, err := c.putValue(reg)
		if err != nil {
			*vs = out
			return err
		}
		out = append(out, v)
		off = c.off
	}
	c.off = off
	*vs = out
	return nil
}

// intAt returns *p as an any that points at p instead of a copy, as the
// runtime's own boxing of a small int points into a static table. Nothing
// may write *p afterwards; the any keeps p's whole block alive.
func intAt(p *int) any {
	var v any = 0
	(*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1] = unsafe.Pointer(p)
	return v
}

// smallInts holds the ints 0 to 255 boxed, for putValues.
var smallInts = func() (t [256]any) {
	for i := range t {
		t[i] = i
	}
	return t
}()

// putValue reads one PUTS value: a bare int, string or byte string, or a
// typed value of the registry.
func (c *cursor) putValue(reg *pickle.Registry) (any, error) {
	b, ok := c.peek()
	if !ok {
		return nil, c.err
	}
	switch rest := c.b[c.off:]; {
	// The encodings of a stream's counters, read in place: c.int's general
	// path was a tenth of a value's cost at its home.
	case b <= 0x7f:
		c.off++
		return int(b), nil
	case b == 0xcc && len(rest) >= 2:
		c.off += 2
		return int(rest[1]), nil
	case b == 0xcd && len(rest) >= 3:
		c.off += 3
		return int(binary.BigEndian.Uint16(rest[1:])), nil
	case b == 0xce && len(rest) >= 5 && uint64(binary.BigEndian.Uint32(rest[1:])) <= math.MaxInt:
		c.off += 5
		return int(binary.BigEndian.Uint32(rest[1:])), nil
	case b >= 0xe0 || (b >= 0xcc && b <= 0xd3):
		x := c.int()
		if c.err == nil && (x > math.MaxInt || x < math.MinInt) {
			c.fail("an int")
		}
		return int(x), c.err
	case (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb):
		return string(c.str()), c.err
	case b >= 0xc4 && b <= 0xc6:
		return c.bin(), c.err
	}
	raw := c.raw()
	if c.err != nil {
		return nil, c.err
	}
	v, err := reg.LoadValue(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: PUTS value: %w", ErrBadFrame, err)
	}
	return v, nil
}

// put appends v, sent on credit on channel ch of the peer, to the link's
// queue: to the open PUTS frame if it is for ch and has room, else to a
// new one. hold is as for enqueue (the scheduler's flush wakes the writer).
func (l *link) put(ch channel.ID, v any, hold bool) error {
	one, errs := [1]any{v}, [1]error{}
	if _, err := l.putAll(ch, one[:], errs[:], hold); err != nil {
		return err
	}
	return errs[0]
}

// putAll appends vals as put does each, under one lock, and reports how
// many went; errs[i] says why vals[i] did not (a value that cannot be
// sent), and is left nil for one that went: errs comes zeroed. An error of
// its own is the link's: none went.
func (l *link) putAll(ch channel.ID, vals []any, errs []error, hold bool) (int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, fmt.Errorf("ipc: send PUTS to node %d: %w", l.peer, ErrLinkDown)
	}
	kick, sent := false, 0
	for i := 0; i < len(vals); i++ {
		if k := l.appendIntsLocked(ch, vals[i:]); k > 0 {
			// As for appendToRunLocked below, once for the k values: out
			// only grows, so the test at the last is the test at any.
			sent += k
			i += k - 1
			if !hold || len(l.out) >= bufSize {
				kick = kick || l.unkicked
				l.unkicked = false
			}
			continue
		}
		v := vals[i]
		if l.appendToRunLocked(ch, v) {
			// No frame opened: only the writer's wake-up is decided.
			sent++
			if !hold || len(l.out) >= bufSize {
				kick = kick || l.unkicked
				l.unkicked = false
			}
			continue
		}
		opened, err := l.putLocked(ch, v)
		if err != nil {
			errs[i] = err
			continue
		}
		sent++
		if hold && len(l.out) < bufSize {
			l.unkicked = l.unkicked || (opened && l.runAt == 0)
		} else {
			kick = kick || (opened && l.runAt == 0) || l.unkicked
			l.unkicked = false
		}
	}
	queued := len(l.out)
	l.unfenced = l.unfenced || sent > 0
	l.mu.Unlock()
	if queued > l.n.cfg.maxQueued {
		l.close(fmt.Errorf("the peer is not reading: %d bytes queued, over the limit of %d (WithMaxQueued)", queued, l.n.cfg.maxQueued))
		return 0, fmt.Errorf("ipc: send PUTS to node %d: %w", l.peer, ErrLinkDown)
	}
	if kick {
		l.wakeWriter()
	}
	return sent, nil
}

// appendToRunLocked appends v to the open PUTS frame if that is ch's, has
// room for one more value and v fits in it; it reports whether it did
// (else putLocked decides, and says why not). The common case of a batch,
// without putLocked's opening, moving and undoing. l.mu is held.
func (l *link) appendToRunLocked(ch channel.ID, v any) bool {
	if !l.runOpen || l.runCh != ch || l.runN >= maxPutValues {
		return false
	}
	mark := len(l.out)
	b, err := appendPutValue(l.out, l.n.reg, v)
	if err != nil || len(b)-l.runAt-frameHeader > l.n.cfg.maxFrame {
		l.out = b[:mark]
		return false
	}
	l.out = b
	l.runN++
	return true
}

// maxIntLen is the longest msgpack int (0xd3 and 8 bytes).
const maxIntLen = 9

// appendIntsLocked appends the leading ints of vals to the open PUTS frame
// if that is ch's, as many as it has room for, and returns how many: a batch of woken senders' counters written in one loop,
// each as appendPutValue writes it, without a type switch, a call and a
// frame-size test a value. l.mu is held.
func (l *link) appendIntsLocked(ch channel.ID, vals []any) int {
	if !l.runOpen || l.runCh != ch {
		return 0
	}
	room := l.n.cfg.maxFrame - (len(l.out) - l.runAt - frameHeader)
	n := min(len(vals), maxPutValues-l.runN, room/maxIntLen)
	b := l.out
	k := 0
	for ; k < n; k++ {
		x, ok := vals[k].(int)
		if !ok {
			break
		}
		switch { // mpack.AppendInt's shortest forms of a stream's usual counters, inline
		case uint(x) <= 0x7f:
			b = append(b, byte(x))
		case uint(x) <= 0xff:
			b = append(b, 0xcc, byte(x))
		case uint(x) <= 0xffff:
			b = append(b, 0xcd, byte(x>>8), byte(x))
		default:
			b = mpack.AppendInt(b, int64(x))
		}
	}
	l.out = b
	l.runN += k
	return k
}

// putLocked appends one value of put; it reports whether it opened a
// frame. l.mu is held.
func (l *link) putLocked(ch channel.ID, v any) (bool, error) {
	if l.runOpen && (l.runCh != ch || l.runN >= maxPutValues) {
		l.endRunLocked()
	}
	opened := !l.runOpen
	if opened {
		l.openRunLocked(ch)
	}
	mark := len(l.out)
	b, err := appendPutValue(l.out, l.n.reg, v)
	if err == nil && len(b)-l.runAt-frameHeader > l.n.cfg.maxFrame && !opened {
		// The open frame has no room for v: close it without v and move v
		// to a frame of its own.
		l.tmp = append(l.tmp[:0], b[mark:]...)
		l.out = b[:mark]
		l.endRunLocked()
		l.openRunLocked(ch)
		opened = true
		b = append(l.out, l.tmp...)
	}
	if err == nil && len(b)-l.runAt-frameHeader > l.n.cfg.maxFrame {
		err = fmt.Errorf("%w: a %d-byte value; the limit is %d (WithMaxFrame)", ErrFrameTooLarge, len(b)-mark, l.n.cfg.maxFrame)
	}
	if err != nil {
		if opened {
			l.out = b[:l.runAt]
			l.runOpen = false
			l.framesOut--
		} else {
			l.out = b[:mark]
		}
		return false, fmt.Errorf("ipc: the value sent on %v: %w", ch, err)
	}
	l.out = b
	l.runN++
	return opened, nil
}

// openRunLocked begins a PUTS frame for ch at the tail of out.
func (l *link) openRunLocked(ch channel.ID) {
	l.runAt = len(l.out)
	l.out = append(l.out, 0, 0, 0, 0, 0xdd, 0, 0, 0, 0, byte(kPuts))
	l.out = mpack.AppendUint(l.out, uint64(ch))
	l.runOpen, l.runCh, l.runN = true, ch, 0
	l.framesOut++
}

// endRunLocked closes the open PUTS frame, if any: its length and count
// are filled in, and what follows in out is another frame.
func (l *link) endRunLocked() {
	if !l.runOpen {
		return
	}
	binary.BigEndian.PutUint32(l.out[l.runAt:], uint32(len(l.out)-l.runAt-frameHeader))
	binary.BigEndian.PutUint32(l.out[l.runAt+frameHeader+1:], uint32(2+l.runN))
	l.runOpen = false
}

// onPuts applies a PUTS from a peer to a channel of this node: each value
// as onPut applies a PUT, in order, with one GRANT for the credit that
// comes back.
func (n *Node) onPuts(m *message) {
	key := grantKey{m.From, m.Chan}
	g := n.cr.granted[key]
	held := min(g, len(m.Values))
	if held > 0 {
		n.cr.granted[key] = g - held
	}
	var starved *channel.Channel // the channel, when its buffer was empty: the receivers waited for these values
	if c := n.s.Channel(m.Chan); c != nil && c.Len() == 0 {
		starved = c
	}
	back, err := n.s.PutAll(m.Chan, m.Values, held)
	if err != nil {
		n.log.Warn("ipc: values a peer sent without waiting were dropped: their channel is gone", "peer", m.From, "chan", m.Chan, "values", len(m.Values), "err", err.Error())
	}
	switch {
	case err != nil || n.chanClosed(m.Chan):
		if g > 0 || n.cr.owed[key] > 0 {
			n.withdraw(key)
		}
	case back > 0:
		n.cr.granted[key] += back
		n.owe(key, back+n.topUp(key, starved))
	}
}

// topUp restores the peer's credit on key's channel to what a first grant
// on the empty channel gives (its capacity, at most maxGrant) when values
// on credit found the buffer empty, and returns what it adds. A PUT that
// filled the buffer kept its credit, and without this the credit a stream
// lost in one moment of a full buffer (the first batch arriving behind the
// round trips that came before credit, say) stayed lost for the whole
// stream: a stream of 1,024 senders settled on 768 credits in half of the
// runs, and since each batch costs a round trip of wake-ups whatever its
// size, on 3/4 of the rate. An empty buffer means the receivers wait:
// more credit in flight is what they lack, and the buffer has the room.
// c is the channel when the values found its buffer empty, else nil.
func (n *Node) topUp(key grantKey, c *channel.Channel) int {
	if c == nil || c.HasSenders() {
		return 0
	}
	k := min(c.Cap(), maxGrant) - n.cr.granted[key]
	if k <= 0 {
		return 0
	}
	n.cr.granted[key] += k
	return k
}
