package ipc

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Every listener of the package accepts through serve, and nothing else
// calls Accept (TestOneAcceptLoop checks the whole module): one loop, so
// that the fault the cluster was attacked with cannot come back by another
// door. That fault: a single failed accept (EMFILE under a connection
// flood) ended the loop, and the node never took a link again. Here only a
// closed listener ends it; any other error is taken as passing, as
// net/http's Server.Serve does with temporary errors, with a growing pause
// so that a node out of descriptors does not spin.

// The pause after a failed accept: acceptBackoffMin, doubling up to
// acceptBackoffMax while the failures go on.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// listener is a net.Listener whose Close also wakes its accept loop from a
// pause, so closing a node never waits out a backoff.
type listener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func newListener(ln net.Listener) *listener {
	return &listener{Listener: ln, closed: make(chan struct{})}
}

func (l *listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// serve accepts connections on ln and hands each to handle, on serve's
// goroutine (handle must not block), until ln is closed. A failed accept
// (EMFILE, ENFILE, ECONNABORTED, ENOBUFS, ENOMEM, a timeout, or anything
// else but a closed listener) is retried after a pause of 5 ms doubling to
// 1 s; the first failure of a run is logged, and the end of the run with
// how many failed and for how long, never each failure. failed is called
// once per failed accept (for Stats).
func serve(ln *listener, log *slog.Logger, failed func(), handle func(net.Conn)) {
	var (
		delay    time.Duration
		failures int
		since    time.Time
	)
	for {
		conn, err := ln.Accept()
		if err == nil {
			if failures > 0 {
				log.Info("ipc: accepting again", "failed", failures, "for", time.Since(since).Round(time.Millisecond))
				failures, delay = 0, 0
			}
			handle(conn)
			continue
		}
		if errors.Is(err, net.ErrClosed) || ln.isClosed() {
			return
		}
		failed()
		if failures == 0 {
			since = time.Now()
			log.Warn("ipc: accept failed; retrying with a pause until it works", "err", err, "hint", acceptHint(err))
		}
		failures++
		delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ln.closed:
			t.Stop()
			return
		}
	}
}

func (l *listener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// acceptHint says what an operator can do about a failed accept.
func acceptHint(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE):
		return "this process is out of file descriptors: raise its limit (ulimit -n) or lower the cap of pending connections (WithMaxPending)"
	case errors.Is(err, syscall.ENFILE):
		return "the system is out of file descriptors: raise fs.file-max or stop what holds them"
	case errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
		return "the system is short of memory for sockets"
	}
	return "the listener stays open and is tried again"
}
