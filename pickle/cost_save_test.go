package pickle_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// slot is an inventory slot: 256 bytes, and when empty an empty map (one
// byte), as every field is omitempty.
type slot struct {
	F0  int64 `msgpack:",omitempty"`
	F1  int64 `msgpack:",omitempty"`
	F2  int64 `msgpack:",omitempty"`
	F3  int64 `msgpack:",omitempty"`
	F4  int64 `msgpack:",omitempty"`
	F5  int64 `msgpack:",omitempty"`
	F6  int64 `msgpack:",omitempty"`
	F7  int64 `msgpack:",omitempty"`
	F8  int64 `msgpack:",omitempty"`
	F9  int64 `msgpack:",omitempty"`
	F10 int64 `msgpack:",omitempty"`
	F11 int64 `msgpack:",omitempty"`
	F12 int64 `msgpack:",omitempty"`
	F13 int64 `msgpack:",omitempty"`
	F14 int64 `msgpack:",omitempty"`
	F15 int64 `msgpack:",omitempty"`
	F16 int64 `msgpack:",omitempty"`
	F17 int64 `msgpack:",omitempty"`
	F18 int64 `msgpack:",omitempty"`
	F19 int64 `msgpack:",omitempty"`
	F20 int64 `msgpack:",omitempty"`
	F21 int64 `msgpack:",omitempty"`
	F22 int64 `msgpack:",omitempty"`
	F23 int64 `msgpack:",omitempty"`
	F24 int64 `msgpack:",omitempty"`
	F25 int64 `msgpack:",omitempty"`
	F26 int64 `msgpack:",omitempty"`
	F27 int64 `msgpack:",omitempty"`
	F28 int64 `msgpack:",omitempty"`
	F29 int64 `msgpack:",omitempty"`
	F30 int64 `msgpack:",omitempty"`
	F31 int64 `msgpack:",omitempty"`
}

type inventory struct {
	Slots []slot
}

func (i *inventory) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// A mostly empty grid of omitempty slots is written 256 times smaller than
// it decodes, past what every load allows (checkCost): it saved, and no
// load took it. It is refused where it is saved now, and what saves loads.
func TestAStateNoLoadWouldTakeIsNotSaved(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("inventory", 1, &inventory{}))
	require.NoError(t, pickle.RegisterValue[inventory](r, "inventory"))
	for _, n := range []int{3_000, 30_000} {
		ts := state(&inventory{Slots: make([]slot, n)})
		out, err := r.DumpTasklet(ts)
		if n == 30_000 {
			require.ErrorIs(t, err, pickle.ErrTooLarge, "%d empty slots", n)
			assert.ErrorContains(t, err, "tasklet t3 (kind inventory)")
			assert.ErrorContains(t, err, "every load would refuse it, so it is not saved")

			_, err = r.DumpChannel(&scheduler.ChannelState{ID: 1, Cap: 1, Buffer: []any{inventory{Slots: make([]slot, n)}}})
			require.ErrorIs(t, err, pickle.ErrTooLarge, "the same as a value sent")
			continue
		}
		require.NoError(t, err, "%d empty slots", n)
		rec, err := r.LoadTasklet(out)
		require.NoError(t, err)
		assert.Len(t, rec.Behavior.(*inventory).Slots, n)
	}
}

// stash holds collections whose elements decode bigger than they are
// written, every way a state can: slots in a slice, in a map, and as the
// values of a Boxed.
type stash struct {
	Slots  []slot
	ByName map[string]slot
	Names  []string
	Box    pickle.Boxed[any]
}

