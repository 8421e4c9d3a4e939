package ipc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
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
// handshake are closed and logged; the node keeps listening, through
// failed accepts too (see serve). Connections still in their handshake are
// capped (WithMaxPending, WithMaxPendingPerAddr): when a cap is full, the
// oldest that has sent nothing is closed to make room, or else the new one
// at once (see pendingCap).
func (n *Node) Listen(ctx context.Context, network, addr string) error {
	var raw net.Listener
	var cfg *tls.Config // TLS starts only once a connection is admitted
	var err error
	switch network {
	case "unix":
		raw, err = listenUnix(ctx, addr)
	case "tcp", "tcp4", "tcp6":
		if cfg, err = n.serverTLS(); err == nil {
			var lc net.ListenConfig
			raw, err = lc.Listen(ctx, network, addr)
		}
	default:
		err = fmt.Errorf("unsupported network %q (use \"unix\", or \"tcp\" with WithTLS; in-memory links use Connect)", network)
	}
	if err != nil {
		return fmt.Errorf("ipc: node %d: listen on %s %s: %w", n.id, network, addr, err)
	}
	ln := newListener(raw)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		ln.Close()
		return ErrNodeClosed
	}
	n.listeners = append(n.listeners, ln)
	n.mu.Unlock()
	caps := newPendingCap(n.cfg.pendingMax(openFileLimit()), n.cfg.perAddr, &n.admission)
	if cfg != nil { // note the ClientHellos: a connection that sent one is evicted after the silent ones
		next := cfg.GetConfigForClient
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			caps.sawHello(h.Conn)
			if next != nil {
				return next(h)
			}
			return nil, nil
		}
	}
	release := n.s.Hold()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	log := n.log.With("network", network, "addr", ln.Addr().String())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer release()
		defer stop()
		serve(ln, log, func() { n.admission.failed.Add(1) }, func(conn net.Conn) { n.admit(conn, network, cfg, caps) })
	}()
	log.Info("ipc: listening", "max_pending", caps.max, "max_pending_per_addr", caps.perAddr)
	return nil
}

// admit starts the handshake of an accepted connection, if its listener's
// caps let it in (see pendingCap). It runs on the accept loop: it must not
// block.
func (n *Node) admit(conn net.Conn, network string, cfg *tls.Config, caps *pendingCap) {
	heard := int32(heardNothing)
	if sentSomething(conn) {
		heard = heardHello
	}
	e := caps.admit(conn, n.cfg.keyOf(conn.RemoteAddr()), heard)
	if e == nil {
		if ok, more := n.refusedLog.allow(); ok {
			n.log.Warn("ipc: too many connections in their handshake; closing new ones at once until some finish",
				quietAttrs(more, "network", network, "remote", conn.RemoteAddr().String(), "max_pending", caps.max, "max_pending_per_addr", caps.perAddr)...)
		}
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer caps.release(e)
		if cfg != nil {
			conn = tls.Server(conn, cfg)
		}
		if _, err := n.establish(context.Background(), conn, network, false, func() { e.heard.Store(heardProof) }); err != nil {
			if ok, more := n.handshakeLog.allow(); ok {
				n.log.Warn("ipc: link refused", quietAttrs(more, "network", network, "remote", conn.RemoteAddr().String(), "reason", err.Error())...)
			}
		}
	}()
}

// quietAttrs adds to a log line how many like it were held back.
func quietAttrs(more int, attrs ...any) []any {
	if more > 0 {
		attrs = append(attrs, "held_back", more)
	}
	return attrs
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

// The pauses of Dial between attempts refused at once: dialRetryMin,
// doubling up to dialRetryMax, with jitter.
const (
	dialRetryMin = 10 * time.Millisecond
	dialRetryMax = 500 * time.Millisecond
)

// Dial links to the node listening at addr on network "unix" or "tcp"
// (which needs WithTLS) and returns its node number once both sides are
// authenticated. A node that closes the connection in the handshake (as
// one over its caps of pending connections does) is tried again after a
// short pause, for up to twice the handshake timeout or until ctx ends.
func (n *Node) Dial(ctx context.Context, network, addr string) (uint16, error) {
	var cfg *tls.Config
	var err error
	switch network {
	case "unix":
		if len(addr) > MaxSocketPath {
			err = socketPathError(addr)
		}
	case "tcp", "tcp4", "tcp6":
		cfg, err = n.clientTLS(addr)
	default:
		err = fmt.Errorf("unsupported network %q (use \"unix\", or \"tcp\" with WithTLS; in-memory links use Connect)", network)
	}
	if err != nil {
		return 0, fmt.Errorf("ipc: node %d: dial %s %s: %w", n.id, network, addr, err)
	}
	// failed names what failed: net's own errors say "dial unix ADDR" already.
	failed := func(err error) error {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("ipc: node %d: %w", n.id, err)
		}
		return fmt.Errorf("ipc: node %d: dial %s %s: %w", n.id, network, addr, err)
	}
	giveUp := time.Now().Add(2 * n.cfg.handshake)
	delay := dialRetryMin
	for attempt := 1; ; attempt++ {
		peer, err := n.dialOnce(ctx, network, addr, cfg)
		if err == nil {
			return peer, nil
		}
		pause := delay/2 + rand.N(delay)
		var h hangUp
		if !errors.As(err, &h) || time.Now().Add(pause).After(giveUp) {
			if attempt > 1 {
				err = fmt.Errorf("%w (tried %d times; a node over its caps of pending connections closes new ones: try again later)", err, attempt)
			}
			n.log.Warn("ipc: link refused", "network", network, "remote", addr, "reason", err.Error())
			return 0, failed(err)
		}
		n.log.Debug("ipc: the peer closed the connection in the handshake; trying again", "network", network, "remote", addr, "attempt", attempt, "pause", pause)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, failed(fmt.Errorf("%w (after %d attempts: %w)", ctx.Err(), attempt, err))
		}
		delay = min(2*delay, dialRetryMax)
	}
}

