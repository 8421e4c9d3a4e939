package pickle_test

// The seeds of the fuzz targets in fuzz_test.go: valid records of real
// worlds, and hostile inputs made from them.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

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
		{ID: 10, Behavior: &Prog{Name: "wrapped"}, State: tasklet.Runnable, Chosen: -1,
			Err: fmt.Errorf("job 3: %w and %w", errSentinel, io.EOF)},
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
			{ID: 1, Cap: 2, Receivers: []scheduler.WaiterState{{Tasklet: 1, Case: 0}}},
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

// deepSeed is how deep the committed nesting seeds go: past Scan's limit.
const deepSeed = pickle.DefaultMaxDepth + 88

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
// committed marks the ones kept as files: the three bombs and deepSeed-deep
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
		committed = append(committed, seed{fmt.Sprintf("nested%d_field%02d", deepSeed, i), replaced(base, s, nested(deepSeed))})
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
