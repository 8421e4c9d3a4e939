package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// hub sends the overview to every open page as server-sent events: one
// read of the source per refresh, however many pages listen, and none when
// nobody does.
type hub struct {
	s      *Server
	mu     sync.Mutex
	subs   map[chan []byte]struct{}
	kick   chan struct{}
	done   chan struct{}
	closed bool
	active bool // a loop runs
}

func newHub(s *Server) *hub {
	return &hub{s: s, subs: map[chan []byte]struct{}{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// poke sends a fresh overview now (after an action).
func (h *hub) poke() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// loop reads and broadcasts while anyone listens; it starts with the first
// listener.
func (h *hub) loop() {
	tk := time.NewTicker(h.s.cfg.Refresh)
	defer tk.Stop()
	for {
		h.mu.Lock()
		if len(h.subs) == 0 {
			h.active = false // the next listener starts a new loop
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		h.broadcast()
		select {
		case <-tk.C:
		case <-h.kick:
		case <-h.done:
			return
		}
	}
}

func (h *hub) broadcast() {
	ov, err := h.s.overview(context.Background())
	var msg []byte
	if err != nil {
		msg = sseMessage("error", map[string]string{"error": err.Error()})
	} else {
		msg = sseMessage("overview", ov)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- msg:
		default: // a slow page skips an update rather than stall the others
		}
	}
}

func sseMessage(event string, v any) []byte {
	b, _ := json.Marshal(v)
	return fmt.Appendf(nil, "event: %s\ndata: %s\n\n", event, b)
}

// maxStreams caps the open event streams at half the connections: a
// stream stays in its request, so no eviction (limit.go) frees its slot,
// and a flood of streams (reading needs no token on loopback) held every
// slot for good.
func (h *hub) maxStreams() int { return max(1, h.s.cfg.MaxConns/2) }

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "observe: streaming unsupported", http.StatusInternalServerError)
		return
	}
	c := make(chan []byte, 4)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		http.Error(w, "observe: shutting down", http.StatusServiceUnavailable)
		return
	}
	if len(h.subs) >= h.maxStreams() {
		h.mu.Unlock()
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("observe: %d event streams are open already, the most served at once; close some observer pages", len(h.subs)), http.StatusServiceUnavailable)
		return
	}
	h.subs[c] = struct{}{}
	if !h.active {
		h.active = true
		go h.loop()
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}()
	h.poke()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	for {
		select {
		case msg := <-c:
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		}
	}
}
