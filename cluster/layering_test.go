package cluster

import (
	gobuild "go/build"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/stackless-go/stackless/"

// TestLayering keeps the layering of DESIGN.md: cluster imports only the
// packages below it, and ipc (which cluster builds on) never imports it.
func TestLayering(t *testing.T) {
	allowed := []string{"tasklet", "channel", "scheduler", "pickle", "store", "ipc"}
	pkg, err := gobuild.ImportDir(".", 0)
	require.NoError(t, err)
	for _, imp := range pkg.Imports {
		if rest, ok := strings.CutPrefix(imp, module); ok {
			assert.True(t, slices.Contains(allowed, rest) || leafHelper(t, rest), "cluster imports %s", imp)
		}
	}
	ipcPkg, err := gobuild.ImportDir("../ipc", 0)
	require.NoError(t, err)
	for _, imp := range slices.Concat(ipcPkg.Imports, ipcPkg.TestImports) {
		assert.NotEqual(t, module+"cluster", imp, "ipc must not import cluster")
	}
}

// leafHelper reports whether rest names a package under internal/ that
// imports nothing of this module but other such helpers (a file-system
// helper such as internal/fsmode, or internal/atomicfile that uses it):
// below every layer, so any may use it.
func leafHelper(t *testing.T, rest string) bool {
	if !strings.HasPrefix(rest, "internal/") {
		return false
	}
	pkg, err := gobuild.ImportDir("../"+rest, 0)
	require.NoError(t, err)
	for _, imp := range pkg.Imports {
		if r, ok := strings.CutPrefix(imp, module); ok && !leafHelper(t, r) {
			return false
		}
	}
	return true
}
