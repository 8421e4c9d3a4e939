package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// JetStream acknowledges a write before it syncs it, every 2 minutes by
// default: after an OS crash or a power cut the embedded store could have
// lost checkpoints and journaled effect results it had acknowledged. The
// embedded server syncs every write, as the store package's bbolt syncs
// every commit.
func TestTheEmbeddedStoreSyncsEveryWrite(t *testing.T) {
	e, err := startNATS(dirLayout{t.TempDir()}, false)
	require.NoError(t, err)
	defer e.close()
	jsc := e.srv.JetStreamConfig()
	require.NotNil(t, jsc, "JetStream is on")
	assert.True(t, jsc.SyncAlways)
}
