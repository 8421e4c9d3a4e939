package pickle

import (
	"encoding/binary"
	"fmt"

	"github.com/stackless-go/stackless/tasklet"
)

// WalkWorld reads a blob written by DumpWorld in place: header gets its
// header record, fn each record's key and value, in order, both subslices
// of b that neither is decoded nor copied. It is for readers that need a
// few fields of many records: the cluster's journal trim reads each
// tasklet's steps (TaskletSteps) of a million-tasklet world, where
// SplitWorld copies every record and LoadWorld decodes every behavior.
// The blob is validated (size, then Scan) before anything is handed out.
func (r *Registry) WalkWorld(b []byte, header func(meta []byte) error, fn func(key, value []byte) error) error {
	if len(b) > r.maxWorld {
		return fmt.Errorf("pickle: world: %w: %d bytes, the limit is %d", ErrTooLarge, len(b), r.maxWorld)
	}
	if err := ScanAll(b, Limits{}); err != nil {
		return fmt.Errorf("pickle: world: %w", err)
	}
	c := cursor{b: b}
	if err := c.envelope(worldFields, "w"); err != nil {
		return fmt.Errorf("pickle: world: %w", err)
	}
	meta := c.raw()
	if c.err == nil {
		if err := header(meta); err != nil {
			return err
		}
	}
	n := c.arrayLen()
	for i := 0; i < n && c.err == nil; i++ {
		if got := c.arrayLen(); c.err == nil && got != 2 {
			return fmt.Errorf("pickle: world: %w: world record %d has %d fields, want 2", ErrCorrupt, i, got)
		}
		key, value := c.bin(), c.raw()
		if c.err != nil {
			break
		}
		if err := fn(key, value); err != nil {
			return err
		}
	}
	if end, ok := c.next(); c.err == nil && (!ok || end != 0xc0) {
		c.fail("the world's closing nil")
	}
	if c.err == nil && c.off != len(b) {
		return fmt.Errorf("pickle: world: %w: %d bytes left unread", ErrCorrupt, len(b)-c.off)
	}
	if c.err != nil {
		return fmt.Errorf("pickle: world: %w", c.err)
	}
	return nil
}

// TaskletSteps reads a tasklet record's ID and steps, and nothing after
// them: no kind need be registered, no behavior is decoded.
func TaskletSteps(b []byte) (tasklet.ID, uint64, error) {
	var rec TaskletRecord
	c := cursor{b: b}
	if _, err := readFixed(&c, &rec); err != nil {
		return 0, 0, err
	}
	return rec.ID, rec.Steps, nil
}

// raw takes one whole msgpack value, as its bytes.
func (c *cursor) raw() []byte {
	if c.err != nil {
		return nil
	}
	n, err := Scan(c.b[c.off:], Limits{})
	if err != nil {
		c.err = err
		return nil
	}
	return c.take(n)
}

// bin takes a msgpack bin (what EncodeBytes writes).
func (c *cursor) bin() []byte {
	b, ok := c.next()
	switch {
	case !ok:
		return nil
	case b == 0xc4:
		if p := c.take(1); p != nil {
			return c.take(int(p[0]))
		}
	case b == 0xc5:
		if p := c.take(2); p != nil {
			return c.take(int(binary.BigEndian.Uint16(p)))
		}
	case b == 0xc6:
		if p := c.take(4); p != nil {
			return c.take(int(binary.BigEndian.Uint32(p)))
		}
	}
	c.fail("a byte string")
	return nil
}
