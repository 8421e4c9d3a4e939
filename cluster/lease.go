package cluster

// Leadership: exactly one coordinator acts, the holder of the lease, a key
// in the KV bucket <name>_lease (names.go). It is taken by compare-and-set (Create when
// there is none, Update on the revision seen when the holder stopped
// renewing it), renewed every leaseRenew by Update on its own revision, and
// it is stale once its revision has not changed for leaseTTL as the
// standby measures it (its own clock only: no skew between machines). The
// revision at which it was taken is the leader's epoch: every command it
// sends a worker carries it (fence.go), and a worker refuses a lower one,
// so a leader that lost its lease and has not noticed yet cannot act.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const leaseKey = "leader"

// Lease timing: a standby takes a lease whose revision stood still for
// leaseTTL; the holder renews it every leaseRenew.
var (
	leaseTTL   = 2 * time.Second
	leaseRenew = 400 * time.Millisecond
	leasePoll  = 100 * time.Millisecond
)

// ErrLeaseLost is returned when a coordinator's lease was taken by
// another: it leads no more and must not act.
var ErrLeaseLost = errors.New("cluster: this coordinator lost its leadership lease to another coordinator")

// ErrLeaderStopped is returned to a standby when the leader it waited on
// stopped the cluster (`cluster down`, Ctrl-C, SIGTERM) rather than died:
// the standby stops too instead of starting the cluster again.
var ErrLeaderStopped = errors.New("cluster: the leader stopped the cluster; this standby stops too")

// Leader says who leads a cluster.
type Leader struct {
	Holder string    `json:"holder"` // host:pid of the coordinator
	Host   string    `json:"host"`
	Pid    int       `json:"pid"`
	Epoch  uint64    `json:"epoch"` // the lease revision it was taken at
	Since  time.Time `json:"since"`
	// Down: the leader stopped the cluster (Close: `cluster down`,
	// Ctrl-C, SIGTERM) and gave the lease up; standbys stop too, a new
	// `cluster up` takes the lease at once.
	Down bool `json:"down,omitempty"`
}

// lease is a coordinator's hold of (or wait for) the leadership.
type lease struct {
	kv  jetstream.KeyValue
	me  Leader
	rev uint64 // the revision of the last write of the lease by this holder
}

// openLease makes (or opens) the lease bucket.
func openLease(ctx context.Context, js jetstream.JetStream, leaseBucket string, replicas int) (jetstream.KeyValue, error) {
	kv, err := ensureKV(ctx, js, jetstream.KeyValueConfig{Bucket: leaseBucket, History: 1,
		Storage: jetstream.FileStorage, Replicas: replicas, Description: "stackless cluster leadership lease"})
	if err == nil {
		kv = readFromLeader(kv, js.Conn()) // who leads is read from the stream's leader (jsleader.go)
		err = kvReady(ctx, kv)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: the lease bucket %s: %w", leaseBucket, err)
	}
	return kv, nil
}

// newLease is the lease this process would hold.
func newLease(kv jetstream.KeyValue) *lease {
	host, _ := os.Hostname()
	return &lease{kv: kv, me: Leader{Holder: fmt.Sprintf("%s:%d", host, os.Getpid()), Host: host, Pid: os.Getpid()}}
}

// currentLeader reads who holds the lease (nil when nobody does), in
// bounded attempts: a read lost with a NATS server that stopped is asked
// again (at once when the connection dropped), not waited on until ctx
// ends, which kept a client's command and a standby's watch waiting.
func currentLeader(ctx context.Context, kv jetstream.KeyValue) (*Leader, uint64, error) {
	e, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValueEntry, error) { return kv.Get(ctx, leaseKey) })
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("cluster: read the lease: %w", err)
	}
	var l Leader
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		return nil, e.Revision(), nil // a lease that does not decode is nobody's: it goes stale
	}
	return &l, e.Revision(), nil
}

