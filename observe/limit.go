package observe

// A cap on the observer's connections. It runs inside `cluster up`,
// `demo gameai --http` and `demo longtask --http`, whose other work (the
// coordinator's links to its workers, its NATS connection, its files)
// shares the process's descriptors: a flood of idle connections to the
// observer, which any local user may open (reading needs no token on
// loopback), took every descriptor, and `cluster status` failed with
// "no HELLO from the peer" while it lasted. Connections beyond the cap
// wait in the kernel's backlog, holding no descriptor of ours.
//
// The cap alone let a flood hold the observer shut for everyone else:
// connections that never send a request (held until ReadHeaderTimeout,
// and a new flood refills the slots), slow ones sending their headers a
// byte a second, and idle keep-alive ones (held for idleTimeout) took
// every slot while real pages waited in the backlog. So when all slots are
// taken, each new connection makes room by closing the oldest that is not
// in a request: still silent or half-way through its headers (http's
// StateNew) or idle between requests (StateIdle). A browser opens its
// keep-alive connection again; a request being served is never cut. Event
// streams, which stay in their request, have a cap of their own (sse.go).

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	// DefaultMaxConns is Config.MaxConns when zero: a browser opens six
	// per host, and each open page holds one event stream.
	DefaultMaxConns = 128
	// idleTimeout closes a keep-alive connection idle this long: with
	// none, an idle connection was held for ever.
	idleTimeout = 2 * time.Minute
	// newGrace is how long a new connection is safe from eviction.
	newGrace = 100 * time.Millisecond
)

// limitListener accepts at most n connections at a time.
type limitListener struct {
	net.Listener
	sem    chan struct{}
	closed chan struct{}
	once   sync.Once

	mu      sync.Mutex
	conns   map[*limitConn]struct{} // the open ones
	most    int                     // the most connections open at once, for tests
	evicted int                     // connections closed to make room, for tests
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), closed: make(chan struct{}), conns: map[*limitConn]struct{}{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for taken := false; !taken; {
		select {
		case l.sem <- struct{}{}:
			taken = true
		case <-l.closed:
			return nil, net.ErrClosed
		default: // all taken: close the oldest not in a request, or wait
			if l.evict() {
				continue // its Close gave its slot back
			}
			t := time.NewTimer(newGrace)
			select {
			case l.sem <- struct{}{}:
				taken = true
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			case <-t.C: // a new connection may have used its grace by now
			}
			t.Stop()
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	lc := &limitConn{Conn: c, l: l}
	lc.setState(http.StateNew)
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.most = max(l.most, len(l.sem))
	l.mu.Unlock()
	return lc, nil
}

// evict closes the open connection that has waited longest outside a
// request (see the top of the file), and reports whether there was one. A
// new connection is spared for newGrace, the time a real client takes to
// send its request: a page's request just accepted is not cut for a
// flood's older idle connection that had yet to be marked idle.
func (l *limitListener) evict() bool {
	var oldest *limitConn
	now := time.Now()
	l.mu.Lock()
	for c := range l.conns {
		ok := c.state == http.StateIdle || c.state == http.StateNew && now.Sub(c.since) >= newGrace
		if ok && (oldest == nil || c.since.Before(oldest.since)) {
			oldest = c
		}
	}
	if oldest != nil {
		delete(l.conns, oldest) // not picked twice while it closes
		l.evicted++
	}
	l.mu.Unlock()
	if oldest == nil {
		return false
	}
	_ = oldest.Close()
	return true
}

// connState is the http.Server's ConnState hook: it keeps each
// connection's state for evict.
func (l *limitListener) connState(c net.Conn, st http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitConn); ok {
		lc.setState(st)
	}
}

// evictions is how many connections were closed to make room.
func (l *limitListener) evictions() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evicted
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// mostOpen is the most connections that were open at once.
func (l *limitListener) mostOpen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.most
}

// limitConn gives its slot back once, at its first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
	// Guarded by l.mu: the http state and when it was entered.
	state http.ConnState
	since time.Time
}

func (c *limitConn) setState(st http.ConnState) {
	c.l.mu.Lock()
	c.state, c.since = st, time.Now()
	c.l.mu.Unlock()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.sem
	})
	return err
}
