package cluster

// The worker's links: peers to dial, routes to install, and stopping.

import (
	"context"
	"fmt"
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
		peer, err := w.n.Dial(ctx, p.Network, p.Addr)
		if err != nil {
			return none{}, fmt.Errorf("cluster: worker %d: link to worker %d: %w", w.node, p.Node, err)
		}
		if peer != p.Node {
			return none{}, fmt.Errorf("cluster: worker %d: %s %s is node %d, not worker %d", w.node, p.Network, p.Addr, peer, p.Node)
		}
	}
	return none{}, nil
}

// route installs the routing table: every logical node hosted by another
// worker is reached over that worker's link.
func (w *worker) route(ctx context.Context, req routeReq) (none, error) {
	cur := w.n.Routes()
	for logical, peer := range req.Routes {
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
	return none{}, nil
}

type stopReq struct {
	Rejoin bool `json:"rejoin"`
}

func (w *worker) stopReq(_ context.Context, req stopReq) (none, error) {
	if req.Rejoin {
		w.stop(ErrRejoin)
	} else {
		w.stop(nil)
	}
	return none{}, nil
}
