package cli

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `cluster spawn work --arg out=ch999` returned 0, and the tasklet failed
// later with the error only in the coordinator's log.
func TestClusterSpawnRefusesAChannelThatDoesNotExist(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, done := startUp(t, ctx, "-n", "1", "--checkpoint-every", "0", "--balance-every", "0")
	code, out, errOut := run(t, "cluster", "spawn", "work", "--arg", "out=ch999", "--cluster", dir)
	assert.Equal(t, exitFailure, code, "stdout: %s", out)
	assert.Contains(t, errOut, "out=ch999", "it names the argument")
	assert.Contains(t, errOut, "no such channel", "and what is wrong with it")
	assert.NotContains(t, out, "spawned")
	runOK(t, "cluster", "down", "--cluster", dir)
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
}

// A key given twice to --arg was taken silently, the last one winning.
func TestClusterSpawnRefusesAnArgGivenTwice(t *testing.T) {
	code, _, errOut := run(t, "cluster", "spawn", "work", "--cluster", filepath.Join(t.TempDir(), "none"),
		"--arg", "out=@chan", "--arg", "links=5", "--arg", "out=ch123")
	assert.Equal(t, exitUsage, code, "stderr: %s", errOut)
	assert.Contains(t, errOut, "--arg out is given twice")
}
