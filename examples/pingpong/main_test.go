package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run([]string{"-n", "2"}, &out, &errOut))
	assert.Equal(t, "ping 1\npong 1\nping 2\npong 2\ngame over: 2 rallies, 4 hits (ping 2, pong 2)\n", out.String())
	assert.Empty(t, errOut.String())
}

func TestRunDefaultsToTenRallies(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run(nil, &out, &errOut))
	assert.Equal(t, 2*10+1, strings.Count(out.String(), "\n"))
	assert.Contains(t, out.String(), "pong 10\ngame over: 10 rallies")
}

func TestRunBadArguments(t *testing.T) {
	for _, args := range [][]string{{"-n", "-1"}, {"-n", "x"}, {"extra"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errOut), "%q", args)
		assert.Empty(t, out.String(), "%q", args)
		assert.NotEmpty(t, errOut.String(), "%q", args)
	}
}
