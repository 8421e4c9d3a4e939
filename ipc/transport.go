package ipc

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Links run over unix sockets (one host), TCP with mutual TLS (across
// hosts), or any net.Conn handed to Connect (in-memory pipes in tests).
// The protocol on top is the same on all of them: the handshake of auth.go,
// then frames.

// MaxSocketPath is the longest unix socket path this package accepts:
// sun_path holds 108 bytes on Linux, the final NUL included (104 on macOS).
const MaxSocketPath = 107

// Listen accepts links on network "unix" (addr is a socket path) or
// "tcp"/"tcp4"/"tcp6" (needs WithTLS), in the background, until ctx ends
// or the node closes. The scheduler is held while the node listens, so an
// idle worker waits for work instead of finishing. Links that fail the
// handshake are closed and logged; the node keeps listening.
func (n *Node) Listen(ctx context.Context, network, addr string) error {
	var ln net.Listener
	var err error
	switch network {
	case "unix":
		ln, err = listenUnix(ctx, addr)
	case "tcp", "tcp4", "tcp6":
		var cfg *tls.Config
		if cfg, err = n.serverTLS(); err == nil {
			var lc net.ListenConfig
			var raw net.Listener
			if raw, err = lc.Listen(ctx, network, addr); err == nil {
				ln = tls.NewListener(raw, cfg)
			}
		}
	default:
		err = fmt.Errorf("unsupported network %q (use \"unix\", or \"tcp\" with WithTLS; in-memory links use Connect)", network)
	}
	if err != nil {
		return fmt.Errorf("ipc: node %d: listen on %s %s: %w", n.id, network, addr, err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		ln.Close()
		return ErrNodeClosed
	}
	n.listeners = append(n.listeners, ln)
	n.mu.Unlock()
	release := n.s.Hold()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	n.wg.Add(1)
	go n.acceptLoop(ln, network, release, stop)
	n.log.Info("ipc: listening", "network", network, "addr", ln.Addr().String())
	return nil
}

// Addrs lists the addresses the node listens on.
func (n *Node) Addrs() []net.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]net.Addr, 0, len(n.listeners))
	for _, ln := range n.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

func (n *Node) acceptLoop(ln net.Listener, network string, release func(), stop func() bool) {
	defer n.wg.Done()
	defer release()
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				n.log.Warn("ipc: accept failed; no longer listening", "network", network, "addr", ln.Addr().String(), "err", err)
			}
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if _, err := n.establish(context.Background(), conn, network); err != nil {
				n.log.Warn("ipc: link refused", "network", network, "remote", conn.RemoteAddr().String(), "reason", err.Error())
			}
		}()
	}
}

// Dial links to the node listening at addr on network "unix" or "tcp"
// (which needs WithTLS) and returns its node number once both sides are
// authenticated.
func (n *Node) Dial(ctx context.Context, network, addr string) (uint16, error) {
	var conn net.Conn
	var err error
	var d net.Dialer
	switch network {
	case "unix":
		if len(addr) > MaxSocketPath {
			err = socketPathError(addr)
		} else {
			conn, err = d.DialContext(ctx, network, addr)
		}
	case "tcp", "tcp4", "tcp6":
		var cfg *tls.Config
		if cfg, err = n.clientTLS(addr); err == nil {
			if conn, err = d.DialContext(ctx, network, addr); err == nil {
				conn = tls.Client(conn, cfg)
			}
		}
	default:
		err = fmt.Errorf("unsupported network %q (use \"unix\", or \"tcp\" with WithTLS; in-memory links use Connect)", network)
	}
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) { // it says "dial unix ADDR" already
			return 0, fmt.Errorf("ipc: node %d: %w", n.id, err)
		}
		return 0, fmt.Errorf("ipc: node %d: dial %s %s: %w", n.id, network, addr, err)
	}
	peer, err := n.establish(ctx, conn, network)
	if err != nil {
		n.log.Warn("ipc: link refused", "network", network, "remote", addr, "reason", err.Error())
		return 0, fmt.Errorf("ipc: node %d: dial %s %s: %w", n.id, network, addr, err)
	}
	return peer, nil
}

