package pickle_test

// Fuzz targets for every decoder of untrusted bytes, their seeds, and the
// unit tests that hold the hostile seeds to their promises: rejected with
// ErrMalformed, and decoded with allocation bounded by the input's size.
// The hostile seeds are also committed under testdata/fuzz/<Target>/ so that
// plain `go test` runs them; TestFuzzCorpusIsCommitted keeps those files in
// step with the record format (go test ./pickle -run TestFuzzCorpus -update-fuzz-corpus).

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

var updateCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the committed hostile seeds under testdata/fuzz")

// Mixed is a kind with a field of every shape msgpack decodes differently.
type Mixed struct {
	F32  float32
	F64  float64
	I8   int8
	U64  uint64
	S    string
	B    []byte
	M    map[string]int
	T    time.Time
	P    *Point
	Arr  [3]int16
	Pts  []Point
	Nest struct {
		A []string
		B map[string][]int
	}
	Any any
	D   time.Duration
	Ch  channel.ID
}

func (m *Mixed) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// fuzzRegistry is shared by the fuzz targets: it knows every kind of these
// tests (including "guard" at version 2 with an upgrade from 1) and Mixed.
var fuzzRegistry = sync.OnceValue(func() *pickle.Registry {
	r := must(newProgRegistry())
	if err := r.Register("mixed", 1, &Mixed{}); err != nil {
		panic(err)
	}
	return r
})

// ---- seeds ----

// seedWorlds are real worlds stopped mid-run: random programs after a few
// steps (blocked senders and receivers, buffered and posted values, timers)
// and the hand-made world of handWorld.
func seedWorlds() []*scheduler.World {
	var out []*scheduler.World
	for seed := range uint64(6) {
		for _, k := range []int{3, 12} {
			s := buildRandom(seed)
			_, _ = s.RunBudget(context.Background(), k, scheduler.Total|scheduler.Soft)
			out = append(out, s.World())
		}
	}
	return append(out, handWorld())
}

// handTasklets are tasklet states that real worlds rarely stop in, with
// every field filled: select cases with values, delivered values and
// errors, flags, a struct kind, the Mixed kind. Maps have one key so that
// their encoding, and the committed seeds made from it, is stable.
func handTasklets() []scheduler.TaskletState {
	prog := &Prog{Name: "sel", PC: 1, Wait: true, Sink: 9, Log: []string{"pc0 recv: chosen -1 value int:4"},
		Code: []Instr{{Op: opRecv, Ch: 1}, {Op: opSelect, Ch: 1, Ch2: 2, VKind: 5, Val: 3, D: time.Millisecond,
			Sub: []Instr{{Op: opSleep, D: 2}}}}}
	mixed := &Mixed{F32: 1.5, F64: -2.25, I8: -7, U64: 1 << 60, S: "héllo", B: []byte{0, 1, 2}, M: map[string]int{"a": 1},
		T: time.Unix(1700000000, 5).UTC(), P: &Point{1, 2}, Arr: [3]int16{1, -1, 300}, Pts: []Point{{3, 4}},
		Any: []any{int8(1), "x", map[string]any{"k": nil}}, D: time.Second, Ch: 5}
	mixed.Nest.A, mixed.Nest.B = []string{"q"}, map[string][]int{"r": {1, 2}}
	return []scheduler.TaskletState{
		{ID: 1, Behavior: prog, State: tasklet.Blocked, Flags: 2, Steps: 9, Wait: 3, Chosen: -1,
			Cases: []tasklet.Case{tasklet.RecvCase(1), tasklet.SendCase(2, Point{1, 2}), tasklet.TimeoutCase(5 * time.Millisecond),
				tasklet.SendCase(3, channel.Bomb{Err: errSentinel}), tasklet.DefaultCase()}},
		{ID: 2, Behavior: &Prog{Name: "run"}, State: tasklet.Runnable, Flags: 6, Steps: 1, Chosen: 2, Value: &Point{3, 4}},
		{ID: 3, Behavior: &Relay{In: 1, Out: 2, Max: 3, Stage: 1, Log: []string{"got int:1"}}, State: tasklet.Runnable,
			Chosen: -1, Err: errors.New("thrown in by a test")},
		{ID: 4, Behavior: &Prog{Name: "killed"}, State: tasklet.Runnable, Chosen: -1, Err: tasklet.ErrKilled},
		{ID: 5, Behavior: &Prog{Name: "sender", Wait: true}, State: tasklet.Blocked, Wait: 1, Chosen: -1, Plain: true,
			Cases: []tasklet.Case{{Dir: tasklet.DirSend, Chan: 2}}},
		{ID: 6, Behavior: Burst{Ch: 2, N: 4}, State: tasklet.Sleeping, Steps: 2, Wait: 2, Chosen: -1},
		{ID: 7, Behavior: mixed, State: tasklet.Paused, Chosen: -1, Value: time.Duration(-3)},
		{ID: 8, Behavior: &GuardV2{Health: 9}, State: tasklet.New, Chosen: -1, Value: []byte("b")},
		{ID: 9, Behavior: &Prog{Name: "fetcher", Wait: true}, State: tasklet.Blocked, Steps: 4, Wait: 2, Chosen: -1,
			Cases: []tasklet.Case{tasklet.DoCase("fetch", Point{5, 6}), tasklet.RecvCase(1), tasklet.TimeoutCase(time.Second)}},
	}
}

