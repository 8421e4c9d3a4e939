package observe

// A cap on the observer's connections. It runs inside `cluster up`,
// `demo gameai --http` and `demo longtask --http`, whose other work (the
// coordinator's links to its workers, its NATS connection, its files)
// shares the process's descriptors: a flood of idle connections to the
// observer, which any local user may open (reading needs no token on
// loopback), took every descriptor, and `cluster status` failed with
// "no HELLO from the peer" while it lasted. Connections beyond the cap
// wait in the kernel's backlog, holding no descriptor of ours.

import (
	"net"
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
)

// limitListener accepts at most n connections at a time.
type limitListener struct {
	net.Listener
	sem    chan struct{}
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	most int // the most connections open at once, for tests
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), closed: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select { // waits while n are open
	case l.sem <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.mu.Lock()
	l.most = max(l.most, len(l.sem))
	l.mu.Unlock()
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
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
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
