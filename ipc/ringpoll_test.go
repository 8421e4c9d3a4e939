package ipc

// Tests of the poller's side of a ring (ring.go: pollFrames, unpoll, the
// read token) on ordinary memory: it takes whole frames only, hands what
// it cannot take to the reader goroutine, and shares the ring with that
// goroutine so that every frame is read exactly once and in order.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seqFrame is a frame whose body is seq (8 bytes) padded to size bytes.
func seqFrame(seq uint64, size int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(size))
	b = binary.LittleEndian.AppendUint64(b, seq)
	return append(b, make([]byte, size-8)...)
}

// frames splits what pollFrames returned into bodies.
func frames(t *testing.T, buf []byte) [][]byte {
	var out [][]byte
	for len(buf) > 0 {
		require.GreaterOrEqual(t, len(buf), frameHeader)
		n := int(binary.BigEndian.Uint32(buf))
		require.GreaterOrEqual(t, len(buf), frameHeader+n)
		out = append(out, buf[frameHeader:frameHeader+n])
		buf = buf[frameHeader+n:]
	}
	return out
}

func TestPollFramesTakesWholeFramesOnly(t *testing.T) {
	const size = shmMinRing
	mem := testMapping(size)
	r, w, _ := testRing(mem, size)
	r.polled.Store(true)
	c := ctlOf(mem, 0, size)
	c.head.Store(size - 20) // the frames wrap round the end of the ring
	c.tail.Store(size - 20)
	r.pos, w.pos = size-20, size-20
	next := seqFrame(3, 40)
	_, err := w.Write(append(append(seqFrame(1, 10), seqFrame(2, 30)...), next[:17]...))
	require.NoError(t, err)
	buf, got := r.pollFrames(nil, 1<<20)
	require.True(t, got)
	fs := frames(t, buf)
	require.Len(t, fs, 2, "the third frame is not all written yet")
	assert.Equal(t, uint64(1), binary.LittleEndian.Uint64(fs[0]))
	assert.Equal(t, uint64(2), binary.LittleEndian.Uint64(fs[1]))
	assert.Equal(t, uint64(size-20+14+34), c.head.Load(), "the head moved past the whole frames only")
	_, got = r.pollFrames(nil, 1<<20)
	assert.False(t, got)
	_, err = w.Write(next[17:])
	require.NoError(t, err)
	buf, got = r.pollFrames(buf[:0], 1<<20)
	require.True(t, got)
	fs = frames(t, buf)
	require.Len(t, fs, 1)
	assert.Equal(t, uint64(3), binary.LittleEndian.Uint64(fs[0]))
	assert.Equal(t, tokFree, int(r.token.Load()), "the token is given back")
}

