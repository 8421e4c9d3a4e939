//go:build !linux

package ipc

import (
	"errors"
	"net"
	"os"
)

// peerUID is implemented for Linux only; elsewhere unix-socket links are
// refused rather than left without the check.
func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errors.New("checking a unix socket peer's user is implemented for Linux only; use TCP with TLS on this system")
}

// fileOwner is not checked where unix sockets are refused anyway.
func fileOwner(os.FileInfo) (uint32, bool) { return 0, false }

// sentSomething is not asked elsewhere: a connection counts as silent
// until its first flight is read.
func sentSomething(net.Conn) bool { return false }

// discardBuffered is not needed where unix sockets are refused: TLS
// connections end in TLS's own way.
func discardBuffered(net.Conn, int) {}
