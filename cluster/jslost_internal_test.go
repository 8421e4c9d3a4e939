package cluster

// Requests a NATS server drops get no answer at all (nats-server answers
// nothing to a JetStream API request for a stream it has no assignment
// of yet, or while the stream elects a leader). Each test here gives one
// path a fake bucket whose first request of one kind is never answered,
// and checks the path asks again after an attempt instead of waiting on
// its caller's whole context.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lostOnce holds the first request of each named kind until its context
// ends, as a request no server answers.
type lostOnce struct {
	mu    sync.Mutex
	lose  map[string]int // by kind, the number of the request lost (1: the first)
	calls map[string]int
}

func newLostOnce(kinds ...string) *lostOnce {
	l := &lostOnce{lose: map[string]int{}, calls: map[string]int{}}
	for _, k := range kinds {
		l.lose[k] = 1
	}
	return l
}

// loseNext makes the next request of kind a lost one.
func (l *lostOnce) loseNext(kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lose[kind] = l.calls[kind] + 1
}

// call counts a request of kind and reports whether it was lost (it
// returned once ctx ended); before runs first when it is lost (a write
// stored whose answer is lost).
func (l *lostOnce) call(ctx context.Context, kind string, before func()) error {
	if ctx.Err() != nil {
		return ctx.Err() // as nats.go: a request is not sent on a context that ended
	}
	l.mu.Lock()
	l.calls[kind]++
	lost := l.lose[kind] == l.calls[kind]
	l.mu.Unlock()
	if !lost {
		return nil
	}
	if before != nil {
		before()
	}
	<-ctx.Done()
	return ctx.Err()
}

func (l *lostOnce) count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[kind]
}

// memKV is an in-memory bucket (one revision counter) whose first request
// of each kind in lost is never answered.
type memKV struct {
	jetstream.KeyValue
	*lostOnce
	storeLost bool // a lost write is stored (only its answer is lost)

	mu   sync.Mutex
	rev  uint64
	vals map[string]memEntry
}

type memEntry struct {
	val []byte
	rev uint64
}

func newMemKV(lost ...string) *memKV {
	return &memKV{lostOnce: newLostOnce(lost...), vals: map[string]memEntry{}}
}

func (k *memKV) Bucket() string { return "test" }

func (k *memKV) set(key string, val []byte) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rev++
	k.vals[key] = memEntry{val: val, rev: k.rev}
	return k.rev
}

func (k *memKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if err := k.call(ctx, "get", nil); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.vals[key]
	if !ok {
		return nil, jetstream.ErrKeyNotFound
	}
	return leaderEntry{bucket: "test", key: key, value: e.val, rev: e.rev}, nil
}

func (k *memKV) Put(ctx context.Context, key string, val []byte) (uint64, error) {
	if err := k.call(ctx, "put", k.lostWrite(key, val)); err != nil {
		return 0, err
	}
	return k.set(key, val), nil
}

func (k *memKV) Create(ctx context.Context, key string, val []byte, _ ...jetstream.KVCreateOpt) (uint64, error) {
	return k.write(ctx, "create", key, val, 0)
}

func (k *memKV) Update(ctx context.Context, key string, val []byte, rev uint64) (uint64, error) {
	return k.write(ctx, "update", key, val, rev)
}

// write stores val under key if key is at revision rev (0: none).
func (k *memKV) write(ctx context.Context, kind, key string, val []byte, rev uint64) (uint64, error) {
	var stored func()
	k.mu.Lock()
	if e := k.vals[key]; e.rev == rev {
		stored = k.lostWrite(key, val)
	}
	k.mu.Unlock()
	if err := k.call(ctx, kind, stored); err != nil {
		return 0, err
	}
	k.mu.Lock()
	e := k.vals[key]
	k.mu.Unlock()
	if e.rev != rev {
		return 0, jetstream.ErrKeyExists // wrong last sequence
	}
	return k.set(key, val), nil
}

func (k *memKV) Purge(ctx context.Context, key string, _ ...jetstream.KVDeleteOpt) error {
	if err := k.call(ctx, "purge", nil); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.vals, key)
	return nil
}

func (k *memKV) ListKeysFiltered(ctx context.Context, filters ...string) (jetstream.KeyLister, error) {
	if err := k.call(ctx, "list", nil); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	ch := make(chan string, len(k.vals))
	for key := range k.vals {
		for _, f := range filters {
			if strings.HasPrefix(key, strings.TrimSuffix(f, ">")) {
				ch <- key
				break
			}
		}
	}
	close(ch)
	return keyList(ch), nil
}