// handChannels fill every field of a channel record, including a waiter of
// a tasklet on another node.
func handChannels() []scheduler.ChannelState {
	return []scheduler.ChannelState{
		{ID: 1, Cap: 8, Preference: 1, ScheduleAll: true, Closed: true,
			Buffer: []any{7, int64(-1), "s", 2.5, true, Point{1, 2}, &Point{3, 4}, []int{5}, map[string]int{"k": 1},
				time.Second, uint8(9), channel.ID(3), []byte{1}, channel.Bomb{Err: errSentinel}},
			Senders: []scheduler.WaiterState{{Case: -1, Value: "posted"}, {Tasklet: 5, Case: 1, Value: Point{5, 6}},
				{Tasklet: 1<<48 | 9, Case: -1, Value: 3, Remote: true, Node: 1, Seq: 4}}},
		{ID: 2, Preference: -1, Receivers: []scheduler.WaiterState{{Tasklet: 1, Case: 0}, {Tasklet: 2, Case: -1}}},
	}
}

// handWorld is a consistent world holding the hand-made records that
// scheduler.Restore accepts, with a guard saved at version 1.
func handWorld() *scheduler.World {
	return &scheduler.World{Node: 0, Clock: 3 * time.Millisecond, NextTasklet: 9, NextChannel: 3, Tick: 2, Steps: 40,
		TimerSeq: 5, RunQueue: []tasklet.ID{2, 3},
		Timers:   []scheduler.TimerState{{At: 8 * time.Millisecond, Seq: 4, Tasklet: 1, Case: 2}, {At: 9 * time.Millisecond, Seq: 5, Tasklet: 6, Case: -1}},
		Tasklets: []scheduler.TaskletState{handTasklets()[0], handTasklets()[1], handTasklets()[2], handTasklets()[5]},
		Channels: []scheduler.ChannelState{
			{ID: 1, Cap: 2, Buffer: []any{1, "x"}, Receivers: []scheduler.WaiterState{{Tasklet: 1, Case: 0}}},
			{ID: 2, Senders: []scheduler.WaiterState{{Tasklet: 1, Case: 1, Value: Point{1, 2}}, {Case: -1, Value: 5}}},
		}}
}

