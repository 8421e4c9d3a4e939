package ipc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Node joins one scheduler to the other nodes of a cluster. It implements
// scheduler.Remote: operations on channels homed at another node travel
// there over a link, and operations of other nodes' tasklets on this
// node's channels are carried out here.
//
// A Node's methods are safe from any goroutine, except Op, Cancel and Done,
// which the scheduler calls on its own goroutine.
type Node struct {
	s   *scheduler.Scheduler
	reg *pickle.Registry
	id  uint16
	cfg config
	log *slog.Logger

	mu        sync.Mutex                // guards the fields below and the writers of links
	links     atomic.Pointer[linkTable] // replaced under mu, read without a lock
	listeners []*listener
	pending   map[net.Conn]struct{} // connections still in their handshake
	closed    bool
	changed   chan struct{} // closed and replaced when the set of links changes
	quit      chan struct{} // closed by Close
	wg        sync.WaitGroup

	in inbox

	// Scheduler-goroutine state: touched only from the scheduler's calls
	// (Op, Cancel, Done) and from drain, so it needs no lock.
	regs      map[scheduler.RemoteWait]reg // waits of other nodes' tasklets queued here
	curOp     *message                     // the OP being handed to RemoteOp
	curDone   bool                         // RemoteOp completed curOp at once
	finishing completion                   // the Complete running now
	moving    map[tasklet.ID]*move         // tasklets sent away, not yet acknowledged
	fwd       map[tasklet.ID]*forward      // tasklets gone, whose homes are being redirected
	inherited map[tasklet.ID]inherit       // tasklets arrived here and not settled yet
	parked    map[tasklet.ID][]migrateReq  // moves waiting for an inherited tasklet to settle
	epochs    map[tasklet.ID]uint64        // newest migration epoch seen per tasklet (see sweepEpochs)
	sweepAt   int                          // len(epochs) that calls for the next sweep
	caseBuf   []scheduler.RemoteCase       // scratch for Op
	held      []*link                      // links with frames held for the end of the slice (see queue)
	cr        credits                      // sends without waiting (credit.go)
	homeBuf   [2][]uint16                  // scratch for Op and Cancel

	ctl control
	pl  poller // the scheduler goroutine's polling of shared-memory rings

	closedStats linkCounters // traffic of links that are gone

	admission    pendingCounts // connections in their handshake, refused, failed accepts
	refusedLog   quietLog      // "too many connections in their handshake"
	handshakeLog quietLog      // accepted connections that failed the handshake
}

// NewNode makes scheduler s a node of a cluster and installs the node as
// its Remote (s.SetRemote), so call it before s runs. registry encodes
// values, errors and migrating tasklets; nil means pickle.Default. It also
// becomes s's value check (s.SetValueCheck(registry.CheckValue)): sending a
// value of an unregistered type fails at the send. The
// node number is s.Node(); every node of a cluster needs its own.
//
// The node holds s while it has links or listeners: link it (Connect,
// Dial, Listen) before Run, or Hold s yourself, or Run returns as soon as
// it is idle.
func NewNode(s *scheduler.Scheduler, registry *pickle.Registry, opts ...Option) *Node {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if registry == nil {
		registry = pickle.Default
	}
	n := &Node{
		s: s, reg: registry, id: s.Node(), cfg: cfg, log: cfg.log.With("node", s.Node()),
		pending: map[net.Conn]struct{}{}, changed: make(chan struct{}), quit: make(chan struct{}),
		regs: map[scheduler.RemoteWait]reg{}, moving: map[tasklet.ID]*move{}, fwd: map[tasklet.ID]*forward{},
		inherited: map[tasklet.ID]inherit{}, parked: map[tasklet.ID][]migrateReq{}, epochs: map[tasklet.ID]uint64{},
		refusedLog: quietLog{every: 10 * time.Second}, handshakeLog: quietLog{every: time.Second},
	}
	n.cr = credits{have: map[channel.ID]*sendCredit{}, granted: map[grantKey]int{}, owed: map[grantKey]int{}, waits: map[channel.ID]*sendQueue{},
		told: map[channel.ID]int{}, elsewhere: map[grantKey]int{}}
	n.links.Store(&linkTable{})
	n.in.init(n)
	n.ctl.init()
	s.SetRemote(n)
	s.SetFlush(n.flush)
	n.pl.paying, n.pl.probeEvery = true, 1
	s.SetPoll(n.poll)
	s.SetValueCheck(registry.CheckValue) // a value that cannot cross to a peer fails at its send
	if cfg.keepalive > 0 {
		n.wg.Add(1)
		go n.keepaliveLoop()
	}
	return n
}

// ID is the node number.
func (n *Node) ID() uint16 { return n.id }

// Scheduler is the node's scheduler.
func (n *Node) Scheduler() *scheduler.Scheduler { return n.s }

// link returns the live link to a peer, or nil.
func (n *Node) link(peer uint16) *link { return n.links.Load().get(peer) }

// Peers lists the nodes this node has a live link to (and the logical
// nodes routed over them, see Route), in order.
func (n *Node) Peers() []uint16 {
	var out []uint16
	n.links.Load().each(func(name uint16, _ *link) { out = append(out, name) })
	return out
}

