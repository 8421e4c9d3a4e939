package task

import (
	"fmt"

	"github.com/stackless-go/stackless/scheduler"
)

// Setup spawns the pipeline of cfg on s: cfg.Workers workers (Work), each
// fetching its share of the documents, and a reducer, joined by a buffered
// channel of tallies, and a result channel that receives the Result at the
// end. The scheduler must run the effects of Effects.
func Setup(s *scheduler.Scheduler, cfg Config) {
	tallies := s.NewChannel(2 * cfg.Workers)
	res := s.NewChannel(1)
	for w := range cfg.Workers {
		s.Spawn(NewWork(w, cfg.Workers, cfg.Docs, cfg.Seed, tallies))
	}
	s.Spawn(&Reducer{In: tallies, Res: res, Config: cfg})
}

// job is what Run needs to find in a scheduler, fresh or restored: the
// reducer while the pipeline runs, the result once it finished.
type job struct {
	reducer *Reducer
	result  *Result
}

// findJob locates the reducer and the result among s's tasklets and
// channels (a restored world knows them only by ID).
func findJob(s *scheduler.Scheduler) (job, error) {
	var j job
	for _, in := range s.Tasklets() {
		if r, ok := s.Behavior(in.ID).(*Reducer); ok {
			j.reducer = r
		}
	}
	for _, ci := range s.Channels() {
		if ci.Len == 0 {
			continue
		}
		cs, err := s.ChannelState(ci.ID)
		if err != nil {
			return j, err
		}
		if r, ok := cs.Buffer[0].(Result); ok {
			j.result = &r
		}
	}
	if j.reducer == nil && j.result == nil {
		return j, fmt.Errorf("neither a %s tasklet nor a result is in the world", KindReducer)
	}
	return j, nil
}

// config is the configuration of the run j belongs to.
func (j job) config() Config {
	if j.result != nil {
		return Config{Docs: j.result.Docs, Workers: j.result.Workers, Seed: j.result.Seed}
	}
	return j.reducer.Config
}

// done is how many documents are merged.
func (j job) done() int {
	if j.result != nil {
		return j.result.Docs
	}
	return j.reducer.Done
}