// acquire takes the lease: at once when there is none or its holder gave
// it up; otherwise once its revision stood still for leaseTTL, or at once
// with force (the caller knows the holder is gone: it owns the store its
// server ran on). It waits until it holds the lease or ctx ends; waiting
// is called once, with the holder, if it has to wait. A standby (stoodBy,
// or one that waited here) finding the lease given up returns
// ErrLeaderStopped.
func (l *lease) acquire(ctx context.Context, force, stoodBy bool, waiting func(Leader)) error {
	var (
		seen   uint64
		seenAt time.Time
		told   bool
	)
	tk := time.NewTicker(leasePoll)
	defer tk.Stop()
	for {
		cur, rev, err := currentLeader(ctx, l.kv)
		if err != nil && (!natsTransient(err) || ctx.Err() != nil) {
			return err
		}
		now := time.Now()
		if rev != seen {
			seen, seenAt = rev, now
		}
		switch {
		case err != nil:
			// NATS does not answer for now: ask again at the next tick.
		case cur != nil && cur.Down && (told || stoodBy):
			return fmt.Errorf("%w (%s, epoch %d)", ErrLeaderStopped, cur.Holder, cur.Epoch)
		case cur == nil && rev == 0:
			// In a bounded attempt: one lost with a NATS server is made
			// again (its write, if stored, shows as a lease gone stale).
			actx, stop := attemptContext(ctx, jsAttempt)
			r, err := l.kv.Create(actx, leaseKey, l.value(0, now))
			lost := droppedIn(actx) || natsTransient(err)
			stop()
			if err == nil {
				return l.won(ctx, r, now)
			} else if !errors.Is(err, jetstream.ErrKeyExists) && (!lost || ctx.Err() != nil) {
				return fmt.Errorf("cluster: take the lease: %w", err)
			}
		case force || now.Sub(seenAt) >= leaseTTL || (cur != nil && cur.Down):
			actx, stop := attemptContext(ctx, jsAttempt)
			r, err := l.kv.Update(actx, leaseKey, l.value(0, now), rev)
			stop()
			if err == nil {
				return l.won(ctx, r, now)
			}
			force = false // someone else wrote it meanwhile: it is alive
		case !told && waiting != nil && cur != nil && cur.Epoch != 0:
			// Epoch 0: the taker's Create is stored but not yet its first
			// renewal, which writes the epoch; a standby told of it then
			// reported a leader of epoch 0. Seen at the next poll.
			waiting(*cur)
			told = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for the lease: %w", ctx.Err())
		case <-tk.C:
		}
	}
}

// won records a lease taken at revision r and writes the epoch into it,
// in bounded attempts: an Update a server drops is never answered, and it
// held a coordinator's Start for the caller's whole context. An attempt
// whose write was stored but whose answer was lost is seen by renew as
// this holder's own write.
func (l *lease) won(ctx context.Context, r uint64, since time.Time) error {
	l.me.Epoch, l.me.Since, l.rev = r, since.UTC(), r
	return retryJS(ctx, jsAttempt, l.renew)
}

// value is the lease's stored form.
func (l *lease) value(epoch uint64, since time.Time) []byte {
	v := l.me
	v.Epoch, v.Since = epoch, since
	b, _ := json.Marshal(v)
	return b
}