// guardV1Record is a record written by a program that had GuardV1 as kind
// "guard" version 1: loading it runs the upgrade to version 2.
func guardV1Record() []byte {
	old := pickle.NewRegistry()
	if err := old.Register("guard", 1, &GuardV1{}); err != nil {
		panic(err)
	}
	b, err := old.DumpTasklet(&scheduler.TaskletState{ID: 11, Behavior: &GuardV1{HP: 7}, State: tasklet.Runnable, Chosen: -1})
	if err != nil {
		panic(err)
	}
	return b
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// validTasklets are real records: the hand-made ones first.
func validTasklets(all bool) [][]byte {
	reg := fuzzRegistry()
	var out [][]byte
	for _, ts := range handTasklets() {
		out = append(out, must(reg.DumpTasklet(&ts)))
	}
	out = append(out, guardV1Record())
	if all {
		for _, w := range seedWorlds() {
			for _, ts := range w.Tasklets {
				out = append(out, must(reg.DumpTasklet(&ts)))
			}
		}
	}
	return out
}

func validChannels(all bool) [][]byte {
	reg := fuzzRegistry()
	var out [][]byte
	for _, cs := range handChannels() {
		out = append(out, must(reg.DumpChannel(&cs)))
	}
	if all {
		for _, w := range seedWorlds() {
			for _, cs := range w.Channels {
				out = append(out, must(reg.DumpChannel(&cs)))
			}
		}
	}
	return out
}

// validWorlds are DumpWorld blobs and, for LoadHeader, DumpHeader blobs.
func validWorlds(all bool) [][]byte {
	reg := fuzzRegistry()
	hw := handWorld()
	out := [][]byte{must(reg.DumpWorld(hw)), must(reg.DumpHeader(hw))}
	if all {
		for _, w := range seedWorlds() {
			out = append(out, must(reg.DumpWorld(w)), must(reg.DumpHeader(w)))
		}
	}
	return out
}

// ---- hostile inputs ----

// The 5-byte bombs: containers and blobs that claim gigabytes.
var bombs = []struct {
	name string
	b    []byte
}{
	{"array32_4G", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}},
	{"bin32_4G", []byte{0xc6, 0xff, 0xff, 0xff, 0xff}},
	{"array16_64k", []byte{0xdc, 0xff, 0xff}},
}

// moreBombs go only into the top-level fields.
var moreBombs = []struct {
	name string
	b    []byte
}{
	{"map32_4G", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
	{"str32_4G", []byte{0xdb, 0xff, 0xff, 0xff, 0xff}},
	{"ext32_4G", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0x01}},
	{"ext16_64k", []byte{0xc8, 0xff, 0xff, 0x01}},
	{"ext8_255", []byte{0xc7, 0xff, 0x01}},
	{"array32_256M", []byte{0xdd, 0x0f, 0xff, 0xff, 0xff}},
	{"map16_64k", []byte{0xde, 0xff, 0xff}},
	{"str16_64k", []byte{0xda, 0xff, 0xff}},
	{"bin16_64k", []byte{0xc5, 0xff, 0xff}},
}

type span struct{ start, end, depth int }

// objectSpans lists every msgpack object inside b (not b itself), parents
// before children; top lists only the root's own items.
func objectSpans(b []byte) (all, top []span) {
	var walk func(pos, depth int) int
	walk = func(pos, depth int) int {
		n, err := pickle.Scan(b[pos:], pickle.Limits{})
		if err != nil {
			panic(fmt.Sprintf("seed record is not valid msgpack at %d: %v", pos, err))
		}
		if depth == 1 {
			top = append(top, span{pos, pos + n, depth})
		}
		if depth > 0 {
			all = append(all, span{pos, pos + n, depth})
		}
		hdr, items := containerHeader(b[pos:])
		at := pos + hdr
		for range items {
			at = walk(at, depth+1)
		}
		return pos + n
	}
	walk(0, 0)
	return all, top
}

// containerHeader returns the header size and object count of the array or
// map at the start of b; items is 0 for anything else.
func containerHeader(b []byte) (hdr, items int) {
	c := b[0]
	switch {
	case c >= 0x80 && c <= 0x8f:
		return 1, 2 * int(c&0x0f)
	case c >= 0x90 && c <= 0x9f:
		return 1, int(c & 0x0f)
	case c == 0xdc:
		return 3, int(b[1])<<8 | int(b[2])
	case c == 0xdd:
		return 5, int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4])
	case c == 0xde:
		return 3, 2 * (int(b[1])<<8 | int(b[2]))
	case c == 0xdf:
		return 5, 2 * (int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]))
	}
	return 1, 0
}

func replaced(b []byte, s span, with []byte) []byte {
	return slices.Concat(b[:s.start], with, b[s.end:])
}

// nested is n arrays of one item around a nil: a stack-overflow attempt.
func nested(n int) []byte {
	return append(bytes.Repeat([]byte{0x91}, n), 0xc0)
}

type seed struct {
	name string
	b    []byte
}

