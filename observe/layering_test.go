package observe_test

import (
	gobuild "go/build"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLayering keeps the layering of DESIGN.md: the observer imports only
// the packages below it, and none of them imports it.
func TestLayering(t *testing.T) {
	const module = "github.com/stackless-go/stackless/"
	allowed := []string{"tasklet", "channel", "scheduler", "pickle", "store", "ipc", "cluster"}
	pkg, err := gobuild.ImportDir(".", 0)
	require.NoError(t, err)
	for _, imp := range pkg.Imports {
		if rest, ok := strings.CutPrefix(imp, module); ok {
			assert.True(t, slices.Contains(allowed, rest), "observe imports %s", imp)
		}
	}
	for _, below := range allowed {
		p, err := gobuild.ImportDir("../"+below, 0)
		require.NoError(t, err)
		assert.NotContains(t, p.Imports, module+"observe", "%s must not import observe", below)
	}
}
