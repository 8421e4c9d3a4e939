package task

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestProgressShowsTheDocumentsOfThisRun(t *testing.T) {
	for _, tc := range []struct {
		name              string
		total, base, done int
		want              []string
	}{
		{"fresh, done", 1000, 0, 1000, []string{"100%", "(1000/1000", "docs"}},
		{"fresh, interrupted", 1000, 0, 400, []string{"40%", "(400/1000"}},
		// A resumed run: the bar, rate and ETA count only this process's documents.
		{"resumed", 1000, 600, 1000, []string{"resumed at 600 of 1000", "100%", "(400/400"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newProgress(&out, tc.total, tc.base)
			p.update(tc.base + (tc.done-tc.base)/2)
			p.finish(tc.done)
			s := out.String()
			for _, w := range tc.want {
				assert.Contains(t, s, w)
			}
			assert.True(t, strings.HasSuffix(s, "\n"), "finish ends the line")
			assert.NotContains(t, s[:len(s)-1], "\n", "one line, redrawn with \\r")
		})
	}
}
