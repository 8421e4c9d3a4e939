package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/scheduler"
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

// InspectTasklet is Inspect: a tasklet record decoded without its kind or
// its value types registered.
func (r *Registry) InspectTasklet(b []byte) (*TaskletRecord, error) { return r.Inspect(b) }

// InspectChannel decodes a channel record like LoadChannel, except that
// values of unregistered types come back as Opaque instead of failing.
// It is for showing a world, not for restoring one.
func (r *Registry) InspectChannel(b []byte) (*scheduler.ChannelState, error) {
	cs := new(scheduler.ChannelState)
	err := r.decode(b, "channel record", func(d *msgpack.Decoder) error { return r.decodeChannel(d, cs, r.inspectValue) })
	return cs, err
}

// inspectValue decodes a value like decodeValue; a value of an
// unregistered type becomes an Opaque. The bytes were validated by Scan
// before (decode does that), so the loose decoding is bounded.
func (r *Registry) inspectValue(d *msgpack.Decoder) (any, error) {
	raw, err := d.DecodeRaw()
	if err != nil {
		return nil, err
	}
	v, err := r.decodeValue(newDecoder(bytes.NewReader(raw)))
	if !errors.Is(err, ErrUnregistered) {
		return v, err
	}
	sub := newDecoder(bytes.NewReader(raw))
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
