package game

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// redrawEvery bounds how often the bar is redrawn.
const redrawEvery = 100 * time.Millisecond

// progress is the session's progress bar on a terminal: ticks played of
// the session's, rate and time left. It is schollz/progressbar, as the long
// task's, rather than a hand-made line: that one fits the terminal's width
// (a fixed-width line wraps on a narrow terminal, and every redraw then
// leaves a line behind) and smooths the rate. Messages wipe it first
// (clear) and it comes back at the next tick.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	drawn time.Time // last redraw; zero after a clear, so the next tick redraws
	shown bool      // the bar is on the terminal's last line
}

func newProgress(w io.Writer, ticks int) *progress {
	bar := progressbar.NewOptions(ticks,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("ticks"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("ticks"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
	)
	return &progress{bar: bar, w: w}
}

// update moves the bar to done ticks, redrawn at most every redrawEvery and
// always at the last one.
func (p *progress) update(done, of int) {
	if now := time.Now(); now.Sub(p.drawn) >= redrawEvery || done == of {
		p.drawn, p.shown = now, true
		_ = p.bar.Set(done)
	}
}

// clear wipes the bar off its line, for a message to take it.
func (p *progress) clear() {
	if p.shown {
		_ = p.bar.Clear()
		p.shown, p.drawn = false, time.Time{}
	}
}

// finish ends the bar's line where it stopped (an interrupted session's
// bar stays at its tick).
func (p *progress) finish() {
	if p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}
