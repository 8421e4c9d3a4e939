package task

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// redrawEvery bounds how often the bar is redrawn.
const redrawEvery = 100 * time.Millisecond

// progress is the run's progress bar on a terminal: documents done of the
// total, rate and time left. It is schollz/progressbar rather than a
// hand-made line because that one fits the terminal's width (a fixed-width
// line wraps on a narrow terminal, and every redraw then leaves a line
// behind) and smooths the rate over the last seconds. A resumed run counts
// only the documents of this process, so its rate and ETA are this
// process's: the bar runs from base to total.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	base  int
	drawn time.Time // last redraw: the bar's own throttle could swallow the last one
}

func newProgress(w io.Writer, total, base int) *progress {
	desc := "docs"
	if base > 0 {
		desc = fmt.Sprintf("docs (resumed at %d of %d)", base, total)
	}
	bar := progressbar.NewOptions(total-base,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &progress{bar: bar, w: w, base: base}
}

// update moves the bar to done documents (redrawn at most every
// redrawEvery).
func (p *progress) update(done int) {
	if now := time.Now(); now.Sub(p.drawn) >= redrawEvery {
		p.drawn = now
		_ = p.bar.Set(done - p.base)
	}
}

// finish draws the bar at done one last time (an interrupted run's bar
// stays where it stopped) and ends its line.
func (p *progress) finish(done int) {
	_ = p.bar.Set(done - p.base)
	fmt.Fprintln(p.w)
}