func TestPollFramesHandsOffWhatItCannotTake(t *testing.T) {
	const size = shmMinRing
	cases := []struct {
		name     string
		stream   []byte
		maxFrame int
		wantErr  error // what the reader goroutine's frame reader makes of it
	}{
		{"an empty frame", []byte{0, 0, 0, 0}, 999, ErrBadFrame},
		{"a frame over the limit", binary.BigEndian.AppendUint32(nil, 1000), 999, ErrFrameTooLarge},
		// never whole in the ring: the frame reader streams it (here it
		// ends after the header)
		{"a frame larger than the ring", binary.BigEndian.AppendUint32(nil, size+1), 1 << 20, ErrBadFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := testMapping(size)
			r, w, st := testRing(mem, size)
			r.polled.Store(true)
			_, err := w.Write(tc.stream)
			require.NoError(t, err)
			_, got := r.pollFrames(nil, tc.maxFrame)
			assert.False(t, got)
			assert.True(t, r.handoff.Load(), "left to the reader goroutine")
			select {
			case <-r.w.(*chanWaiter).own:
			default:
				t.Fatal("the reader goroutine was not woken for it")
			}
			_, got = r.pollFrames(nil, tc.maxFrame)
			assert.False(t, got, "a ring handed off is not polled")
			st.peerGone.Store(true) // what is written is all there is
			fr := newFrameReader(bufio.NewReaderSize(r, bufSize), tc.maxFrame)
			r.boundary = true
			_, err = fr.next()
			assert.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestPollFramesRefusesImpossiblePositions(t *testing.T) {
	const size = shmMinRing
	mem := testMapping(size)
	r, _, _ := testRing(mem, size)
	r.polled.Store(true)
	ctlOf(mem, 0, size).tail.Store(size + 1)
	_, got := r.pollFrames(nil, 1<<20)
	assert.False(t, got)
	assert.True(t, r.handoff.Load(), "left to the reader goroutine, which reports it")
	r.boundary = true
	_, err := r.Read(make([]byte, 16))
	assert.ErrorIs(t, err, ErrBadFrame)
}

// signalOnly is a chanWaiter whose timed wait ignores its timeout, so a
// test shows that a wake-up came from a signal, not from the fallback.
type signalOnly struct{ chanWaiter }

func (w *signalOnly) waitFor(time.Duration) error { return w.wait() }

func TestUnpollWakesTheReaderForWhatCameWhilePolled(t *testing.T) {
	const size = shmMinRing
	mem := testMapping(size)
	data, space := make(chan struct{}, 1), make(chan struct{}, 1)
	st := &ringState{}
	c := ctlOf(mem, 0, size)
	r := newRingReader(c, &signalOnly{chanWaiter{own: data, other: space}}, st)
	w := newRingWriter(c, &chanWaiter{own: space, other: data}, st)
	r.polled.Store(true)
	got := make(chan error, 1)
	go func() {
		r.boundary = true
		_, err := io.ReadFull(r, make([]byte, 5))
		got <- err
	}()
	require.True(t, w.tryWrite([]byte("hello")))
	assert.Zero(t, c.readerParked.Load(), "the writer had nobody to wake")
	r.unpoll() // the scheduler parks without having polled it
	require.NoError(t, <-got)
	assert.False(t, r.polled.Load())
}

func TestKilledRingIsNotPolled(t *testing.T) {
	mem := testMapping(shmMinRing)
	r, w, _ := testRing(mem, shmMinRing)
	r.polled.Store(true)
	_, err := w.Write(seqFrame(1, 8))
	require.NoError(t, err)
	r.kill()
	_, got := r.pollFrames(nil, 1<<20)
	assert.False(t, got)
	r.unpoll()
	assert.Equal(t, tokDead, int(r.token.Load()))
}

// TestReaderAndPollerShareTheRing has a writer stream numbered frames of
// random sizes (many wrapping round the ring), in bursts, while a reader
// goroutine reads them as a link's does and a poller, polling and parking
// by turns, takes whole frames between them: every frame arrives once,
// whole, and each side sees them in order.
func TestReaderAndPollerShareTheRing(t *testing.T) {
	const size = shmMinRing
	const total = 8000
	mem := testMapping(size)
	r, w, st := testRing(mem, size)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, total)
	for i := range sizes {
		sizes[i] = 8 + rng.IntN(300)
	}
	var mu sync.Mutex
	seen := make([]int, total)
	var seenN atomic.Int64
	record := func(last *int64, body []byte) {
		seq := int64(binary.LittleEndian.Uint64(body))
		assert.Greater(t, seq, *last, "in order")
		assert.Equal(t, sizes[seq], len(body), "frame %d whole", seq)
		*last = seq
		mu.Lock()
		seen[seq]++
		mu.Unlock()
		seenN.Add(1)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the peer's writer: bursts, each read before the next
		defer wg.Done()
		wrng := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < total; {
			for k := 1 + wrng.IntN(60); k > 0 && i < total; k-- {
				_, err := w.Write(seqFrame(uint64(i), sizes[i]))
				if !assert.NoError(t, err) {
					return
				}
				i++
			}
			for seenN.Load() < int64(i) {
				runtime.Gosched()
			}
		}
	}()
	readerDone := make(chan struct{})
	go func() { // the link's reader goroutine, as readLoop reads
		defer close(readerDone)
		fr := newFrameReader(bufio.NewReaderSize(r, bufSize), 1<<20)
		last := int64(-1)
		for {
			r.boundary = fr.buffered() == 0
			body, err := fr.next()
			if err != nil {
				assert.True(t, errors.Is(err, io.EOF), "%v", err)
				r.letGo()
				return
			}
			record(&last, body)
		}
	}()
	last := int64(-1)
	var buf []byte
	byPoller := 0
	for seenN.Load() < total { // the poller: spells of polling, then a park
		r.polled.Store(true)
		for range 1 + rng.IntN(2000) {
			var got bool
			buf, got = r.pollFrames(buf[:0], 1<<20)
			if got {
				for _, body := range frames(t, buf) {
					record(&last, body)
					byPoller++
				}
			}
		}
		r.unpoll()
		for was := seenN.Load(); seenN.Load() == was && was < total; {
			runtime.Gosched() // parked until the reader goroutine took something
		}
	}
	wg.Wait()
	st.peerGone.Store(true)
	r.w.wakeOwn()
	<-readerDone
	for i, k := range seen {
		if k != 1 {
			t.Fatalf("frame %d arrived %d times", i, k)
		}
	}
	t.Logf("%d of %d frames taken by the poller", byPoller, total)
	assert.Positive(t, byPoller, "the poller took frames")
	assert.Less(t, byPoller, total, "the reader goroutine took frames")
}

// TestPollerSpinsWhileItPays walks the idle spin's policy: full spins
// while they find input, none after two misses in a row but for probes,
// probes rarer while they do not pay, and every spell again once a
// stretch of spinning paid.
func TestPollerSpinsWhileItPays(t *testing.T) {
	p := &poller{paying: true, probeEvery: 1}
	now := time.Now()
	spell := func(found bool) time.Duration {
		p.begin(now)
		b := p.budget
		if b == 0 {
			p.idleSince = time.Time{}
		} else if found {
			p.hit()
		} else {
			p.missed()
		}
		return b
	}
	budgets := func(n int, found bool) []time.Duration {
		var out []time.Duration
		for range n {
			out = append(out, spell(found))
		}
		return out
	}
	assert.Equal(t, pollSpin, spell(true))
	assert.Equal(t, []time.Duration{pollSpin, pollSpin}, budgets(2, false), "one miss is not enough")
	assert.False(t, p.paying, "two misses in a row stop the spin")
	// A stretch with fewer than pollPaid hits: the next probe comes after
	// two spells, then (missing) four, eight...
	assert.Equal(t, []time.Duration{0, pollSpin}, budgets(2, false))
	assert.Equal(t, []time.Duration{0, 0, 0, pollSpin}, budgets(4, false))
	for range 10 {
		spell(false)
	}
	var probes []int
	for i, b := range budgets(10*pollProbeMax, false) {
		if b != 0 {
			probes = append(probes, i)
		}
	}
	require.GreaterOrEqual(t, len(probes), 2)
	for k := 1; k < len(probes); k++ {
		assert.LessOrEqual(t, probes[k]-probes[k-1], pollProbeMax, "a probe in every pollProbeMax spells")
	}
	assert.Equal(t, pollProbeMax, probes[len(probes)-1]-probes[len(probes)-2], "and no more")
	// A probe that finds input starts a stretch of spinning; one that paid
	// (pollPaid hits) lets the next probe come at the next spell.
	for !p.paying {
		spell(true)
	}
	budgets(pollPaid, true)
	budgets(2, false)
	assert.False(t, p.paying)
	assert.Equal(t, pollSpin, spell(false), "a probe at once")
}
