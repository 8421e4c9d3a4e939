package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		json bool
	}{
		{"text by default", nil, "", false},
		{"json by the flag", []string{"--log-format", "json"}, "", true},
		{"json inherited from cluster up", nil, "json", true},
		{"the flag wins over the environment", []string{"--log-format", "text"}, "json", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envLogFormat, tc.env)
			root := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			addLogFlag(root)
			var errOut bytes.Buffer
			root.SetErr(&errOut)
			root.SetArgs(tc.args)
			require.NoError(t, root.Execute())
			logger(root).Info("observer action", "node", 2, "tasklet", "t5")
			line := strings.TrimSpace(errOut.String())
			if tc.json {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &m), line)
				assert.Equal(t, "observer action", m["msg"])
				assert.EqualValues(t, 2, m["node"])
				assert.Equal(t, "t5", m["tasklet"])
				return
			}
			assert.Contains(t, line, `msg="observer action" node=2 tasklet=t5`)
		})
	}
}

func TestBadLogFormatIsAUsageError(t *testing.T) {
	code, _, errOut := run(t, "version", "--log-format", "xml")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "want text or json")
}
