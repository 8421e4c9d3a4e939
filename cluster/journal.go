package cluster

// The cluster's effect journal: a scheduler.Journal on NATS JetStream, so
// that effects stay exactly-once across a rollback even when the worker
// that ran a call died and another one re-executes the tasklet. Every
// worker records the results of its calls in one KV bucket (journalBucket)
// that the coordinator creates next to the checkpoints, one key per call
// ("<tasklet>.<step>.<case>", the scheduler.EffectKey), the value in the
// format of store's bbolt journal (store.EncodeJournalEntry: checksum
// bound to the key, effect name, error text and pickled error, request,
// response). A result is made durable before the tasklet sees it; records
// that arrive while a batch is being written wait for the next one, which
// is published asynchronously and acknowledged with one wait for every ack
// (group commit). The bucket is bounded (Config.JournalBytes); a full bucket
// fails the call with ErrJournalFull. The leader trims it after each
// checkpoint (journal_trim.go).

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

const (
	journalBucket = DefaultName + "_journal" // the default cluster's; bucketNames(name).Journal
	// DefaultJournalBytes bounds the journal bucket when Config.JournalBytes is 0.
	DefaultJournalBytes = 256 << 20
	// MinJournalBytes is the smallest journal Start accepts: one result
	// may take a whole NATS message (the embedded server's max payload,
	// 1 MiB), and a smaller bucket would fail such a call every time.
	MinJournalBytes = 1 << 20
	// journalBatch is the most records one commit publishes.
	journalBatch = 1024
)

// Sentinel errors of the cluster's journal; test with errors.Is.
var (
	// ErrJournalFull is delivered to a tasklet whose effect ran but whose
	// result found the journal bucket full: checkpoint more often (each
	// checkpoint trims it), keep fewer generations, or raise
	// Config.JournalBytes (`cluster up --journal-bytes`).
	ErrJournalFull = errors.New("cluster: the effect journal is full")
	// ErrJournalClosed is returned by a journal used after Close.
	ErrJournalClosed = errors.New("cluster: the effect journal is closed")
)

// createJournal makes (or updates) the journal bucket: the coordinator's
// part, before any worker starts.
func createJournal(ctx context.Context, js jetstream.JetStream, bucket string, replicas int, maxBytes int64) (jetstream.KeyValue, error) {
	// Made and first read in bounded attempts, as the other buckets
	// (ensureKV, kvReady): a request a server drops (no stream assignment
	// yet, a leader being elected) gets no answer at all, and was waited
	// on for the caller's whole context.
	kv, err := ensureKV(ctx, js, jetstream.KeyValueConfig{Bucket: bucket, History: 1,
		Storage: jetstream.FileStorage, Replicas: replicas, MaxBytes: maxBytes,
		Description: "stackless cluster effect journal"})
	if err == nil {
		err = kvReady(ctx, kv)
	}
	if natsNoStorage(err) {
		return nil, fmt.Errorf("cluster: the effect journal bucket %s: %w: JetStream reserves the bucket's whole size, %d MiB, and its store has less room than that "+
			"(the server embedded in `cluster up` may use 75%% of the free disk of DIR/nats); free disk space, give a smaller --journal-bytes (Config.JournalBytes), "+
			"or turn the journal off with --journal=false", bucket, err, maxBytes>>20)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: the effect journal bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// jsErrNoStorage is JetStream's err_code for "insufficient storage
// resources available" (nats-server's JSStorageResourcesExceededErr).
const jsErrNoStorage jetstream.ErrorCode = 10047

// natsNoStorage reports whether err is JetStream refusing a stream or
// bucket for want of storage (err_code 10047: "insufficient storage
// resources available"), as on a small or full disk.
func natsNoStorage(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == jsErrNoStorage ||
		err != nil && strings.Contains(err.Error(), "insufficient storage resources")
}

// untilAnswered runs op in attempts of jsAttempt (withAttempt) while NATS
// does not answer for now (a replicated stream electing its leader), for
// at most jsOpTimeout.
func untilAnswered[T any](ctx context.Context, op func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, jsOpTimeout)
	defer cancel()
	v, err := withAttempt(ctx, jsAttempt, op)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("no answer within %v: %w", jsOpTimeout, err)
	}
	return v, err
}

// journalKey is the KV key of an effect key.
func journalKey(k scheduler.EffectKey) string {
	return strconv.FormatUint(uint64(k.Tasklet), 10) + "." + strconv.FormatUint(k.Step, 10) + "." + strconv.Itoa(k.Case)
}

