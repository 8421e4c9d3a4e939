package cli

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/rodir"
)

// Every command that saves, on a read-only folder, named the hidden
// temporary file (".gameai.db.new-123") or repeated the path ("store:
// open X: open X: read-only file system") and said nothing of what to
// do. Each now names the user's file once, says why, and which flag
// chooses a writable place.
func TestReadOnlyDataFolder(t *testing.T) {
	ro := rodir.Make(t)
	data := t.TempDir()
	runOK(t, "demo", "gameai", "--data", data, "--ticks", "2", "--entities", "10")
	saved := filepath.Join(data, "gameai.db")
	frozen := t.TempDir()
	runOK(t, "demo", "gameai", "--data", frozen, "--ticks", "2", "--entities", "10")
	rodir.Freeze(t, frozen)

	for _, tc := range []struct {
		args []string
		path string // the file the error must name once
		hint string
	}{
		{[]string{"demo", "gameai", "--data", ro, "--ticks", "2", "--entities", "10"}, filepath.Join(ro, "gameai.db"), "(--data DIR)"},
		{[]string{"demo", "gameai", "--data", filepath.Join(ro, "sub"), "--ticks", "2", "--entities", "10"}, filepath.Join(ro, "sub"), "(--data DIR)"},
		{[]string{"demo", "gameai", "--data", frozen, "--load", "--ticks", "2"}, filepath.Join(frozen, "gameai.db"), "(--data DIR)"},
		{[]string{"demo", "gameai", "--data", t.TempDir(), "--ticks", "2", "--entities", "10", "--render", filepath.Join(ro, "w.png")}, filepath.Join(ro, "w.png"), "(--render FILE)"},
		{[]string{"demo", "longtask", "--data", ro, "--docs", "10"}, filepath.Join(ro, "longtask.db"), "(--data DIR)"},
		{[]string{"checkpoint", "export", saved, filepath.Join(ro, "world.snap")}, filepath.Join(ro, "world.snap"), ""},
	} {
		name := strings.Join(tc.args[:2], " ")
		code, _, errOut := run(t, tc.args...)
		require.Equal(t, exitFailure, code, "%s: %s", name, errOut)
		msg := strings.TrimSuffix(strings.TrimPrefix(errOut, "stackless: "), "\n")
		assert.Equal(t, 1, strings.Count(errOut, "stackless: "), "%s: one error: %s", name, errOut)
		assert.Equal(t, 1, strings.Count(msg, tc.path), "%s: names %s once: %s", name, tc.path, msg)
		assert.NotContains(t, msg, "."+filepath.Base(tc.path)+".", "%s: no temporary file", name)
		why := "this user may not write to " // chmod 0555 as a user
		if rodir.Errno() == syscall.EROFS {
			why = "is on a read-only file system" // a read-only mount as root
		}
		assert.Contains(t, msg, why, name)
		assert.Contains(t, msg, "so nothing was written: write to a writable folder instead", name)
		assert.True(t, strings.HasSuffix(msg, tc.hint), "%s: ends with %q: %s", name, tc.hint, msg)
	}
}
