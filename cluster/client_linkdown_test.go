package cluster

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// A coordinator killed while it serves a command: `cluster spawn --count
// 200000` with the coordinator killed -9 half-way said only `control
// "c.spawn" on node 0: ipc: link to the node went down`, not that part of
// the tasklets may be running already (100,000 were) nor what to do.
func TestCommandCutByTheCoordinatorsDeathSaysWhatToDo(t *testing.T) {
	dir, err := os.MkdirTemp("", "cl") // short: unix socket paths are limited
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	secret, err := EnsureSecret(filepath.Join(dir, "secret"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	coord := ipc.NewNode(scheduler.New(scheduler.WithNode(coordNode)), pickle.NewRegistry(), ipc.WithSecret(secret),
		ipc.WithLogger(slog.New(slog.DiscardHandler)))
	defer coord.Close()
	var b blobs
	serve(ctx, coord, &b, kindHello, jsonHandler(func(context.Context, none) (none, error) { return none{}, nil }))
	dying := make(chan struct{})
	serve(ctx, coord, &b, kindSpawn, func(ctx context.Context, _ []byte) ([]byte, error) {
		close(dying) // the coordinator dies before it answers
		<-ctx.Done()
		return nil, ctx.Err()
	})
	require.NoError(t, coord.Listen(ctx, "unix", dirLayout{dir}.Coordinator()))

	c, err := Dial(ctx, DialConfig{Dir: dir})
	require.NoError(t, err)
	defer c.Close()
	go func() {
		<-dying
		coord.Close()
	}()
	_, err = c.Spawn(ctx, SpawnRequest{Kind: "work", Count: 200000})
	require.Error(t, err)
	assert.ErrorIs(t, err, ipc.ErrLinkDown)
	for _, want := range []string{
		"the link to the coordinator went down before it answered c.spawn",
		"may have been done in part, in whole or not at all",
		"stackless cluster up",
		"stackless cluster ps",
	} {
		assert.Contains(t, err.Error(), want)
	}
}