// hostileSeeds derives hostile inputs from a real record: the three bombs in
// every top-level field; if full, also in every object position, more bombs
// and deep nesting in every top-level field, and every proper prefix.
// committed marks the ones kept as files: the three bombs and 200-deep
// nesting in the top-level fields, the three bombs in the fields of a
// world's header, and half the record.
func hostileSeeds(base []byte, full bool) (all []seed, committed []seed) {
	spans, top := objectSpans(base)
	if len(top) == 5 && full { // a world: its header's fields are fields too
		_, hdr := objectSpans(base[top[2].start:top[2].end])
		for i, s := range hdr {
			s.start, s.end = s.start+top[2].start, s.end+top[2].start
			for _, bomb := range bombs {
				committed = append(committed, seed{fmt.Sprintf("%s_header%02d", bomb.name, i), replaced(base, s, bomb.b)})
			}
		}
	}
	for i, s := range top {
		for _, bomb := range bombs {
			committed = append(committed, seed{fmt.Sprintf("%s_field%02d", bomb.name, i), replaced(base, s, bomb.b)})
		}
		if !full {
			continue
		}
		committed = append(committed, seed{fmt.Sprintf("nested200_field%02d", i), replaced(base, s, nested(200))})
		for _, bomb := range moreBombs {
			all = append(all, seed{fmt.Sprintf("%s_field%02d", bomb.name, i), replaced(base, s, bomb.b)})
		}
		all = append(all, seed{fmt.Sprintf("nested100k_field%02d", i), replaced(base, s, nested(100_000))})
	}
	if !full {
		return committed, committed
	}
	for i, s := range spans {
		for _, bomb := range bombs {
			all = append(all, seed{fmt.Sprintf("%s_object%03d", bomb.name, i), replaced(base, s, bomb.b)})
		}
	}
	for n := range len(base) {
		all = append(all, seed{fmt.Sprintf("truncated_%d", n), base[:n:n]})
	}
	committed = append(committed, seed{"truncated_half", base[: len(base)/2 : len(base)/2]})
	return append(all, committed...), committed
}

// hostileFor returns the hostile seeds of a target: all kinds from its
// first (hand-made) base record, bombs in the top-level fields of the others.
func hostileFor(bases [][]byte) (all, committed []seed) {
	for i, base := range bases {
		a, c := hostileSeeds(base, i == 0)
		all = append(all, a...)
		if i == 0 {
			committed = c
		}
	}
	return all, committed
}

type fuzzTarget struct {
	name  string
	bases func(all bool) [][]byte
}

var targets = []fuzzTarget{
	{"FuzzLoadTasklet", validTasklets},
	{"FuzzLoadChannel", validChannels},
	{"FuzzLoadWorld", validWorlds},
}

// ---- canonical forms for round-trip checks ----

var sentinels = []error{tasklet.ErrKilled, channel.ErrClosed, tasklet.ErrBlockTrap, errSentinel}

var errorType = reflect.TypeFor[error]()

// canon renders a state so that equal states read the same: maps in key
// order, pointers followed, floats by their bits (a NaN equals itself),
// types named wherever an interface holds a value, errors by message and
// sentinel identity.
func canon(v any) string {
	var b strings.Builder
	canonValue(&b, reflect.ValueOf(v))
	return b.String()
}

func canonValue(b *strings.Builder, v reflect.Value) {
	if !v.IsValid() {
		b.WriteString("nil")
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if v.Type().Implements(errorType) || v.Elem().Type().Implements(errorType) {
			err := v.Elem().Interface().(error)
			fmt.Fprintf(b, "error(%T %d %q)", err, slices.Index(sentinels, err), err.Error())
			return
		}
		fmt.Fprintf(b, "(%v)", v.Elem().Type())
		canonValue(b, v.Elem())
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("&")
		canonValue(b, v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			fmt.Fprintf(b, "time(%d %s)", t.UnixNano(), t.Location())
			return
		}
		b.WriteString("{")
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fmt.Fprintf(b, "%s:", v.Type().Field(i).Name)
				canonValue(b, v.Field(i))
				b.WriteString(" ")
			}
		}
		b.WriteString("}")
	case reflect.Map:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		entries := make([]string, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			entries = append(entries, canon(it.Key().Interface())+":"+canon(it.Value().Interface()))
		}
		slices.Sort(entries)
		fmt.Fprintf(b, "map%v", entries)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("[")
		for i := range v.Len() {
			canonValue(b, v.Index(i))
			b.WriteString(" ")
		}
		b.WriteString("]")
	case reflect.Float32, reflect.Float64:
		fmt.Fprintf(b, "f%x", math.Float64bits(v.Float()))
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v.Interface())
	}
}

