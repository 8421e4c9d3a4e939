package cli

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

func TestStatusSaysLoudlyThatTheClusterIsDown(t *testing.T) {
	for _, tc := range []struct {
		state, line string
		down        bool
	}{
		{state: "running"},
		{state: "recovering: rollback failed 1 of 5 times, next try in 250ms: boom", line: "| Recovering: rollback failed 1 of 5 times"},
		{state: "down: rollback failed 5 times: boom", line: "| Down: rollback failed 5 times: boom", down: true},
	} {
		st := cluster.Status{Dir: "d", State: tc.state, Note: "adopted 3 worker(s)"}
		var b bytes.Buffer
		writeStatus(&b, st)
		assert.Contains(t, b.String(), "cluster: "+tc.state)
		assert.Contains(t, b.String(), "at start: adopted 3 worker(s)")
		if tc.line != "" {
			assert.Contains(t, statusLine(st), tc.line)
		} else {
			assert.NotContains(t, statusLine(st), "running")
		}
		err := downError(st)
		if !tc.down {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err, "`cluster status` exits non-zero")
		assert.Contains(t, err.Error(), "down: rollback failed 5 times: boom")
		assert.Contains(t, err.Error(), "stackless cluster restore --cluster d")
	}
}
