package cluster

// The worker's links: peers to dial, routes to install, and stopping.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"
)

// linkPeers dials the given workers it has no link to yet.
func (w *worker) linkPeers(ctx context.Context, req peersReq) (none, error) {
	routes := w.n.Routes()
	have := map[uint16]bool{}
	for _, p := range w.n.Peers() {
		if _, alias := routes[p]; !alias {
			have[p] = true
		}
	}
	for _, p := range req.Peers {
		if p.Node == w.node || have[p.Node] {
			continue
		}
		network, addr, err := p.dialAddr(w.hostID, w.coordHost())
		if err != nil {
			return none{}, fmt.Errorf("cluster: worker %d: link to worker %d: %w", w.node, p.Node, err)
		}
		peer, err := w.n.Dial(ctx, network, addr)
		if err != nil {
			return none{}, fmt.Errorf("cluster: worker %d: link to worker %d at %s %s: %w", w.node, p.Node, network, addr, err)
		}
		if peer != p.Node {
			return none{}, fmt.Errorf("cluster: worker %d: %s %s is node %d, not worker %d", w.node, network, addr, peer, p.Node)
		}
	}
	return none{}, nil
}

// route installs the routing table: every logical node hosted by another
// worker is reached over that worker's link.
func (w *worker) route(ctx context.Context, req routeReq) (none, error) {
	cur := w.n.Routes()
	for logical, peer := range req.Routes {
		if logical == peer && peer != w.node {
			// A peer that dialed this worker may still be finishing the
			// handshake on this side: a tasklet resumed now would find no
			// link to it and fail (and a checkpoint would keep the failure).
			if err := w.n.WaitPeer(ctx, peer); err != nil {
				return none{}, fmt.Errorf("cluster: worker %d: %w", w.node, err)
			}
		}
		if logical == peer || logical == w.node {
			continue
		}
		if peer == w.node {
			w.n.Unroute(logical) // merged here
			continue
		}
		if cur[logical] == peer {
			continue
		}
		// The peer dialed this worker; its link may still be finishing
		// the handshake on this side.
		if err := w.n.WaitPeer(ctx, peer); err != nil {
			return none{}, fmt.Errorf("cluster: worker %d: %w", w.node, err)
		}
		if err := w.n.Route(logical, peer); err != nil {
			return none{}, fmt.Errorf("cluster: worker %d: %w", w.node, err)
		}
	}
	for logical := range cur {
		if p, ok := req.Routes[logical]; !ok || p == w.node {
			w.n.Unroute(logical)
		}
	}
	w.routeMu.Lock()
	w.routeTable = maps.Clone(req.Routes)
	w.routeMu.Unlock()
	return none{}, nil
}

type stopReq struct {
	Rejoin bool   `json:"rejoin"`
	Refuse string `json:"refuse,omitempty"` // the coordinator could not link this worker in, and why
	// As and Token, with Rejoin: join again as worker As, presenting
	// Token, to run the world the restore planned for it (rejoin.go).
	As    uint16 `json:"as,omitempty"`
	Token string `json:"token,omitempty"`
}

// ErrNotLinked is returned by RunWorker when the coordinator could not link
// the worker into the cluster (a peer it cannot reach) and let it go.
var ErrNotLinked = errors.New("cluster: the coordinator could not link this worker into the cluster")

func (w *worker) stopReq(_ context.Context, req stopReq) (none, error) {
	switch {
	case req.Refuse != "":
		w.stop(fmt.Errorf("%w: %s", ErrNotLinked, req.Refuse))
	case req.Rejoin && req.As != 0 && w.cfg.joinsOverNATS():
		w.stop(&rejoinAs{Node: req.As, Token: req.Token})
	case req.Rejoin:
		w.stop(ErrRejoin)
	default:
		w.stop(nil)
	}
	return none{}, nil
}

// leaveTimeout bounds a worker's leave: the coordinator takes a checkpoint
// and restarts the cluster's workers without it.
const leaveTimeout = 2 * time.Minute

// leave asks the coordinator to hand this worker's tasklets to the other
// workers and let it go (the worker was asked to stop: SIGTERM, Ctrl-C, or
// the context of RunWorker ended). The coordinator stops it once its state
// is safe elsewhere; if that cannot be done the worker stops anyway, and
// the coordinator rolls the cluster back as after a crash.
func (w *worker) leave() {
	w.log.Info("cluster: worker: asked to stop; handing its tasklets to the other workers")
	ctx, cancel := context.WithTimeout(w.handler, leaveTimeout)
	defer cancel()
	if err := call(ctx, w.n, coordNode, kindLeave, leaveReq{Node: w.node}, nil); err != nil {
		w.mu.Lock()
		stopped := w.stopped
		w.mu.Unlock()
		if !stopped { // the coordinator's stop may have cut the reply: then all is well
			w.log.Warn("cluster: worker: could not leave the cluster cleanly; stopping anyway (the coordinator rolls back)", "err", err)
			w.stop(fmt.Errorf("cluster: worker %d: asked to stop, but could not hand its tasklets over: %w", w.node, err))
			return
		}
	}
	w.stop(nil)
}