// parseJournalKey reads a KV key of the journal (untrusted: from the
// bucket): three decimal numbers, the case a select's index.
func parseJournalKey(s string) (scheduler.EffectKey, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return scheduler.EffectKey{}, fmt.Errorf("journal key %q: want <tasklet>.<step>.<case>", s)
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil || p != strconv.FormatUint(v, 10) {
			return scheduler.EffectKey{}, fmt.Errorf("journal key %q: %q is not a decimal number", s, p)
		}
		n[i] = v
	}
	if n[0] == 0 || n[2] > 1<<16 {
		return scheduler.EffectKey{}, fmt.Errorf("journal key %q: no tasklet %d, case %d", s, n[0], n[2])
	}
	return scheduler.EffectKey{Tasklet: tasklet.ID(n[0]), Step: n[1], Case: int(n[2])}, nil
}

// sealKey is what an entry's checksum is bound to: store's format takes an
// 8-byte storage key, here the FNV-64a hash of the KV key, so an entry
// copied under another key fails its checksum.
func sealKey(k string) []byte {
	h := fnv.New64a()
	_, _ = h.Write([]byte(k))
	return h.Sum(nil)
}

// decodeJournalEntry decodes the entry stored under KV key k: the key
// must parse and match the effect key inside the (checksummed) entry.
func decodeJournalEntry(reg *pickle.Registry, k string, v []byte) (scheduler.EffectResult, scheduler.EffectKey, error) {
	want, err := parseJournalKey(k)
	if err != nil {
		return scheduler.EffectResult{}, want, err
	}
	res, got, err := store.DecodeJournalEntry(reg, sealKey(k), v)
	if err != nil {
		return res, want, err
	}
	if got != want {
		return scheduler.EffectResult{}, want, fmt.Errorf("the entry under %s is of effect key %v", k, got)
	}
	return res, want, nil
}

// natsJournal is a worker's handle on the journal bucket.
type natsJournal struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	reg    *pickle.Registry
	where  string
	bucket string
	subj   string // the bucket's subject prefix, "$KV.<bucket>."

	mu      sync.Mutex
	pending []natsRecord
	closed  bool
	kick    chan struct{}
	done    chan struct{}
	stats   JournalStats
}

// JournalStats counts a worker journal's work since it was opened.
type JournalStats struct {
	Records int // results made durable
	Commits int // batches (one wait for all their acks) that made them durable
	Hits    int // lookups answered from the journal
	Retries int // publishing rounds repeated because NATS was away
}

type natsRecord struct {
	key  string
	val  []byte
	err  error // encoding failed: reported to done, nothing written
	done func(error)
}

// openJournal binds to the journal bucket the coordinator made.
func openJournal(ctx context.Context, nc *nats.Conn, bucket string, reg *pickle.Registry, where string) (*natsJournal, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*journalBatch))
	if err != nil {
		return nil, fmt.Errorf("cluster: JetStream on %s: %w", where, err)
	}
	kv, err := untilAnswered(ctx, func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, bucket) })
	if err != nil {
		return nil, fmt.Errorf("cluster: the effect journal bucket %s on %s (made by the coordinator; is it running with the journal on?): %w",
			bucket, where, err)
	}
	j := &natsJournal{js: js, kv: kv, reg: reg, where: where, bucket: bucket, subj: kvSubject(bucket), kick: make(chan struct{}, 1), done: make(chan struct{})}
	go j.committer()
	return j, nil
}

// Lookup returns the journaled result of key. A damaged entry is an error:
// the scheduler then does not run the call (it cannot know whether it ran).
func (j *natsJournal) Lookup(key scheduler.EffectKey) (scheduler.EffectResult, bool, error) {
	k := journalKey(key)
	var e jetstream.KeyValueEntry
	var err error
	// NATS away (a coordinator being replaced moves the embedded server):
	// the call waits, as its record would.
	for deadline := time.Now().Add(journalRetry); ; {
		ctx, cancel := context.WithTimeout(context.Background(), journalAckWait)
		e, err = j.kv.Get(ctx, k)
		cancel()
		if !retryable(err) || time.Now().After(deadline) || j.isClosed() {
			break
		}
		time.Sleep(journalRetryWait) // a pause between tries, not a wait for an event
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return scheduler.EffectResult{}, false, nil
	}
	if err != nil {
		return scheduler.EffectResult{}, false, fmt.Errorf("cluster: read the effect journal on %s (key %s): %w", j.where, k, err)
	}
	res, _, err := decodeJournalEntry(j.reg, k, e.Value())
	if err != nil {
		return scheduler.EffectResult{}, false, fmt.Errorf("cluster: the effect journal entry %s on %s is damaged: %w; purge it (`nats kv del %s %s`) only if the effect may run again",
			k, j.where, err, journalBucket, k)
	}
	j.mu.Lock()
	j.stats.Hits++
	j.mu.Unlock()
	return res, true, nil
}

