package channel

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBombInFindsTheFirstBombAnywhere(t *testing.T) {
	for n := range 11 {
		vs := make([]any, n)
		for i := range vs {
			vs[i] = i
		}
		assert.Equal(t, -1, bombIn(vs), "no Bomb in %d values", n)
		for at := range n {
			vs[at] = Bomb{Err: errors.New("boom")}
			assert.Equal(t, at, bombIn(vs), "a Bomb at %d of %d", at, n)
			if at+1 < n {
				vs[at+1] = Bomb{}
				assert.Equal(t, at, bombIn(vs), "the first of two")
				vs[at+1] = at + 1
			}
			vs[at] = at
		}
	}
}
