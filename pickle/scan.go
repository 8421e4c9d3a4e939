package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// DefaultMaxDepth is the array/map nesting depth Scan allows when
// Limits.MaxDepth is zero. It bounds the decoders' recursion, which costs
// each level a few hundred bytes of goroutine stack, so a hostile frame of
// 512 bytes makes a decoder hold well under a megabyte; a save nests one
// level per frame of a recursion, which needs room for hundreds.
const DefaultMaxDepth = 512

// onStack is how deep Scan nests before its stack of counts leaves the
// goroutine stack for the heap: deeper than any state but a recursion's.
const onStack = 64

// Limits bound what Scan accepts.
type Limits struct {
	MaxDepth int // deepest array/map nesting; 0 means DefaultMaxDepth (512)
	MaxItems int // total number of msgpack objects in the value; 0 means len(b) (every object takes >= 1 byte)
}

// ErrMalformed is wrapped by every error Scan returns.
var ErrMalformed = errors.New("pickle: malformed msgpack")

// Object kinds for the 0xc0..0xdf format bytes.
const (
	kindFixed   = iota // header only; hdr is the whole size
	kindBlob           // str/bin/ext: hdr bytes, then a payload of the declared length
	kindArray          // array: hdr bytes, then n objects
	kindMap            // map: hdr bytes, then 2n objects
	kindInvalid        // 0xc1, never used
)

// format describes one of the 0xc0..0xdf format bytes.
type format struct {
	name string // msgpack spec name, for error messages
	noun string // what a length counts: "str", "bin", "ext", "array", "map"
	kind uint8
	hdr  uint8 // bytes before the payload, type byte included
	lenw uint8 // width of the big-endian length at offset 1; 0 if none
}

var formats = [32]format{
	0x00: {name: "nil", kind: kindFixed, hdr: 1},
	0x01: {name: "never used (0xc1)", kind: kindInvalid, hdr: 1},
	0x02: {name: "false", kind: kindFixed, hdr: 1},
	0x03: {name: "true", kind: kindFixed, hdr: 1},
	0x04: {name: "bin8", noun: "bin", kind: kindBlob, hdr: 2, lenw: 1},
	0x05: {name: "bin16", noun: "bin", kind: kindBlob, hdr: 3, lenw: 2},
	0x06: {name: "bin32", noun: "bin", kind: kindBlob, hdr: 5, lenw: 4},
	0x07: {name: "ext8", noun: "ext", kind: kindBlob, hdr: 3, lenw: 1},
	0x08: {name: "ext16", noun: "ext", kind: kindBlob, hdr: 4, lenw: 2},
	0x09: {name: "ext32", noun: "ext", kind: kindBlob, hdr: 6, lenw: 4},
	0x0a: {name: "float32", kind: kindFixed, hdr: 5},
	0x0b: {name: "float64", kind: kindFixed, hdr: 9},
	0x0c: {name: "uint8", kind: kindFixed, hdr: 2},
	0x0d: {name: "uint16", kind: kindFixed, hdr: 3},
	0x0e: {name: "uint32", kind: kindFixed, hdr: 5},
	0x0f: {name: "uint64", kind: kindFixed, hdr: 9},
	0x10: {name: "int8", kind: kindFixed, hdr: 2},
	0x11: {name: "int16", kind: kindFixed, hdr: 3},
	0x12: {name: "int32", kind: kindFixed, hdr: 5},
	0x13: {name: "int64", kind: kindFixed, hdr: 9},
	0x14: {name: "fixext1", kind: kindFixed, hdr: 3},
	0x15: {name: "fixext2", kind: kindFixed, hdr: 4},
	0x16: {name: "fixext4", kind: kindFixed, hdr: 6},
	0x17: {name: "fixext8", kind: kindFixed, hdr: 10},
	0x18: {name: "fixext16", kind: kindFixed, hdr: 18},
	0x19: {name: "str8", noun: "str", kind: kindBlob, hdr: 2, lenw: 1},
	0x1a: {name: "str16", noun: "str", kind: kindBlob, hdr: 3, lenw: 2},
	0x1b: {name: "str32", noun: "str", kind: kindBlob, hdr: 5, lenw: 4},
	0x1c: {name: "array16", noun: "array", kind: kindArray, hdr: 3, lenw: 2},
	0x1d: {name: "array32", noun: "array", kind: kindArray, hdr: 5, lenw: 4},
	0x1e: {name: "map16", noun: "map", kind: kindMap, hdr: 3, lenw: 2},
	0x1f: {name: "map32", noun: "map", kind: kindMap, hdr: 5, lenw: 4},
}

