//go:build linux

package ipc

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
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
			srv.logs.wait(t, "accepting again", "failed=") // the run of failed accepts ended
			assert.False(t, srv.logs.has("no longer listening"), "no listener gave up")
		})
	}
}

// A peer that sends garbage is refused with a plain close, not a reset,
// however much it sent: the handshake reads only its 72 bytes, and the
// rest is read away before the close.
func TestGarbageGetsAPlainClose(t *testing.T) {
	logs := newLogSink()
	n := lone(t, 1, logs, WithSecret(testSecret))
	n.Handle("echo", func(p []byte) ([]byte, error) { return p, nil })
	sock := filepath.Join(tempDir(t), "n1.sock")
	require.NoError(t, n.Listen(testCtx(t), "unix", sock))
	for _, junk := range [][]byte{
		bytes.Repeat([]byte{0xff}, 4096),
		append([]byte("STKL\x00\x01\x00\x05"), make([]byte, 200)...), // a HELLO, then a wrong proof
	} {
		conn, err := net.Dial("unix", sock)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(waitTime)))
		_, err = conn.Write(junk)
		require.NoError(t, err)
		require.NoError(t, conn.(*net.UnixConn).CloseWrite())
		_, err = io.Copy(io.Discard, conn)
		assert.NoError(t, err, "the node closes the connection, without a reset")
		conn.Close()
	}
	took, err := legitPeer(testCtx(t), "unix", sock, 2)
	require.NoError(t, err, "the node still serves")
	t.Logf("a real peer linked in %v", took)
}
