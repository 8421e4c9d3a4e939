package pickle

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

type big struct {
	A [55]int64 // 440 bytes
	S string
}

type costly struct {
	Bigs  []big
	Ptrs  []*big
	Any   []any
	M     map[string]int
	Named int   `msgpack:"n"`
	Skip  []big `msgpack:"-"`
	embedded
}

type embedded struct{ Inner []big }

// nilArray is a msgpack map {field: [nil × n]}.
func nilArray(field string, n int) []byte {
	b, _ := msgpack.Marshal(map[string]any{field: make([]any, n)})
	return b
}

func TestCostRefusesAmplifyingRecords(t *testing.T) {
	typ := reflect.TypeFor[costly]()
	for _, field := range []string{"Bigs", "Inner"} {
		b := nilArray(field, 100_000)
		err := checkCost(b, typ)
		require.ErrorIs(t, err, ErrTooLarge, "%d nils into %s", 100_000, field)
	}
	// Into []any a nil costs its 16-byte slot, but an empty map costs a
	// whole map: about 80 bytes for one byte of input.
	assert.NoError(t, checkCost(nilArray("Any", 100_000), typ))
	maps := make([]any, 100_000)
	for i := range maps {
		maps[i] = map[string]any{}
	}
	b, _ := msgpack.Marshal(map[string]any{"Any": maps})
	require.ErrorIs(t, checkCost(b, typ), ErrTooLarge)
	// Pointers: a nil decodes to a nil pointer, but msgpack's slice still
	// holds 8 bytes per element: 8x, under the bound.
	assert.NoError(t, checkCost(nilArray("Ptrs", 100_000), typ))
	// A field msgpack skips costs nothing.
	assert.NoError(t, checkCost(nilArray("Skip", 100_000), typ))
}

func TestCostAcceptsOrdinaryRecords(t *testing.T) {
	typ := reflect.TypeFor[costly]()
	v := costly{Bigs: make([]big, 20), Any: []any{1, "x", []any{2, 3}}, M: map[string]int{"a": 1}, Named: 7,
		embedded: embedded{Inner: []big{{S: "in"}}}}
	b, err := msgpack.Marshal(&v)
	require.NoError(t, err)
	require.NoError(t, checkCost(b, typ))

	// The estimate must not be below what decoding really allocates.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var out costly
	require.NoError(t, msgpack.Unmarshal(b, &out))
	runtime.ReadMemStats(&after)
	c := coster{b: b, limit: 1 << 40}
	c.value(typ)
	require.NoError(t, c.err)
	assert.LessOrEqual(t, after.TotalAlloc-before.TotalAlloc, uint64(c.cost)+64<<10,
		"decoding allocated more than estimated (slack for the decoder's own buffers)")
}

func TestCostOnCorruptBytes(t *testing.T) {
	typ := reflect.TypeFor[costly]()
	for _, b := range [][]byte{{0x81}, {0x81, 0xa4, 'B', 'i', 'g', 's'}, {0xc1}, {0xdd, 0, 0}} {
		assert.Error(t, checkCost(b, typ), "% x", b)
	}
}

type costlyKind struct{ Bigs []big }

func (*costlyKind) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

type forgedKind struct {
	Bigs []any `stackless:",loose"`
}

func (*forgedKind) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// TestLoadTaskletRefusesAmplification forges, with another registry, a
// record of kind "costly" whose 100k-element array of nils would decode into
// 44 MB of 440-byte structs, and checks the real registry refuses it.
func TestLoadTaskletRefusesAmplification(t *testing.T) {
	forger := NewRegistry()
	require.NoError(t, forger.Register("costly", 1, &forgedKind{}))
	b, err := forger.DumpTasklet(&scheduler.TaskletState{ID: 1, State: tasklet.Runnable, Behavior: &forgedKind{Bigs: make([]any, 100_000)}})
	require.NoError(t, err)

	real := NewRegistry()
	require.NoError(t, real.Register("costly", 1, &costlyKind{}))
	_, err = real.LoadTasklet(b)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "costly")

	// The same kind with honest contents loads.
	ok, err := forger.DumpTasklet(&scheduler.TaskletState{ID: 2, State: tasklet.Runnable, Behavior: &forgedKind{Bigs: []any{}}})
	require.NoError(t, err)
	_, err = real.LoadTasklet(ok)
	require.NoError(t, err)
}
