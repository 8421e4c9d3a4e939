package pickle

import (
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/tasklet"
)

// InspectTasklet decodes a tasklet record like Inspect (the kind need not
// be registered; the behavior's fields come back in Fields), and also
// accepts values of unregistered types in what the tasklet holds or waits
// to send: they come back as Opaque. It is for showing a world, not for
// restoring one.
func (r *Registry) InspectTasklet(b []byte) (*TaskletRecord, error) {
	rec := new(TaskletRecord)
	err := r.decode(b, "tasklet record", func(d *msgpack.Decoder) error { return r.inspectTasklet(d, rec) })
	return rec, err
}

// inspectTasklet mirrors loadTasklet in loose mode, with inspectValue for
// the values.
func (r *Registry) inspectTasklet(d *msgpack.Decoder, rec *TaskletRecord) error {
	if err := header(d, taskletFields, "t"); err != nil {
		return err
	}
	var err error
	u := func() uint64 {
		var v uint64
		if err == nil {
			v, err = d.DecodeUint64()
		}
		return v
	}
	id := u()
	var kind string
	if err == nil {
		kind, err = d.DecodeString()
	}
	ver, state, flags, steps, wait := u(), u(), u(), u(), u()
	var chosen int64
	if err == nil {
		chosen, err = d.DecodeInt64()
	}
	if err == nil {
		rec.Plain, err = d.DecodeBool()
	}
	if err != nil {
		return err
	}
	rec.ID, rec.Kind = tasklet.ID(id), kind
	if ver > 1<<32-1 || state >= uint64(tasklet.Dead) { // the checks of loadTasklet, no more
		return fmt.Errorf("tasklet %v: %w: version %d, state %d", rec.ID, ErrCorrupt, ver, state)
	}
	rec.Version, rec.State, rec.Flags, rec.Steps, rec.Wait, rec.Chosen = uint32(ver), tasklet.State(state), uint8(flags), steps, uint32(wait), int(chosen)
	if rec.Value, err = r.inspectValue(d); err != nil {
		return fmt.Errorf("tasklet %v: %w", rec.ID, err)
	}
	if rec.Err, err = r.decodeError(d); err != nil {
		return fmt.Errorf("tasklet %v: %w", rec.ID, err)
	}
	if rec.Cases, err = r.inspectCases(d); err != nil {
		return fmt.Errorf("tasklet %v: %w", rec.ID, err)
	}
	v, err := d.DecodeInterfaceLoose()
	if err != nil {
		return fmt.Errorf("tasklet %v (kind %s): %w", rec.ID, rec.Kind, err)
	}
	if m, ok := v.(map[string]any); ok {
		rec.Fields = m
	}
	return nil
}

// inspectCases mirrors decodeCases with inspectValue for the values.
func (r *Registry) inspectCases(d *msgpack.Decoder) ([]tasklet.Case, error) {
	n, err := listLen(d)
	if err != nil || n == 0 {
		return nil, err
	}
	cases := make([]tasklet.Case, n)
	for i := range cases {
		if err := arrayOf(d, 4, "select case"); err != nil {
			return nil, err
		}
		dir, err := d.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if dir > uint64(tasklet.DirDefault) {
			return nil, fmt.Errorf("%w: select case direction %d", ErrCorrupt, dir)
		}
		ch, err := d.DecodeUint64()
		if err != nil {
			return nil, err
		}
		v, err := r.inspectValue(d)
		if err != nil {
			return nil, err
		}
		to, err := d.DecodeInt64()
		if err != nil {
			return nil, err
		}
		cases[i] = tasklet.Case{Dir: tasklet.Dir(dir), Chan: tasklet.ChanID(ch), Value: v, Timeout: time.Duration(to)}
	}
	return cases, nil
}
