package store

import (
	"runtime"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// decodeWorld decodes a world from its header and records (in key order).
// A big world is decoded in two parts at once, split where the record bytes
// (a rough measure of decoding work) are halved, and joined in order.
func decodeWorld(reg *pickle.Registry, meta []byte, recs []pickle.Record) (*scheduler.World, error) {
	if len(recs) < parallelMin || runtime.GOMAXPROCS(0) < 2 {
		return reg.DecodeWorld(meta, recs)
	}
	const perRecord = 32 // fixed decoding work per record, in bytes
	total := 0
	for _, r := range recs {
		total += len(r.Value) + perRecord
	}
	half, sum := 0, 0
	for half < len(recs) && sum < total/2 {
		sum += len(recs[half].Value) + perRecord
		half++
	}

	var w2 *scheduler.World
	var err2 error
	done := make(chan struct{})
	go func() {
		defer close(done)
		w2, err2 = reg.DecodeWorld(meta, recs[half:])
	}()
	w1, err1 := reg.DecodeWorld(meta, recs[:half])
	<-done
	if err1 != nil || err2 != nil {
		// Decode in one piece for the error a single decode reports (every
		// kind problem of the world in one message). Errors are rare.
		return reg.DecodeWorld(meta, recs)
	}
	w1.Tasklets = append(w1.Tasklets, w2.Tasklets...)
	w1.Channels = append(w1.Channels, w2.Channels...)
	return w1, nil
}
