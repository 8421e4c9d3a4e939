package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// testJournal runs an embedded NATS server (listening nowhere), makes the
// journal bucket of at most maxBytes on it, and opens a worker's journal.
func testJournal(t testing.TB, maxBytes int64) (*natsJournal, *journalTrimmer) {
	t.Helper()
	return openTestJournal(t, embeddedConn(t), maxBytes)
}

func openTestJournal(t testing.TB, nc *nats.Conn, maxBytes int64) (*natsJournal, *journalTrimmer) {
	t.Helper()
	gs, err := openGenStore(t.Context(), nc, 0, "the test store")
	require.NoError(t, err)
	kv, err := createJournal(t.Context(), gs.js, journalBucket, 1, maxBytes)
	require.NoError(t, err)
	st, err := gs.js.Stream(t.Context(), kvStream(journalBucket))
	require.NoError(t, err)
	j, err := openJournal(t.Context(), nc, journalBucket, pickle.NewRegistry(), "the test server")
	require.NoError(t, err)
	t.Cleanup(j.Close)
	return j, &journalTrimmer{kv: kv, stream: st, subj: kvSubject(journalBucket), reg: pickle.NewRegistry()}
}

// record records res under key and waits for done.
func record(t testing.TB, j *natsJournal, key scheduler.EffectKey, res scheduler.EffectResult) error {
	t.Helper()
	done := make(chan error, 1)
	j.Record(key, res, func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		require.FailNow(t, "the journal did not report the record", "key %v", key)
		return nil
	}
}

func TestClusterJournalAnswersWhatItRecorded(t *testing.T) {
	j, _ := testJournal(t, DefaultJournalBytes)
	cases := []struct {
		key scheduler.EffectKey
		res scheduler.EffectResult
	}{
		{scheduler.EffectKey{Tasklet: 1<<tasklet.NodeBits | 5, Step: 9, Case: 0}, scheduler.EffectResult{Effect: "fetch", Req: "http://a/1", Resp: "page"}},
		{scheduler.EffectKey{Tasklet: 2<<tasklet.NodeBits | 1, Step: 3, Case: 2}, scheduler.EffectResult{Effect: "fetch", Req: "http://a/2", Err: "remote said no"}},
		{scheduler.EffectKey{Tasklet: 7, Step: 0, Case: 1}, scheduler.EffectResult{Effect: "count", Req: int64(4), Resp: int64(42)}},
	}
	for _, tc := range cases {
		require.NoError(t, record(t, j, tc.key, tc.res))
	}
	for _, tc := range cases {
		got, ok, err := j.Lookup(tc.key)
		require.NoError(t, err)
		assert.True(t, ok, "key %v", tc.key)
		assert.Equal(t, tc.res, got, "key %v", tc.key)
	}
	_, ok, err := j.Lookup(scheduler.EffectKey{Tasklet: 1<<tasklet.NodeBits | 5, Step: 10})
	require.NoError(t, err)
	assert.False(t, ok, "a call never recorded")

	// A newer result of a key replaces the older one (a re-executed
	// tasklet that asked otherwise at the same step).
	newer := scheduler.EffectResult{Effect: "fetch", Req: "http://a/other", Resp: "other page"}
	require.NoError(t, record(t, j, cases[0].key, newer))
	got, ok, err := j.Lookup(cases[0].key)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, newer, got)
	assert.Equal(t, 4, j.Stats().Hits, "lookups answered from the journal")
}

func TestClusterJournalGroupCommits(t *testing.T) {
	j, _ := testJournal(t, DefaultJournalBytes)
	const n = 500
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			j.Record(scheduler.EffectKey{Tasklet: tasklet.ID(i + 1), Step: 1}, scheduler.EffectResult{Effect: "fetch", Req: i, Resp: "x"}, func(err error) {
				if err != nil {
					failed.Add(1)
				}
				wg.Done()
			})
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	st := j.Stats()
	assert.Equal(t, n, st.Records)
	assert.Less(t, st.Commits, n/2, "records that arrive together share a commit: %+v", st)
}

// failer is a tasklet whose one effect call fails: it keeps the error.
type failer struct {
	Asked bool
	Err   string
	Is    bool
}

func (f *failer) Step(t *tasklet.T) tasklet.Op {
	if !f.Asked {
		f.Asked = true
		return t.Do("refuse", "req")
	}
	if err := t.Err(); err != nil {
		f.Err, f.Is = err.Error(), errors.Is(err, scheduler.ErrEffectFailed)
	}
	return t.Exit()
}