func (k *memKV) Watch(ctx context.Context, key string, _ ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	if err := k.call(ctx, "watch", nil); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	w := &memWatch{ctx: ctx, updates: make(chan jetstream.KeyValueEntry, 2)}
	if e, ok := k.vals[key]; ok {
		w.updates <- leaderEntry{bucket: "test", key: key, value: e.val, rev: e.rev}
	}
	w.updates <- nil
	return w, nil
}

// lostWrite is the write a lost request stores, when storeLost.
func (k *memKV) lostWrite(key string, val []byte) func() {
	if !k.storeLost {
		return nil
	}
	return func() { k.set(key, val) }
}

type keyList chan string

func (l keyList) Keys() <-chan string { return l }
func (l keyList) Stop() error         { return nil }

type memWatch struct {
	ctx     context.Context // the watch's: it lives as long as this
	updates chan jetstream.KeyValueEntry
}

func (w *memWatch) Updates() <-chan jetstream.KeyValueEntry { return w.updates }
func (w *memWatch) Stop() error                             { return nil }

// shortAttempts makes every attempt short for the test.
func shortAttempts(t *testing.T) {
	js, create := jsAttempt, createAttempt
	t.Cleanup(func() { jsAttempt, createAttempt = js, create })
	jsAttempt, createAttempt = 50*time.Millisecond, 50*time.Millisecond
}

// TestLeaseWonWritesItsEpochAfterALostUpdate: the first write of the
// epoch into a lease just taken gets no answer. It is made again, whether
// the lost write was stored (seen as this holder's own) or not, rather
// than holding a coordinator's Start for its whole context.
func TestLeaseWonWritesItsEpochAfterALostUpdate(t *testing.T) {
	for _, stored := range []bool{false, true} {
		t.Run(map[bool]string{false: "not stored", true: "stored"}[stored], func(t *testing.T) {
			shortAttempts(t)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			kv := newMemKV("update")
			kv.storeLost = stored
			l := newLease(kv)
			require.NoError(t, l.acquire(ctx, false, false, nil))
			cur, rev, err := currentLeader(ctx, kv)
			require.NoError(t, err)
			require.NotNil(t, cur)
			assert.Equal(t, l.me.Holder, cur.Holder)
			assert.Equal(t, uint64(1), cur.Epoch, "the epoch is the revision the lease was taken at")
			assert.Equal(t, rev, l.rev, "the holder knows the lease's revision, to renew it")
			assert.Equal(t, 2, kv.count("update"), "the lost write is made again")
			assert.NoError(t, ctx.Err(), "acquire returned before the caller's context ended")
		})
	}
}

// TestLeaseRenewalUnreadIsNotALostLease: a renewal stored whose answer
// was lost moves the lease; the next renewal then fails on the revision,
// and the read that tells whose write it was got no answer either. The
// lease is not known lost: renew says so (an error NATS may heal) rather
// than ErrLeaseLost, which deposed a leader that still held its lease;
// the next renewal finds its own write.
func TestLeaseRenewalUnreadIsNotALostLease(t *testing.T) {
	shortAttempts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	kv := newMemKV()
	l := newLease(kv)
	require.NoError(t, l.acquire(ctx, false, false, nil))
	_, err := kv.Update(ctx, leaseKey, l.value(l.me.Epoch, l.me.Since), l.rev) // the renewal whose answer was lost
	require.NoError(t, err)
	kv.loseNext("get")
	actx, stop := attemptContext(ctx, jsAttempt)
	err = l.renew(actx)
	stop()
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrLeaseLost, "nothing said another coordinator took it")
	assert.True(t, natsTransient(err), "an error NATS may heal: %v", err)
	require.NoError(t, l.renew(ctx), "the next renewal finds the lease at this holder's own write")
	cur, rev, err := currentLeader(ctx, kv)
	require.NoError(t, err)
	assert.Equal(t, l.me.Holder, cur.Holder)
	assert.Equal(t, rev, l.rev)
}

// inflightKV is a replicated lease bucket whose first Update is stored
// late: its answer is lost, the next Update is refused on the revision
// (err_code 10164) while the lease still reads as before, and the write
// shows at the read after that.
type inflightKV struct {
	*memKV
	mu      sync.Mutex
	updates int
	pending func() // the late write, applied after the next read
}

