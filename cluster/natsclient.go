package cluster

// The client's side of the leader's NATS requests (natsapi.go). A request
// nobody received (no leader subscribed: none runs, or a failover is under
// way) is sent again until the caller's deadline, so a command sent during
// a failover is answered by the new leader. A request that got no answer
// (lost with a NATS server that stopped, or still running) is sent again
// too: a read (status, ps, inspect, await) as it is, a command that
// changes the cluster (spawn, migrate, checkpoint, restore, down, kill)
// with the ID of its first copy, so the leader runs it once and answers
// every copy (natsdedup.go). Such a command fails with ErrLeaderChanged as
// soon as the lease shows another leader than the one it may have reached,
// rather than being done twice or waiting for the deadline.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	// ErrNoLeader is returned when no coordinator answered a request on
	// NATS before the deadline: none runs for the cluster, or the failover
	// to a standby did not end in time.
	ErrNoLeader = errors.New("cluster: no coordinator leads this cluster on NATS")
	// ErrLeaderChanged is returned when the leader that took a command
	// lost the lease before answering: the command may or may not have
	// been done.
	ErrLeaderChanged = errors.New("cluster: the leading coordinator changed while it ran the command")
)

// Request timing on NATS: a read is asked again when its answer takes
// longer than natsAttempt, a command (with its ID, natsdedup.go) when its
// answer takes longer than natsCmdResend; a request nobody received, every
// natsRetry.
var (
	natsAttempt   = 20 * time.Second
	natsCmdResend = 2 * time.Second
	natsRetry     = 100 * time.Millisecond
)

// natsReads are the requests safe to send again: they change nothing.
var natsReads = map[string]bool{kindHello: true, kindStatus: true, kindList: true, kindInspect: true, kindAwait: true}

// natsCaller sends control requests to a cluster's leader over NATS; it is
// a caller (wire.go) for coordNode.
type natsCaller struct {
	nc    *nats.Conn
	names natsNames
	lease jetstream.KeyValue
	where string // names the servers and the cluster in messages
}

// dialOverNATS connects to the cluster named cfg.Name on the NATS servers
// cfg.NATS and checks that a leader answers.
func dialOverNATS(ctx context.Context, cfg DialConfig) (*Client, error) {
	if err := ValidateName(cfg.Name); err != nil {
		return nil, err
	}
	names := bucketNames(cfg.Name)
	nc, err := connectOutside(cfg.NATS, cfg.NATSCreds, "stackless client")
	if err != nil {
		return nil, err
	}
	where := natsWhere(cfg.NATS, cfg.Name)
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: JetStream on %s: %w", where, err)
	}
	// In bounded attempts: a lookup a server drops is never answered.
	kv, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, names.Lease) })
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		nc.Close()
		return nil, fmt.Errorf("%w: no cluster named %q ever ran on %s (there is no bucket %s); check --name, or start it with `stackless cluster up --nats URL --creds FILE --name %s`",
			ErrNoLeader, names.Name, cfg.NATS, names.Lease, names.Name)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: the lease bucket %s on %s: %w", names.Lease, where, err)
	}
	n := &natsCaller{nc: nc, names: names, lease: readFromLeader(kv, nc), where: where}
	if err := call(ctx, n, coordNode, kindHello, none{}, nil); err != nil {
		nc.Close()
		return nil, err
	}
	return &Client{nats: n}, nil
}