// WaitPeer waits until this node has a live link to node peer.
func (n *Node) WaitPeer(ctx context.Context, peer uint16) error {
	for {
		n.mu.Lock()
		ch, closed := n.changed, n.closed
		n.mu.Unlock()
		if n.link(peer) != nil {
			return nil
		}
		if closed {
			return ErrNodeClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("ipc: node %d waiting for a link to node %d: %w", n.id, peer, ctx.Err())
		}
	}
}

// changedLocked wakes WaitPeer callers; n.mu is held.
func (n *Node) changedLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// Close closes every listener and link and waits for the node's goroutines
// to end. Tasklets blocked on other nodes' channels get ErrLinkDown when
// the scheduler next runs. Closing twice is harmless.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.quit)
	lns := n.listeners
	n.listeners = nil
	for c := range n.pending {
		c.Close()
	}
	links := n.links.Load().links()
	n.changedLocked()
	n.mu.Unlock()
	var errs []error
	for _, ln := range lns {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, l := range links {
		l.close(errLocalClose)
	}
	n.in.wake()
	n.wg.Wait()
	return errors.Join(errs...)
}

// addLink publishes an authenticated link; a second link to the same peer
// is refused (link each pair of nodes once).
func (n *Node) addLink(l *link) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrNodeClosed
	}
	if old := n.links.Load().get(l.peer); old != nil && old.peer == l.peer {
		return fmt.Errorf("ipc: node %d is linked to node %d already; a second link is refused", n.id, l.peer)
	}
	n.links.Store(n.links.Load().with(l.peer, l))
	n.changedLocked()
	return nil
}

// linkClosed runs once per link, on the goroutine that closed it.
func (n *Node) linkClosed(l *link, reason error) {
	n.mu.Lock()
	live := n.links.Load().get(l.peer) == l
	if live {
		n.links.Store(n.links.Load().with(l.peer, nil))
		n.changedLocked()
	}
	n.mu.Unlock()
	attrs := []any{"peer", l.peer, "network", l.network, "remote", l.remote, "reason", reason.Error()}
	if errors.Is(reason, errLocalClose) || errors.Is(reason, errPeerClosed) {
		n.log.Info("ipc: link closed", attrs...)
	} else {
		n.log.Warn("ipc: link closed", attrs...)
	}
	n.closedStats.add(l)
	n.in.wake()
	n.ctl.linkDown(l.peer)
	if live {
		peer := l.peer
		n.s.Do(func(*scheduler.Scheduler) { n.linkDown(peer) })
	}
	if l.release != nil {
		l.release()
	}
}

// keepaliveLoop pings every peer each interval and closes links that have
// been silent for the timeout.
func (n *Node) keepaliveLoop() {
	defer n.wg.Done()
	tk := time.NewTicker(n.cfg.keepalive)
	defer tk.Stop()
	limit := int((n.cfg.deadAfter + n.cfg.keepalive - 1) / n.cfg.keepalive)
	var nonce uint64
	for {
		select {
		case <-n.quit:
			return
		case <-tk.C:
		}
		nonce++
		for _, l := range n.links.Load().links() {
			if l.alive.Swap(false) {
				l.missed = 0
			} else if l.missed++; l.missed >= limit {
				l.close(fmt.Errorf("keepalive: nothing received for %v", time.Duration(l.missed)*n.cfg.keepalive))
				continue
			}
			l.send(&message{Kind: kPing, ID: nonce})
		}
	}
}

// early handles on the reader's goroutine the messages that never touch
// the scheduler, and reports whether m was one of them.
func (n *Node) early(l *link, m *message) bool {
	switch m.Kind {
	case kPing:
		l.send(&message{Kind: kPong, ID: m.ID})
	case kPong:
	case kReply:
		n.ctl.deliver(l.peer, m)
	default:
		return false
	}
	return true
}

// handle runs one message on the scheduler's goroutine.
func (n *Node) handle(m *message) {
	switch m.Kind {
	case kOp:
		n.onOp(m)
	case kDone:
		n.onDone(m)
	case kCancel:
		n.onCancel(m)
	case kClose:
		if m.Chan.Node() != n.id && n.s.Channel(m.Chan) == nil {
			// Not held here: a merged node's channel, closed and drained,
			// or a frame that came the wrong way. A peer's close is never
			// passed on (Close would send it to the home): two nodes
			// whose routes disagreed would pass it back and forth.
			break
		}
		if err := n.s.Close(m.Chan); err != nil {
			n.log.Warn("ipc: close from a peer failed", "peer", m.From, "chan", m.Chan, "err", err)
		}
	case kPost:
		n.s.PostLocal(m.Chan, m.Value)
	case kReturn:
		n.postBack(m.Chan, m.Value)
	case kPut:
		n.onPut(m)
	case kPuts:
		n.onPuts(m)
	case kGrant:
		n.onGrant(m)
	case kWaiting:
		n.onWaiting(m)
	case kFence:
		n.onFence(m)
	case kFenced:
		n.onFenced(m)
	case kMigrate:
		n.onMigrate(m)
	case kMigrated:
		n.onMigrated(m)
	case kRedirect:
		n.onRedirect(m)
	case kRedirected:
		n.onRedirected(m)
	case kSettled:
		n.onSettled(m)
	}
}

func (n *Node) isClosed() bool {
	select {
	case <-n.quit:
		return true
	default:
		return false
	}
}
