package ipc

import (
	"crypto/tls"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnixSockets(t *testing.T) {
	dir := filepath.Join(tempDir(t), "sock")
	path := filepath.Join(dir, "n1.sock")
	c := newCluster(t, 2, clusterConfig{noLinks: true})
	require.NoError(t, c.nodes[0].Listen(testCtx(t), "unix", path))

	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the socket folder")
	fi, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the socket")
	require.Len(t, c.nodes[0].Addrs(), 1)
	assert.Equal(t, path, c.nodes[0].Addrs()[0].String())

	peer, err := c.nodes[1].Dial(testCtx(t), "unix", path)
	require.NoError(t, err)
	assert.Equal(t, uint16(1), peer)
	require.NoError(t, c.nodes[0].WaitPeer(testCtx(t), 2))

	ch := c.ch(0, 0)
	c.prog(1, "s", send(ch, 1), send(ch, 2))
	c.prog(0, "r", recv(ch), recv(ch))
	assert.Equal(t, []int{1, 2}, c.collect(2)["r"].Got)
	st := c.nodes[1].Stats()
	require.Len(t, st.PerLink, 1)
	assert.Equal(t, "unix", st.PerLink[0].Network)

	c.stop()
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket is removed on close")
}

func TestUnixSocketPeerIsTheSameUser(t *testing.T) {
	dir := tempDir(t)
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("unix", filepath.Join(dir, "s"))
	require.NoError(t, err)
	defer client.Close()
	server := <-accepted
	require.NotNil(t, server)
	defer server.Close()
	for _, conn := range []net.Conn{client, server} {
		uid, err := peerUID(conn.(*net.UnixConn))
		require.NoError(t, err)
		assert.Equal(t, uint32(os.Getuid()), uid)
	}
}

func TestUnixListenChecks(t *testing.T) {
	logs := newLogSink()
	n := lone(t, 1, logs, WithSecret(testSecret))
	dir := tempDir(t)

	long := filepath.Join(dir, strings.Repeat("x", MaxSocketPath))
	err := n.Listen(testCtx(t), "unix", long)
	assert.ErrorContains(t, err, "sun_path")
	_, err = n.Dial(testCtx(t), "unix", long)
	assert.ErrorContains(t, err, "sun_path")

	open := filepath.Join(dir, "open")
	require.NoError(t, os.Mkdir(open, 0o755))
	err = n.Listen(testCtx(t), "unix", filepath.Join(open, "n.sock"))
	assert.ErrorContains(t, err, "chmod 700 "+open)

	priv := filepath.Join(dir, "priv")
	require.NoError(t, os.Mkdir(priv, 0o700))
	notSock := filepath.Join(priv, "file")
	require.NoError(t, os.WriteFile(notSock, nil, 0o600))
	assert.ErrorContains(t, n.Listen(testCtx(t), "unix", notSock), "not a socket")

	// A socket left behind by a node that died is replaced.
	stale := filepath.Join(priv, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
	_, err = os.Stat(stale)
	require.NoError(t, err, "the stale socket file is there")
	require.NoError(t, n.Listen(testCtx(t), "unix", stale))

	// A live one is not.
	m := lone(t, 2, logs, WithSecret(testSecret))
	assert.ErrorContains(t, m.Listen(testCtx(t), "unix", stale), "another process is listening")

	assert.ErrorContains(t, n.Listen(testCtx(t), "udp", "x"), "unsupported network")
}

func TestTLSLinks(t *testing.T) {
	certs := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, GenerateCerts(certs, nil))
	for _, f := range []string{CAKeyFile, NodeKeyFile} {
		fi, err := os.Stat(filepath.Join(certs, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	assert.ErrorContains(t, GenerateCerts(certs, nil), "exists already")
	cfg, err := LoadTLSConfig(certs)
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS13), cfg.MinVersion)
	assert.Equal(t, tls.RequireAndVerifyClientCert, cfg.ClientAuth)

	c := newCluster(t, 2, clusterConfig{noLinks: true, nodeOpts: []Option{WithTLS(cfg)}})
	require.NoError(t, c.nodes[0].Listen(testCtx(t), "tcp", "127.0.0.1:0"))
	addr := c.nodes[0].Addrs()[0].String()

	// A client without a certificate is refused, and the node goes on.
	raw, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: cfg.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
	if err == nil { // TLS 1.3 reports the missing certificate on the first read
		raw.SetDeadline(time.Now().Add(waitTime))
		_, err = raw.Read(make([]byte, 1))
		raw.Close()
	}
	require.Error(t, err)
	c.logs.wait(t, "link refused", "TLS", "certificate")

	peer, err := c.nodes[1].Dial(testCtx(t), "tcp", addr)
	require.NoError(t, err)
	assert.Equal(t, uint16(1), peer)
	require.NoError(t, c.nodes[0].WaitPeer(testCtx(t), 2), "the listening side comes up on its own goroutine")
	ch := c.ch(1, 0)
	c.prog(0, "s", send(ch, 5))
	c.prog(1, "r", recv(ch))
	assert.Equal(t, []int{5}, c.collect(2)["r"].Got)
}

func TestTCPNeedsTLS(t *testing.T) {
	logs := newLogSink()
	n := lone(t, 1, logs, WithSecret(testSecret))
	assert.ErrorContains(t, n.Listen(testCtx(t), "tcp", "127.0.0.1:0"), "mutual TLS")
	_, err := n.Dial(testCtx(t), "tcp", "127.0.0.1:1")
	assert.ErrorContains(t, err, "mutual TLS")

	certs := t.TempDir()
	require.NoError(t, GenerateCerts(certs, []string{"node1.example", "10.0.0.1"}))
	require.NoError(t, os.Chmod(filepath.Join(certs, NodeKeyFile), 0o644))
	_, err = LoadTLSConfig(certs)
	assert.ErrorContains(t, err, "chmod 600")
}

// Files kept apart (the key among the operator's secrets, the CA shared)
// load where they are, with the folder's checks.
func TestLoadTLSFilesApart(t *testing.T) {
	certs := t.TempDir()
	require.NoError(t, GenerateCerts(certs, nil))
	keys, cas := t.TempDir(), t.TempDir()
	key, ca := filepath.Join(keys, "k.pem"), filepath.Join(cas, "ca.pem")
	require.NoError(t, os.Rename(filepath.Join(certs, NodeKeyFile), key))
	require.NoError(t, os.Rename(filepath.Join(certs, CACertFile), ca))
	cert := filepath.Join(certs, NodeCertFile)
	cfg, err := LoadTLSFiles(cert, key, ca)
	require.NoError(t, err)
	assert.Len(t, cfg.Certificates, 1)
	assert.Equal(t, tls.RequireAndVerifyClientCert, cfg.ClientAuth)

	require.NoError(t, os.Chmod(key, 0o644))
	_, err = LoadTLSFiles(cert, key, ca)
	assert.ErrorContains(t, err, "TLS key "+key+" has mode 0644")
	assert.ErrorContains(t, err, "chmod 600 "+key)
	require.NoError(t, os.Chmod(key, 0o600))

	_, err = LoadTLSFiles(cas, key, ca)
	assert.ErrorContains(t, err, cas+" is a directory, not a regular file: the node's TLS certificate")
	fifo := filepath.Join(cas, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	_, err = LoadTLSFiles(cert, key, fifo)
	assert.ErrorContains(t, err, fifo+" is a named pipe (FIFO), not a regular file: the cluster's CA certificate")
	_, err = LoadTLSFiles(cert, key, cert+".missing")
	assert.ErrorContains(t, err, cert+".missing")
	_, err = LoadTLSFiles(cert, key, key)
	assert.ErrorContains(t, err, key+" holds no certificate")

	// A wrong file of gigabytes (a database, a disk image) is refused
	// unread, not read whole: a sparse one costs nothing to make.
	huge := filepath.Join(cas, "disk.img")
	require.NoError(t, os.WriteFile(huge, nil, 0o600))
	require.NoError(t, os.Truncate(huge, 4<<30))
	for _, args := range [][3]string{{huge, key, ca}, {cert, key, huge}} {
		_, err = LoadTLSFiles(args[0], args[1], args[2])
		assert.ErrorContains(t, err, huge+" is over 1048576 bytes")
	}
}

// A failed dial names the address once: the net error already says
// "dial unix ADDR", and the node adds only itself.
func TestDialErrorNamesTheAddressOnce(t *testing.T) {
	n := lone(t, 1, newLogSink(), WithSecret(testSecret))
	sock := filepath.Join(tempDir(t), "nobody.sock")
	_, err := n.Dial(testCtx(t), "unix", sock)
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, 1, strings.Count(err.Error(), sock), err.Error())
	assert.True(t, strings.HasPrefix(err.Error(), "ipc: node 1: dial unix "+sock), err.Error())
}

// A node stopped (SIGSTOP) whose socket file was replaced by a new node's
// removed the new node's file when it ended (net.UnixListener unlinks its
// path whatever is there), and nobody could dial the new node any more. A
// node now removes only the file it made.
func TestClosingANodeLeavesAnotherNodesSocketFile(t *testing.T) {
	logs := newLogSink()
	path := filepath.Join(tempDir(t), "w1")
	old := lone(t, 1, logs, WithSecret(testSecret))
	require.NoError(t, old.Listen(testCtx(t), "unix", path))
	require.NoError(t, os.Remove(path)) // taken for gone, its file removed
	next := lone(t, 1, logs, WithSecret(testSecret))
	require.NoError(t, next.Listen(testCtx(t), "unix", path))

	require.NoError(t, old.Close())
	_, err := os.Lstat(path)
	require.NoError(t, err, "the new node's socket file stays")
	peer := lone(t, 2, logs, WithSecret(testSecret))
	got, err := peer.Dial(testCtx(t), "unix", path)
	require.NoError(t, err)
	assert.Equal(t, uint16(1), got)

	require.NoError(t, next.Close())
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "a node removes its own file")
}