// Connect makes a link over an established connection (one end of a
// net.Pipe, say; see ConnectPair) and returns the peer's node number. The
// peer must call Connect (or accept) on the other end at the same time.
// The connection gets the same authentication as any other link, but no
// TLS.
func (n *Node) Connect(conn net.Conn) (uint16, error) {
	peer, err := n.establish(context.Background(), conn, "conn")
	if err != nil {
		n.log.Warn("ipc: link refused", "network", "conn", "reason", err.Error())
		return 0, fmt.Errorf("ipc: node %d: connect: %w", n.id, err)
	}
	return peer, nil
}

// ConnectPair links two nodes of one process over an in-memory pipe.
func ConnectPair(a, b *Node) error {
	ca, cb := net.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := b.Connect(cb)
		errc <- err
	}()
	_, err := a.Connect(ca)
	return errors.Join(err, <-errc)
}

// establish authenticates conn and starts its link. It owns conn: on
// failure conn is closed.
func (n *Node) establish(ctx context.Context, conn net.Conn, network string) (uint16, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		conn.Close()
		return 0, ErrNodeClosed
	}
	n.pending[conn] = struct{}{}
	n.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	peer, r, err := n.authenticate(conn)
	stop()
	n.mu.Lock()
	delete(n.pending, conn)
	n.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return 0, err
	}
	l := newLink(n, peer, conn, network)
	l.release = n.s.Hold()
	if err := n.addLink(l); err != nil {
		conn.Close()
		l.release()
		return 0, err
	}
	n.wg.Add(2)
	go l.readLoop(r)
	go l.writeLoop()
	n.log.Info("ipc: link up", "peer", peer, "network", network, "remote", l.remote)
	return peer, nil
}

// authenticate runs the TLS handshake (for TLS links), the peer user check
// (for unix sockets) and the cluster-secret handshake, within the
// handshake timeout.
func (n *Node) authenticate(conn net.Conn) (uint16, *bufio.Reader, error) {
	if err := conn.SetDeadline(time.Now().Add(n.cfg.handshake)); err != nil {
		return 0, nil, err
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			return 0, nil, fmt.Errorf("%w: TLS: %w", ErrAuth, err)
		}
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		uid, err := peerUID(uc)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %w", ErrAuth, err)
		}
		if me := os.Getuid(); uid != uint32(me) {
			return 0, nil, fmt.Errorf("%w: the peer runs as user %d, this node as user %d", ErrAuth, uid, me)
		}
	}
	r := bufio.NewReaderSize(conn, bufSize)
	peer, err := handshake(conn, r, n.id, n.cfg.secret)
	if err != nil {
		return 0, nil, err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return 0, nil, err
	}
	return peer, r, nil
}

func socketPathError(path string) error {
	return fmt.Errorf("socket path %q is %d bytes; a unix socket path may have at most %d (sun_path): use a shorter folder such as $XDG_RUNTIME_DIR/stackless",
		path, len(path), MaxSocketPath)
}

// listenUnix listens on a socket in a folder only this user can enter
// (created with mode 0700; an existing folder open to others is refused),
// removes a stale socket left by a node that died, and makes the socket
// mode 0600.
func listenUnix(ctx context.Context, path string) (net.Listener, error) {
	if len(path) > MaxSocketPath {
		return nil, socketPathError(path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("socket folder %s has mode %04o, open to other users; run: chmod 700 %s", dir, perm, dir)
	}
	if uid, ok := fileOwner(fi); ok && int(uid) != os.Getuid() {
		return nil, fmt.Errorf("socket folder %s belongs to user %d, not to this user (%d)", dir, uid, os.Getuid())
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// removeStale removes a socket file nobody listens on any more. A live
// socket, or a file that is not a socket, is left alone with an error.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket; remove it or choose another path", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("another process is listening on %s", path)
	}
	return os.Remove(path)
}
