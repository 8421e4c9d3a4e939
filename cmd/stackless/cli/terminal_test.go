package cli

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// /dev/null is a character device but no terminal: progress written there
// is lost, and a check of the file mode alone said "terminal".
func TestIsTerminalIsFalseForDevNullAndBuffers(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer null.Close()
	assert.False(t, isTerminal(null), os.DevNull)
	assert.False(t, isTerminal(&bytes.Buffer{}))
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f), "a file")
}

// cluster up's status line on a terminal was redrawn with "\r\033[K", an
// escape sequence a TERM=dumb terminal prints as garbage; it is blanked
// with spaces now.
func TestOverwriteLineUsesNoEscapeSequence(t *testing.T) {
	assert.Equal(t, "\r4 workers", overwriteLine(0, "4 workers"))
	assert.Equal(t, "\rshort    ", overwriteLine(9, "short"), "what is left of a longer line is blanked")
	assert.Equal(t, "\rheap 1 µs", overwriteLine(4, "heap 1 µs"), "counted in characters, not bytes")
	assert.NotContains(t, overwriteLine(80, "x"), "\x1b")
}
