package cluster

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPeerAddrDialsUnixOnlyOnTheSameHost(t *testing.T) {
	both := peerAddr{Node: 1, HostID: "aaaa1111", Unix: "data/sock/w1", TCP: ":4242"}
	for _, tc := range []struct {
		name            string
		p               peerAddr
		self, coordHost string
		network, addr   string
		err             string
	}{
		{"same host: unix", both, "aaaa1111", "", "unix", "data/sock/w1", ""},
		{"other host: TCP on the coordinator's host", both, "bbbb2222", "node1", "tcp", "node1:4242", ""},
		{"other host, own TCP address", peerAddr{Node: 3, HostID: "cccc", TCP: "10.0.0.5:7000"}, "aaaa1111", "node1", "tcp", "10.0.0.5:7000", ""},
		{"no coordinator host: loopback", both, "bbbb2222", "", "tcp", "localhost:4242", ""},
		{"other host, no TCP", peerAddr{Node: 2, HostID: "aaaa1111", Unix: "data/sock/w2"}, "bbbb2222", "node1", "", "", "--listen"},
		{"no host ID: never unix", peerAddr{Node: 2, Unix: "data/sock/w2"}, "", "", "", "", "another host"},
		{"bad TCP address", peerAddr{Node: 2, TCP: "nonsense"}, "x", "h", "", "", "nonsense"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			network, addr, err := tc.p.dialAddr(tc.self, tc.coordHost)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.network, network)
			assert.Equal(t, tc.addr, addr)
		})
	}
}

func TestTCPAddressesOfLocalWorkers(t *testing.T) {
	assert.Equal(t, "127.0.0.1:0", tcpListenAddr("127.0.0.1:7070"))
	assert.Equal(t, ":0", tcpListenAddr(":7070"))
	assert.Equal(t, ":0", tcpListenAddr("garbage"))
	assert.Equal(t, ":7071", advertiseTCP(&net.TCPAddr{IP: net.IPv4zero, Port: 7071}))
	assert.Equal(t, ":7071", advertiseTCP(&net.TCPAddr{Port: 7071}))
	assert.Equal(t, "10.0.0.1:7071", advertiseTCP(&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 7071}))
}

func TestHostIDIsMadeOnceAndChecked(t *testing.T) {
	dir := t.TempDir()
	a, err := ensureHostID(dir)
	require.NoError(t, err)
	b, err := ensureHostID(dir)
	require.NoError(t, err)
	assert.Equal(t, a, b, "the same ID on every start")
	got, err := readHostID(dir)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	assert.NotEqual(t, randomHostID(), randomHostID())

	require.NoError(t, os.WriteFile(filepath.Join(dir, hostIDName), []byte("x y"), 0o644))
	_, err = ensureHostID(dir)
	assert.ErrorContains(t, err, "not a host ID", "a damaged file is refused, not replaced")
	_, err = readHostID(t.TempDir())
	assert.Error(t, err, "no file")

	// A damaged file of garbage is neither read whole nor quoted whole.
	junk := bytes.Repeat([]byte{0xbb, 'i', '*', 0xd0}, 1<<20)
	require.NoError(t, os.WriteFile(filepath.Join(dir, hostIDName), junk, 0o644))
	_, err = readHostID(dir)
	require.ErrorContains(t, err, "not a host ID")
	assert.Less(t, len(err.Error()), 400, "the error quotes a bounded part")
	assert.Contains(t, err.Error(), "...")
}

// FuzzReadHostID: whatever DIR/host-id holds, reading it returns an ID or
// an error, never a panic, and an accepted ID has no blanks.
func FuzzReadHostID(f *testing.F) {
	f.Add([]byte("0123456789abcdef01234567\n"))
	f.Add([]byte(""))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, hostIDName), b, 0o644))
		id, err := readHostID(dir)
		if err == nil {
			assert.NotContains(t, id, " ")
			assert.GreaterOrEqual(t, len(id), 8)
		}
	})
}

func TestCauseDropsPrefixesOnly(t *testing.T) {
	inner := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap("cluster: worker: %w", wrap("ipc: node 3: dial tcp h:1: %w", inner)), os.ErrDeadlineExceeded.Error()},
		{wrap("%w: node 0 does not know the cluster secret", errAuthLike), "auth failed: node 0 does not know the cluster secret"},
		// A missing --creds file was reported as only "no such file or directory".
		{wrap("cluster: NATS credentials: %w", &fs.PathError{Op: "stat", Path: "/x/user.seed", Err: syscall.ENOENT}),
			"stat /x/user.seed: no such file or directory"},
	} {
		assert.Equal(t, tc.want, cause(tc.err))
	}
}

var errAuthLike = errorString("auth failed")

type errorString string

func (e errorString) Error() string { return string(e) }

func wrap(format string, err error) error { return fmt.Errorf(format, err) }