// dialOnce connects once and runs the handshake.
func (n *Node) dialOnce(ctx context.Context, network, addr string, cfg *tls.Config) (uint16, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if errors.Is(err, syscall.ECONNRESET) { // closed as soon as accepted: a connect can see that
		return 0, hangUp{err}
	}
	if err != nil {
		return 0, err
	}
	if cfg != nil {
		conn = tls.Client(conn, cfg)
	}
	return n.establish(ctx, conn, network, true, nil)
}

// Connect makes a link over an established connection (one end of a
// net.Pipe, say; see ConnectPair) and returns the peer's node number. The
// peer must call Connect (or accept) on the other end at the same time.
// The connection gets the same authentication as any other link, but no
// TLS.
func (n *Node) Connect(conn net.Conn) (uint16, error) {
	peer, err := n.establish(context.Background(), conn, "conn", false, nil)
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
// failure conn is closed. heard (if not nil) is called once the peer got
// past its first flight (see authenticate). dialer says which end of a
// unix socket this is (the dialer makes the shared mapping, see shm.go).
func (n *Node) establish(ctx context.Context, conn net.Conn, network string, dialer bool, heard func()) (uint16, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		conn.Close()
		return 0, ErrNodeClosed
	}
	n.pending[conn] = struct{}{}
	n.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	peer, hr, err := n.authenticate(conn, heard)
	stop()
	n.mu.Lock()
	delete(n.pending, conn)
	n.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		hangUpOn(conn)
		return 0, err
	}
	var shm *shmLink
	if network == "unix" {
		if shm, err = n.negotiateShmWithin(conn, hr, dialer); err != nil {
			hangUpOn(conn)
			return 0, fmt.Errorf("node %d: %w", peer, err)
		}
	}
	var src io.Reader = conn // the link reads the socket straight, after what the handshake read ahead
	if shm != nil {
		src = shm.r
	} else if k := hr.Buffered(); k > 0 {
		left, _ := hr.Peek(k)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(left)), conn)
	}
	r := bufio.NewReaderSize(src, bufSize) // only now: no large buffer before the peer proved itself
	l := newLink(n, peer, conn, network)
	l.shm = shm
	l.release = n.s.Hold()
	if err := n.addLink(l); err != nil {
		conn.Close()
		if shm != nil {
			shm.free()
		}
		l.release()
		return 0, err
	}
	n.wg.Add(2)
	go l.readLoop(r)
	go l.writeLoop()
	if shm != nil {
		n.wg.Add(1)
		go l.watchSocket()
	}
	n.log.Info("ipc: link up", "peer", peer, "network", network, "remote", l.remote, "shared_memory", shm != nil)
	return peer, nil
}

// negotiateShmWithin runs negotiateShm within the handshake timeout.
func (n *Node) negotiateShmWithin(conn net.Conn, hr *bufio.Reader, dialer bool) (*shmLink, error) {
	if err := conn.SetDeadline(time.Now().Add(n.cfg.handshake)); err != nil {
		return nil, err
	}
	s, err := n.negotiateShm(conn, hr, dialer)
	if err == nil {
		err = conn.SetDeadline(time.Time{})
	}
	if err != nil && s != nil {
		s.free()
		s = nil
	}
	return s, err
}

// authenticate runs the TLS handshake (for TLS links), the peer user check
// (for unix sockets) and the cluster-secret handshake, within the
// handshake timeout, and returns the handshake's small reader, which may
// hold bytes past it. It calls heard (if not nil) when the peer
// got past its first flight: the TLS handshake, which needs a certificate
// of the cluster's CA, or else a valid HELLO.
func (n *Node) authenticate(conn net.Conn, heard func()) (uint16, *bufio.Reader, error) {
	if err := conn.SetDeadline(time.Now().Add(n.cfg.handshake)); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrAuth, hangUpErr(err))
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			return 0, nil, fmt.Errorf("%w: TLS: %w", ErrAuth, hangUpErr(err))
		}
		if heard != nil {
			heard()
			heard = nil
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
	r := bufio.NewReaderSize(conn, handshakeBuf)
	peer, err := handshake(conn, r, n.id, n.cfg.secret, heard)
	if err != nil {
		return 0, nil, err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return 0, nil, err
	}
	return peer, r, nil
}

// handshakeBuf is the read buffer of a handshake: the 72 bytes of one,
// and what a peer that is not a stackless node sends in one go (its bytes
// are read, so that its write ends, even over a synchronous pipe). The
// link's large buffer is made only once the peer is authenticated, and
// takes over what this one read ahead (see establish).
const handshakeBuf = 128

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
	own, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, err
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		return ln, nil
	}
	ul.SetUnlinkOnClose(false)
	return &unixListener{UnixListener: ul, path: path, file: own}, nil
}

// unixListener removes its socket file on Close only while the file is
// still the one it made. net.UnixListener removes the path whatever is
// there: a node stopped (SIGSTOP) whose socket file was replaced by a new
// node's removed the new node's socket when it ended, and peers could no
// longer dial it.
type unixListener struct {
	*net.UnixListener
	path string
	file os.FileInfo
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	if fi, e := os.Lstat(l.path); e == nil && os.SameFile(fi, l.file) {
		_ = os.Remove(l.path)
	}
	return err
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
		return fmt.Errorf("another process is listening on %s (one running there, or one stopped with SIGSTOP: `fuser %s` names it; end it, or choose another path)", path, path)
	}
	return os.Remove(path)
}