// renew writes the lease again on its own revision: ErrLeaseLost when
// another coordinator wrote it meanwhile. A renewal whose answer was lost
// (the connection dropped after the server stored it) left the lease at a
// newer revision of this holder's own: that one is taken as renewed, not
// as the lease lost.
func (l *lease) renew(ctx context.Context) error {
	r, err := l.kv.Update(ctx, leaseKey, l.value(l.me.Epoch, l.me.Since), l.rev)
	if err != nil {
		cur, rev, gerr := currentLeader(ctx, l.kv)
		if gerr == nil && cur != nil && cur.Holder != l.me.Holder {
			return fmt.Errorf("%w: %s leads since %s (epoch %d)", ErrLeaseLost, cur.Holder, cur.Since.Format(time.RFC3339), cur.Epoch)
		}
		if gerr == nil && cur != nil && !cur.Down && cur.Epoch == l.me.Epoch && rev > l.rev {
			l.rev = rev // this holder's own write
			return nil
		}
		if gerr != nil {
			// Whose write moved the lease is not known (the read got no
			// answer in time, as on a loaded machine): it is not lost until
			// a read says so. Taken for lost, a leader deposed itself.
			return fmt.Errorf("cluster: renew the lease (%v), then read it back: %w", err, gerr)
		}
		// A replicated bucket reports a revision conflict as err_code
		// 10164, which matches ErrKeyRevisionMismatch but not ErrKeyExists.
		conflict := errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
		if conflict && cur != nil && !cur.Down && rev <= l.rev {
			// Refused on the revision the lease still shows as this
			// holder's: a write to it is in flight, such as this holder's
			// renewal whose answer came too late, stored but not yet
			// applied where it is read. The next read says whose it is.
			return fmt.Errorf("cluster: renew the lease (%v): it still shows revision %d, with a write to it in flight (%w)", err, rev, errLagging)
		}
		if conflict || errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("%w: %v", ErrLeaseLost, err)
		}
		return fmt.Errorf("cluster: renew the lease: %w", err)
	}
	l.rev = r
	return nil
}

// release gives the lease up at a clean shutdown, marked Down: standbys
// stop, and the next `cluster up` takes it at once.
func (l *lease) release(ctx context.Context) {
	v := l.me
	v.Down = true
	b, _ := json.Marshal(v)
	rev := l.rev
	for {
		if _, err := l.kv.Update(ctx, leaseKey, b, rev); err == nil {
			return
		}
		// A renewal cut short at shutdown may have been stored without its
		// answer: the lease is then at a newer revision of this holder's
		// own, and `down` waited for a release that never came.
		cur, r, err := currentLeader(ctx, l.kv)
		if err == nil && (cur == nil || cur.Holder != l.me.Holder || cur.Epoch != l.me.Epoch) {
			return // another coordinator leads now: not ours to mark
		}
		if err == nil {
			rev = r
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(leasePoll / 4):
		}
	}
}

// errLeaderLive: the lease a coordinator would take only from a holder that
// is gone moved: its holder renewed it, or another coordinator took it.
var errLeaderLive = errors.New("its lease was renewed: it is alive")

// takeStale takes the lease, seen at revision rev, only from a holder that
// is gone (a coordinator that is no standby): once the revision stood still
// for leaseTTL, or at once if the holder gave it up or nobody holds it. As
// soon as the revision moves it fails with errLeaderLive. It waits on the
// lease, not on a deadline: one of the TTL plus two polls ran out on a
// loaded machine while NATS stored the write.
func (l *lease) takeStale(ctx context.Context, rev uint64) error {
	seenAt := time.Now()
	tk := time.NewTicker(leasePoll)
	defer tk.Stop()
	for {
		cur, r, err := currentLeader(ctx, l.kv)
		if err != nil && (!natsTransient(err) || ctx.Err() != nil) {
			return err
		}
		switch {
		case err != nil:
			// NATS does not answer for now: ask again at the next tick.
		case r == 0 || (cur != nil && cur.Down):
			return l.acquire(ctx, false, false, nil) // nobody holds it: taken at once
		case r != rev && cur != nil && cur.Holder == l.me.Holder:
			return l.won(ctx, r, cur.Since) // this one's write, whose answer was lost
		case r != rev:
			return errLeaderLive
		case time.Since(seenAt) >= leaseTTL:
			now := time.Now()
			actx, stop := attemptContext(ctx, jsAttempt)
			nr, err := l.kv.Update(actx, leaseKey, l.value(0, now), rev)
			stop()
			if err == nil {
				return l.won(ctx, nr, now)
			}
			// Another write came first, or this one's answer was lost:
			// the next read tells which.
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for the lease to go stale: %w", ctx.Err())
		case <-tk.C:
		}
	}
}