func (k *inflightKV) Update(ctx context.Context, key string, val []byte, rev uint64) (uint64, error) {
	k.mu.Lock()
	k.updates++
	n := k.updates
	if n == 1 {
		k.pending = func() { k.set(key, val) }
	}
	pending := k.pending != nil
	k.mu.Unlock()
	switch {
	case n == 1:
		<-ctx.Done()
		return 0, ctx.Err()
	case pending:
		return 0, fmt.Errorf("%w: %w", &jetstream.APIError{Code: 400, ErrorCode: 10164, Description: "wrong last sequence"}, jetstream.ErrKeyRevisionMismatch)
	}
	return k.memKV.Update(ctx, key, val, rev)
}

func (k *inflightKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	e, err := k.memKV.Get(ctx, key)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pending != nil && k.updates >= 2 {
		k.pending()
		k.pending = nil
	}
	return e, err
}

// TestLeaseWonWaitsOutItsOwnWriteInFlight: a coordinator's first write of
// its epoch timed out but was stored late, on a replicated bucket; the
// next write was refused on the revision (err_code 10164, which is no
// ErrKeyExists) while the lease still read as its Create. Its Start
// failed with "renew the lease: wrong last sequence" (CI, three NATS
// servers under load); it is a write in flight, read again until it
// shows as this holder's own.
func TestLeaseWonWaitsOutItsOwnWriteInFlight(t *testing.T) {
	shortAttempts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	kv := &inflightKV{memKV: newMemKV()}
	l := newLease(kv)
	require.NoError(t, l.acquire(ctx, false, false, nil))
	cur, rev, err := currentLeader(ctx, kv)
	require.NoError(t, err)
	assert.Equal(t, l.me.Holder, cur.Holder)
	assert.Equal(t, uint64(1), cur.Epoch, "the late write is the epoch's")
	assert.Equal(t, rev, l.rev)
}

// TestRegisterPutsAgainAfterALostPut: a worker's entry in the members
// bucket whose put got no answer is put again.
func TestRegisterPutsAgainAfterALostPut(t *testing.T) {
	shortAttempts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	kv := newMemKV("put")
	r := &registration{wn: &workerNATS{names: bucketNames("")}, key: memberPrefix + "a", cur: member{ID: "a", Node: 3, State: memberReady}, kv: kv}
	require.NoError(t, r.put(ctx))
	ms, err := listMembers(ctx, kv)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, uint16(3), ms[0].Node)
	assert.Equal(t, 2, kv.count("put"))
}

// TestListMembersListsAgainAfterALostListing: a leader adopting the
// workers of other machines lists them again when its listing, or a read
// of one entry, got no answer, rather than missing them (they were then
// rolled back instead of adopted).
func TestListMembersListsAgainAfterALostListing(t *testing.T) {
	shortAttempts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	kv := newMemKV("list", "get")
	for i, id := range []string{"a", "b"} {
		b, err := json.Marshal(member{ID: id, Node: uint16(i + 1), State: memberReady})
		require.NoError(t, err)
		kv.set(memberPrefix+id, b)
	}
	ms, err := listMembers(ctx, kv)
	require.NoError(t, err)
	assert.Len(t, ms, 2, "both workers are found")
	assert.Equal(t, 2, kv.count("list"))
	assert.NoError(t, ctx.Err())
}

