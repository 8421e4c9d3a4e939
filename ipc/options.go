package ipc

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Defaults of the options.
const (
	DefaultMaxFrame          = 4 << 20 // bytes in one frame body
	DefaultHandshakeTimeout  = 5 * time.Second
	DefaultKeepaliveInterval = 2 * time.Second
	DefaultKeepaliveTimeout  = 10 * time.Second
	// DefaultMaxQueued bounds the bytes waiting to be written to one peer;
	// a peer that stops reading is disconnected rather than let the node's
	// memory grow without end.
	DefaultMaxQueued = 64 << 20
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
	maxControl int // control handlers running at once
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
// new link (default 5 s).
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
