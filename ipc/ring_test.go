package ipc

// Tests of the shared-memory ring on ordinary memory: the byte stream
// arrives whole and in order through wrap-around and a full ring, and a
// peer's impossible positions are refused. FuzzRing feeds hostile ring
// contents (positions and bytes) to the ring reader and, behind it, the
// frame reader and decoder; its seeds are committed under
// testdata/fuzz/FuzzRing (TestFuzzRingCorpus keeps them in step with
// ringSeeds; -update-fuzz-corpus rewrites them).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testMapping is an 8-byte aligned mapping with rings of size bytes.
func testMapping(size int) []byte {
	words := make([]uint64, shmTotal(size)/8)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), shmTotal(size))
	writeShmHeader(mem, size)
	return mem
}

// chanWaiter parks on a channel, as an eventfd does across processes.
type chanWaiter struct{ own, other chan struct{} }

func (w *chanWaiter) wait() error { <-w.own; return nil }
func (w *chanWaiter) waitFor(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.own:
	case <-t.C:
	}
	return nil
}
func (w *chanWaiter) signal()  { poke(w.other) }
func (w *chanWaiter) wakeOwn() { poke(w.own) }

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// testRing is both ends of ring 0 of a mapping.
func testRing(mem []byte, size int) (*ringReader, *ringWriter, *ringState) {
	data, space := make(chan struct{}, 1), make(chan struct{}, 1)
	st := &ringState{}
	c := ctlOf(mem, 0, size)
	return newRingReader(c, &chanWaiter{own: data, other: space}, st),
		newRingWriter(c, &chanWaiter{own: space, other: data}, st), st
}

func TestRingCarriesAStreamThroughWrapAndFullRing(t *testing.T) {
	const size = shmMinRing
	mem := testMapping(size)
	r, w, st := testRing(mem, size)
	want := make([]byte, 50*size+123) // many times the ring: it fills, wraps and drains
	for i := range want {
		want[i] = byte(i * 7)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := want; len(p) > 0; {
			k := min(len(p), 1000)
			n, err := w.Write(p[:k])
			assert.NoError(t, err)
			assert.Equal(t, k, n)
			p = p[k:]
		}
		st.peerGone.Store(true) // as the socket watcher does when the peer goes
		w.w.signal()
	}()
	got, err := io.ReadAll(r)
	wg.Wait()
	require.NoError(t, err, "the reader ends with io.EOF once the peer is gone and the ring is drained")
	assert.True(t, bytes.Equal(want, got), "got %d bytes, want %d, equal: false", len(got), len(want))
}

func TestRingCloseWakesAParkedReaderAndWriter(t *testing.T) {
	const size = shmMinRing
	mem := testMapping(size)
	r, w, st := testRing(mem, size)
	_, err := w.Write(make([]byte, size)) // full
	require.NoError(t, err)
	errs := make(chan error, 2)
	go func() { _, err := w.Write([]byte{1}); errs <- err }()
	r2, _, _ := testRing(testMapping(size), size) // an empty ring to park on
	r2.st = st
	go func() { _, err := r2.Read(make([]byte, 8)); errs <- err }()
	st.closed.Store(true) // then wake both once, as shmLink.shutdown does through the eventfds
	for _, own := range []chan struct{}{w.w.(*chanWaiter).own, r2.w.(*chanWaiter).own} {
		select {
		case own <- struct{}{}:
		default:
		}
	}
	for range 2 {
		assert.ErrorIs(t, <-errs, net.ErrClosed)
	}
	_, err = r.Read(make([]byte, 1))
	assert.NoError(t, err, "what was written before the close can still be read")
}

func TestRingRefusesImpossiblePositions(t *testing.T) {
	const size = shmMinRing
	cases := []struct {
		name       string
		head, tail uint64
		reader     bool
	}{
		{"reader: tail more than a ring ahead", 0, size + 1, true},
		{"reader: tail behind head", 100, 99, true},
		{"writer: head ahead of tail", 100, 99, false},
		{"writer: head more than a ring behind", 0, size + 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := testMapping(size)
			c := ctlOf(mem, 0, size)
			if tc.reader {
				c.head.Store(tc.head)
				r, _, _ := testRing(mem, size)
				c.tail.Store(tc.tail)
				_, err := r.Read(make([]byte, 16))
				assert.ErrorIs(t, err, ErrBadFrame)
			} else {
				c.tail.Store(tc.tail)
				_, w, _ := testRing(mem, size)
				c.head.Store(tc.head)
				_, err := w.Write([]byte{1})
				assert.ErrorIs(t, err, ErrBadFrame)
			}
		})
	}
}