func (s *stash) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// FuzzEverySaveLoads holds saves to the promise that what is saved loads:
// collections of mostly empty omitempty slots, sized and filled from the
// bytes, are either refused where they are saved or load back equal.
func FuzzEverySaveLoads(f *testing.F) {
	f.Add(uint16(10), uint16(0), uint8(0), uint8(3))
	f.Add(uint16(30000), uint16(0), uint8(0), uint8(0))
	f.Add(uint16(9000), uint16(9000), uint8(200), uint8(1))
	f.Add(uint16(0), uint16(20000), uint8(1), uint8(2))
	reg := pickle.NewRegistry()
	if err := reg.Register("stash", 1, &stash{}); err != nil {
		f.Fatal(err)
	}
	if err := pickle.RegisterValue[[]slot](pickle.Default, "fuzz.slots"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, slots, named uint16, every, boxed uint8) {
		s := &stash{Slots: make([]slot, int(slots)%40_000)}
		for i := range s.Slots {
			if every > 0 && i%int(every) == 0 {
				s.Slots[i].F3 = int64(i)
			}
		}
		if named > 0 {
			s.ByName = map[string]slot{}
			for i := range int(named) % 20_000 {
				s.ByName[string(rune('a'+i%26))+string(rune(i))] = slot{}
			}
		}
		s.Names = make([]string, int(named)%5_000)
		if boxed%2 == 1 {
			s.Box.V = make([]slot, int(slots)%40_000)
		}
		out, err := reg.DumpTasklet(state(s))
		if err != nil {
			require.ErrorIs(t, err, pickle.ErrTooLarge)
			return
		}
		rec, err := reg.LoadTasklet(out)
		require.NoError(t, err, "a saved state loads")
		got := rec.Behavior.(*stash)
		require.Len(t, got.Slots, len(s.Slots))
		require.Len(t, got.ByName, len(s.ByName))
		w := &scheduler.World{NextTasklet: 4, RunQueue: []tasklet.ID{3}, Tasklets: []scheduler.TaskletState{*state(s)}}
		blob, err := reg.DumpWorld(w)
		require.NoError(t, err)
		_, err = reg.LoadWorld(blob)
		require.NoError(t, err, "and loads in a world")
	})
}

