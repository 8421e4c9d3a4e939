package game

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGridNearest checks the grid against a search of every point.
func TestGridNearest(t *testing.T) {
	const side = 20 * cell
	rng := uint64(3)
	var g grid
	for _, n := range []int{0, 1, 7, 500, 3000} {
		slots := make([]int32, n)
		pos := make([]Point, n)
		for i := range pos {
			slots[i] = int32(2*i + 1)
			pos[i] = randomIn(side, &rng)
			if i%10 == 9 {
				pos[i] = pos[i-1] // ties: the lowest slot wins
			}
		}
		g.reset(side)
		g.build(slots, pos)
		for range 2000 {
			p := randomIn(side, &rng)
			if next(&rng)%8 == 0 { // on the edges and corners too
				p.X = int32(next(&rng)%2) * side
			}
			got, at := g.nearest(p, perceptionRadius)
			want, wantAt := int32(-1), Point{}
			for i, q := range pos {
				d := dist2(p, q)
				if d > perceptionRadius*perceptionRadius {
					continue
				}
				if want < 0 || d < dist2(p, wantAt) || d == dist2(p, wantAt) && slots[i] < want {
					want, wantAt = slots[i], q
				}
			}
			if !assert.Equal(t, want, got, "%d points, nearest to %v", n, p) {
				return
			}
			if want >= 0 {
				assert.Equal(t, wantAt, at)
			}
		}
	}
}
