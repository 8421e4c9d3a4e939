package gen

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memo answers "does k reach a writing node" (what writesThrough asks of
// the calls of a package) exactly on random graphs full of cycles, asked
// in any order, stopping at the first write found as writeSites does, and
// answers each question a bounded number of times, where answering anew on
// every path would take exponential time on the dense graphs.
func TestMemoAnswersReachabilityOverCycles(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 13))
	for trial := range 400 {
		n := 1 + r.IntN(40)
		adj := make([][]int, n)
		writes := make([]bool, n)
		density := r.Float64() * 0.5
		for k := range n {
			writes[k] = r.IntN(8) == 0
			for c := range n {
				if r.Float64() < density {
					adj[k] = append(adj[k], c)
				}
			}
			r.Shuffle(len(adj[k]), func(i, j int) { adj[k][i], adj[k][j] = adj[k][j], adj[k][i] })
		}
		reaches := func(k int) bool { // the truth, by a plain search
			seen := make([]bool, n)
			stack := []int{k}
			for len(stack) > 0 {
				x := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if writes[x] {
					return true
				}
				if !seen[x] {
					seen[x] = true
					stack = append(stack, adj[x]...)
				}
			}
			return false
		}
		var m memo[int, bool]
		computes := 0
		var ask func(k int) bool
		ask = func(k int) bool {
			return m.answer(k, false, func(w bool) bool { return w }, func() bool {
				computes++
				if writes[k] {
					return true
				}
				for _, c := range adj[k] {
					if ask(c) {
						return true // the first write found, as writeSites(first) stops
					}
				}
				return false
			})
		}
		for _, k := range r.Perm(n) {
			require.Equal(t, reaches(k), ask(k), "trial %d: node %d of %d", trial, k, n)
		}
		assert.LessOrEqual(t, computes, n*n, "trial %d: %d nodes answered %d times", trial, n, computes)
	}
}