// Record queues the result of key for the next group commit and calls
// done once the server acknowledged it (or with what kept it from there).
func (j *natsJournal) Record(key scheduler.EffectKey, res scheduler.EffectResult, done func(error)) {
	k := journalKey(key)
	v, err := store.EncodeJournalEntry(j.reg, sealKey(k), key, res)
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		done(fmt.Errorf("record effect %v: %w", key, ErrJournalClosed))
		return
	}
	j.pending = append(j.pending, natsRecord{key: k, val: v, err: err, done: done})
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// committer publishes what is pending, one batch per round.
func (j *natsJournal) committer() {
	defer close(j.done)
	var batch []natsRecord
	for range j.kick {
		for {
			j.mu.Lock()
			n := min(len(j.pending), journalBatch)
			batch = append(batch[:0], j.pending[:n]...)
			j.pending = append(j.pending[:0], j.pending[n:]...)
			more, closed := len(j.pending) > 0, j.closed
			j.mu.Unlock()
			if len(batch) > 0 {
				j.commit(batch)
				clear(batch)
			}
			if !more {
				if closed {
					return
				}
				break
			}
		}
	}
}

// commit publishes a batch without waiting, then waits once for all the
// acks, and only then tells every caller. Records that found NATS away (a
// coordinator being replaced moves the embedded server) are published
// again until journalRetry has passed: their tasklets wait meanwhile.
func (j *natsJournal) commit(batch []natsRecord) {
	errs := make([]error, len(batch))
	todo := make([]int, 0, len(batch))
	for i, r := range batch {
		if r.err != nil {
			errs[i] = fmt.Errorf("cluster: effect journal: the result cannot be encoded: %w", r.err)
			continue
		}
		todo = append(todo, i)
	}
	ok := 0
	deadline := time.Now().Add(journalRetry)
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt > 0 {
			j.mu.Lock()
			j.stats.Retries++
			j.mu.Unlock()
			time.Sleep(journalRetryWait) // a pause between publishing rounds, not a wait for an event
		}
		futs := make([]jetstream.PubAckFuture, len(todo))
		for n, i := range todo {
			futs[n], errs[i] = j.js.PublishAsync(j.subj+batch[i].key, batch[i].val)
		}
		wait, cancel := context.WithTimeout(context.Background(), journalAckWait)
		var again []int
		for n, i := range todo {
			if f := futs[n]; f != nil {
				select {
				case <-f.Ok():
					ok++
					continue
				case err := <-f.Err():
					// A full store answers 503 too, like a leader election,
					// but stays full: noRoom makes it final, not retried.
					errs[i] = noRoom(err)
				case <-wait.Done():
					errs[i] = fmt.Errorf("no acknowledgement within %v: %w", journalAckWait, nats.ErrTimeout)
				}
			}
			if retryable(errs[i]) && time.Now().Before(deadline) && !j.isClosed() {
				again = append(again, i)
			}
		}
		cancel()
		todo = again
	}
	j.mu.Lock()
	j.stats.Records += ok
	j.stats.Commits++
	j.mu.Unlock()
	for i, r := range batch {
		err := errs[i]
		if err != nil && r.err == nil {
			err = j.writeError(r.key, err)
		}
		r.done(err)
	}
}

// How long a record is retried while NATS is away, and the pauses
// (variables for the tests).
var (
	journalRetry     = 2 * time.Minute
	journalRetryWait = 250 * time.Millisecond
	journalAckWait   = 5 * time.Second
)

// retryable reports whether a failed publish may succeed later.
func retryable(err error) bool {
	return err != nil && (natsTransient(err) || errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrNoServers) ||
		errors.Is(err, jetstream.ErrTooManyStalledMsgs))
}

func (j *natsJournal) isClosed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.closed
}

// writeError says why a record did not reach the bucket.
func (j *natsJournal) writeError(key string, err error) error {
	if natsFull(err) {
		return fmt.Errorf("%w: bucket %s on %s, entry %s (%v): checkpoint more often (each checkpoint trims it), keep fewer generations, or raise `cluster up --journal-bytes`",
			ErrJournalFull, j.bucket, j.where, key, err)
	}
	return fmt.Errorf("cluster: effect journal bucket %s on %s, entry %s: %w", j.bucket, j.where, key, err)
}

// Close writes what is pending, then stops the journal; later records fail
// with ErrJournalClosed. It does not close the NATS connection.
func (j *natsJournal) Close() {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	j.closed = true
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	<-j.done
}

// Stats returns the journal's counters.
func (j *natsJournal) Stats() JournalStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats
}

// kvSubject is the subject prefix of KV bucket's keys; kvStream its stream.
func kvSubject(bucket string) string { return "$KV." + bucket + "." }
func kvStream(bucket string) string  { return "KV_" + bucket }
