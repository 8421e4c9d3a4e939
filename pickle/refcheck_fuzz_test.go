package pickle_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// gnode is a node of the graphs FuzzRefCheck builds.
type gnode struct {
	V    int
	L, R *gnode
	Kids []*gnode
	At   *int
}

// graph is a behavior holding a graph of gnodes every way a state can.
type graph struct {
	A, B  *gnode
	M     map[string]*gnode
	S     []gnode
	Box   pickle.Boxed[any]
	Count int
	At    *int
}

func (g *graph) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// graphMaker makes a graph from fuzz bytes, counting for each node how many
// pointers reach it, and noting pointers into values held elsewhere: the
// expected answer, worked out apart from the walk under test.
type graphMaker struct {
	b      []byte
	nodes  []*gnode
	refs   map[*gnode]int
	into   bool // a pointer into a slice element or a field
	budget int
}

func (gm *graphMaker) next() byte {
	if len(gm.b) == 0 {
		return 0
	}
	c := gm.b[0]
	gm.b = gm.b[1:]
	return c
}

// ptr returns nil, a new node, or a node made before (shared).
func (gm *graphMaker) ptr() *gnode {
	c := gm.next()
	switch {
	case c%4 == 0 || gm.budget == 0:
		return nil
	case c%4 == 3 && len(gm.nodes) > 0:
		n := gm.nodes[int(c/4)%len(gm.nodes)]
		gm.refs[n]++
		return n
	}
	gm.budget--
	n := &gnode{V: int(c)}
	gm.nodes = append(gm.nodes, n)
	gm.refs[n]++
	n.L, n.R = gm.ptr(), gm.ptr()
	if gm.next()%3 == 0 {
		n.Kids = []*gnode{gm.ptr(), gm.ptr()}
	}
	return n
}

// depth is the deepest level of a field of the tree g (its own fields are
// at level 1), as msgpack nests it: counted apart from the walk.
func (g *graph) depth() int {
	d := 1
	for _, n := range []*gnode{g.A, g.B} {
		d = max(d, n.depth(1))
	}
	for _, n := range g.M {
		d = max(d, n.depth(2))
	}
	for i := range g.S {
		d = max(d, 2, g.S[i].depth(2))
	}
	if n, ok := g.Box.V.(*gnode); ok {
		d = max(d, n.depth(2))
	}
	return d
}

// depth: n sits at level l, so its fields are at l+1 and its kids at l+2.
func (n *gnode) depth(l int) int {
	if n == nil {
		return l
	}
	d := max(l+1, n.L.depth(l+1), n.R.depth(l+1))
	for _, k := range n.Kids {
		d = max(d, k.depth(l+2))
	}
	return d
}

func FuzzRefCheck(f *testing.F) {
	for _, s := range [][]byte{{}, {1, 0, 0, 0, 2}, {1, 1, 0, 0, 0, 3, 0}, {1, 3, 0, 0, 0, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 7, 3, 0, 0, 0, 9, 8}} {
		f.Add(s)
	}
	reg := pickle.NewRegistry()
	if err := reg.Register("graph", 1, &graph{}); err != nil {
		f.Fatal(err)
	}
	if err := pickle.RegisterValue[gnode](pickle.Default, "refcheck.gnode"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		gm := &graphMaker{b: b, refs: map[*gnode]int{}, budget: 200}
		g := &graph{}
		g.A, g.B = gm.ptr(), gm.ptr()
		if c := gm.next(); c%2 == 1 {
			g.M = map[string]*gnode{"x": gm.ptr(), "y": gm.ptr()}
		}
		if c := gm.next(); c%3 == 1 {
			g.S = make([]gnode, 2)
			if gm.next()%2 == 1 {
				g.S[1].L = gm.ptr()
			}
		}
		if c := gm.next(); c%2 == 1 {
			g.Box.V = gm.ptr()
		}
		switch c := gm.next(); {
		case c%5 == 1:
			g.At = &g.Count
			gm.into = true
		case c%5 == 2 && len(g.S) > 0:
			g.At = &g.S[0].V
			gm.into = true
		case c%5 == 3 && len(gm.nodes) > 0:
			g.At = &gm.nodes[int(c)%len(gm.nodes)].V
			gm.into = true
		}
		shared := gm.into
		for _, n := range gm.refs {
			shared = shared || n > 1
		}
		out, err := reg.DumpTasklet(&scheduler.TaskletState{ID: 1, Behavior: g, State: tasklet.Runnable, Chosen: -1})
		switch {
		case shared:
			// The walk meets the shared value or the depth limit first.
			if !errors.Is(err, pickle.ErrTooDeep) {
				require.ErrorIs(t, err, pickle.ErrShared, "a graph that shares a value")
			}
		case errors.Is(err, pickle.ErrTooDeep):
			// A tree, refused as too deep: it must really be deep.
			require.GreaterOrEqual(t, g.depth(), pickle.MaxNest-2, "refused as too deep")
		default:
			require.NoError(t, err, "a graph that shares nothing")
			rec, err := reg.LoadTasklet(out)
			require.NoError(t, err, "every state saved loads")
			require.Equal(t, g, rec.Behavior, "and comes back equal")
		}
	})
}