// ---- fuzz targets ----

func addSeeds(f *testing.F, bases func(bool) [][]byte) {
	valid := bases(true)
	hostile, _ := hostileFor(valid)
	for _, b := range valid {
		f.Add(b)
	}
	for _, s := range hostile {
		f.Add(s.b)
	}
}

// FuzzLoadTasklet: LoadTasklet and the inspectors never panic, and a record
// they accept re-encodes to a record that loads to the same state.
func FuzzLoadTasklet(f *testing.F) {
	addSeeds(f, validTasklets)
	f.Fuzz(func(t *testing.T, b []byte) {
		reg := fuzzRegistry()
		_, _ = reg.Inspect(b)
		_, _ = reg.InspectTasklet(b)
		rec, err := reg.LoadTasklet(b)
		if err != nil {
			return
		}
		kind, err := reg.KindOf(rec.Behavior)
		require.NoError(t, err, "a loaded behavior is of a registered kind")
		again, err := reg.DumpTasklet(&rec.TaskletState)
		require.NoError(t, err, "an accepted record re-encodes")
		rec2, err := reg.LoadTasklet(again)
		require.NoError(t, err, "a re-encoded record loads")
		assert.Equal(t, kind.Version, rec2.Version, "written at the current version")
		assert.Equal(t, rec.Kind, rec2.Kind)
		assert.Equal(t, canon(rec.TaskletState), canon(rec2.TaskletState), "round trip changed the state")
	})
}

// FuzzLoadChannel: LoadChannel and InspectChannel never panic, and accepted
// records round-trip.
func FuzzLoadChannel(f *testing.F) {
	addSeeds(f, validChannels)
	f.Fuzz(func(t *testing.T, b []byte) {
		reg := fuzzRegistry()
		_, _ = reg.InspectChannel(b)
		cs, err := reg.LoadChannel(b)
		if err != nil {
			return
		}
		again, err := reg.DumpChannel(cs)
		require.NoError(t, err, "an accepted record re-encodes")
		cs2, err := reg.LoadChannel(again)
		require.NoError(t, err, "a re-encoded record loads")
		assert.Equal(t, canon(cs), canon(cs2), "round trip changed the channel")
	})
}

// FuzzLoadWorld: LoadHeader and LoadWorld never panic, accepted input
// round-trips, and scheduler.Restore takes or refuses a loaded world without
// panicking.
func FuzzLoadWorld(f *testing.F) {
	addSeeds(f, validWorlds)
	f.Fuzz(func(t *testing.T, b []byte) {
		reg := fuzzRegistry()
		if h, err := reg.LoadHeader(b); err == nil {
			again, err := reg.DumpHeader(&h.World)
			require.NoError(t, err)
			h2, err := reg.LoadHeader(again)
			require.NoError(t, err)
			assert.Equal(t, canon(h.World), canon(h2.World), "round trip changed the header")
		}
		w, err := reg.LoadWorld(b)
		if err != nil {
			return
		}
		want := canon(w)
		again, err := reg.DumpWorld(w)
		require.NoError(t, err, "an accepted world re-encodes")
		w2, err := reg.LoadWorld(again)
		require.NoError(t, err, "a re-encoded world loads")
		assert.Equal(t, want, canon(w2), "round trip changed the world")
		_, _ = scheduler.Restore(w)
	})
}

// ---- the promises, as unit tests over the seeds ----

// decoders are every way to read bytes; each must refuse what is not its own.
func decoders(reg *pickle.Registry) map[string]func([]byte) error {
	return map[string]func([]byte) error{
		"LoadTasklet": func(b []byte) error { _, err := reg.LoadTasklet(b); return err },
		"Inspect":     func(b []byte) error { _, err := reg.Inspect(b); return err },
		"LoadChannel": func(b []byte) error { _, err := reg.LoadChannel(b); return err },
		"LoadHeader":  func(b []byte) error { _, err := reg.LoadHeader(b); return err },
		"LoadWorld":   func(b []byte) error { _, err := reg.LoadWorld(b); return err },
	}
}

