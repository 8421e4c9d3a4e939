// Package readmetest keeps the README's code blocks the code that runs:
// tests of the examples read a section's ```go blocks and check each is
// part of a file of theirs, so the README cannot drift from the programs.
package readmetest

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// GoBlocks returns the ```go blocks of the README section (## level) whose
// heading is heading, without their fences.
func GoBlocks(t *testing.T, path, heading string) []string {
	t.Helper()
	src := MustRead(t, path)
	start := strings.Index(src, "\n## "+heading+"\n")
	require.GreaterOrEqual(t, start, 0, "%s has no section %q", path, heading)
	section := src[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var blocks []string
	for {
		i := strings.Index(section, "\n```go\n")
		if i < 0 {
			return blocks
		}
		section = section[i+len("\n```go\n"):]
		j := strings.Index(section, "\n```\n")
		require.GreaterOrEqual(t, j, 0, "%s: a go block of %q does not end", path, heading)
		blocks = append(blocks, section[:j+1])
		section = section[j:]
	}
}

// AssertPartOf checks that block is a run of whole lines of the file at
// path that ends a declaration.
func AssertPartOf(t *testing.T, path, block string) {
	t.Helper()
	assert.True(t, strings.HasSuffix(block, "\n}\n"), "README block should end a declaration:\n%s", block)
	assert.Contains(t, "\n"+MustRead(t, path), "\n"+block, "README block differs from %s", path)
}

// MustRead returns the file at path, failing the test if it cannot be read.
func MustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
