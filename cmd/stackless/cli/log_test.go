package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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

// TestLogKeysAreTheProjectsOwn keeps one set of log keys across the
// packages that log (DESIGN.md: node, tasklet, kind, generation, peer): a
// synonym in a log call of any package is refused.
func TestLogKeysAreTheProjectsOwn(t *testing.T) {
	synonyms := map[string]string{`"gen"`: "generation", `"tasklet_id"`: "tasklet", `"node_id"`: "node", `"peer_node"`: "peer"}
	call := regexp.MustCompile(`\.(Info|Warn|Error|Debug)\(`)
	files, err := filepath.Glob("../../../*/*.go")
	require.NoError(t, err)
	more, err := filepath.Glob("../../../*/*/*.go")
	require.NoError(t, err)
	files = append(files, more...)
	require.NotEmpty(t, files)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			if !call.MatchString(line) {
				continue
			}
			for bad, good := range synonyms {
				assert.NotContains(t, line, bad+",", "%s:%d logs the key %s; the project's key is %q", f, i+1, bad, good)
			}
		}
	}
}
