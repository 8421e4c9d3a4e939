package ipc

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
)

// A link over a unix socket moves its frames into shared memory once both
// ends are authenticated (see ring.go for the rings). The socket stays
// open: it is how each side learns that the other is gone (a process
// killed with -9 still has its socket closed by the kernel), and it is
// what the link falls back to when either side cannot or will not share
// memory. Every frame, control frames included, goes through the rings,
// so their order is the order they were sent in, as on a socket.
//
// Right after the secret handshake, on unix sockets only:
//
//	dialer   -> acceptor  offer: 'S' (share memory) or 'N'
//	acceptor -> dialer    answer: 'S' if both offered, else 'N' (done: socket)
//	dialer   -> acceptor  'M' with the mapping's memfd and four eventfds
//	                      (SCM_RIGHTS), or 'N' if it could not make them
//	acceptor -> dialer    'A' (mapped: rings from now on) or 'N' (socket)
//
// The acceptor reads the descriptors only from a peer that proved the
// secret, on a socket whose peer runs as this user (SO_PEERCRED), so the
// mapping is authenticated like the socket; it checks them (a sealed memfd
// of the declared size, real eventfds) before mapping.

const (
	shmYes    = 'S'
	shmNo     = 'N'
	shmFds    = 'M'
	shmMapped = 'A'
)

// ShmEnv turns shared memory off for every node of a process when set to
// "off" (or "0", "false", "no"): links over unix sockets then carry their
// frames on the socket, as links to other hosts do.
const ShmEnv = "STACKLESS_SHM"

// WithSharedMemory turns the shared-memory rings of unix-socket links on
// (the default on Linux) or off. Off, or on a system without them, links
// carry frames on the socket; both ends must want them for a link to use
// them.
func WithSharedMemory(on bool) Option { return func(c *config) { c.noShm = !on } }

// shmWanted reports whether this node offers shared memory.
func (n *Node) shmWanted() bool {
	if !shmSupported || n.cfg.noShm {
		return false
	}
	switch strings.ToLower(os.Getenv(ShmEnv)) {
	case "off", "0", "false", "no":
		return false
	}
	return true
}

// shmLink is one link's mapping, rings and wake-up descriptors. Four users
// hold it (the link's reader, writer and socket watcher, and its close);
// the last to let go unmaps it, so no goroutine touches a mapping that is
// gone.
type shmLink struct {
	st   ringState
	r    *ringReader
	w    *ringWriter
	refs atomic.Int32
	wake func()       // wakes this side's parked reader and writer
	free func() error // unmaps and closes the descriptors
}

// shmUsers is the number of holders of a link's mapping.
const shmUsers = 4

// shutdown stops this side: the reader and writer return net.ErrClosed.
func (s *shmLink) shutdown() {
	s.st.closed.Store(true)
	s.wake()
}

// peerGone tells the reader that nothing more will be written: it drains
// the ring and then returns io.EOF.
func (s *shmLink) peerGone() {
	s.st.peerGone.Store(true)
	s.wake()
}

// release lets go of the mapping; the last holder frees it.
func (s *shmLink) release() {
	if s.refs.Add(-1) == 0 {
		s.free()
	}
}

// negotiateShm runs the exchange above on a freshly authenticated unix
// socket link and returns the link's rings, or nil to stay on the socket.
// r is the handshake's reader (it may hold the peer's offer already).
func (n *Node) negotiateShm(conn net.Conn, r *bufio.Reader, dialer bool) (*shmLink, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, nil
	}
	want := byte(shmNo)
	if n.shmWanted() {
		want = shmYes
	}
	readByte := func(what string, allowed ...byte) (byte, error) {
		b, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("%w: no shared-memory %s from the peer: %w", ErrAuth, what, hangUpErr(err))
		}
		for _, a := range allowed {
			if b == a {
				return b, nil
			}
		}
		return 0, fmt.Errorf("%w: the peer sent %q as its shared-memory %s", ErrBadFrame, b, what)
	}
	if dialer {
		if _, err := conn.Write([]byte{want}); err != nil {
			return nil, fmt.Errorf("sending the shared-memory offer: %w", err)
		}
		ans, err := readByte("answer", shmYes, shmNo)
		if err != nil || ans == shmNo {
			return nil, err
		}
		if want == shmNo {
			return nil, fmt.Errorf("%w: the peer answered %q to an offer of %q", ErrBadFrame, ans, want)
		}
		s, fds, err := createShm() // fds: the memfd, then s's eventfds
		if err != nil {
			n.log.Warn("ipc: cannot make a shared mapping; this link stays on its socket", "err", err.Error())
			_, err = conn.Write([]byte{shmNo})
			return nil, err
		}
		err = sendFds(uc, shmFds, fds)
		closeFds(fds[:1]) // the memfd: the mapping outlives it; the eventfds are s's
		if err != nil {
			s.free()
			return nil, fmt.Errorf("sending the shared mapping: %w", err)
		}
		ack, err := readByte("acknowledgement", shmMapped, shmNo)
		if err != nil || ack == shmNo {
			s.free()
			return nil, err
		}
		if r.Buffered() > 0 {
			s.free()
			return nil, fmt.Errorf("%w: the peer sent bytes on the socket after taking the shared mapping", ErrBadFrame)
		}
		return s, nil
	}
	offer, err := readByte("offer", shmYes, shmNo)
	if err != nil {
		return nil, err
	}
	ans := byte(shmNo)
	if offer == shmYes && want == shmYes {
		ans = shmYes
	}
	if _, err := conn.Write([]byte{ans}); err != nil || ans == shmNo {
		return nil, err
	}
	if r.Buffered() > 0 { // descriptors ride with the next byte: it must be read with them
		return nil, fmt.Errorf("%w: the peer sent bytes before its shared mapping", ErrBadFrame)
	}
	b, fds, err := recvFds(uc)
	if err != nil {
		return nil, fmt.Errorf("%w: receiving the shared mapping: %w", ErrAuth, err)
	}
	if b == shmNo && len(fds) == 0 {
		return nil, nil // the dialer could not make one
	}
	s, err := openShm(b, fds)
	if err != nil {
		n.log.Warn("ipc: the peer's shared mapping is refused; this link stays on its socket", "err", err.Error())
		_, err = conn.Write([]byte{shmNo})
		return nil, err
	}
	if _, err := conn.Write([]byte{shmMapped}); err != nil {
		s.free()
		return nil, err
	}
	return s, nil
}