// A journaled error reads as the live one did, and is ErrEffectFailed.
func TestClusterJournalReplaysAnErrorAsTheLiveCallSawIt(t *testing.T) {
	j, _ := testJournal(t, DefaultJournalBytes)
	var calls atomic.Int32
	fx := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(fx, "refuse", func(context.Context, scheduler.EffectKey, string) (string, error) {
		calls.Add(1)
		return "", errors.New("the remote refused")
	}))
	run := func() *failer {
		s := scheduler.New(scheduler.WithNode(3), scheduler.WithEffects(fx, scheduler.EffectConfig{Journal: j}))
		f := &failer{}
		s.Spawn(f)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, s.Run(ctx))
		return f
	}
	live := run()
	again := run() // the same tasklet ID asks at the same step: answered from the journal
	assert.EqualValues(t, 1, calls.Load(), "the second run did not call the effect")
	assert.True(t, live.Is, "the live error is ErrEffectFailed: %s", live.Err)
	assert.True(t, again.Is, "the replayed error is ErrEffectFailed: %s", again.Err)
	assert.Contains(t, live.Err, "the remote refused")
	assert.Equal(t, live.Err, again.Err, "the replayed error reads as the live one")
}

func TestClusterJournalFullSaysSo(t *testing.T) {
	j, _ := testJournal(t, 4096)
	var err error
	for i := 1; i < 1000 && err == nil; i++ {
		err = record(t, j, scheduler.EffectKey{Tasklet: tasklet.ID(i), Step: 1}, scheduler.EffectResult{Effect: "fetch", Req: i, Resp: fmt.Sprintf("%0200d", i)})
	}
	require.Error(t, err, "a bucket of 4 KiB fills up")
	assert.ErrorIs(t, err, ErrJournalFull)
	assert.Contains(t, err.Error(), journalBucket, "names the bucket")
	assert.Contains(t, err.Error(), "--journal-bytes", "says what to do")
}

// A journal too small for one result is refused at Start, before anything
// starts: it failed every call at run time.
func TestStartRefusesAJournalTooSmallForOneResult(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(t.Context(), Config{Dir: dir, Workers: 1, JournalBytes: MinJournalBytes - 1})
	require.Error(t, err)
	assert.ErrorContains(t, err, "--journal-bytes")
	assert.ErrorContains(t, err, "--journal=false", "says the other way out")
	assert.NoDirExists(t, dir+"/nats", "nothing started")
}

func TestGenSummaryPassed(t *testing.T) {
	n1 := tasklet.ID(1 << tasklet.NodeBits)
	g := &genSummary{gen: 4, steps: map[tasklet.ID]uint64{n1 | 1: 10}, next: map[uint16]uint64{1: 5}}
	for _, tc := range []struct {
		name string
		key  scheduler.EffectKey
		want bool
	}{
		{"live tasklet, call before its step", scheduler.EffectKey{Tasklet: n1 | 1, Step: 9}, true},
		{"live tasklet, call at its step (waiting on it)", scheduler.EffectKey{Tasklet: n1 | 1, Step: 10}, false},
		{"live tasklet, call after", scheduler.EffectKey{Tasklet: n1 | 1, Step: 11}, false},
		{"ended tasklet", scheduler.EffectKey{Tasklet: n1 | 3, Step: 100}, true},
		{"not created yet", scheduler.EffectKey{Tasklet: n1 | 6, Step: 0}, false},
		{"of a node the generation does not know", scheduler.EffectKey{Tasklet: 2<<tasklet.NodeBits | 1, Step: 0}, false},
	} {
		assert.Equal(t, tc.want, g.passed(tc.key), tc.name)
	}
}

