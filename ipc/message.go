package ipc

import (
	"fmt"
	"math"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/mpack"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// kind tags a message; it is the first field of every frame body.
type kind uint8

// Message kinds (see doc.go for what each one does).
const (
	kOp kind = 1 + iota
	kDone
	kCancel
	kClose
	kPost
	kReturn
	kMigrate
	kMigrated
	kRedirect
	kRedirected
	kSettled
	kPing
	kPong
	kControl
	kReply
	kPut
	kGrant
	kPuts
	kWaiting
	kFence
	kFenced
	kLast = kFenced
)

var kindNames = [...]string{"?", "OP", "DONE", "CANCEL", "CLOSE", "POST", "RETURN", "MIGRATE",
	"MIGRATED", "REDIRECT", "REDIRECTED", "SETTLED", "PING", "PONG", "CONTROL", "REPLY", "PUT", "GRANT", "PUTS", "WAITING",
	"FENCE", "FENCED"}

func (k kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// fields is the array length of each kind's frame body, tag included
// (PUTS: 2 plus its values; see puts.go).
var fields = [...]int{kOp: 5, kDone: 9, kCancel: 4, kClose: 2, kPost: 3, kReturn: 3, kMigrate: 5,
	kMigrated: 4, kRedirect: 5, kRedirected: 3, kSettled: 2, kPing: 2, kPong: 2, kControl: 4, kReply: 5,
	kPut: 3, kGrant: 3, kPuts: 3, kWaiting: 3, kFence: 2, kFenced: 2}

// message is one frame, decoded into concrete fields; peer data never
// decodes into interface{} except Value, which is a typed value of the
// pickle registry. Which fields a kind carries:
//
//	OP         Tasklet, Seq, Epoch, Cases (with their index in the select)
//	DONE       Tasklet, Seq, Idx, Chan, Recv, Node (the home), Value, Err
//	CANCEL     Tasklet, Seq, Node (the home that must cancel)
//	CLOSE      Chan
//	POST       Chan, Value
//	RETURN     Chan, Value
//	MIGRATE    Epoch, Flag (homes are being redirected), Record, Timers
//	MIGRATED   Tasklet, Epoch, Text (why it was refused; "" = accepted)
//	REDIRECT   Tasklet, Seq, Node (the tasklet's new node), Epoch
//	REDIRECTED Tasklet, Seq
//	SETTLED    Tasklet
//	PING, PONG ID
//	CONTROL    ID, Text (the control kind), Payload
//	REPLY      ID, Payload, Text (the handler's error), Idx (a reply code)
//	PUT        Chan, Value (a send on credit: no DONE answers it)
//	GRANT      Chan, Idx (credits for PUTs on Chan; 0 withdraws them)
//	PUTS       Chan, Values (sends on credit in bulk, in the order sent)
//	WAITING    Chan, Idx (the sends parked on the sending node for credit)
//	FENCE      ID (the link's FENCEs, counted from 1)
//	FENCED     ID
//
// From is the authenticated peer the frame came from; it is never read from
// the wire.
type message struct {
	Kind    kind
	From    uint16
	Tasklet tasklet.ID
	Seq     uint32
	Idx     int
	Node    uint16
	Epoch   uint64
	Chan    channel.ID
	Recv    bool
	Flag    bool
	Value   any
	Values  []any // PUTS
	Err     error
	Cases   []scheduler.RemoteCase
	Raw     []byte                // MIGRATE, sending: the encoded tasklet record
	Record  *pickle.TaskletRecord // MIGRATE, received
	Timers  []scheduler.TimerState
	ID      uint64
	Text    string
	Payload []byte
}

// maxCaseIndex bounds select case indices on the wire.
const maxCaseIndex = 1 << 20

// appendMessage appends m's frame body to b.
func appendMessage(b []byte, reg *pickle.Registry, m *message) ([]byte, error) {
	if m.Kind == 0 || m.Kind > kLast {
		return b, fmt.Errorf("ipc: encode: unknown message kind %d", m.Kind)
	}
	if m.Kind == kPuts {
		return appendPuts(b, reg, m.Chan, m.Values)
	}
	b = mpack.AppendArrayLen(b, fields[m.Kind])
	b = mpack.AppendUint(b, uint64(m.Kind))
	var err error
	switch m.Kind {
	case kOp:
		b = mpack.AppendUint(b, uint64(m.Tasklet))
		b = mpack.AppendUint(b, uint64(m.Seq))
		b = mpack.AppendUint(b, m.Epoch)
		b = mpack.AppendArrayLen(b, len(m.Cases))
		for i := range m.Cases {
			rc := &m.Cases[i]
			b = mpack.AppendArrayLen(b, 4)
			b = mpack.AppendInt(b, int64(rc.Index))
			b = mpack.AppendUint(b, uint64(rc.Dir))
			b = mpack.AppendUint(b, uint64(rc.Chan))
			if b, err = reg.AppendValue(b, rc.Value); err != nil {
				return b, fmt.Errorf("ipc: the value sent by tasklet %v on %v: %w", m.Tasklet, rc.Chan, err)
			}
		}
	case kDone:
		b = mpack.AppendUint(b, uint64(m.Tasklet))
		b = mpack.AppendUint(b, uint64(m.Seq))
		b = mpack.AppendInt(b, int64(m.Idx))
		b = mpack.AppendUint(b, uint64(m.Chan))
		b = mpack.AppendBool(b, m.Recv)
		b = mpack.AppendUint(b, uint64(m.Node))
		if b, err = reg.AppendValue(b, m.Value); err != nil {
			return b, fmt.Errorf("ipc: the value received by tasklet %v on %v: %w", m.Tasklet, m.Chan, err)
		}
		b, err = reg.AppendError(b, m.Err)
	case kCancel:
		b = mpack.AppendUint(b, uint64(m.Tasklet))
		b = mpack.AppendUint(b, uint64(m.Seq))
		b = mpack.AppendUint(b, uint64(m.Node))
	case kClose:
		b = mpack.AppendUint(b, uint64(m.Chan))
	case kPost, kReturn, kPut:
		b = mpack.AppendUint(b, uint64(m.Chan))
		if b, err = reg.AppendValue(b, m.Value); err != nil {
			return b, fmt.Errorf("ipc: the value posted to %v: %w", m.Chan, err)
		}
	case kMigrate:
		b = mpack.AppendUint(b, m.Epoch)
		b = mpack.AppendBool(b, m.Flag)
		b = append(b, m.Raw...)
		b = mpack.AppendArrayLen(b, len(m.Timers))
		for _, tm := range m.Timers {
			b = mpack.AppendArrayLen(b, 2)
			b = mpack.AppendInt(b, int64(tm.At))
			b = mpack.AppendInt(b, int64(tm.Case))
		}
	case kMigrated:
		b = mpack.AppendUint(b, uint64(m.Tasklet))
		b = mpack.AppendUint(b, m.Epoch)
		b = appendOptStr(b, m.Text)
	case kRedirect:
		b = mpack.AppendUint(b, uint64(m.Tasklet))
		b = mpack.AppendUint(b, uint64(m.Seq))
		b = mpack.AppendUint(b, uint64(m.Node))
		b = mpack.AppendUint(b, m.Epoch)
	case kRedirected:
		b = mpack.AppendUint(b, uint64(m.Tasklet))
		b = mpack.AppendUint(b, uint64(m.Seq))
	case kSettled:
		b = mpack.AppendUint(b, uint64(m.Tasklet))
	case kPing, kPong, kFence, kFenced:
		b = mpack.AppendUint(b, m.ID)
	case kGrant, kWaiting:
		b = mpack.AppendUint(b, uint64(m.Chan))
		b = mpack.AppendUint(b, uint64(m.Idx))
	case kControl:
		b = mpack.AppendUint(b, m.ID)
		b = mpack.AppendStr(b, m.Text)
		b = appendBin(b, m.Payload)
	case kReply:
		b = mpack.AppendUint(b, m.ID)
		b = appendBin(b, m.Payload)
		b = appendOptStr(b, m.Text)
		b = mpack.AppendUint(b, uint64(m.Idx))
	}
	return b, err
}

// scratch holds what decoded messages share: OP cases and PUTS values are
// appended to it and m.Cases, m.Values are slices of it, so a batch of
// messages decodes without an allocation per message.
type scratch struct {
	cases []scheduler.RemoteCase
	vals  []any
}

func (sc *scratch) reset() {
	clear(sc.cases)
	sc.cases = sc.cases[:0]
	clear(sc.vals)
	sc.vals = sc.vals[:0]
}

// decodeMessage decodes a frame body into m. body is untrusted: it is
// validated with pickle.ScanAll first (lengths fit, bounded nesting; a
// PUTS is checked as it is read, decodePuts), then read field by field
// into m, and values only through the registry. OP cases and PUTS values
// are appended to sc, which m.Cases and m.Values then share. Nothing in m refers to body afterwards.
func decodeMessage(body []byte, reg *pickle.Registry, m *message, sc *scratch) error {
	cases := &sc.cases
	c := cursor{b: body}
	n := c.array()
	k := kind(c.uintMax(uint64(kLast), "message kind"))
	if c.err == nil && k == kPuts {
		// Without ScanAll (decodePuts says why): a second pass over every
		// value was a tenth of a stream's cost at its home.
		*m = message{Kind: k}
		return decodePuts(&c, reg, m, n, &sc.vals)
	}
	if err := pickle.ScanAll(body, pickle.Limits{}); err != nil {
		return fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	if c.err != nil {
		return c.err
	}
	if k == 0 || n != fields[k] {
		return fmt.Errorf("%w: a %v message with %d fields, want %d", ErrBadFrame, k, n, fields[min(k, kLast)])
	}
	*m = message{Kind: k}
	var err error
	switch k {
	case kOp:
		m.Tasklet = taskletID(&c)
		m.Seq = uint32(c.uintMax(math.MaxUint32, "wait sequence"))
		m.Epoch = c.uint()
		nc := c.array()
		if c.err == nil && nc == 0 {
			return fmt.Errorf("%w: an OP without cases", ErrBadFrame)
		}
		start := len(*cases)
		for range nc {
			if c.array() != 4 && c.err == nil {
				return fmt.Errorf("%w: an OP case must have 4 fields", ErrBadFrame)
			}
			idx := c.int()
			dir := tasklet.Dir(c.uintMax(uint64(tasklet.DirSend), "case direction"))
			ch := channel.ID(c.uint())
			raw := c.raw()
			if c.err != nil {
				return c.err
			}
			if idx < -1 || idx >= maxCaseIndex {
				return fmt.Errorf("%w: case index %d", ErrBadFrame, idx)
			}
			v, err := reg.LoadValue(raw)
			if err != nil {
				return fmt.Errorf("%w: OP value: %w", ErrBadFrame, err)
			}
			*cases = append(*cases, scheduler.RemoteCase{Index: int(idx), Case: tasklet.Case{Dir: dir, Chan: ch, Value: v}})
		}
		m.Cases = (*cases)[start:len(*cases):len(*cases)]
	case kDone:
		m.Tasklet = taskletID(&c)
		m.Seq = uint32(c.uintMax(math.MaxUint32, "wait sequence"))
		idx := c.int()
		m.Chan = channel.ID(c.uint())
		m.Recv = c.bool()
		m.Node = uint16(c.uintMax(math.MaxUint16, "node"))
		rawV, rawE := c.raw(), c.raw()
		if c.err != nil {
			return c.err
		}
		if idx < -1 || idx >= maxCaseIndex {
			return fmt.Errorf("%w: case index %d", ErrBadFrame, idx)
		}
		m.Idx = int(idx)
		if m.Value, err = reg.LoadValue(rawV); err != nil {
			return fmt.Errorf("%w: DONE value: %w", ErrBadFrame, err)
		}
		if m.Err, err = reg.LoadError(rawE); err != nil {
			return fmt.Errorf("%w: DONE error: %w", ErrBadFrame, err)
		}
	case kCancel:
		m.Tasklet = taskletID(&c)
		m.Seq = uint32(c.uintMax(math.MaxUint32, "wait sequence"))
		m.Node = uint16(c.uintMax(math.MaxUint16, "node"))
	case kClose:
		m.Chan = channel.ID(c.uint())
	case kPost, kReturn, kPut:
		m.Chan = channel.ID(c.uint())
		raw := c.raw()
		if c.err != nil {
			return c.err
		}
		if m.Value, err = reg.LoadValue(raw); err != nil {
			return fmt.Errorf("%w: %v value: %w", ErrBadFrame, k, err)
		}
	case kMigrate:
		if err := decodeMigrate(&c, reg, m); err != nil {
			return err
		}
	case kMigrated:
		m.Tasklet = taskletID(&c)
		m.Epoch = c.uint()
		m.Text = string(c.str())
	case kRedirect:
		m.Tasklet = taskletID(&c)
		m.Seq = uint32(c.uintMax(math.MaxUint32, "wait sequence"))
		m.Node = uint16(c.uintMax(math.MaxUint16, "node"))
		m.Epoch = c.uint()
	case kRedirected:
		m.Tasklet = taskletID(&c)
		m.Seq = uint32(c.uintMax(math.MaxUint32, "wait sequence"))
	case kSettled:
		m.Tasklet = taskletID(&c)
	case kPing, kPong, kFence, kFenced:
		m.ID = c.uint()
	case kGrant:
		m.Chan = channel.ID(c.uint())
		m.Idx = int(c.uintMax(maxGrant, "grant"))
	case kWaiting:
		m.Chan = channel.ID(c.uint())
		m.Idx = int(c.uintMax(math.MaxInt32, "sends waiting"))
	case kControl:
		m.ID = c.uint()
		m.Text = string(c.str())
		m.Payload = c.bin()
	case kReply:
		m.ID = c.uint()
		m.Payload = c.bin()
		m.Text = string(c.str())
		m.Idx = int(c.uintMax(replyBusy, "reply code"))
	}
	if c.err != nil {
		return c.err
	}
	if c.off != len(body) {
		return fmt.Errorf("%w: %d bytes after the %v message", ErrBadFrame, len(body)-c.off, k)
	}
	return nil
}

func taskletID(c *cursor) tasklet.ID {
	id := tasklet.ID(c.uint())
	if c.err == nil && id == 0 {
		c.fail("a tasklet ID (not 0)")
	}
	return id
}

// maxTimers bounds the timers one migrating tasklet may carry.
const maxTimers = 64

func decodeMigrate(c *cursor, reg *pickle.Registry, m *message) error {
	m.Epoch = c.uint()
	m.Flag = c.bool()
	raw := c.raw()
	nt := c.array()
	if c.err != nil {
		return c.err
	}
	if nt > maxTimers {
		return fmt.Errorf("%w: a MIGRATE with %d timers", ErrBadFrame, nt)
	}
	for range nt {
		if c.array() != 2 && c.err == nil {
			return fmt.Errorf("%w: a timer must have 2 fields", ErrBadFrame)
		}
		left, idx := c.int(), c.int()
		if c.err != nil {
			return c.err
		}
		if left < 0 || idx < -1 || idx >= maxCaseIndex {
			return fmt.Errorf("%w: timer of %d ns for case %d", ErrBadFrame, left, idx)
		}
		m.Timers = append(m.Timers, scheduler.TimerState{At: time.Duration(left), Case: int(idx)})
	}
	rec, err := reg.LoadTasklet(raw)
	if err != nil {
		if rec == nil || rec.ID == 0 {
			return fmt.Errorf("%w: MIGRATE record: %w", ErrBadFrame, err)
		}
		// A well-formed record this program cannot take (an unknown kind,
		// say): the target refuses it and the sender keeps the tasklet.
		m.Tasklet, m.Err = rec.ID, err
		return nil
	}
	if rec.ID == 0 {
		return fmt.Errorf("%w: MIGRATE of tasklet 0", ErrBadFrame)
	}
	m.Tasklet, m.Record = rec.ID, rec
	for i := range m.Timers {
		m.Timers[i].Tasklet = rec.ID
	}
	return nil
}