// Scan validates that b starts with exactly one well-formed msgpack object
// and returns its length in bytes. Bytes after the object are not looked at.
//
// Scan is meant to run on untrusted bytes before they reach a msgpack
// decoder, which trusts length headers (github.com/vmihailenco/msgpack v5.4
// pre-allocates whatever a header claims, so "dd ff ff ff ff" is a fatal
// out-of-memory) and recurses once per nesting level (so two million 0x91
// bytes overflow the goroutine stack). Both are fatal errors that recover()
// cannot catch. Scan itself never recurses and uses O(MaxDepth) memory: it
// allocates nothing for valid input nested at most 64 deep, and only a
// stack of at most MaxDepth ints beyond that (errors allocate).
//
// Scan accepts b only if:
//   - every format byte is defined (0xc1 is rejected) and no header or
//     payload runs past the end of b;
//   - every str/bin/ext length fits in the bytes left after its header;
//   - every array of n items (map of n pairs: 2n objects), added to the
//     objects still owed by the enclosing containers, fits in the bytes left
//     after its header, since each object takes at least one byte. A decoder
//     that pre-allocates from these headers therefore never reserves room for
//     more objects than b has bytes;
//   - arrays and maps nest at most lim.MaxDepth deep (a top-level array is
//     depth 1; empty containers count);
//   - the value holds at most lim.MaxItems objects, counting every container,
//     key and value (checked as soon as a container header declares them).
//
// Zero or negative limits mean the defaults. Scan checks structure only: it
// does not check that strings are UTF-8, that map keys are strings or
// unique, or that ext payloads (such as timestamps) are well formed; the
// decoder reports those as ordinary errors. Every error wraps ErrMalformed
// and names the offending format and its byte offset; n is 0 on error.
func Scan(b []byte, lim Limits) (n int, err error) {
	maxDepth := lim.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	maxItems := lim.MaxItems
	if maxItems <= 0 || maxItems > len(b) {
		// No value of len(b) bytes holds more than len(b) objects.
		maxItems = len(b)
	}

	// stack[i] is how many objects the container open at depth i+1 still
	// owes. Empty containers are never pushed and finished ones are popped
	// after their last object; it never holds more than maxDepth entries.
	var buf [onStack]int
	stack := buf[:]
	depth := 0   // entries in use on stack: containers enclosing pos
	pending := 1 // objects still owed in total (sum of stack, or 1 at the top)
	items := 0   // objects whose first byte has been read
	pos := 0

	for {
		if pos >= len(b) {
			return 0, truncatedError(pos, pending)
		}
		start := pos
		c := b[pos]
		items++
		pending--
		if depth > 0 {
			stack[depth-1]--
		}

		var objs uint64 // objects the container at start owes (2n for maps)
		var kind uint8  // kindArray or kindMap if c opened a container, else 0
		switch {
		case c <= 0x7f || c >= 0xe0: // positive/negative fixint
			pos++
		case c <= 0x8f: // fixmap
			objs, kind = uint64(c&0x0f)*2, kindMap
			pos++
		case c <= 0x9f: // fixarray
			objs, kind = uint64(c&0x0f), kindArray
			pos++
		case c <= 0xbf: // fixstr
			l := int(c & 0x1f)
			if l > len(b)-pos-1 {
				return 0, blobError("str", uint64(l), start, len(b)-pos-1)
			}
			pos += 1 + l
		default:
			f := &formats[c-0xc0]
			hdr := int(f.hdr)
			if hdr > len(b)-pos {
				return 0, shortHeaderError(f.name, start, hdr, len(b)-pos)
			}
			var l uint64
			switch f.lenw {
			case 1:
				l = uint64(b[pos+1])
			case 2:
				l = uint64(binary.BigEndian.Uint16(b[pos+1:]))
			case 4:
				l = uint64(binary.BigEndian.Uint32(b[pos+1:]))
			}
			switch f.kind {
			case kindFixed:
				pos += hdr
			case kindBlob:
				if l > uint64(len(b)-pos-hdr) {
					return 0, blobError(f.noun, l, start, len(b)-pos-hdr)
				}
				pos += hdr + int(l)
			case kindArray:
				objs, kind = l, kindArray
				pos += hdr
			case kindMap:
				objs, kind = 2*l, kindMap
				pos += hdr
			default:
				return 0, invalidError(c, start)
			}
		}

		if kind != 0 {
			if objs+uint64(pending) > uint64(len(b)-pos) {
				return 0, containerError(kind, objs, start, pending, len(b)-pos)
			}
			if uint64(items)+uint64(pending)+objs > uint64(maxItems) {
				return 0, itemsError(kind, objs, start, items+pending+int(objs), maxItems)
			}
			if depth >= maxDepth {
				return 0, depthError(kind, start, depth+1, maxDepth)
			}
			if objs > 0 {
				if depth == len(stack) {
					stack = growStack(stack, maxDepth)
				}
				stack[depth] = int(objs)
				depth++
				pending += int(objs)
				continue
			}
		}

		if pending == 0 {
			return pos, nil
		}
		for depth > 0 && stack[depth-1] == 0 {
			depth--
		}
	}
}

