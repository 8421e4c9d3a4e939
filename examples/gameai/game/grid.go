package game

// grid is a uniform grid over the world with cells twice as wide as the
// perception radius (a constant, so finding a cell is a multiplication, not
// a division), so the monsters within sight of a point are in the 2 x 2
// cells nearest to it. It is rebuilt every tick by a counting sort into
// flat slices that are reused, so it allocates nothing in steady state. It
// is scratch, not state: a loaded game rebuilds it on its first tick.
type grid struct {
	n     int32 // cells per side
	start []int32
	items []gridItem
	cells []int32 // scratch: the cell of each point being filed
}

const cell = 2 * perceptionRadius

type gridItem struct {
	pos  Point
	slot int32
}

func (g *grid) reset(side int32) {
	g.n = side/cell + 1
	if need := int(g.n*g.n) + 1; len(g.start) != need {
		g.start = make([]int32, need)
	}
}

func (g *grid) cellOf(p Point) int32 {
	cx := min(max(p.X/cell, 0), g.n-1)
	cy := min(max(p.Y/cell, 0), g.n-1)
	return cy*g.n + cx
}

// build files the points pos[i] of slots[i] into their cells, keeping the
// order of slots within each cell.
func (g *grid) build(slots []int32, pos []Point) {
	clear(g.start)
	g.cells = g.cells[:0]
	for _, p := range pos {
		c := g.cellOf(p)
		g.cells = append(g.cells, c)
		g.start[c+1]++
	}
	for i := 1; i < len(g.start); i++ {
		g.start[i] += g.start[i-1]
	}
	if cap(g.items) < len(pos) {
		g.items = make([]gridItem, len(pos))
	}
	g.items = g.items[:len(pos)]
	fill := g.start[:len(g.start)-1] // advances to each cell's end; restored below
	for i, p := range pos {
		c := g.cells[i]
		g.items[fill[c]] = gridItem{pos: p, slot: slots[i]}
		fill[c]++
	}
	copy(g.start[1:], fill)
	g.start[0] = 0
}

// nearest returns the slot of the item nearest to p within r, or -1. Ties
// go to the lowest slot, so the answer does not depend on the order of the
// items.
func (g *grid) nearest(p Point, r int64) (int32, Point) {
	best, bestD := int32(-1), r*r+1
	var at Point
	x0, y0 := g.near(p.X), g.near(p.Y)
	for y := y0; y <= min(y0+1, g.n-1); y++ {
		row := y * g.n
		lo, hi := g.start[row+x0], g.start[row+min(x0+1, g.n-1)+1]
		for _, it := range g.items[lo:hi] {
			if d := dist2(p, it.pos); d < bestD || d == bestD && it.slot < best {
				best, bestD, at = it.slot, d, it.pos
			}
		}
	}
	return best, at
}

// near is the first of the two cells (along one axis) that hold everything
// within half a cell of coordinate v: v's own cell and the neighbour on
// v's side of it.
func (g *grid) near(v int32) int32 {
	c := min(max(v/cell, 0), g.n-1)
	if v-c*cell < cell/2 {
		c--
	}
	return min(max(c, 0), g.n-1)
}
