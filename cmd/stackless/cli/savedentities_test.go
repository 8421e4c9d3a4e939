package cli

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/examples/gameai/game"
	"github.com/stackless-go/stackless/store"
)

// The entities of a save are counted from its generation headers for the
// memory check of --load. Counting the newest generation's records and
// those of the one it is built on counted every entity twice once a game
// had autosaved a few times (each incremental save holds most entities:
// they move), so a load that fitted could be refused. The count is now
// the full generation the newest one's chain starts from.
func TestSavedEntitiesOfAChainOfSaves(t *testing.T) {
	data := t.TempDir()
	runOK(t, "demo", "gameai", "--entities", "2000", "--ticks", "400", "--save-every", "100", "--data", data)
	path := filepath.Join(data, game.SaveName)
	db, err := store.Open(path, store.WithReadOnly())
	require.NoError(t, err)
	gens, err := db.List()
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.GreaterOrEqual(t, len(gens), 3)
	require.NotZero(t, gens[len(gens)-1].Base, "the newest save is incremental")

	n, ok := savedEntities(path)
	require.True(t, ok)
	// Dead monsters wait a moment for their replacements: a little under.
	assert.LessOrEqual(t, n, 2000, "never more than the game holds (before: 2,744)")
	assert.GreaterOrEqual(t, n, 1950)
}
