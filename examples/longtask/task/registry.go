package task

import (
	"errors"
	"sync"

	"github.com/stackless-go/stackless/pickle"
)

// Kind and value names as stored in checkpoints. They are part of the file
// format: renaming one makes old checkpoints unreadable. The worker's kind
// (longtask.worker, version 2) is registered by the code stackless gen
// generated for Work.
const (
	KindWorker  = "longtask.worker"
	KindReducer = "longtask.reducer"
)

// Register adds the reducer and the value types of the long task to r.
func Register(r *pickle.Registry) error {
	return errors.Join(
		r.Register(KindReducer, 1, &Reducer{}),
		pickle.RegisterValue[Doc](r, "longtask.doc"),
		pickle.RegisterValue[DocRequest](r, "longtask.docrequest"),
		pickle.RegisterValue[Tally](r, "longtask.tally"),
		pickle.RegisterValue[Result](r, "longtask.result"),
	)
}

var registered = sync.OnceValue(func() error { return Register(pickle.Default) })

// Registry returns the registry holding the long task's kinds and values:
// pickle.Default, where the generated worker registers itself.
func Registry() *pickle.Registry {
	if err := registered(); err != nil {
		panic(err) // the names above are fixed and distinct: a bug here, not input
	}
	return pickle.Default
}