// bigNode is a tree node of a kilobyte, written as a map of its children
// alone while its data is empty.
type bigNode struct {
	G0   int64    `msgpack:",omitempty"`
	G1   int64    `msgpack:",omitempty"`
	G2   int64    `msgpack:",omitempty"`
	G3   int64    `msgpack:",omitempty"`
	G4   int64    `msgpack:",omitempty"`
	G5   int64    `msgpack:",omitempty"`
	G6   int64    `msgpack:",omitempty"`
	G7   int64    `msgpack:",omitempty"`
	G8   int64    `msgpack:",omitempty"`
	G9   int64    `msgpack:",omitempty"`
	G10  int64    `msgpack:",omitempty"`
	G11  int64    `msgpack:",omitempty"`
	G12  int64    `msgpack:",omitempty"`
	G13  int64    `msgpack:",omitempty"`
	G14  int64    `msgpack:",omitempty"`
	G15  int64    `msgpack:",omitempty"`
	G16  int64    `msgpack:",omitempty"`
	G17  int64    `msgpack:",omitempty"`
	G18  int64    `msgpack:",omitempty"`
	G19  int64    `msgpack:",omitempty"`
	G20  int64    `msgpack:",omitempty"`
	G21  int64    `msgpack:",omitempty"`
	G22  int64    `msgpack:",omitempty"`
	G23  int64    `msgpack:",omitempty"`
	G24  int64    `msgpack:",omitempty"`
	G25  int64    `msgpack:",omitempty"`
	G26  int64    `msgpack:",omitempty"`
	G27  int64    `msgpack:",omitempty"`
	G28  int64    `msgpack:",omitempty"`
	G29  int64    `msgpack:",omitempty"`
	G30  int64    `msgpack:",omitempty"`
	G31  int64    `msgpack:",omitempty"`
	G32  int64    `msgpack:",omitempty"`
	G33  int64    `msgpack:",omitempty"`
	G34  int64    `msgpack:",omitempty"`
	G35  int64    `msgpack:",omitempty"`
	G36  int64    `msgpack:",omitempty"`
	G37  int64    `msgpack:",omitempty"`
	G38  int64    `msgpack:",omitempty"`
	G39  int64    `msgpack:",omitempty"`
	G40  int64    `msgpack:",omitempty"`
	G41  int64    `msgpack:",omitempty"`
	G42  int64    `msgpack:",omitempty"`
	G43  int64    `msgpack:",omitempty"`
	G44  int64    `msgpack:",omitempty"`
	G45  int64    `msgpack:",omitempty"`
	G46  int64    `msgpack:",omitempty"`
	G47  int64    `msgpack:",omitempty"`
	G48  int64    `msgpack:",omitempty"`
	G49  int64    `msgpack:",omitempty"`
	G50  int64    `msgpack:",omitempty"`
	G51  int64    `msgpack:",omitempty"`
	G52  int64    `msgpack:",omitempty"`
	G53  int64    `msgpack:",omitempty"`
	G54  int64    `msgpack:",omitempty"`
	G55  int64    `msgpack:",omitempty"`
	G56  int64    `msgpack:",omitempty"`
	G57  int64    `msgpack:",omitempty"`
	G58  int64    `msgpack:",omitempty"`
	G59  int64    `msgpack:",omitempty"`
	G60  int64    `msgpack:",omitempty"`
	G61  int64    `msgpack:",omitempty"`
	G62  int64    `msgpack:",omitempty"`
	G63  int64    `msgpack:",omitempty"`
	G64  int64    `msgpack:",omitempty"`
	G65  int64    `msgpack:",omitempty"`
	G66  int64    `msgpack:",omitempty"`
	G67  int64    `msgpack:",omitempty"`
	G68  int64    `msgpack:",omitempty"`
	G69  int64    `msgpack:",omitempty"`
	G70  int64    `msgpack:",omitempty"`
	G71  int64    `msgpack:",omitempty"`
	G72  int64    `msgpack:",omitempty"`
	G73  int64    `msgpack:",omitempty"`
	G74  int64    `msgpack:",omitempty"`
	G75  int64    `msgpack:",omitempty"`
	G76  int64    `msgpack:",omitempty"`
	G77  int64    `msgpack:",omitempty"`
	G78  int64    `msgpack:",omitempty"`
	G79  int64    `msgpack:",omitempty"`
	G80  int64    `msgpack:",omitempty"`
	G81  int64    `msgpack:",omitempty"`
	G82  int64    `msgpack:",omitempty"`
	G83  int64    `msgpack:",omitempty"`
	G84  int64    `msgpack:",omitempty"`
	G85  int64    `msgpack:",omitempty"`
	G86  int64    `msgpack:",omitempty"`
	G87  int64    `msgpack:",omitempty"`
	G88  int64    `msgpack:",omitempty"`
	G89  int64    `msgpack:",omitempty"`
	G90  int64    `msgpack:",omitempty"`
	G91  int64    `msgpack:",omitempty"`
	G92  int64    `msgpack:",omitempty"`
	G93  int64    `msgpack:",omitempty"`
	G94  int64    `msgpack:",omitempty"`
	G95  int64    `msgpack:",omitempty"`
	G96  int64    `msgpack:",omitempty"`
	G97  int64    `msgpack:",omitempty"`
	G98  int64    `msgpack:",omitempty"`
	G99  int64    `msgpack:",omitempty"`
	G100 int64    `msgpack:",omitempty"`
	G101 int64    `msgpack:",omitempty"`
	G102 int64    `msgpack:",omitempty"`
	G103 int64    `msgpack:",omitempty"`
	G104 int64    `msgpack:",omitempty"`
	G105 int64    `msgpack:",omitempty"`
	G106 int64    `msgpack:",omitempty"`
	G107 int64    `msgpack:",omitempty"`
	G108 int64    `msgpack:",omitempty"`
	G109 int64    `msgpack:",omitempty"`
	G110 int64    `msgpack:",omitempty"`
	G111 int64    `msgpack:",omitempty"`
	G112 int64    `msgpack:",omitempty"`
	G113 int64    `msgpack:",omitempty"`
	G114 int64    `msgpack:",omitempty"`
	G115 int64    `msgpack:",omitempty"`
	G116 int64    `msgpack:",omitempty"`
	G117 int64    `msgpack:",omitempty"`
	G118 int64    `msgpack:",omitempty"`
	G119 int64    `msgpack:",omitempty"`
	G120 int64    `msgpack:",omitempty"`
	G121 int64    `msgpack:",omitempty"`
	G122 int64    `msgpack:",omitempty"`
	G123 int64    `msgpack:",omitempty"`
	G124 int64    `msgpack:",omitempty"`
	G125 int64    `msgpack:",omitempty"`
	G126 int64    `msgpack:",omitempty"`
	G127 int64    `msgpack:",omitempty"`
	L, R *bigNode `msgpack:",omitempty"`
}

type tree struct{ Root *bigNode }

func (c *tree) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

func fullTree(depth int) *bigNode {
	if depth == 0 {
		return nil
	}
	return &bigNode{L: fullTree(depth - 1), R: fullTree(depth - 1)}
}

// A tree of big nodes linked by pointers amplifies as a slice of them does
// (16,383 empty nodes: 16 MB decoded from 80 KB): refused where it is
// saved, while a small one saves and loads.
func TestATreeOfBigNodesIsCostChecked(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("tree", 1, &tree{}))
	out, err := r.DumpTasklet(state(&tree{Root: fullTree(6)}))
	require.NoError(t, err)
	_, err = r.LoadTasklet(out)
	require.NoError(t, err)
	_, err = r.DumpTasklet(state(&tree{Root: fullTree(14)}))
	require.ErrorIs(t, err, pickle.ErrTooLarge)
	assert.ErrorContains(t, err, "every load would refuse it")
}
