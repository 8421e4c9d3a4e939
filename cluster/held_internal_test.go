package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// A coordinator killed between a checkpoint's cut and its store left every
// worker holding its pickled world (as big as its tasklets) until the next
// checkpoint, which without a coordinator never came.
func TestAWorkerLetsGoOfItsHeldWorldWhenTheCoordinatorGoes(t *testing.T) {
	n := ipc.NewNode(scheduler.New(scheduler.WithNode(1)), pickle.Default, ipc.WithSecret(make([]byte, 32)))
	t.Cleanup(func() { n.Close() })
	var logs bytes.Buffer // read once watchCoordinator has returned
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := &worker{
		cfg:         WorkerConfig{NATS: "nats://127.0.0.1:4222"}, // joined through NATS: it waits for a new leader
		log:         slog.New(slog.NewTextHandler(&logs, nil)),
		node:        1,
		n:           n, // linked to no coordinator
		orphanAfter: time.Hour,
		handler:     ctx,
		held:        &heldWorld{gen: 7, object: objectName(7, 1), blob: make([]byte, 1<<20)},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.watchCoordinator()
	}()
	require.Eventually(t, func() bool {
		w.heldMu.Lock()
		defer w.heldMu.Unlock()
		return w.held == nil
	}, time.Minute, 10*time.Millisecond, "the held world of generation 7 is let go")
	cancel()
	<-done
	assert.Contains(t, logs.String(), "let go")
	assert.Contains(t, logs.String(), "gen=7")

	_, err := w.storeHeld(context.Background(), storeReq{Gen: 7, Object: objectName(7, 1)})
	assert.ErrorContains(t, err, "holds none", "a late store of it fails, and its checkpoint with it")
}
