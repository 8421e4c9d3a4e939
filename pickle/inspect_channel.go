package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Opaque stands for a value whose type is not registered in the registry
// that inspects it (a tool such as the stackless CLI does not know a
// program's types): its wire type name and its payload as plain msgpack
// values (maps, slices, numbers, strings).
type Opaque struct {
	Type  string
	Value any
}

// String is the type name and the payload, a struct-like payload as
// {Field:value ...} in field name order.
func (o Opaque) String() string {
	m, ok := o.Value.(map[string]any)
	if !ok {
		return fmt.Sprintf("%s(%v)", o.Type, o.Value)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(o.Type)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%v", k, m[k])
	}
	b.WriteByte('}')
	return b.String()
}

// InspectChannel decodes a channel record like LoadChannel, except that
// values of unregistered types come back as Opaque instead of failing.
// It is for showing a world, not for restoring one.
func (r *Registry) InspectChannel(b []byte) (*scheduler.ChannelState, error) {
	cs := new(scheduler.ChannelState)
	err := r.decode(b, "channel record", func(d *msgpack.Decoder) error { return r.inspectChannel(d, cs) })
	return cs, err
}

// inspectChannel mirrors decodeChannel with inspectValue for the values.
func (r *Registry) inspectChannel(d *msgpack.Decoder, cs *scheduler.ChannelState) error {
	if err := header(d, channelFields, "c"); err != nil {
		return err
	}
	id, err := d.DecodeUint64()
	if err != nil {
		return err
	}
	cs.ID = channel.ID(id)
	capacity, err := d.DecodeUint64()
	if err != nil {
		return err
	}
	if capacity > 1<<31 {
		return fmt.Errorf("%w: channel %v capacity %d", ErrCorrupt, cs.ID, capacity)
	}
	cs.Cap = int(capacity)
	pref, err := d.DecodeInt64()
	if err != nil {
		return err
	}
	cs.Preference = int(pref)
	if cs.ScheduleAll, err = d.DecodeBool(); err != nil {
		return err
	}
	if cs.Closed, err = d.DecodeBool(); err != nil {
		return err
	}
	n, err := listLen(d)
	if err != nil {
		return err
	}
	if n > 0 {
		cs.Buffer = make([]any, n)
	}
	for i := range cs.Buffer {
		if cs.Buffer[i], err = r.inspectValue(d); err != nil {
			return fmt.Errorf("channel %v buffer: %w", cs.ID, err)
		}
	}
	for _, q := range []*[]scheduler.WaiterState{&cs.Senders, &cs.Receivers} {
		n, err := listLen(d)
		if err != nil {
			return err
		}
		for range n {
			if err := arrayOf(d, 3, "channel waiter"); err != nil {
				return err
			}
			t, err := d.DecodeUint64()
			if err != nil {
				return err
			}
			c, err := d.DecodeInt64()
			if err != nil {
				return err
			}
			v, err := r.inspectValue(d)
			if err != nil {
				return err
			}
			*q = append(*q, scheduler.WaiterState{Tasklet: tasklet.ID(t), Case: int(c), Value: v})
		}
	}
	return nil
}

// inspectValue decodes a value like decodeValue; a value of an
// unregistered type becomes an Opaque. The bytes were validated by Scan
// before (decode does that), so the loose decoding is bounded.
func (r *Registry) inspectValue(d *msgpack.Decoder) (any, error) {
	raw, err := d.DecodeRaw()
	if err != nil {
		return nil, err
	}
	v, err := r.decodeValue(msgpack.NewDecoder(bytes.NewReader(raw)))
	if !errors.Is(err, ErrUnregistered) {
		return v, err
	}
	sub := msgpack.NewDecoder(bytes.NewReader(raw))
	if n, err := sub.DecodeArrayLen(); err != nil || n != 2 {
		return nil, fmt.Errorf("%w: a value must be [type, payload]", ErrCorrupt)
	}
	name, err := sub.DecodeString()
	if err != nil {
		return nil, err
	}
	payload, err := sub.DecodeInterfaceLoose()
	if err != nil {
		return nil, fmt.Errorf("pickle: value of type %q: %w", name, err)
	}
	return Opaque{Type: name, Value: payload}, nil
}
