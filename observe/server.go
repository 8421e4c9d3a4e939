package observe

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config says what to serve and where.
type Config struct {
	Addr    string      // HOST:PORT; default 127.0.0.1:0 (a free port)
	TLS     *tls.Config // required for any address other than loopback
	Token   string      // default: 32 random hex digits
	Source  Source      // tasklets, channels, nodes (nil with only File)
	Game    Game        // the game page (nil: none)
	File    FileSource  // the checkpoint file page (nil: none)
	Refresh time.Duration
	Log     *slog.Logger
	// MaxConns bounds the connections served at once (default
	// DefaultMaxConns): a flood of them would take the descriptors the
	// rest of the process needs (limit.go).
	MaxConns int
}

// ErrInsecure: a non-loopback address without TLS.
var ErrInsecure = errors.New("a non-loopback address needs TLS")

// Server is a running observer.
type Server struct {
	cfg      Config
	ln       net.Listener
	lim      *limitListener
	srv      *http.Server
	loopback bool
	url      string
	cookie   string // the token's cookie: cookies are not kept per port, so its name holds the port

	mu    sync.Mutex
	cache *Overview
	evs   []Event // actions taken from the pages
	hub   *hub
}

// Start listens and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Source == nil && cfg.File == nil {
		return nil, errors.New("observe: nothing to observe: give a Source or a File")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Token == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("observe: token: %w", err)
		}
		cfg.Token = hex.EncodeToString(b)
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("observe: --http %q: %w; give HOST:PORT such as 127.0.0.1:8080", cfg.Addr, err)
	}
	loop := isLoopback(host)
	if !loop && cfg.TLS == nil {
		return nil, fmt.Errorf("observe: --http %s: %w: give --http-tls DIR (made by `stackless cluster certs`) or bind 127.0.0.1", cfg.Addr, ErrInsecure)
	}
	raw, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("observe: listen on %s: %w", cfg.Addr, err)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	lim := newLimitListener(raw, cfg.MaxConns) // before TLS: a handshake holds a descriptor too
	var ln net.Listener = lim
	scheme := "http"
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
		scheme = "https"
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &Server{cfg: cfg, ln: ln, lim: lim, loopback: loop, cookie: tokenCookie + "_" + port}
	s.url = fmt.Sprintf("%s://%s/?token=%s", scheme, ln.Addr(), cfg.Token)
	s.hub = newHub(s)
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: idleTimeout,
		ConnState: lim.connState, ErrorLog: slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("observer stopped", "err", err)
		}
	}()
	return s, nil
}

// URL is the address to open, with the token.
func (s *Server) URL() string { return s.url }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Token is the access token.
func (s *Server) Token() string { return s.cfg.Token }

// Close stops the server and its event streams.
func (s *Server) Close() error {
	s.hub.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// NeedsTLS reports whether Start refuses to serve on addr (HOST:PORT)
// without Config.TLS: every host but a loopback one. A malformed addr
// reports false; Start says what is wrong with it.
func NeedsTLS(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && !isLoopback(host)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenCookie (with the port) carries the token after the first visit
// with ?token=.
const tokenCookie = "stackless_token"

// authorized reports whether r carries the token: Authorization: Bearer,
// the cookie, or ?token=.
func (s *Server) authorized(r *http.Request) bool {
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if got == "" {
		if c, err := r.Cookie(s.cookie); err == nil {
			got = c.Value
		}
	}
	if got == "" {
		got = r.URL.Query().Get("token")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

// guard enforces the access rules: on loopback, reads are open and acts
// need the token; elsewhere everything needs it. On loopback the Host
// header must name a loopback host too, so a page of another site cannot
// reach the observer by rebinding its DNS name to 127.0.0.1.
func (s *Server) guard(act bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.loopback {
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host
			}
			if !isLoopback(host) {
				http.Error(w, "forbidden: this observer serves loopback only; open it as http://127.0.0.1", http.StatusForbidden)
				return
			}
		}
		if act && r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		if (act || !s.loopback) && !s.authorized(r) {
			http.Error(w, "unauthorized: this needs the observer's token (printed when it started); open the URL it printed", http.StatusUnauthorized)
			return
		}
		if t := r.URL.Query().Get("token"); t != "" && s.authorized(r) {
			http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.cfg.Token, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: s.cfg.TLS != nil})
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:")
		h(w, r)
	}
}
