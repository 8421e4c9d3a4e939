package store_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeShowsTheCheckedExample keeps the README's "Saving a running
// world" snippet the code Example_savingARunningWorld compiles and runs.
func TestReadmeShowsTheCheckedExample(t *testing.T) {
	fn := func(path string) string {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		src := string(b)
		start := strings.Index(src, "func saveWorld(")
		require.GreaterOrEqual(t, start, 0, "%s has no func saveWorld", path)
		end := strings.Index(src[start:], "\n}\n")
		require.Greater(t, end, 0, "%s: saveWorld does not end", path)
		return src[start : start+end+2]
	}
	assert.Equal(t, fn("example_test.go"), fn("../README.md"))
}
