//go:build linux

package ipc

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A node that runs out of descriptors must go on listening: the issue saw
// one EMFILE end the accept loop for good, after which no peer could ever
// link again. The child runs with a small RLIMIT_NOFILE and caps of pending
// connections above it (the default caps keep a flood from using up the
// descriptors, and this test is about what happens when something does);
// the flood holds more connections than it may open, then goes away, and a
// real peer must then get in on every listener.
func TestAcceptSurvivesRunningOutOfDescriptors(t *testing.T) {
	const nofile = 96
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			srv := startServer(t, nofile, "maxpending=100000,peraddr=100000")
			addr := srv.tcp
			if network == "unix" {
				addr = srv.unix
			}
			conns := flood(network, addr, 3*nofile)
			require.Greater(t, len(conns), nofile, "the flood holds more connections than the child may open")
			srv.logs.wait(t, "accept", "too many open files")
			closeAll(conns)

			for i, net := range []string{"tcp", "unix"} {
				ctx, cancel := context.WithTimeout(context.Background(), waitTime)
				took, err := srv.legit(ctx, net, uint16(10+i))
				cancel()
				if assert.NoError(t, err, "a peer over %s after the flood", net) {
					t.Logf("a peer over %s linked and called in %v after the flood", net, took.Round(time.Millisecond))
				}
			}
			assert.False(t, srv.logs.has("no longer listening"), "no listener gave up")
		})
	}
}
