package cluster

// Adopting the workers of other machines. A leader that dies leaves
// workers on every machine of the cluster: those that joined through NATS
// (`stackless worker --nats`) and the local workers of its own machine.
// They run on without it (worker_adopt.go) and stay registered in the
// members bucket (members.go), where they publish how to reach them. The
// coordinator that takes the lease next, on any machine, reads the bucket
// as it starts and links to every registered worker it does not find in
// its own folder (the local ones, adopt.go): over the unix socket on its
// own host, over TCP + mutual TLS otherwise. It asks each who it is, and
// adopts them all with the local ones when together they are one whole
// cluster, so nobody is rolled back. A registered worker it cannot reach
// is left out (if it was part of the cluster, the cluster is not whole and
// the newest checkpoint is restored: the others are told to stop, or to
// join again when they can).

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// openMembers opens the members bucket once.
func (c *Coordinator) openMembers(ctx context.Context) (jetstream.KeyValue, error) {
	if c.members != nil {
		return c.members, nil
	}
	kv, err := openMembers(ctx, c.gs.js, c.gs.names.Members, c.gs.replicas)
	if err != nil {
		return nil, err
	}
	c.members = kv
	return kv, nil
}

// findMembers links to the workers registered in the members bucket whose
// node is not in have (found in the folder already), and asks each who it
// is. A worker that joined and was never resumed is told to join again
// (it has nothing to lose) and left out.
func (c *Coordinator) findMembers(ctx context.Context, have []uint16) []orphan {
	if c.gs == nil {
		return nil
	}
	kv, err := c.openMembers(ctx)
	var ms []member
	if err == nil {
		lctx, cancel := context.WithTimeout(ctx, adoptTimeout)
		ms, err = listMembers(lctx, kv)
		cancel()
	}
	if err != nil {
		c.log.Warn("cluster: could not read the members bucket; the workers of other machines are not adopted", "bucket", c.gs.names.Members, "err", err)
		return nil
	}
	slices.SortFunc(ms, func(a, b member) int { return int(a.Node) - int(b.Node) })
	var found []orphan
	for _, m := range ms {
		if m.Node == 0 || slices.Contains(have, m.Node) {
			continue
		}
		have = append(have, m.Node)
		o, err := c.reachMember(ctx, m)
		switch {
		case err != nil && o.resp.Pid == 0:
			c.log.Info("cluster: a worker registered in the members bucket does not answer; not adopted", "node", m.Node, "pid", m.Pid, "host", m.Host, "why", err)
			continue
		case err == nil && !o.resp.Integrated && o.resp.Rejoins:
			c.log.Info("cluster: a worker that was still joining is told to join again", "node", m.Node, "pid", m.Pid, "host", m.Host)
			c.stopOrphans([]orphan{o})
			continue
		}
		found = append(found, o)
	}
	return found
}

// reachMember links to the registered worker m and asks it who it is. An
// error with o.resp.Pid set: linked, but it did not answer.
func (c *Coordinator) reachMember(ctx context.Context, m member) (orphan, error) {
	ctx, cancel := context.WithTimeout(ctx, adoptTimeout)
	defer cancel()
	if err := c.dialWorker(ctx, peerAddr{Node: m.Node, HostID: m.HostID, Unix: m.Unix, TCP: m.TCP}); err != nil {
		return orphan{}, err
	}
	o := orphan{member: m.ID, resp: adoptResp{Node: m.Node, Pid: m.Pid, Host: m.Host, Rejoins: true}}
	var resp adoptResp
	if err := call(ctx, c.fc, m.Node, kindWAdopt, none{}, &resp); err != nil {
		o.silent = err
		return o, fmt.Errorf("worker %d (pid %d on %s) linked but did not answer: %w", m.Node, m.Pid, m.Host, err)
	}
	if resp.Node != m.Node || resp.Pid != m.Pid {
		return orphan{}, fmt.Errorf("registered as node %d, pid %d, it says it is node %d, pid %d", m.Node, m.Pid, resp.Node, resp.Pid)
	}
	o.resp = resp
	return o, nil
}