// TestWaitDownWatchesAgainAfterALostWatch: `cluster down` over NATS
// watches the lease for the leader's release; a watch whose consumer was
// never made is made again, and the watch made lives on after its attempt.
func TestWaitDownWatchesAgainAfterALostWatch(t *testing.T) {
	shortAttempts(t)
	nc := embeddedConn(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	kv := newMemKV("watch")
	b, err := json.Marshal(Leader{Holder: "h:1", Epoch: 1, Down: true})
	require.NoError(t, err)
	kv.set(leaseKey, b)
	n := &natsCaller{nc: nc, names: bucketNames(""), lease: kv, where: "the test server"}
	require.NoError(t, n.waitDown(ctx))
	assert.Equal(t, 2, kv.count("watch"))
	assert.NoError(t, ctx.Err())
}

// TestWatchKVLivesAfterItsAttempt: the watch watchKV makes is not ended
// with the attempt that made it.
func TestWatchKVLivesAfterItsAttempt(t *testing.T) {
	shortAttempts(t)
	kv := newMemKV()
	w, err := watchKV(t.Context(), t.Context(), func(ctx context.Context) (jetstream.KeyWatcher, error) { return kv.Watch(ctx, leaseKey) })
	require.NoError(t, err)
	mw := w.(boundWatch).KeyWatcher.(*memWatch)
	require.Never(t, func() bool { return mw.ctx.Err() != nil }, 4*jsAttempt, jsAttempt/5, "the watch's context ended with its attempt")
	require.NoError(t, w.Stop())
	assert.Error(t, mw.ctx.Err(), "Stop releases the watch's context")
}

// lostJS makes buckets whose first making gets no answer.
type lostJS struct {
	jetstream.JetStream
	*lostOnce
	kv *memKV
}

func (j *lostJS) CreateOrUpdateKeyValue(ctx context.Context, _ jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if err := j.call(ctx, "create bucket", nil); err != nil {
		return nil, err
	}
	return j.kv, nil
}

// TestCreateJournalMakesAgainAfterALostCreate: the coordinator makes the
// journal bucket again when its first making got no answer, rather than
// failing its Start after jsOpTimeout.
func TestCreateJournalMakesAgainAfterALostCreate(t *testing.T) {
	shortAttempts(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	js := &lostJS{lostOnce: newLostOnce("create bucket"), kv: newMemKV("get")}
	kv, err := createJournal(ctx, js, "j", 1, 1<<20)
	require.NoError(t, err)
	assert.Same(t, js.kv, kv)
	assert.Equal(t, 2, js.count("create bucket"))
	assert.Equal(t, 2, js.kv.count("get"), "its first read, lost too, is made again")
}

// lostStream is a stream whose first purge gets no answer.
type lostStream struct {
	jetstream.Stream
	*lostOnce
}

func (s *lostStream) Purge(ctx context.Context, _ ...jetstream.StreamPurgeOpt) error {
	return s.call(ctx, "purge", nil)
}

// TestForgetJournalPurgesAgainAfterALostPurge: emptying the journal of a
// cluster that starts afresh purges again when the first purge got no
// answer, rather than holding Start for its whole context.
func TestForgetJournalPurgesAgainAfterALostPurge(t *testing.T) {
	shortAttempts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st := &lostStream{lostOnce: newLostOnce("purge")}
	require.NoError(t, (&journalTrimmer{stream: st}).forget(ctx))
	assert.Equal(t, 2, st.count("purge"))
	assert.NoError(t, ctx.Err())
}

// memObj is an Object Store of names only, whose first request of each
// kind in lost is never answered.
type memObj struct {
	jetstream.ObjectStore
	*lostOnce
	mu    sync.Mutex
	names map[string]bool
}

func (o *memObj) List(ctx context.Context, _ ...jetstream.ListObjectsOpt) ([]*jetstream.ObjectInfo, error) {
	if err := o.call(ctx, "list", nil); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*jetstream.ObjectInfo
	for n := range o.names {
		out = append(out, &jetstream.ObjectInfo{ObjectMeta: jetstream.ObjectMeta{Name: n}})
	}
	if len(out) == 0 {
		return nil, jetstream.ErrNoObjectsFound
	}
	return out, nil
}

func (o *memObj) Delete(ctx context.Context, name string) error {
	if err := o.call(ctx, "delete", nil); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.names[name] {
		return jetstream.ErrObjectNotFound
	}
	delete(o.names, name)
	return nil
}

// TestDeleteGenerationAsksAgainAfterLostRequests: deleting a generation
// (retention after a checkpoint, `checkpoint rm`) purges its manifest and
// deletes its objects again when a request got no answer, and a left-over
// object of a failed checkpoint is swept after a lost listing.
func TestDeleteGenerationAsksAgainAfterLostRequests(t *testing.T) {
	shortAttempts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	kv := newMemKV("purge")
	obj := &memObj{lostOnce: newLostOnce("list", "delete"), names: map[string]bool{objectName(1, 1): true, objectName(2, 1): true}}
	g := &genStore{kv: kv, obj: obj, names: bucketNames(""), where: "the test store"}
	kv.set(manifestKey(1), []byte("not a manifest: its objects are found by listing"))
	require.NoError(t, g.delete(ctx, 1))
	_, err := kv.Get(ctx, manifestKey(1))
	assert.ErrorIs(t, err, jetstream.ErrKeyNotFound, "the manifest is purged")
	assert.Equal(t, map[string]bool{objectName(2, 1): true}, obj.names, "the generation's object is deleted")
	assert.Equal(t, 2, kv.count("purge"))
	assert.Equal(t, 2, obj.count("list"))
	assert.Equal(t, 2, obj.count("delete"))
	assert.NoError(t, ctx.Err())
}
