package shquote

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"data/cluster":           "data/cluster",
		"/tmp/a-b_c.d:1,2@x%+=y": "/tmp/a-b_c.d:1,2@x%+=y",
		"":                       "''",
		"with space/dä tä ☃":     "'with space/dä tä ☃'",
		"it's":                   `'it'\''s'`,
		"$HOME;rm -rf *":         "'$HOME;rm -rf *'",
	} {
		assert.Equal(t, want, Quote(in), in)
	}
}

// What the shell reads back is the word quoted.
func TestQuoteRoundTripsThroughAShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	for _, in := range []string{"plain", "with space", "it's", "a\"b", "$(x)`y`\\z", "ünï ☃", "-d", "*?[]"} {
		out, err := exec.Command(sh, "-c", "printf %s "+Quote(in)).Output()
		require.NoError(t, err, in)
		assert.Equal(t, in, string(out))
	}
}
