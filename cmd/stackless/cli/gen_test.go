package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGenHelpExplainsUse(t *testing.T) {
	out := runOK(t, "gen", "--help")
	for _, want := range []string{"//stackless:tasklet kind=NAME version=N", "//go:generate go run github.com/stackless-go/stackless/cmd/stackless gen", "--check", "refused", "//stackless:point NAME", "upgrade"} {
		assert.Contains(t, out, want)
	}
}

func TestGenRefusalFails(t *testing.T) {
	code, out, errOut := run(t, "gen", "../../../gen/testdata/refuse/go")
	assert.Equal(t, exitFailure, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "gen refused 1 construct(s); nothing was written")
	assert.Contains(t, errOut, "p.go:12:2: a go statement; fix: spawn a tasklet with t.Spawn")
}

func TestGenCheckFresh(t *testing.T) {
	code, _, errOut := run(t, "gen", "--check", "../../../gen/internal/flowtest")
	assert.Equal(t, exitOK, code, "the repository's generated flows are fresh: %s", errOut)
}

// A package with no flow says so and exits 0: it printed nothing, like a
// run that generated everything it should.
func TestGenSaysWhenThereIsNothingToGenerate(t *testing.T) {
	code, out, errOut := run(t, "gen", "../../../channel")
	assert.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "no flow function")
	assert.Contains(t, out, "../../../channel: nothing to generate")
}
