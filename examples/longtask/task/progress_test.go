package task

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name              string
		total, base, done int
		elapsed           time.Duration
		want              []string
	}{
		{"start", 1000, 0, 0, 0, []string{"[........................]   0%", "0/1000 docs", "- docs/s", "ETA --"}},
		{"half", 1000, 0, 500, 5 * time.Second, []string{"[############............]  50%", "500/1000 docs", "100 docs/s", "ETA 5s"}},
		// A resumed run: the rate counts only the documents of this process.
		{"resumed", 1000, 600, 800, 2 * time.Second, []string{" 80%", "800/1000 docs", "100 docs/s", "ETA 2s"}},
		{"done", 1000, 0, 1000, 10 * time.Second, []string{"[########################] 100%", "ETA 0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{t: time.Unix(100, 0)}
			p := newProgress(&bytes.Buffer{}, tc.total, tc.base, c.now)
			c.t = c.t.Add(tc.elapsed)
			line := p.line(tc.done)
			for _, w := range tc.want {
				assert.Contains(t, line, w)
			}
		})
	}
}

func TestProgressRedrawsInPlaceAndNotTooOften(t *testing.T) {
	c := &fakeClock{t: time.Unix(100, 0)}
	var out bytes.Buffer
	p := newProgress(&out, 100, 0, c.now)
	p.update(1)
	p.update(2) // same instant: no redraw
	assert.Equal(t, 1, strings.Count(out.String(), "\r"))
	c.t = c.t.Add(redrawEvery)
	p.update(3)
	assert.Equal(t, 2, strings.Count(out.String(), "\r"))
	p.finish(100)
	assert.True(t, strings.HasSuffix(out.String(), "\n"))
	assert.Contains(t, out.String(), "100/100 docs")
	assert.NotContains(t, out.String()[:len(out.String())-1], "\n", "one line, redrawn with \\r")
}