func TestJournalTrimKeepsWhatAKeptGenerationNeeds(t *testing.T) {
	j, tr := testJournal(t, DefaultJournalBytes)
	n1 := tasklet.ID(1 << tasklet.NodeBits)
	keys := map[scheduler.EffectKey]bool{ // key: kept
		{Tasklet: n1 | 1, Step: 2}:  false,
		{Tasklet: n1 | 1, Step: 10}: true,
		{Tasklet: n1 | 2, Step: 7}:  false, // ended
		{Tasklet: n1 | 9, Step: 1}:  true,  // created after the generation
	}
	for k := range keys {
		require.NoError(t, record(t, j, k, scheduler.EffectResult{Effect: "fetch", Req: "r", Resp: "p"}))
	}
	// A key no lookup can reach goes too.
	_, err := tr.kv.Put(t.Context(), "not.a.key.at.all", []byte("x"))
	require.NoError(t, err)
	tr.oldest = &genSummary{gen: 7, steps: map[tasklet.ID]uint64{n1 | 1: 10}, next: map[uint16]uint64{1: 5}}
	deleted, kept, err := tr.trim(t.Context(), 7, func(context.Context, uint64) (*clusterSnapshot, error) {
		return nil, errors.New("the cached summary serves")
	})
	require.NoError(t, err)
	assert.Equal(t, 3, deleted)
	assert.Equal(t, 2, kept)
	for k, want := range keys {
		_, ok, err := j.Lookup(k)
		require.NoError(t, err)
		assert.Equal(t, want, ok, "key %v", k)
	}
	st, err := tr.kv.Status(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 2, st.Values(), "purged, not marked deleted: nothing is left of the trimmed entries")

	_, _, err = tr.trim(t.Context(), 8, func(context.Context, uint64) (*clusterSnapshot, error) {
		return nil, errors.New("generation 8 cannot be read")
	})
	assert.ErrorContains(t, err, "generation 8 cannot be read", "a summary that cannot be made trims nothing")
	require.NoError(t, tr.forget(t.Context()))
	st, err = tr.kv.Status(t.Context())
	require.NoError(t, err)
	assert.Zero(t, st.Values(), "a fresh start empties the journal")

	// An empty journal (no tasklet calls effects) is trimmed without
	// reading the generation: it was fetched and decoded whole after
	// every checkpoint, a million behaviors at a time.
	deleted, kept, err = tr.trim(t.Context(), 9, func(context.Context, uint64) (*clusterSnapshot, error) {
		return nil, errors.New("generation 9 was read")
	})
	require.NoError(t, err)
	assert.Zero(t, deleted+kept)
}

func TestDialWorkerNATS(t *testing.T) {
	nc, err := dialWorkerNATS(&WorkerConfig{Join: "10.0.0.1:7070"})
	require.NoError(t, err)
	assert.Nil(t, nc, "a --join worker without --nats has no NATS server")

	// A local worker follows the coordinator's embedded server when a new
	// coordinator runs it on another port (adoption).
	l := dirLayout{t.TempDir()}
	e, err := startNATS(l, true)
	require.NoError(t, err)
	nc, err = dialWorkerNATS(&WorkerConfig{Dir: l.Dir, Node: 1})
	require.NoError(t, err)
	defer nc.Close()
	back := make(chan struct{}, 1)
	nc.SetReconnectHandler(func(*nats.Conn) { back <- struct{}{} })
	first := nc.ConnectedUrl()
	e.close()
	e, err = startNATS(l, true)
	require.NoError(t, err)
	defer e.close()
	select {
	case <-back:
	case <-time.After(time.Minute):
		require.FailNow(t, "the worker's connection did not follow the new server")
	}
	assert.NotEqual(t, first, e.url, "the new server listens elsewhere")
	require.NoError(t, nc.Flush())
}

// A worker's journal waits out its coordinator's replacement: the embedded
// server goes away and comes back on another port (a new coordinator on
// the same DIR), and a record made meanwhile is made durable, not failed.
func TestClusterJournalWaitsOutAMovedServer(t *testing.T) {
	for _, long := range []bool{false, true} {
		t.Run(fmt.Sprintf("outage longer than an ack wait: %v", long), func(t *testing.T) { waitsOutAMovedServer(t, long) })
	}
}

func waitsOutAMovedServer(t *testing.T, long bool) {
	if long { // the publish's ack wait ends while the server is away: published again
		defer func(w, r time.Duration) { journalAckWait, journalRetryWait = w, r }(journalAckWait, journalRetryWait)
		journalAckWait, journalRetryWait = 100*time.Millisecond, 10*time.Millisecond
	}
	l := dirLayout{t.TempDir()}
	e, err := startNATS(l, true)
	require.NoError(t, err)
	cnc, err := e.connect("coordinator")
	require.NoError(t, err)
	gs, err := openGenStore(t.Context(), cnc, 0, "test")
	require.NoError(t, err)
	_, err = createJournal(t.Context(), gs.js, journalBucket, 1, DefaultJournalBytes)
	require.NoError(t, err)
	cnc.Close()
	nc, err := dialWorkerNATS(&WorkerConfig{Dir: l.Dir, Node: 1})
	require.NoError(t, err)
	defer nc.Close()
	j, err := openJournal(t.Context(), nc, journalBucket, pickle.NewRegistry(), "test")
	require.NoError(t, err)
	defer j.Close()

	e.close() // the coordinator dies
	key := scheduler.EffectKey{Tasklet: 1<<tasklet.NodeBits | 1, Step: 4}
	res := scheduler.EffectResult{Effect: "fetch", Req: "u", Resp: "page"}
	done := make(chan error, 1)
	j.Record(key, res, func(err error) { done <- err })
	if long {
		tk := time.NewTicker(10 * time.Millisecond)
		for j.Stats().Retries < 2 {
			select {
			case <-tk.C:
			case err := <-done:
				require.FailNow(t, "the record ended while the server was away", "%v", err)
			}
		}
		tk.Stop()
	}
	e, err = startNATS(l, true) // its successor, on another port
	require.NoError(t, err)
	defer e.close()
	select {
	case err := <-done:
		require.NoError(t, err, "the record waited for the new server")
	case <-time.After(time.Minute):
		require.FailNow(t, "the record was never made durable")
	}
	got, ok, err := j.Lookup(key)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, res, got)
}