// Call implements caller: kind on the leader (node is always coordNode).
func (n *natsCaller) Call(ctx context.Context, _ uint16, kind string, payload []byte) ([]byte, error) {
	if kind == kindChunk {
		return n.chunk(ctx, payload)
	}
	m, err := n.request(ctx, kind, payload)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// chunk reads one wire.go chunk of a blob in parts that fit a message.
func (n *natsCaller) chunk(ctx context.Context, payload []byte) ([]byte, error) {
	var c chunkReq
	if err := decodeJSON(payload, &c); err != nil {
		return nil, err
	}
	var out []byte
	for len(out) < chunkSize {
		req, _ := marshal(partReq{ID: c.ID, Off: c.Off + len(out), Max: min(natsPart, chunkSize-len(out))})
		m, err := n.request(ctx, kindPart, req)
		if err != nil {
			return nil, err
		}
		out = append(out, m.Data...)
		if m.Header.Get(hdrLast) != "" {
			break
		}
		if len(m.Data) == 0 {
			return nil, fmt.Errorf("%w from the leader on %s: an empty part of blob %d at %d", errWire, n.where, c.ID, c.Off+len(out))
		}
	}
	return out, nil
}

// request sends kind and returns the leader's reply (see the file comment
// for what is sent again).
func (n *natsCaller) request(ctx context.Context, kind string, payload []byte) (*nats.Msg, error) {
	subj := n.names.API + "." + kind
	read := natsReads[kind] || kind == kindPart
	id := strings.TrimPrefix(nats.NewInbox(), "_INBOX.") // a command's, in each copy (natsdedup.go)
	t0 := time.Now()
	var sentTo *Leader // the leader a copy of this command may have reached
	for {
		before := sentTo
		if !read && sentTo == nil {
			before, _, _ = currentLeader(ctx, n.lease)
		} else if !read {
			if cur, _, err := currentLeader(ctx, n.lease); err == nil && cur != nil && !sameLeader(*cur, *sentTo) {
				return nil, leaderChanged(*sentTo, *cur)
			}
		}
		actx, cancel := context.WithCancelCause(ctx)
		stopWatch := func() {}
		if !read && before != nil {
			stopWatch = n.watchLeader(actx, *before, cancel)
		}
		// An attempt is given up at a drop (natsdrop.go) and, for a
		// command, when no answer came in natsCmdResend: it is sent again.
		bound := natsAttempt
		if !read {
			bound = natsCmdResend
		}
		actx, stop := attemptContext(actx, bound)
		msg := &nats.Msg{Subject: subj, Data: payload, Header: nats.Header{}}
		if !read {
			msg.Header.Set(hdrRequest, id)
		}
		m, err := n.nc.RequestMsgWithContext(actx, msg)
		cause := context.Cause(actx)
		dropped := droppedIn(actx)
		stop()
		stopWatch()
		cancel(nil)
		lost := ctx.Err() == nil && (dropped || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout))
		switch {
		case err == nil && m.Header.Get(hdrError) != "":
			return nil, newHandlerError(coordNode, string(m.Data))
		case err == nil:
			return m, nil
		case errors.Is(cause, ErrLeaderChanged):
			return nil, cause
		case lost && read:
			// The leader took a read and died, or its answer was lost:
			// ask whoever leads now.
		case lost:
			// The command may have reached the leader: a copy gets its
			// answer, and it is not run twice.
			if before != nil {
				sentTo = before
			}
		case ctx.Err() != nil:
			if errors.Is(err, nats.ErrNoResponders) || read {
				return nil, fmt.Errorf("%w %s: %s was not answered within %v; start one with `stackless cluster up --nats URL --creds FILE --name %s`, or, after a leader's death, wait for a standby (it leads within 5 s)",
					ErrNoLeader, n.where, kind, time.Since(t0).Round(time.Millisecond), n.names.Name)
			}
			return nil, fmt.Errorf("cluster: %s on %s: the leader did not answer within %v: %w", kind, n.where, time.Since(t0).Round(time.Millisecond), ctx.Err())
		case errors.Is(err, nats.ErrNoResponders):
			// Nobody received it: safe to send again once a leader subscribes.
			select {
			case <-ctx.Done():
			case <-time.After(natsRetry):
			}
		default:
			return nil, fmt.Errorf("cluster: %s on %s: %w", kind, n.where, err)
		}
	}
}

// sameLeader reports whether a and b are the same holder's same lease.
func sameLeader(a, b Leader) bool { return a.Holder == b.Holder && a.Epoch == b.Epoch }

// leaderChanged is ErrLeaderChanged for a command sent to before while cur
// leads now.
func leaderChanged(before, cur Leader) error {
	return fmt.Errorf("%w (%s, epoch %d, took it; %s, epoch %d, leads now): it may or may not have been done; check with `stackless cluster status` and `ps`, then send it again if needed",
		ErrLeaderChanged, before.Holder, before.Epoch, cur.Holder, cur.Epoch)
}

// watchLeader cancels a command's context with ErrLeaderChanged once the
// lease is no longer held by before (the leader the command went to).
func (n *natsCaller) watchLeader(ctx context.Context, before Leader, cancel context.CancelCauseFunc) func() {
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(leaseRenew)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			cur, _, err := currentLeader(ctx, n.lease)
			if err != nil || cur == nil {
				continue
			}
			if !sameLeader(*cur, before) {
				cancel(leaderChanged(before, *cur))
				return
			}
		}
	}()
	return func() { close(done) }
}

// waitDown waits until the leader that took `down` has stopped the
// cluster: its lease is given up (marked down), or, with the embedded
// server of its coordinator, that server is gone with it.
func (n *natsCaller) waitDown(ctx context.Context) error {
	w, err := watchKV(ctx, ctx, func(ctx context.Context) (jetstream.KeyWatcher, error) { return n.lease.Watch(ctx, leaseKey) })
	if err != nil {
		return fmt.Errorf("cluster: watch the lease on %s: %w", n.where, err)
	}
	defer func() { _ = w.Stop() }()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	updates := w.Updates()
	for {
		select {
		case e, ok := <-updates:
			var l Leader
			switch {
			case !ok:
				updates = nil // the watch ended: the ticker goes on
			case e == nil: // the end of the current values
			case e.Operation() != jetstream.KeyValuePut:
				return nil // the lease is gone: nobody leads
			case json.Unmarshal(e.Value(), &l) == nil && l.Down:
				return nil
			}
		case <-tk.C:
			if !n.nc.IsConnected() {
				return nil // the coordinator's own server stopped with it
			}
		case <-ctx.Done():
			return fmt.Errorf("cluster: the coordinator on %s did not shut down: %w", n.where, ctx.Err())
		}
	}
}
