//go:build linux

package ipc

// The system-specific pieces of links: the peer check of unix sockets, the
// owner of the socket folder, and whether a new connection has sent bytes.

import (
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerUID is the user ID of the process at the other end of a unix
// socket, as the kernel recorded it at connect time (SO_PEERCRED); a peer
// cannot forge it.
func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return cred.Uid, nil
}

// fileOwner is the user that owns a file.
func fileOwner(fi os.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// sentSomething reports whether bytes wait to be read on a connection
// just accepted (SIOCINQ): a real peer sends its first flight at once, a
// flood's connection often never, so a pending connection that has sent
// something is evicted after the silent ones (see pendingCap).
func sentSomething(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	raw.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n > 0
}

// discardBuffered reads and drops up to max bytes that wait on a socket,
// without waiting for more.
func discardBuffered(c net.Conn, max int) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	var buf [512]byte
	raw.Read(func(fd uintptr) bool {
		for n := 0; n < max; {
			m, err := unix.Read(int(fd), buf[:])
			if m <= 0 || err != nil {
				break
			}
			n += m
		}
		return true // done, whatever was there: never wait
	})
}
