package task

import (
	"errors"

	"github.com/stackless-go/stackless/pickle"
)

// Kind and value names as stored in checkpoints. They are part of the file
// format: renaming one makes old checkpoints unreadable.
const (
	KindProducer = "longtask.producer"
	KindWorker   = "longtask.worker"
	KindReducer  = "longtask.reducer"
)

// Register adds the kinds and the channel value types of the long task to r.
func Register(r *pickle.Registry) error {
	return errors.Join(
		r.Register(KindProducer, 1, &Producer{}),
		r.Register(KindWorker, 1, &Worker{}),
		r.Register(KindReducer, 1, &Reducer{}),
		pickle.RegisterValue[Doc](r, "longtask.doc"),
		pickle.RegisterValue[Tally](r, "longtask.tally"),
		pickle.RegisterValue[Result](r, "longtask.result"),
	)
}

// Registry returns a new registry holding the long task's kinds and values.
func Registry() *pickle.Registry {
	r := pickle.NewRegistry()
	if err := Register(r); err != nil {
		panic(err) // the names above are fixed and distinct: a bug here, not input
	}
	return r
}
