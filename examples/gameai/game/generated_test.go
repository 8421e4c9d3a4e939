package game

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/gen"
)

// TestGeneratedFilesAreFresh fails when a script changed and its lowered
// *_stackless.go was not regenerated (`go generate ./examples/gameai/...`):
// the game would play the old script.
func TestGeneratedFilesAreFresh(t *testing.T) {
	files, err := gen.Generate(".", ".")
	require.NoError(t, err)
	require.Len(t, files, 3, "body, guard and monster have flows")
	for _, f := range files {
		old, err := os.ReadFile(f.Path)
		require.NoError(t, err, "%s is missing: run go generate ./examples/gameai/...", f.Path)
		assert.Equal(t, string(f.Content), string(old), "%s is stale: run go generate ./examples/gameai/...", f.Path)
	}
}
