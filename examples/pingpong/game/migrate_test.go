package game_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/examples/pingpong/game"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// recorder hands every entry of a game's log to the test, and closes
// entries when the log is closed. After the entry PauseAfter it pauses, so
// the game stops until the test inserts it again. It stays on its node
// (its Go channel is no state).
type recorder struct {
	Log        channel.ID
	PauseAfter string
	Waiting    bool
	entries    chan<- any
}

func (r *recorder) Step(t *tasklet.T) tasklet.Op {
	if r.Waiting {
		r.Waiting = false
		err := t.Err()
		if errors.Is(err, channel.ErrClosed) {
			close(r.entries)
			return t.Exit()
		}
		if err != nil {
			return t.Fail(err)
		}
		r.entries <- t.Value()
		if t.Value() == r.PauseAfter {
			return t.Pause()
		}
	}
	r.Waiting = true
	return t.Recv(r.Log)
}

// Pong, a flow, moves to another node in the middle of a game, blocked in
// its loop on a receive (the log's reader pauses after "pong 2", so the
// game waits): it goes on there with its locals (its hit count) and the
// game ends as an unbroken one. The channels stay on node 1.
func TestPongMigratesMidGame(t *testing.T) {
	const n = 5
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	secret := []byte("a secret for this test, 32 bytes or more")
	quiet := ipc.WithLogger(slog.New(slog.DiscardHandler))
	n1 := ipc.NewNode(scheduler.New(scheduler.WithNode(1)), pickle.Default, ipc.WithSecret(secret), quiet)
	n2 := ipc.NewNode(scheduler.New(scheduler.WithNode(2)), pickle.Default, ipc.WithSecret(secret), quiet)
	require.NoError(t, ipc.ConnectPair(n1, n2))
	defer n2.Close()
	defer n1.Close()

	entries := make(chan any, 2*n+1)
	ids := make(chan [2]tasklet.ID, 1)
	var toPong channel.ID
	n1.Scheduler().Do(func(s *scheduler.Scheduler) {
		table := game.Table{ToPong: s.NewChannel(0), ToPing: s.NewChannel(0), Log: s.NewChannel(0)}
		toPong = table.ToPong
		rec := s.Spawn(&recorder{Log: table.Log, PauseAfter: "pong 2", entries: entries})
		s.Spawn(game.NewPing(table, n))
		ids <- [2]tasklet.ID{rec, s.Spawn(game.NewPong(table))}
	})
	ran := make(chan error, 2)
	go func() { ran <- n1.Scheduler().Run(ctx) }()
	go func() { ran <- n2.Scheduler().Run(ctx) }()
	got := <-ids
	rec, pong := got[0], got[1]

	var transcript strings.Builder
	for v := range entries {
		fmt.Fprintln(&transcript, v)
		if v == "pong 2" {
			// "pong 2" reached the log before Pong returned the ball and
			// went back to its receive: wait until it is there.
			waitReceiving(ctx, t, n1.Scheduler(), pong, toPong)
			require.NoError(t, n1.Migrate(ctx, pong, 2), "move Pong to node 2")
			hits := make(chan int, 1)
			n2.Scheduler().Do(func(s *scheduler.Scheduler) {
				if p, ok := s.Behavior(pong).(*game.PongTasklet); ok {
					hits <- p.Hits
				}
				close(hits)
			})
			h, onTwo := <-hits
			require.True(t, onTwo, "Pong is on node 2")
			assert.Equal(t, 3, h, "Pong waits there for its third ball")
			inserted := make(chan error, 1)
			n1.Scheduler().Do(func(s *scheduler.Scheduler) { inserted <- s.Insert(rec) })
			require.NoError(t, <-inserted, "let the log's reader go on")
		}
	}
	require.NoError(t, ctx.Err(), "the game ended before the deadline")
	assert.Equal(t, want(n), transcript.String())
	moved := make(chan bool, 1)
	n1.Scheduler().Do(func(s *scheduler.Scheduler) { moved <- s.Behavior(pong) == nil })
	assert.True(t, <-moved, "Pong left node 1")

	cancel()
	for range 2 {
		err := <-ran
		assert.True(t, err == nil || errors.Is(err, context.Canceled), "a scheduler stopped with %v", err)
	}
}

// waitReceiving waits, bounded by ctx, until tasklet id of s is blocked
// receiving on ch.
func waitReceiving(ctx context.Context, t *testing.T, s *scheduler.Scheduler, id tasklet.ID, ch channel.ID) {
	t.Helper()
	for {
		there := make(chan bool, 1)
		s.Do(func(s *scheduler.Scheduler) {
			in, err := s.Info(id)
			there <- err == nil && in.State == tasklet.Blocked && in.Op == "receiving" && slices.Contains(in.Chans, ch)
		})
		select {
		case ok := <-there:
			if ok {
				return
			}
		case <-ctx.Done():
			t.Fatalf("tasklet %v never blocked receiving on %v: %v", id, ch, ctx.Err())
		}
	}
}
