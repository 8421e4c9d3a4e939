package ipc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// endingProducer sends on Out until a send fails, counting what went, and
// reports the error it ended with.
type endingProducer struct {
	Out  channel.ID
	sent *atomic.Int64
	ends chan<- error
}

func (p *endingProducer) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		p.ends <- err
		return t.Exit()
	}
	p.sent.Add(1)
	return t.Send(p.Out, 1)
}

// TestStreamToAKilledProcess: the consumer of a stream, in a process of its
// own, is killed (kill -9) while this node's scheduler is busy sending to
// it, senders parked for credit and (but in a slow run) its ring polled
// between slices.
// Every sender ends with an error that says the link to node 2 went (none
// waits for ever), and the scheduler goes on answering.
func TestStreamToAKilledProcess(t *testing.T) {
	const producers = 256
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	s := scheduler.New(scheduler.WithNode(1))
	logs := newLogSink()
	node := NewNode(s, testRegistry(), WithSecret(testSecret), WithLogger(logs.logger()))
	defer node.Close()
	require.Equal(t, parentPong, s.NewChannel(0))
	sock := filepath.Join(tempDir(t), "n1.sock")
	require.NoError(t, node.Listen(ctx, "unix", sock))
	cmd := startChild(t, ctx, streamChildEnv+"="+sock+","+strconv.Itoa(1<<40), nil)
	require.NoError(t, node.WaitPeer(ctx, 2))
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	defer func() { cancel(); <-ran }() // before the next test: Run reads the poller's settings

	var sent atomic.Int64
	ends := make(chan error, producers)
	s.Do(func(s *scheduler.Scheduler) {
		for range producers {
			s.Spawn(&endingProducer{Out: childPing, sent: &sent, ends: ends})
		}
	})
	waitUntil(t, "the stream to run", func() bool { return sent.Load() > 200_000 })
	polled := make(chan int, 1)
	s.Do(func(*scheduler.Scheduler) { polled <- len(node.pl.links) })
	t.Logf("rings polled at the kill: %d", <-polled) // 1 but for a slow run (-race)
	require.NoError(t, cmd.Process.Signal(os.Kill))

	for i := range producers {
		select {
		case err := <-ends:
			ok := errors.Is(err, ErrLinkDown) || errors.Is(err, ErrNoRoute)
			assert.True(t, ok, "sender %d ended with %v, not a link's end", i, err)
			assert.Contains(t, err.Error(), "node 2", "the error names the peer")
		case <-ctx.Done():
			t.Fatalf("%d of %d senders still wait after the consumer was killed", producers-i, producers)
		}
	}
	logs.wait(t, "ipc: link closed", "peer=2")
	assert.NotContains(t, node.Peers(), uint16(2))
	answered := make(chan int, 1)
	s.Do(func(s *scheduler.Scheduler) { answered <- s.Len() })
	select {
	case n := <-answered:
		assert.Zero(t, n, "every sender ended")
	case <-ctx.Done():
		t.Fatal("the scheduler did not answer")
	}
	t.Logf("%d sends before the kill and after", sent.Load())
}
