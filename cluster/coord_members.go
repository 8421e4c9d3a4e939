package cluster

// The leader's side of membership in NATS (members.go): it answers the
// join requests of workers started with --nats, and watches the members
// bucket for them to be ready; then it dials the address they published
// (unix on its own host, TCP+TLS otherwise) and links them into the mesh.
// A worker given a node that never becomes ready is dropped after
// Config.StartTimeout, so its route does not hold up the others.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// joinReply is the answer to a join request over NATS.
type joinReply struct {
	Resp  joinResp `json:"resp"`
	Error string   `json:"error,omitempty"`
}

// serveMembers starts answering join requests and watching the members
// bucket. The caller leads.
func (c *Coordinator) serveMembers(ctx context.Context) error {
	kv, err := c.openMembers(ctx)
	if err != nil {
		return err
	}
	sub, err := c.gs.nc.Subscribe(c.gs.names.Join, c.natsJoin)
	if err != nil {
		return fmt.Errorf("cluster: answer worker joins on %s: %w", c.gs.names.Join, err)
	}
	// Made within Start's ctx, in bounded attempts; it lives as long as
	// the coordinator. Made with c.ctx alone, a consumer request a server
	// dropped held Start for good.
	wt, err := watchKV(ctx, c.ctx, func(ctx context.Context) (jetstream.KeyWatcher, error) {
		return kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	})
	if err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("cluster: watch %s: %w", c.gs.names.Members, err)
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer func() { _ = sub.Unsubscribe() }()
		defer func() { _ = wt.Stop() }()
		for {
			select {
			case <-c.ctx.Done():
				return
			case e, ok := <-wt.Updates():
				if !ok {
					return
				}
				if e == nil || e.Operation() != jetstream.KeyValuePut {
					continue
				}
				m, err := decodeMember(e.Value())
				if err != nil {
					c.log.Warn("cluster: an entry of the members bucket does not decode; ignored", "key", e.Key(), "err", err)
					continue
				}
				if m.State == memberReady {
					c.memberReady(m)
				}
			}
		}
	}()
	return nil
}

// natsJoin answers a join request: a node number and an empty world.
func (c *Coordinator) natsJoin(msg *nats.Msg) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		var reply joinReply
		var req joinReq
		if err := decodeJSON(msg.Data, &req); err != nil {
			reply.Error = fmt.Sprintf("cluster: a join request that does not decode: %v", err)
		} else if req.Member == "" {
			reply.Error = "cluster: a join request over NATS without a member ID"
		} else {
			ctx, cancel := context.WithTimeout(c.ctx, joinWait+time.Second)
			if req.Token == "" {
				req.Node = 0 // a new worker; with a token it claims what a restore kept for it (rejoin.go)
			}
			resp, err := c.handleJoin(ctx, req)
			cancel()
			if err != nil {
				reply.Error = err.Error()
			} else {
				reply.Resp = resp
				c.dropIfNotReady(resp.Node, req.Member)
			}
		}
		b, _ := json.Marshal(reply)
		_ = msg.Respond(b)
	}()
}

// dropIfNotReady sends away worker node (member id) if it is not ready
// within the start timeout.
func (c *Coordinator) dropIfNotReady(node uint16, id string) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		t := time.NewTimer(c.cfg.StartTimeout)
		defer t.Stop()
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.op.Lock()
		defer c.op.Unlock()
		c.mu.Lock()
		w := c.workers[node]
		stale := w != nil && w.Member == id && !w.Ready
		c.mu.Unlock()
		if stale {
			c.log.Warn("cluster: a worker that joined over NATS never became ready; dropped", "node", node, "member", id)
			c.dropJoined(node, fmt.Errorf("not ready within %v", c.cfg.StartTimeout))
		}
	}()
}

// memberReady links a worker that joined over NATS and published where it
// listens.
func (c *Coordinator) memberReady(m member) {
	c.mu.Lock()
	w := c.workers[m.Node]
	ok := w != nil && !w.Local && !w.Ready && !w.Dialed && w.Member == m.ID && !c.closing
	if ok {
		w.Dialed = true // its entry is put again every renewal: link once
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.StartTimeout)
		defer cancel()
		pa := peerAddr{Node: m.Node, HostID: m.HostID, Unix: m.Unix, TCP: m.TCP}
		err := c.waitUnlinked(ctx, m.Node)
		if err == nil {
			err = c.dialWorker(ctx, pa)
		}
		if err == nil {
			_, err = c.handleReady(ctx, readyReq{Node: m.Node, HostID: m.HostID, Unix: m.Unix, TCP: m.TCP, Marker: m.Marker, Pid: m.Pid, Host: m.Host})
		}
		if err != nil && c.ctx.Err() == nil {
			c.log.Warn("cluster: a worker that joined over NATS could not be linked; it is sent away", "node", m.Node, "at", pa, "err", err)
			c.op.Lock()
			c.dropJoined(m.Node, err)
			c.op.Unlock()
		}
	}()
}

// dialWorker links the coordinator to worker p at the address it published.
func (c *Coordinator) dialWorker(ctx context.Context, p peerAddr) error {
	network, addr, err := p.dialAddr(c.hostID, "")
	if err != nil {
		return err
	}
	if network == "tcp" && c.cfg.TLS == nil {
		return errors.New("the coordinator has no TLS configuration to link to it over TCP: start `cluster up` with --tls DIR")
	}
	peer, err := c.n.Dial(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("link to worker %d at %s %s: %w", p.Node, network, addr, err)
	}
	if peer != p.Node {
		return fmt.Errorf("%s %s is node %d, not worker %d", network, addr, peer, p.Node)
	}
	return nil
}
