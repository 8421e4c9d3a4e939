package task

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Config is what a run computes: it decides the result, so a stored run is
// only resumed with the same one.
type Config struct {
	Docs    int    // documents in the corpus
	Workers int    // counting tasklets
	Seed    uint64 // corpus seed
}

// Doc is one document a worker fetched.
type Doc struct {
	N    int
	Text string
}

// Tally is what a worker found in one document.
type Tally struct {
	Doc    int
	Words  int
	Counts map[string]int
}

// Count tallies the words of a document: runs of letters, lower-cased.
func Count(d Doc) Tally {
	tl := Tally{Doc: d.N, Counts: make(map[string]int, 128)}
	var word [32]byte
	n := 0
	flush := func() {
		if n > 0 {
			tl.Counts[string(word[:n])]++
			tl.Words++
			n = 0
		}
	}
	for i := 0; i < len(d.Text); i++ {
		c := d.Text[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			flush()
			continue
		}
		if n < len(word) {
			word[n] = c
			n++
		}
	}
	flush()
	return tl
}

// Reducer merges the tallies of every document and, when all are in, sends
// the Result on Res.
type Reducer struct {
	In, Res  channel.ID
	Config   Config
	Done     int // documents merged
	Words    int64
	Counts   map[string]int
	Finished bool
}

// Step merges the tally just received and waits for the next one.
func (r *Reducer) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(fmt.Errorf("reducer after %d documents: %w", r.Done, err))
	}
	if r.Finished {
		return t.Exit()
	}
	if v := t.Value(); v != nil {
		tl, ok := v.(Tally)
		if !ok {
			return t.Fail(fmt.Errorf("reducer: received %T, want a task.Tally", v))
		}
		r.merge(tl)
	}
	if r.Done == r.Config.Docs {
		r.Finished = true
		return t.Send(r.Res, Summarize(r.Config, r.Words, r.Counts))
	}
	return t.Recv(r.In)
}

func (r *Reducer) merge(tl Tally) {
	if r.Counts == nil {
		r.Counts = make(map[string]int, len(vocabulary))
	}
	for w, c := range tl.Counts {
		r.Counts[w] += c
	}
	r.Words += int64(tl.Words)
	r.Done++
}