// ScanAll validates that b is exactly one well-formed msgpack object with no
// trailing bytes, under the same rules and limits as Scan.
func ScanAll(b []byte, lim Limits) error {
	n, err := Scan(b, lim)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%w: %d trailing bytes at offset %d after the value", ErrMalformed, len(b)-n, n)
	}
	return nil
}

// growStack returns a copy of s with room for more entries, never more than
// max (len(s) < max on entry).
func growStack(s []int, max int) []int {
	n := 2 * len(s)
	if n > max || n <= 0 {
		n = max
	}
	ns := make([]int, n)
	copy(ns, s)
	return ns
}

// The error constructors are kept out of Scan so that its loop stays small.

func containerName(kind uint8) string {
	if kind == kindMap {
		return "map"
	}
	return "array"
}

func truncatedError(off, pending int) error {
	return fmt.Errorf("%w: input ends at offset %d with %d more objects expected", ErrMalformed, off, pending)
}

func invalidError(c byte, off int) error {
	return fmt.Errorf("%w: never-used format byte 0x%02x at offset %d", ErrMalformed, c, off)
}

func shortHeaderError(name string, off, need, have int) error {
	return fmt.Errorf("%w: %s header at offset %d needs %d bytes but only %d remain", ErrMalformed, name, off, need, have)
}

func blobError(noun string, l uint64, off, rem int) error {
	return fmt.Errorf("%w: %s of %d bytes at offset %d exceeds the %d remaining bytes", ErrMalformed, noun, l, off, rem)
}

func containerError(kind uint8, objs uint64, off, pending, rem int) error {
	what := fmt.Sprintf("array of %d items", objs)
	if kind == kindMap {
		what = fmt.Sprintf("map of %d pairs", objs/2)
	}
	if objs > uint64(rem) {
		return fmt.Errorf("%w: %s at offset %d exceeds the %d remaining bytes", ErrMalformed, what, off, rem)
	}
	return fmt.Errorf("%w: %s at offset %d plus %d objects owed by enclosing containers exceed the %d remaining bytes",
		ErrMalformed, what, off, pending, rem)
}

func itemsError(kind uint8, objs uint64, off, total, max int) error {
	what := fmt.Sprintf("array of %d items", objs)
	if kind == kindMap {
		what = fmt.Sprintf("map of %d pairs", objs/2)
	}
	return fmt.Errorf("%w: %s at offset %d brings the value to %d objects, over the limit of %d", ErrMalformed, what, off, total, max)
}

func depthError(kind uint8, off, depth, max int) error {
	return fmt.Errorf("%w: %s at offset %d is nested %d deep, over the limit of %d", ErrMalformed, containerName(kind), off, depth, max)
}
