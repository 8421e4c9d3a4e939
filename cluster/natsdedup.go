package cluster

// A command sent over NATS can be lost on its way to the leader without
// anyone saying so: when a NATS server stops, a request routed through it
// (the caller's connection, or the leader's interest still known there) is
// dropped, and the caller would wait for its deadline (a checkpoint after a
// NATS server stopped was never answered in 90 s). A command cannot simply
// be sent again, since it may have been done: so each carries an ID
// (hdrRequest), the caller sends it again while no answer comes, and the
// leader runs each ID once: a copy arriving while it runs, or after, gets
// the first one's answer. The IDs are this leader's only; after a failover
// the caller's lease watch (natsclient.go) reports ErrLeaderChanged.

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	hdrRequest = "Stackless-Request" // a command's ID, the same in every copy sent
	dedupKeep  = 10 * time.Minute    // how long a command's answer is kept for its copies
)

// dedup remembers the commands this leader ran, by ID.
type dedup struct {
	mu   sync.Mutex
	runs map[string]*dedupRun
}

// dedupRun is one command: done once out holds its answer.
type dedupRun struct {
	at   time.Time
	done chan struct{}
	out  *nats.Msg // its answer (headers and body; the subject is each copy's)
}

// begin returns the run of id and whether the caller is the first to ask
// (and must run it, then call finish).
func (d *dedup) begin(id string) (*dedupRun, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.runs[id]; ok {
		return r, false
	}
	now := time.Now()
	if d.runs == nil {
		d.runs = map[string]*dedupRun{}
	}
	for k, r := range d.runs {
		if now.Sub(r.at) > dedupKeep && isDone(r.done) {
			delete(d.runs, k)
		}
	}
	r := &dedupRun{at: now, done: make(chan struct{})}
	d.runs[id] = r
	return r, true
}

// finish records the answer of a run begun first.
func (r *dedupRun) finish(out *nats.Msg) {
	r.out = out
	close(r.done)
}

// answerTo is the run's answer addressed to reply.
func (r *dedupRun) answerTo(reply string) *nats.Msg {
	out := nats.NewMsg(reply)
	for k, v := range r.out.Header {
		out.Header[k] = v
	}
	out.Data = r.out.Data
	return out
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
