package task

import (
	"fmt"
	"io"
	"strings"
	"time"
)

const (
	barWidth    = 24
	redrawEvery = 100 * time.Millisecond
)

// progress draws a one-line progress bar (documents done / total, rate,
// ETA), redrawn in place with a carriage return. Give it a terminal only.
type progress struct {
	w     io.Writer
	total int
	now   func() time.Time
	start time.Time
	base  int       // documents done before this process started: the rate counts only ours
	drawn time.Time // last redraw
	width int       // length of the last line drawn, to blank out a shorter one
}

func newProgress(w io.Writer, total, base int, now func() time.Time) *progress {
	return &progress{w: w, total: total, now: now, start: now(), base: base}
}

// update redraws the bar if the last redraw is old enough.
func (p *progress) update(done int) {
	if t := p.now(); t.Sub(p.drawn) >= redrawEvery {
		p.drawn = t
		p.draw(done)
	}
}

// finish draws the bar one last time and ends its line.
func (p *progress) finish(done int) {
	p.draw(done)
	fmt.Fprintln(p.w)
}

func (p *progress) draw(done int) {
	s := p.line(done)
	pad := max(p.width-len(s), 0)
	p.width = len(s)
	fmt.Fprintf(p.w, "\r%s%s", s, strings.Repeat(" ", pad))
}

// line renders the bar, e.g.
// "[############............]  50%  5000/10000 docs  812 docs/s  ETA 6s".
func (p *progress) line(done int) string {
	frac := 1.0
	if p.total > 0 {
		frac = float64(done) / float64(p.total)
	}
	fill := int(frac * barWidth)
	bar := strings.Repeat("#", fill) + strings.Repeat(".", barWidth-fill)
	rate, eta := "-", "--"
	elapsed := p.now().Sub(p.start)
	if ours := done - p.base; ours > 0 && elapsed > 0 {
		perSec := float64(ours) / elapsed.Seconds()
		rate = fmt.Sprintf("%.0f", perSec)
		left := time.Duration(float64(p.total-done) / perSec * float64(time.Second))
		eta = left.Round(time.Second).String()
	}
	return fmt.Sprintf("[%s] %3.0f%%  %d/%d docs  %s docs/s  ETA %s", bar, 100*frac, done, p.total, rate, eta)
}