// allocated returns the bytes fn allocated (the test runs alone: no
// parallel test runs beside a sequential one).
func allocated(fn func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	fn()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// allocBound is what decoding len bytes may allocate: a small multiple of
// the input (bytes.Reader, decoders, the decoded values) plus slack for
// pools and first-use initialization.
func allocBound(n int) uint64 { return 64*uint64(n) + 1<<20 }

// TestHostileSeedsAreRejectedCheaply: every hostile seed of every target is
// an ErrMalformed from every decoder, found before msgpack allocates what
// the seed claims.
func TestHostileSeedsAreRejectedCheaply(t *testing.T) {
	reg := fuzzRegistry()
	decs := decoders(reg)
	for _, target := range targets {
		hostile, _ := hostileFor(target.bases(true))
		require.NotEmpty(t, hostile)
		for _, s := range hostile {
			for name, dec := range decs {
				var err error
				n := allocated(func() { err = dec(s.b) })
				if !assert.ErrorIs(t, err, pickle.ErrMalformed, "%s %s on %s", target.name, s.name, name) {
					continue
				}
				assert.LessOrEqual(t, n, allocBound(len(s.b)), "%s %s: %s allocated %d bytes for %d", target.name, s.name, name, n, len(s.b))
			}
		}
	}
}

// TestSeedRecordsLoad: the valid seeds load (so the fuzz targets' round
// trip runs on them) within the allocation bound, and the hand-made world
// restores.
func TestSeedRecordsLoad(t *testing.T) {
	reg := fuzzRegistry()
	decs := decoders(reg)
	for _, tc := range []struct {
		target string
		dec    string
	}{{"FuzzLoadTasklet", "LoadTasklet"}, {"FuzzLoadTasklet", "Inspect"}, {"FuzzLoadChannel", "LoadChannel"}, {"FuzzLoadWorld", "LoadHeader"}} {
		i := slices.IndexFunc(targets, func(x fuzzTarget) bool { return x.name == tc.target })
		for j, b := range targets[i].bases(true) {
			if tc.dec == "LoadHeader" && j%2 == 0 {
				continue // the world blobs, checked below
			}
			var err error
			n := allocated(func() { err = decs[tc.dec](b) })
			assert.NoError(t, err, "%s seed %d", tc.dec, j)
			assert.LessOrEqual(t, n, allocBound(len(b)), "%s seed %d allocated %d bytes for %d", tc.dec, j, n, len(b))
		}
	}
	for i, b := range validWorlds(true) {
		if i%2 == 0 {
			w, err := reg.LoadWorld(b)
			require.NoError(t, err, "world seed %d", i)
			_, err = scheduler.Restore(w)
			assert.NoError(t, err, "world seed %d restores", i)
		}
	}
	rec, err := reg.LoadTasklet(guardV1Record())
	require.NoError(t, err)
	assert.Equal(t, &GuardV2{Health: 70}, rec.Behavior, "the version 1 seed goes through the upgrade")
}

// corpusFile is the Go fuzz corpus encoding of one []byte argument.
func corpusFile(b []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n")
}

// TestFuzzCorpusIsCommitted checks that the hostile seeds made from the
// hand-made records are committed, byte for byte, under testdata/fuzz, so
// `go test` runs them even without the code that makes them.
func TestFuzzCorpusIsCommitted(t *testing.T) {
	for _, target := range targets {
		_, committed := hostileFor(target.bases(false))
		require.NotEmpty(t, committed)
		dir := filepath.Join("testdata", "fuzz", target.name)
		if *updateCorpus {
			require.NoError(t, os.MkdirAll(dir, 0o755))
		}
		for _, s := range committed {
			path := filepath.Join(dir, "hostile_"+s.name)
			if *updateCorpus {
				require.NoError(t, os.WriteFile(path, corpusFile(s.b), 0o644))
				continue
			}
			got, err := os.ReadFile(path)
			if assert.NoError(t, err, "run: go test ./pickle -run TestFuzzCorpusIsCommitted -update-fuzz-corpus") {
				assert.Equal(t, string(corpusFile(s.b)), string(got), "%s is stale: the record format changed; rerun with -update-fuzz-corpus", path)
			}
		}
	}
}

// ---- corrupt records: clear errors ----

func TestCorruptRecordsAreErrCorrupt(t *testing.T) {
	reg := fuzzRegistry()
	ts := handTasklets()[1]
	rec, err := reg.DumpTasklet(&ts)
	require.NoError(t, err)
	_, top := objectSpans(rec)
	cs := handChannels()[1]
	crec, err := reg.DumpChannel(&cs)
	require.NoError(t, err)
	_, ctop := objectSpans(crec)
	hw := handWorld()
	hdr, err := reg.DumpHeader(hw)
	require.NoError(t, err)
	_, htop := objectSpans(hdr)

	str := []byte{0xa1, 'x'}
	for _, tc := range []struct {
		name string
		b    []byte
		load string
		want error
		says string
	}{
		{"tasklet ID is a string", replaced(rec, top[2], str), "LoadTasklet", pickle.ErrCorrupt, "unsigned integer"},
		{"tasklet flags too big", replaced(rec, top[6], []byte{0xcd, 0x01, 0x00}), "LoadTasklet", pickle.ErrCorrupt, "flags 256"},
		{"tasklet wait too big", replaced(rec, top[8], []byte{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}), "LoadTasklet", pickle.ErrCorrupt, "wait 4294967296"},
		{"tasklet state dead", replaced(rec, top[5], []byte{0x05}), "LoadTasklet", pickle.ErrCorrupt, "state 5"},
		{"tasklet value not a pair", replaced(rec, top[11], []byte{0x01}), "LoadTasklet", pickle.ErrCorrupt, "[type, payload]"},
		{"tasklet behavior is a string", replaced(rec, top[14], str), "LoadTasklet", pickle.ErrCorrupt, "tasklet t2"},
		{"tasklet of format 2", replaced(rec, top[1], []byte{0x02}), "LoadTasklet", pickle.ErrFormat, "version 2"},
		{"channel record read as tasklet", crec, "LoadTasklet", pickle.ErrCorrupt, "has 10 fields, want 15"},
		{"channel capacity is a string", replaced(crec, ctop[3], str), "LoadChannel", pickle.ErrCorrupt, "channel record"},
		{"channel waiter short", replaced(crec, ctop[9], []byte{0x91, 0x91, 0x01}), "LoadChannel", pickle.ErrCorrupt, "waiter"},
		{"header run queue holds a string", replaced(hdr, htop[10], []byte{0x91, 0xa1, 0x90}), "LoadHeader", pickle.ErrCorrupt, "run queue"},
		{"header timer holds a string", replaced(hdr, htop[11], []byte{0x91, 0x94, 0xa1, 0x90, 0x00, 0x00, 0x00}), "LoadHeader", pickle.ErrCorrupt, "timer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, pickle.ScanAll(tc.b, pickle.Limits{}), "the corruption keeps the msgpack well formed")
			err := decoders(reg)[tc.load](tc.b)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.says)
		})
	}
}

// TestRecordUnderAnotherKeyIsCorrupt: a record stored under the key of
// another tasklet or channel (a swapped or misfiled record) is refused,
// naming both IDs, instead of restoring a world that is silently wrong.
func TestRecordUnderAnotherKeyIsCorrupt(t *testing.T) {
	reg := fuzzRegistry()
	meta, recs, err := reg.EncodeWorld(handWorld())
	require.NoError(t, err)
	_, err = reg.DecodeWorld(meta, recs)
	require.NoError(t, err)
	for i, want := range []string{"key t1 holds tasklet t2", "key ch1 holds channel ch2"} {
		bad := slices.Clone(recs)
		j := slices.IndexFunc(bad, func(r pickle.Record) bool { return r.Key[0] == "tc"[i] })
		bad[j].Value, bad[j+1].Value = bad[j+1].Value, bad[j].Value
		_, err = reg.DecodeWorld(meta, bad)
		require.ErrorIs(t, err, pickle.ErrCorrupt)
		assert.Contains(t, err.Error(), want)
	}
}
