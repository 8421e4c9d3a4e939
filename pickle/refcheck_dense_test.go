package pickle_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// d0..d15 point at each other four ways each, as the frames of sixteen flows
// that call each other do: more paths through the types than anyone could
// follow one by one.
type d0 struct {
	PC int
	A  *d1  `msgpack:",omitempty"`
	B  *d4  `msgpack:",omitempty"`
	C  *d7  `msgpack:",omitempty"`
	D  *d10 `msgpack:",omitempty"`
}

type d1 struct {
	PC int
	A  *d2  `msgpack:",omitempty"`
	B  *d5  `msgpack:",omitempty"`
	C  *d8  `msgpack:",omitempty"`
	D  *d11 `msgpack:",omitempty"`
}

type d2 struct {
	PC int
	A  *d3  `msgpack:",omitempty"`
	B  *d6  `msgpack:",omitempty"`
	C  *d9  `msgpack:",omitempty"`
	D  *d12 `msgpack:",omitempty"`
}

type d3 struct {
	PC int
	A  *d4  `msgpack:",omitempty"`
	B  *d7  `msgpack:",omitempty"`
	C  *d10 `msgpack:",omitempty"`
	D  *d13 `msgpack:",omitempty"`
}

type d4 struct {
	PC int
	A  *d5  `msgpack:",omitempty"`
	B  *d8  `msgpack:",omitempty"`
	C  *d11 `msgpack:",omitempty"`
	D  *d14 `msgpack:",omitempty"`
}

type d5 struct {
	PC int
	A  *d6  `msgpack:",omitempty"`
	B  *d9  `msgpack:",omitempty"`
	C  *d12 `msgpack:",omitempty"`
	D  *d15 `msgpack:",omitempty"`
}

type d6 struct {
	PC int
	A  *d7  `msgpack:",omitempty"`
	B  *d10 `msgpack:",omitempty"`
	C  *d13 `msgpack:",omitempty"`
	D  *d0  `msgpack:",omitempty"`
}

type d7 struct {
	PC int
	A  *d8  `msgpack:",omitempty"`
	B  *d11 `msgpack:",omitempty"`
	C  *d14 `msgpack:",omitempty"`
	D  *d1  `msgpack:",omitempty"`
}

type d8 struct {
	PC int
	A  *d9  `msgpack:",omitempty"`
	B  *d12 `msgpack:",omitempty"`
	C  *d15 `msgpack:",omitempty"`
	D  *d2  `msgpack:",omitempty"`
}

type d9 struct {
	PC int
	A  *d10 `msgpack:",omitempty"`
	B  *d13 `msgpack:",omitempty"`
	C  *d0  `msgpack:",omitempty"`
	D  *d3  `msgpack:",omitempty"`
}

type d10 struct {
	PC int
	A  *d11 `msgpack:",omitempty"`
	B  *d14 `msgpack:",omitempty"`
	C  *d1  `msgpack:",omitempty"`
	D  *d4  `msgpack:",omitempty"`
}

type d11 struct {
	PC int
	A  *d12 `msgpack:",omitempty"`
	B  *d15 `msgpack:",omitempty"`
	C  *d2  `msgpack:",omitempty"`
	D  *d5  `msgpack:",omitempty"`
}

type d12 struct {
	PC int
	A  *d13 `msgpack:",omitempty"`
	B  *d0  `msgpack:",omitempty"`
	C  *d3  `msgpack:",omitempty"`
	D  *d6  `msgpack:",omitempty"`
}

type d13 struct {
	PC int
	A  *d14 `msgpack:",omitempty"`
	B  *d1  `msgpack:",omitempty"`
	C  *d4  `msgpack:",omitempty"`
	D  *d7  `msgpack:",omitempty"`
}

type d14 struct {
	PC int
	A  *d15 `msgpack:",omitempty"`
	B  *d2  `msgpack:",omitempty"`
	C  *d5  `msgpack:",omitempty"`
	D  *d8  `msgpack:",omitempty"`
}

type d15 struct {
	PC int
	A  *d0 `msgpack:",omitempty"`
	B  *d3 `msgpack:",omitempty"`
	C  *d6 `msgpack:",omitempty"`
	D  *d9 `msgpack:",omitempty"`
}

func (d *d0) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// A dense graph of types that hold each other is checked in bounded time,
// and its values are still walked: a chain saves, and a value reached twice
// is refused.
func TestADenseGraphOfRecursiveTypesSavesInBoundedTime(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("dense", 1, &d0{}))
	dump := func(b *d0) error {
		_, err := r.DumpTasklet(&scheduler.TaskletState{ID: 7, Behavior: b, State: tasklet.Runnable, Chosen: -1})
		return err
	}
	chain := &d0{PC: 1, A: &d1{PC: 2, B: &d5{PC: 3}}}
	blob, err := r.DumpTasklet(&scheduler.TaskletState{ID: 7, Behavior: chain, State: tasklet.Runnable, Chosen: -1})
	require.NoError(t, err)
	back, err := r.LoadTasklet(blob)
	require.NoError(t, err)
	assert.Equal(t, chain, back.Behavior, "loaded as saved") // without shapeSteps the first dump runs for hours

	x := &d4{PC: 5}
	apart := &d0{A: &d1{A: &d2{A: &d3{A: x}}}, B: &d4{PC: 6}}
	require.NoError(t, dump(apart))
	held := &d0{A: &d1{A: &d2{A: &d3{A: x}}}, B: x} // x reached twice
	assert.ErrorIs(t, dump(held), pickle.ErrShared)
}
