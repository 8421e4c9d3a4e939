package cli

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/examples/gameai/game"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// hoard is a tasklet whose state is one big record, as a big game's world.
type hoard struct {
	Bytes []byte
}

func (h *hoard) Step(t *tasklet.T) tasklet.Op { return t.Yield() }

// A saved game of a million entities holds a 90 MB world record; inspect
// listed it as "cannot decode: ... record too large" (pickle's default
// limit, 16 MiB). It reads records as large as the game writes.
func TestInspectShowsARecordAsLargeAsTheGameWrites(t *testing.T) {
	reg := pickle.NewRegistry()
	reg.SetMaxRecord(game.MaxRecord)
	require.NoError(t, reg.Register("test.hoard", 1, &hoard{}))
	path := filepath.Join(t.TempDir(), "big.db")
	db, err := store.Open(path, store.WithMaxRecord(game.MaxRecord))
	require.NoError(t, err)
	s := scheduler.New()
	s.Spawn(&hoard{Bytes: make([]byte, pickle.DefaultMaxRecord+1)})
	require.NoError(t, store.NewCheckpointer(db, reg).Checkpoint(s))
	require.NoError(t, db.Close())

	v := inspectJSON(t, path)
	require.Len(t, v.Tasklets, 1)
	assert.Empty(t, v.Tasklets[0].Problem)
	assert.Equal(t, "test.hoard", v.Tasklets[0].Kind)
	assert.NotContains(t, runOK(t, "inspect", path), "cannot decode")
}
