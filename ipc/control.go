package ipc

import (
	"context"
	"fmt"
	"sync"
)

// Control messages are a small request/response service between nodes,
// for the cluster coordinator (spawn, ps, kill, checkpoint, ...): CONTROL
// carries a call's ID, a kind naming the handler and an opaque payload;
// REPLY carries the handler's result or error. Handlers run on their own
// goroutines, never on the scheduler's; one that needs the scheduler uses
// Scheduler.Do and waits. Everything the caller's node sent before the
// CONTROL has been handed to the scheduler when the handler starts, so the
// handler's Do runs after it (a checkpoint barrier can rely on that).

// Handler serves one kind of control call. The payload belongs to it.
type Handler func(payload []byte) ([]byte, error)

// Reply codes in REPLY's Idx field.
const (
	replyOK        = 0
	replyNoHandler = 1
	replyBusy      = 2
)

type control struct {
	mu       sync.Mutex
	handlers map[string]Handler
	calls    map[uint64]*call
	next     uint64
	running  int
}

type call struct {
	peer  uint16
	reply chan message // buffered 1
	down  chan struct{}
	once  sync.Once
}

func (c *control) init() {
	c.handlers = map[string]Handler{}
	c.calls = map[uint64]*call{}
}

// Handle registers the handler of control kind; a later Handle for the
// same kind replaces it, nil removes it.
func (n *Node) Handle(kind string, h Handler) {
	n.ctl.mu.Lock()
	defer n.ctl.mu.Unlock()
	if h == nil {
		delete(n.ctl.handlers, kind)
		return
	}
	n.ctl.handlers[kind] = h
}

// Call runs the handler of control kind on node `node` with payload and
// returns its result. An error of the handler comes back as a
// *RemoteError; a kind the node does not handle as ErrNoHandler. A call to
// this node's own number runs the handler here. Safe from any goroutine.
func (n *Node) Call(ctx context.Context, node uint16, kind string, payload []byte) ([]byte, error) {
	if node == n.id {
		n.ctl.mu.Lock()
		h := n.ctl.handlers[kind]
		n.ctl.mu.Unlock()
		if h == nil {
			return nil, fmt.Errorf("ipc: node %d, control %q: %w", node, kind, ErrNoHandler)
		}
		out, err := safeHandle(h, payload)
		if err != nil {
			return nil, &RemoteError{Node: node, Kind: kind, Msg: err.Error()}
		}
		return out, nil
	}
	l := n.link(node)
	if l == nil {
		return nil, fmt.Errorf("ipc: control %q on node %d: %w", kind, node, ErrNoRoute)
	}
	c := &call{peer: node, reply: make(chan message, 1), down: make(chan struct{})}
	n.ctl.mu.Lock()
	n.ctl.next++
	id := n.ctl.next
	n.ctl.calls[id] = c
	n.ctl.mu.Unlock()
	defer func() {
		n.ctl.mu.Lock()
		delete(n.ctl.calls, id)
		n.ctl.mu.Unlock()
	}()
	if err := l.send(&message{Kind: kControl, ID: id, Text: kind, Payload: payload}); err != nil {
		return nil, fmt.Errorf("ipc: control %q on node %d: %w", kind, node, err)
	}
	select {
	case r := <-c.reply:
		return replyResult(node, kind, &r)
	case <-c.down:
		select { // a reply that came in just before the link closed
		case r := <-c.reply:
			return replyResult(node, kind, &r)
		default:
		}
		return nil, fmt.Errorf("ipc: control %q on node %d: %w", kind, node, ErrLinkDown)
	case <-ctx.Done():
		return nil, fmt.Errorf("ipc: control %q on node %d: %w", kind, node, ctx.Err())
	}
}

func replyResult(node uint16, kind string, r *message) ([]byte, error) {
	switch {
	case r.Idx == replyNoHandler:
		return nil, fmt.Errorf("ipc: node %d, control %q: %w", node, kind, ErrNoHandler)
	case r.Idx == replyBusy:
		return nil, &RemoteError{Node: node, Kind: kind, Msg: "too many control calls running; retry later"}
	case r.Text != "":
		return nil, &RemoteError{Node: node, Kind: kind, Msg: r.Text}
	}
	return r.Payload, nil
}

// serveControl starts the handler of a CONTROL (on the reader's goroutine).
func (n *Node) serveControl(l *link, id uint64, kind string, payload []byte) {
	n.ctl.mu.Lock()
	h := n.ctl.handlers[kind]
	busy := n.ctl.running >= n.cfg.maxControl
	if h != nil && !busy {
		n.ctl.running++
	}
	n.ctl.mu.Unlock()
	switch {
	case h == nil:
		l.send(&message{Kind: kReply, ID: id, Idx: replyNoHandler})
		return
	case busy:
		l.send(&message{Kind: kReply, ID: id, Idx: replyBusy})
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		out, err := safeHandle(h, payload)
		n.ctl.mu.Lock()
		n.ctl.running--
		n.ctl.mu.Unlock()
		r := message{Kind: kReply, ID: id, Payload: out}
		if err != nil {
			r.Payload, r.Text = nil, err.Error()
			if r.Text == "" {
				r.Text = "error with an empty message"
			}
		}
		if err := l.send(&r); err != nil {
			n.log.Warn("ipc: a control reply could not be sent", "peer", l.peer, "kind", kind, "err", err)
		}
	}()
}

// safeHandle runs a handler, turning a panic into an error: a handler bug
// must not take the node down.
func safeHandle(h Handler, payload []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("control handler panicked: %v", r)
		}
	}()
	return h(payload)
}

// deliver hands a REPLY to its call (reader goroutine).
func (c *control) deliver(peer uint16, m *message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.calls[m.ID]; cl != nil && cl.peer == peer {
		select {
		case cl.reply <- *m:
		default:
		}
	}
}

// linkDown fails the calls waiting on peer.
func (c *control) linkDown(peer uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.calls {
		if cl.peer == peer {
			cl.once.Do(func() { close(cl.down) })
		}
	}
}