// `cluster up` on a disk with less than about 341 MiB free failed with
// NATS's words only ("insufficient storage resources available"): the
// journal bucket reserves its whole --journal-bytes.
func TestJournalThatDoesNotFitSaysWhatToDo(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(), JetStreamMaxStore: 8 << 20}) // a small disk
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	require.True(t, srv.ReadyForConnections(20*time.Second))
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	_, err = createJournal(ctx, js, "t_journal", 1, DefaultJournalBytes)
	require.Error(t, err)
	assert.True(t, natsNoStorage(err))
	assert.ErrorContains(t, err, "reserves the bucket's whole size, 256 MiB")
	assert.ErrorContains(t, err, "give a smaller --journal-bytes")
	_, err = createJournal(ctx, js, "t_journal", 1, 4<<20)
	assert.NoError(t, err, "a journal that fits")
	assert.False(t, natsNoStorage(&jetstream.APIError{Code: 503, ErrorCode: 10008}))
	assert.False(t, natsNoStorage(nil))
}

// stepper yields until it has run N steps in all, then exits.
type stepper struct{ N int }

func (s *stepper) Step(t *tasklet.T) tasklet.Op {
	if s.N++; s.N >= 6 {
		return t.Exit()
	}
	return t.Yield()
}

// The trim's summary of a generation reads each tasklet's ID and steps at
// the head of its record; it decoded every world whole, every behavior
// after every checkpoint. It must say what LoadWorld says.
func TestSummarizeAgreesWithLoadWorld(t *testing.T) {
	reg := pickle.NewRegistry()
	require.NoError(t, reg.Register("test.stepper", 1, &stepper{}))
	var worlds []storedWorld
	for node := uint16(1); node <= 2; node++ {
		s := scheduler.New(scheduler.WithNode(node))
		for i := range 40 {
			s.Spawn(&stepper{N: i % 5}) // some end before the snapshot
		}
		_, err := s.RunBudget(t.Context(), 100, scheduler.Total|scheduler.Soft)
		require.NoError(t, err)
		blob, err := reg.DumpWorld(s.World())
		require.NoError(t, err)
		worlds = append(worlds, storedWorld{Node: node, Hosts: []uint16{node}, Blob: blob})
	}
	worlds = append(worlds, storedWorld{Node: 3, Hosts: []uint16{3}}) // a worker that held no world
	g, err := summarize(reg, &clusterSnapshot{Gen: 4, Worlds: worlds})
	require.NoError(t, err)
	live := 0
	for _, w := range worlds[:2] {
		world, err := reg.LoadWorld(w.Blob)
		require.NoError(t, err)
		assert.Equal(t, world.NextTasklet, g.next[world.Node], "node %d", world.Node)
		for _, ts := range world.Tasklets {
			assert.Equal(t, ts.Steps, g.steps[ts.ID], "tasklet %v", ts.ID)
		}
		live += len(world.Tasklets)
	}
	assert.Len(t, g.steps, live)
	assert.Positive(t, live)
	assert.Less(t, live, 80, "some tasklets ended")

	cut := worlds[0]
	cut.Blob = cut.Blob[:len(cut.Blob)/2]
	_, err = summarize(reg, &clusterSnapshot{Gen: 5, Worlds: []storedWorld{cut}})
	assert.ErrorContains(t, err, "the world of node 1 in generation 5")
}

// BenchmarkJournalSummary: op = the trim's summary of one world of
// 100,000 tasklets.
func BenchmarkJournalSummary(b *testing.B) {
	reg := pickle.NewRegistry()
	require.NoError(b, reg.Register("test.stepper", 1, &stepper{}))
	s := scheduler.New(scheduler.WithNode(1))
	for range 100_000 {
		s.Spawn(&stepper{})
	}
	blob, err := reg.DumpWorld(s.World())
	require.NoError(b, err)
	snap := &clusterSnapshot{Gen: 1, Worlds: []storedWorld{{Node: 1, Hosts: []uint16{1}, Blob: blob}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := summarize(reg, snap); err != nil {
			b.Fatal(err)
		}
	}
}
