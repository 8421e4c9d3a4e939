package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"--entities", "200", "--ticks", "30", "--stats-every", "10",
		"--save-every", "10", "--data", dir, "--size", "64"}, &out, &errOut)
	assert.Equal(t, 0, code, errOut.String())
	assert.Empty(t, errOut.String(), "no progress when stderr is no terminal")
	got := out.String()
	assert.True(t, strings.HasPrefix(got, "new game: 200 entities"), got)
	assert.Equal(t, 3, strings.Count(got, "\ntick "), got)
	assert.Contains(t, got, "saved tick 30 to "+filepath.Join(dir, "gameai.db"))
	assert.FileExists(t, filepath.Join(dir, "world.png"))

	out.Reset()
	code = run(t.Context(), []string{"--load", "--ticks", "5", "--seed", "9", "--data", dir, "--size", "64"}, &out, &errOut)
	assert.Equal(t, 0, code, errOut.String())
	assert.Equal(t, "gameai: note: --seed is ignored with --load: the saved game has its own\n", errOut.String())
	assert.Contains(t, out.String(), "tick 30, 200 entities")
	assert.Contains(t, out.String(), "saved tick 35 to ")
}

func TestRunBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--entities", "1"}, {"--ticks", "x"}, {"--size", "2"}, {"extra"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(t.Context(), append(args, "--data", t.TempDir()), &out, &errOut), "%q", args)
		assert.NotEmpty(t, errOut.String(), "%q", args)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut bytes.Buffer
	assert.Equal(t, 130, run(ctx, []string{"--entities", "50", "--data", t.TempDir(), "--size", "64"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "interrupted")
}

func TestRunLoadWithoutSave(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 1, run(t.Context(), []string{"--load", "--data", t.TempDir()}, &out, &errOut))
	assert.Contains(t, errOut.String(), "no saved game")
}
