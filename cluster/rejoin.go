package cluster

// A restore (or a rollback, or a leave) plans the checkpoint's worlds
// across every live worker, not only those the leader starts on its own
// machine: a worker on another machine that joined over NATS cannot be
// started by the leader, but it can be told to start again. So the leader
// reserves a placement for each such worker (a node, its logical nodes,
// the staged world it reads from the Object Store), tells it to join
// again as that node with a one-time token (over its authenticated link),
// and waits for it as it waits for its own workers. A worker that does
// not come back within Config.StartTimeout fails the restore like a local
// worker that does not start: the restore is all or nothing, and the
// worker joins as a new, empty one afterwards (its token is refused once
// the restore ended).

import (
	"cmp"
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"time"
)

// rejoinAs is what a worker told to join again is to be: returned by
// RunWorker (it is ErrRejoin) and carried by RunJoinedWorker into the
// next join.
type rejoinAs struct {
	Node  uint16
	Token string
}

func (r *rejoinAs) Error() string { return fmt.Sprintf("%v as worker %d", ErrRejoin, r.Node) }
func (r *rejoinAs) Unwrap() error { return ErrRejoin }

// String is how the worker's log names it.
func (r *rejoinAs) String() string {
	if r == nil {
		return "a new worker"
	}
	return fmt.Sprintf("worker %d", r.Node)
}

// liveRemotes are the workers a restore can place worlds on besides the
// local ones it starts: those that joined over NATS (a member entry), are
// ready and still linked to the leader, and are not leaving, nor a local
// worker of another folder (Foreign: it cannot join again); skip (a
// worker that died, 0: none) is left out. Sorted by node.
func (c *Coordinator) liveRemotes(skip uint16) []*workerRef {
	peers := c.n.Peers()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*workerRef
	for _, w := range c.workers {
		if !w.Local && !w.Foreign && w.Member != "" && w.Ready && !w.Leaving && w.Node != skip && slices.Contains(peers, w.Node) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b *workerRef) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

// assignRemote chooses which placements of ps the remote workers (by
// their nodes now) take: a remote worker keeps the placement of its own
// node when that holds worlds (its world stays on its machine), the
// others take the remaining placements that hold worlds first, so that
// the machines that are not the leader's get their share of tasklets at
// once, not from the balancer. It maps a remote worker's node to the
// index of its placement; the placements no remote takes are local.
func assignRemote(ps []placement, remotes []uint16) map[uint16]int {
	out := map[uint16]int{}
	taken := make([]bool, len(ps))
	var rest []uint16
	for _, r := range remotes {
		i := slices.IndexFunc(ps, func(p placement) bool { return p.Node == r })
		if i >= 0 && len(ps[i].Worlds) > 0 {
			out[r], taken[i] = i, true
		} else {
			rest = append(rest, r)
		}
	}
	order := make([]int, 0, len(ps))
	for i := range ps {
		if !taken[i] {
			order = append(order, i)
		}
	}
	holds := func(i int) bool { return len(ps[i].Worlds) > 0 }
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case holds(a) == holds(b):
			return 0
		case holds(a):
			return -1
		}
		return 1
	})
	for k, r := range rest {
		if k < len(order) {
			out[r] = order[k]
		}
	}
	return out
}

// claims checks a join for placement e: a placement a restore keeps for
// a remote worker has a token, and only a join over NATS presenting it
// takes it; a local worker's has none, and a join with a token cannot.
func (e *expected) claims(req joinReq) error {
	if e.token == "" && req.Token == "" {
		return nil
	}
	if e.token == "" || req.Token == "" || req.Member == "" || subtle.ConstantTimeCompare([]byte(e.token), []byte(req.Token)) != 1 {
		return fmt.Errorf("cluster: worker %d is reserved for another worker (a join with a stale or wrong restore token)", req.Node)
	}
	return nil
}

// reservation is a placement kept for remote worker from (its node now),
// told to join again as e.p.Node.
type reservation struct {
	from uint16
	e    *expected
}

// reserve plans which placements of ps the remote workers take (see
// assignRemote) and gives each a token; it returns the reservations and
// the placements (with their worlds) left for local workers.
func reserve(ps []placement, parts []*worldPart, remotes []*workerRef) ([]reservation, []placement, []*worldPart) {
	nodes := make([]uint16, len(remotes))
	for i, w := range remotes {
		nodes[i] = w.Node
	}
	as := assignRemote(ps, nodes)
	remote := make([]bool, len(ps))
	var rs []reservation
	for _, n := range nodes {
		i, ok := as[n]
		if !ok {
			continue
		}
		remote[i] = true
		rs = append(rs, reservation{from: n, e: &expected{p: ps[i], world: parts[i], token: randomHostID()}})
	}
	var local []placement
	var localParts []*worldPart
	for i := range ps {
		if !remote[i] {
			local, localParts = append(local, ps[i]), append(localParts, parts[i])
		}
	}
	return rs, local, localParts
}

// waitUnlinked waits until the leader's link to node is gone: a worker a
// restore told to join again as a node that a stopping worker still holds
// (its own, or a local worker's being stopped) is linked only then, since
// a second link to a node is refused.
func (c *Coordinator) waitUnlinked(ctx context.Context, node uint16) error {
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for slices.Contains(c.n.Peers(), node) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the link to the worker that was node %d before is still up: %w", node, ctx.Err())
		case <-tk.C:
		}
	}
	return nil
}