func TestShmHeaderChecks(t *testing.T) {
	good := testMapping(shmMinRing)
	size, err := checkShmHeader(good)
	require.NoError(t, err)
	assert.Equal(t, shmMinRing, size)
	cases := map[string]func(m []byte) []byte{
		"magic":            func(m []byte) []byte { m[0] = 'X'; return m },
		"version":          func(m []byte) []byte { m[8] = 9; return m },
		"size not pow2":    func(m []byte) []byte { binary.LittleEndian.PutUint32(m[12:], shmMinRing+1); return m },
		"size too large":   func(m []byte) []byte { binary.LittleEndian.PutUint32(m[12:], 1<<30); return m },
		"size too small":   func(m []byte) []byte { binary.LittleEndian.PutUint32(m[12:], 64); return m },
		"mapping too long": func(m []byte) []byte { return append(m, 0) },
		"short":            func(m []byte) []byte { return m[:100] },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			m := spoil(bytes.Clone(good))
			_, err := checkShmHeader(m)
			assert.ErrorIs(t, err, ErrBadFrame)
		})
	}
}

// ringInput lays out a fuzz input: the reader's head, the writer's tail,
// then the ring's bytes from offset 0.
func ringInput(head, tail uint64, ring []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, head)
	b = binary.LittleEndian.AppendUint64(b, tail)
	return append(b, ring...)
}

// ringSeeds are valid streams (one at the start of the ring, one wrapped
// round its end) and hostile ring states.
func ringSeeds(t testing.TB) map[string][]byte {
	const size = shmMinRing
	var stream []byte
	frames := fuzzSeeds(t)
	for _, name := range slices.Sorted(maps.Keys(frames)) {
		if s := frames[name]; len(s) < 200 && strings.HasPrefix(name, "valid_") {
			stream = append(stream, s...)
		}
	}
	if len(stream) > size {
		stream = stream[:size]
	}
	placed := func(start int) []byte { // the stream from start, wrapping round the end
		ring := make([]byte, size)
		for i, c := range stream {
			ring[(start+i)%size] = c
		}
		return ring
	}
	start := size - 10
	huge := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	// A slice's batch: PUT frames, a GRANT and a PUTS in one write, wrapping
	// round the end of the ring, the last frame cut short (its writer was
	// killed).
	reg := testRegistry()
	var batch []byte
	for i := range 40 {
		b, at := beginFrame(batch)
		b, err := appendMessage(b, reg, &message{Kind: kPut, Chan: 1<<48 | 1, Value: i})
		require.NoError(t, err)
		batch, err = endFrame(b, at, fuzzMaxFrame)
		require.NoError(t, err)
	}
	b, at := beginFrame(batch)
	b, err := appendMessage(b, reg, &message{Kind: kGrant, Chan: 1<<48 | 1, Idx: 40})
	require.NoError(t, err)
	batch, err = endFrame(b, at, fuzzMaxFrame)
	require.NoError(t, err)
	b, at = beginFrame(batch)
	b, err = appendMessage(b, reg, &message{Kind: kPuts, Chan: 1<<48 | 1, Values: []any{1, "two", []byte{3}, 4.5}})
	require.NoError(t, err)
	batch, err = endFrame(b, at, fuzzMaxFrame)
	require.NoError(t, err)
	batch = append(batch, 0, 0, 0, 50, 0xdd, 0, 0, 0, 9, byte(kPuts), 1, 1, 2) // a PUTS its writer did not finish
	wrapped := make([]byte, size)
	bstart := size - 100
	for i, c := range batch {
		wrapped[(bstart+i)%size] = c
	}
	seeds := map[string][]byte{
		"valid_at_start":        ringInput(0, uint64(len(stream)), stream),
		"valid_wrapped":         ringInput(1<<40+uint64(start), 1<<40+uint64(start+len(stream)), placed(start)),
		"valid_counter_wraps":   ringInput(^uint64(0)-5, ^uint64(0)-5+uint64(len(stream)), placed(size-6)),
		"hostile_tail_far":      ringInput(0, 1<<62, stream),
		"hostile_tail_behind":   ringInput(1000, 10, stream),
		"hostile_frame_4G":      ringInput(0, 4, huge),
		"hostile_frame_cut":     ringInput(0, 6, append(binary.BigEndian.AppendUint32(nil, 100), 1, 2)),
		"hostile_full_garbage":  ringInput(0, size, bytes.Repeat([]byte{0xdd, 0xff}, size/2)),
		"hostile_ring_one_more": ringInput(0, size+1, nil),
		"valid_batch_cut_short": ringInput(uint64(bstart), uint64(bstart+len(batch)), wrapped),
	}
	return seeds
}

