package cluster

// Membership in NATS: every worker with a NATS connection keeps an entry
// in the cluster's members KV bucket (natsNames.Members, "<name>_members";
// key "w.<member ID>", a random ID per
// process) saying who it is and where its peers reach it. The bucket's
// MaxAge is memberTTL and a worker puts its entry again every
// memberRenew, so the entry of a worker that died without a word is gone
// within memberTTL; one that stops deletes it.
//
// A worker started with --nats (no cluster folder, no coordinator
// address) asks the leader for a node number with a NATS request on the
// cluster's join subject ("<name>.worker.join", its --name), which only
// the leading coordinator of that cluster answers, then listens
// and puts its entry with state "ready"; the leader, which watches the
// bucket, dials the published address and links the worker into the mesh
// (coord_members.go). Nobody needs to know where the coordinator is.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stackless-go/stackless/channel"
)

// memberPrefix starts the keys of workers in the members bucket.
const memberPrefix = "w."

// Member timing: an entry lives memberTTL after its last put; a worker
// puts it every memberRenew.
var (
	memberTTL   = 3 * time.Second
	memberRenew = time.Second
)

// memberReady is the state of a worker listening at its Unix/TCP
// address: the leader may link it.
const memberReady = "ready"

// member is a worker's entry in the members bucket.
type member struct {
	ID     string     `json:"id"`   // random, one per worker process
	Node   uint16     `json:"node"` // its node number (0 before it has one)
	Pid    int        `json:"pid"`
	Host   string     `json:"host"`
	HostID string     `json:"host_id"`        // the host its unix path is valid on
	Unix   string     `json:"unix,omitempty"` // its unix socket, if any
	TCP    string     `json:"tcp,omitempty"`  // its TCP (+TLS) address, if any
	Marker channel.ID `json:"marker"`
	State  string     `json:"state"`
	Since  time.Time  `json:"since"`
}

// maxMember bounds an entry read back from the bucket.
const maxMember = 4096

// decodeMember parses an entry strictly: anyone with the credentials can
// write the bucket, and the leader dials what an entry says.
func decodeMember(b []byte) (member, error) {
	var m member
	if len(b) > maxMember {
		return m, fmt.Errorf("member entry of %d bytes, over %d", len(b), maxMember)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return member{}, fmt.Errorf("member entry does not decode: %w", err)
	}
	if dec.More() {
		return member{}, errors.New("member entry has bytes after its end")
	}
	switch {
	case m.ID == "" || len(m.ID) > 64:
		return member{}, fmt.Errorf("member entry with an id of %d bytes (1 to 64)", len(m.ID))
	case m.Node > maxWorkerNode:
		return member{}, fmt.Errorf("member entry of node %d, not a worker's (1 to %d)", m.Node, maxWorkerNode)
	case m.State != memberReady:
		return member{}, fmt.Errorf("member entry in state %q", m.State)
	}
	return m, nil
}

// openMembers opens the members bucket named bucket, making it if there
// is none. The workers and the leader open it at the same moment: making
// a replicated bucket at once from two processes can leave both without
// an answer, so it goes in bounded attempts (ensureKV), as the
// coordinator's buckets do.
func openMembers(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, error) {
	kv, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, bucket) })
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = ensureKV(ctx, js, jetstream.KeyValueConfig{Bucket: bucket, History: 1, TTL: memberTTL,
			Storage: jetstream.FileStorage, Replicas: replicas, Description: "stackless cluster workers"})
	}
	if err == nil {
		err = kvReady(ctx, kv)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: the members bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// registration is a worker's entry, kept alive until removed.
type registration struct {
	wn   *workerNATS
	key  string
	stop context.CancelFunc
	done chan struct{}

	mu  sync.Mutex
	cur member
	kv  jetstream.KeyValue
}

// register puts m and keeps it alive. Failures to renew are logged by the
// caller's logger through warn; the entry comes back at the next renew.
func register(ctx context.Context, wn *workerNATS, m member, warn func(error)) (*registration, error) {
	r := &registration{wn: wn, key: memberPrefix + m.ID, cur: m, done: make(chan struct{})}
	if err := r.put(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go r.renew(rctx, warn)
	return r, nil
}

// put writes the entry, opening the bucket (again) when needed.
func (r *registration) put(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.open(ctx); err != nil {
		return err
	}
	r.cur.Since = time.Now().UTC()
	b, err := json.Marshal(r.cur)
	if err != nil {
		return err
	}
	// A put is the same done twice: one a server never answered is sent
	// again rather than held for the caller's whole context (a worker's
	// start).
	if err := retryJS(ctx, jsAttempt, func(ctx context.Context) error {
		_, err := r.kv.Put(ctx, r.key, b)
		return err
	}); err != nil {
		r.kv = nil // dial and open again next time
		return fmt.Errorf("cluster: register worker %d in %s: %w", r.cur.Node, r.wn.bucketNames().Members, err)
	}
	return nil
}

// open opens the bucket, unless open already; r.mu is held.
func (r *registration) open(ctx context.Context) error {
	if r.kv != nil {
		return nil
	}
	nc, js, err := r.wn.conn()
	if err != nil {
		return err
	}
	r.kv, err = openMembers(ctx, js, r.wn.bucketNames().Members, min(maxReplicas, max(1, len(nc.Servers()))))
	return err
}

func (r *registration) renew(ctx context.Context, warn func(error)) {
	defer close(r.done)
	tk := time.NewTicker(memberRenew)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		pctx, cancel := context.WithTimeout(ctx, memberTTL)
		err := r.put(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			warn(err)
		}
	}
}

// remove stops renewing and deletes the entry. A renewal that failed last
// dropped the bucket: it is opened again (a worker leaving after one renewal
// timed out under load left its entry standing for a TTL), and the purge is
// tried again like a put, within the same bound.
func (r *registration) remove() {
	r.stop()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = retryJS(ctx, jsAttempt, func(ctx context.Context) error {
		if err := r.open(ctx); err != nil {
			return err
		}
		return r.kv.Purge(ctx, r.key)
	})
}

// listMembers lists the workers registered in the members bucket kv.
// Each request is a bounded attempt: a listing or a read a server never
// answered took the whole adoption's time, and the worker it missed was
// rolled back rather than adopted.
func listMembers(ctx context.Context, kv jetstream.KeyValue) ([]member, error) {
	var keys []string
	err := retryJS(ctx, jsAttempt, func(ctx context.Context) error {
		keys = keys[:0]
		kl, err := kv.ListKeysFiltered(ctx, memberPrefix+">")
		if err != nil {
			return err
		}
		defer func() { _ = kl.Stop() }()
		for k := range kl.Keys() {
			keys = append(keys, k)
		}
		return ctx.Err() // the listing ends early when ctx does
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: list %s: %w", kv.Bucket(), err)
	}
	var out []member
	for _, k := range keys {
		e, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValueEntry, error) { return kv.Get(ctx, k) })
		if err != nil {
			continue // expired meanwhile
		}
		if m, err := decodeMember(e.Value()); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}
