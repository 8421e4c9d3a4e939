package cluster

import (
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/ipc"
)

// A client that finds no coordinator says where it looked once: it read
// "reach the coordinator at X: ipc: node N: dial unix X: dial unix X: ...".
func TestDialNamesTheSocketOnce(t *testing.T) {
	dir, err := os.MkdirTemp("", "cl") // short: unix socket paths are limited
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	_, err = EnsureSecret(filepath.Join(dir, "secret"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Dial(ctx, DialConfig{Dir: dir})
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	sock := dirLayout{dir}.Coordinator()
	assert.Equal(t, 1, strings.Count(err.Error(), sock), err.Error())
	assert.True(t, strings.HasPrefix(err.Error(), "cluster: reach the coordinator: "), err.Error())
}

// A coordinator stopped with SIGSTOP still has its socket, which takes
// connections; the client then read "authentication failed: no HELLO from
// the peer: use of closed network connection", which sent the user to
// check a secret that was fine. It now says what happened.
func TestDialToACoordinatorThatDoesNotAnswer(t *testing.T) {
	dir, err := os.MkdirTemp("", "cl")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	_, err = EnsureSecret(filepath.Join(dir, "secret"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dirLayout{dir}.Sockets(), 0o700))
	ln, err := net.Listen("unix", dirLayout{dir}.Coordinator())
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() { // takes connections, says nothing: a stopped process's backlog
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	// The caller's time runs out first, or the handshake's own (3 s).
	for _, wait := range []time.Duration{300 * time.Millisecond, time.Minute} {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_, err = Dial(ctx, DialConfig{Dir: dir})
		cancel()
		require.Error(t, err)
		if wait < ipc.DefaultHandshakeTimeout {
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		} else {
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		}
		assert.Contains(t, err.Error(), "took the connection but did not answer in time")
		assert.Contains(t, err.Error(), "kill -CONT")
		assert.NotContains(t, err.Error(), "authentication failed")
	}
}