// FuzzRing checks that no ring state makes the ring reader, the frame
// reader or the decoder behind it panic, read outside the ring, or
// allocate beyond the frame limit; that the scheduler's poller takes from
// the same ring exactly the frames the frame reader reads first, or
// fewer, and never more (what it does not take goes to that reader); and
// that a writer facing a hostile reader position errs instead of writing
// outside the ring.
func FuzzRing(f *testing.F) {
	for _, s := range ringSeeds(f) {
		f.Add(s)
	}
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 16 {
			return
		}
		const size = shmMinRing
		head, tail := binary.LittleEndian.Uint64(in), binary.LittleEndian.Uint64(in[8:])
		mem := testMapping(size)
		c := ctlOf(mem, 0, size)
		copy(c.data, in[16:])
		c.head.Store(head)
		st := &ringState{}
		st.peerGone.Store(true) // nothing more comes: a read past what is there ends
		r := newRingReader(c, &chanWaiter{own: make(chan struct{}), other: make(chan struct{}, 1)}, st)
		c.tail.Store(tail)
		counted := &countingReader{r: r}
		fr := newFrameReader(bufio.NewReaderSize(counted, bufSize), fuzzMaxFrame)
		var read [][]byte
		for {
			body, err := fr.next()
			if err != nil {
				break
			}
			read = append(read, bytes.Clone(body))
			var m message
			var cases scratch
			_ = decodeMessage(body, reg, &m, &cases)
		}
		if counted.n > size {
			t.Fatalf("read %d bytes out of a ring of %d", counted.n, size)
		}
		// The poller, on the same ring state.
		c.head.Store(head)
		p := newRingReader(c, &chanWaiter{own: make(chan struct{}, 1), other: make(chan struct{}, 1)}, st)
		c.tail.Store(tail)
		p.polled.Store(true)
		var polled [][]byte
		for buf, got := p.pollFrames(nil, fuzzMaxFrame); got; buf, got = p.pollFrames(buf[:0], fuzzMaxFrame) {
			for len(buf) > 0 {
				k := int(binary.BigEndian.Uint32(buf))
				polled = append(polled, bytes.Clone(buf[frameHeader:frameHeader+k]))
				buf = buf[frameHeader+k:]
			}
		}
		if len(polled) > len(read) {
			t.Fatalf("the poller took %d frames, the frame reader read %d", len(polled), len(read))
		}
		for i := range polled {
			if !bytes.Equal(polled[i], read[i]) {
				t.Fatalf("frame %d: the poller took %x, the frame reader read %x", i, polled[i], read[i])
			}
		}
		// The same positions, seen by a writer: it writes within the ring
		// or refuses; it never waits (the ring is full or it errs first).
		c.tail.Store(head)
		w := newRingWriter(c, &chanWaiter{own: make(chan struct{}), other: make(chan struct{}, 1)}, st)
		c.head.Store(tail)
		if free, err := w.free(); err == nil && free > 0 {
			n, err := w.Write(in[16:min(len(in), 16+int(free))])
			if err != nil || n > int(free) {
				t.Fatalf("writing %d free bytes: wrote %d, %v", free, n, err)
			}
		} else if err != nil {
			assert.True(t, errors.Is(err, ErrBadFrame))
		}
	})
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestFuzzRingCorpus keeps the committed seed files equal to ringSeeds.
func TestFuzzRingCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRing")
	for name, data := range ringSeeds(t) {
		file := filepath.Join(dir, name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if *updateCorpus {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(file, []byte(want), 0o644))
			continue
		}
		got, err := os.ReadFile(file)
		require.NoError(t, err, "seed %s is not committed; run go test ./ipc -run TestFuzzRingCorpus -update-fuzz-corpus", name)
		assert.True(t, string(got) == want, "seed %s is out of date; run go test ./ipc -run TestFuzzRingCorpus -update-fuzz-corpus", name)
	}
}
