package ipc

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Defaults of the options.
const (
	DefaultMaxFrame = 4 << 20 // bytes in one frame body
	// DefaultHandshakeTimeout bounds everything before a peer is
	// authenticated: a few round trips suffice even between continents,
	// and a connection that says nothing holds its place of the pending
	// cap no longer than this.
	DefaultHandshakeTimeout  = 3 * time.Second
	DefaultKeepaliveInterval = 2 * time.Second
	DefaultKeepaliveTimeout  = 10 * time.Second
	// DefaultMaxQueued bounds the bytes waiting to be written to one peer;
	// a peer that stops reading is disconnected rather than let the node's
	// memory grow without end.
	DefaultMaxQueued = 64 << 20
	// DefaultMaxPending caps, per listener, the accepted connections that
	// have not finished the handshake; it is lowered to a quarter of the
	// process's descriptor limit (RLIMIT_NOFILE) where that is smaller, so
	// a flood cannot take the descriptors links and files need.
	DefaultMaxPending = 256
	// DefaultMaxPendingPerAddr caps them per remote address (an IPv4
	// address or an IPv6 /64), so one flooding host holds only its share.
	DefaultMaxPendingPerAddr = 32
)

// Option configures a Node.
type Option func(*config)

type config struct {
	secret     []byte
	log        *slog.Logger
	maxFrame   int
	maxQueued  int
	handshake  time.Duration
	keepalive  time.Duration // 0: no keepalive
	deadAfter  time.Duration
	tls        *tls.Config
	maxControl int                       // control handlers running at once
	maxPending int                       // per listener, before the handshake ends; 0: the default
	perAddr    int                       // the same per remote address
	keyOf      func(net.Addr) netip.Addr // the address a peer is counted under (tests change it)
	noShm      bool                      // WithSharedMemory(false)
}

func defaults() config {
	return config{
		log:        slog.Default(),
		maxFrame:   DefaultMaxFrame,
		maxQueued:  DefaultMaxQueued,
		handshake:  DefaultHandshakeTimeout,
		keepalive:  DefaultKeepaliveInterval,
		deadAfter:  DefaultKeepaliveTimeout,
		maxControl: 64,
		perAddr:    DefaultMaxPendingPerAddr,
		keyOf:      addrKey,
	}
}

// WithSecret sets the cluster secret every link must prove knowledge of
// (see LoadSecret). A node without a secret refuses every link.
func WithSecret(secret []byte) Option {
	return func(c *config) { c.secret = append([]byte(nil), secret...) }
}

// WithLogger sets where link events (up, closed and why) are logged; the
// default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithMaxFrame bounds the size of one frame body, sent or received
// (default DefaultMaxFrame). A peer announcing a larger frame is
// disconnected before anything is read or allocated for it.
func WithMaxFrame(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxFrame = n
		}
	}
}

// WithMaxQueued bounds the bytes queued for one peer (default
// DefaultMaxQueued); past it the link is closed.
func WithMaxQueued(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxQueued = n
		}
	}
}

// WithHandshakeTimeout bounds the TLS and authentication handshake of a
// new link (default DefaultHandshakeTimeout, 3 s): TLS, the peer check and
// the secret handshake must all be done within it.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.handshake = d
		}
	}
}

// WithKeepalive pings every peer each interval and closes a link that has
// sent nothing for timeout. An interval of 0 turns keepalive off.
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(c *config) {
		c.keepalive, c.deadAfter = interval, max(timeout, interval)
	}
}

// WithTLS sets the mutual-TLS configuration for TCP links (see
// LoadTLSConfig). TCP without it is refused: across hosts the cluster
// secret alone is not enough.
func WithTLS(cfg *tls.Config) Option { return func(c *config) { c.tls = cfg } }

// WithMaxControl bounds the control handlers running at once (default 64);
// calls beyond it are answered with an error.
func WithMaxControl(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxControl = n
		}
	}
}

// WithMaxPending caps, per listener, the accepted connections still in
// their handshake (default DefaultMaxPending, or a quarter of the
// descriptor limit if that is smaller); over the cap, the oldest pending
// connection not yet heard from is closed to make room (Stats.Evicted), or,
// when none may be evicted, the new one is closed at once (Stats.Refused).
// Set it well below the descriptor limit (ulimit -n).
func WithMaxPending(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxPending = n
		}
	}
}

// WithMaxPendingPerAddr caps, per listener, the connections still in their
// handshake from one remote address: an IPv4 address or an IPv6 /64
// (default DefaultMaxPendingPerAddr). Unix sockets have only the cap of
// WithMaxPending.
func WithMaxPendingPerAddr(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.perAddr = n
		}
	}
}

// pendingMax is the cap in all of a listener's pending connections: the
// one set, or the default lowered to a quarter of the descriptor limit
// (nofile, 0 if unknown), but at least 8.
func (c *config) pendingMax(nofile uint64) int {
	if c.maxPending > 0 {
		return c.maxPending
	}
	if nofile > 0 && nofile/4 < DefaultMaxPending {
		return max(int(nofile/4), 8)
	}
	return DefaultMaxPending
}
