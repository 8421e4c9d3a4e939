package store

import (
	"runtime"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// decodeWorld decodes a world from its header and records (in key order),
// a big world on as many goroutines as GOMAXPROCS allows (at most two:
// restore then builds the scheduler on one).
func decodeWorld(reg *pickle.Registry, meta []byte, recs []pickle.Record) (*scheduler.World, error) {
	return reg.DecodeWorldParallel(meta, recs, min(runtime.GOMAXPROCS(0), 2))
}
