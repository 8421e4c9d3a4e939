package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/store"
)

// openTestStore runs an embedded NATS server (listening nowhere) in a
// temporary cluster folder and opens the checkpoint buckets on it.
func openTestStore(t *testing.T, keep int) *genStore {
	t.Helper()
	gs, err := openGenStore(t.Context(), embeddedConn(t), keep, "the test store")
	require.NoError(t, err)
	return gs
}

// embeddedConn runs an embedded NATS server (listening nowhere) in a
// temporary cluster folder and connects to it, both closed at the end.
func embeddedConn(t testing.TB) *nats.Conn {
	t.Helper()
	e, err := startNATS(dirLayout{t.TempDir()}, false)
	require.NoError(t, err)
	nc, err := e.connect("test")
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close(); e.close() })
	return nc
}

// snapOf is a valid snapshot of n one-node worlds whose blobs name tag.
func snapOf(n int, tag string) *clusterSnapshot {
	s := &clusterSnapshot{Time: time.Now(), NextNode: uint16(n + 1)}
	for i := 1; i <= n; i++ {
		s.Worlds = append(s.Worlds, storedWorld{Node: uint16(i), Hosts: []uint16{uint16(i)}, Blob: fmt.Appendf(nil, "%s/w%d", tag, i)})
	}
	return s
}

// TestKeepRetention: only the newest keep generations stay, with their
// objects; older ones' objects are gone too.
func TestKeepRetention(t *testing.T) {
	gs := openTestStore(t, 3)
	ctx := t.Context()
	for i := range 6 {
		_, err := gs.save(ctx, snapOf(2, fmt.Sprint(i)))
		require.NoError(t, err)
	}
	gens, err := gs.gens(ctx)
	require.NoError(t, err)
	assert.Equal(t, []uint64{4, 5, 6}, gens)
	infos, err := gs.obj.List(ctx)
	require.NoError(t, err)
	var names []string
	for _, o := range infos {
		names = append(names, o.Name)
	}
	assert.ElementsMatch(t, []string{"g4/w1", "g4/w2", "g5/w1", "g5/w2", "g6/w1", "g6/w2"}, names)
}

// TestUncommittedGenerationIsInvisible: objects written without a manifest
// (a checkpoint that died half way) are no generation, and the next
// commit sweeps them.
func TestUncommittedGenerationIsInvisible(t *testing.T) {
	gs := openTestStore(t, 0)
	ctx := t.Context()
	_, err := gs.save(ctx, snapOf(1, "a"))
	require.NoError(t, err)
	half, err := gs.nextGen(ctx)
	require.NoError(t, err)
	_, err = gs.obj.PutBytes(ctx, objectName(half, 1), []byte("half"))
	require.NoError(t, err)

	s, err := gs.load(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), s.Gen, "the generation without a manifest is not the newest")
	_, err = gs.load(ctx, half)
	assert.ErrorIs(t, err, store.ErrNotFound)

	_, err = gs.save(ctx, snapOf(1, "b"))
	require.NoError(t, err)
	_, err = gs.obj.GetInfo(ctx, objectName(half, 1))
	assert.ErrorIs(t, err, jetstream.ErrObjectNotFound, "the next commit sweeps the orphan object")
}

// TestGenerationNumbersAreUnique: writers saving at once never share a
// generation number (compare-and-set on the counter).
func TestGenerationNumbersAreUnique(t *testing.T) {
	gs := openTestStore(t, 0)
	var wg sync.WaitGroup
	gens := make([]uint64, 8)
	for i := range gens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := gs.save(t.Context(), snapOf(1, fmt.Sprint(i)))
			assert.NoError(t, err)
			gens[i] = g
		}()
	}
	wg.Wait()
	assert.ElementsMatch(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8}, gens)
}

// TestDamagedGenerationNamedAndPreviousLoads: a changed object or a
// garbled manifest makes its generation fail with an error naming it,
// and loadNewest passes over it to the one before.
func TestDamagedGenerationNamedAndPreviousLoads(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, gs *genStore, gen uint64)
		want   string
	}{
		{"object changed", func(t *testing.T, gs *genStore, gen uint64) {
			_, err := gs.obj.PutBytes(t.Context(), objectName(gen, 2), []byte("other bytes"))
			require.NoError(t, err)
		}, "object g3/w2"},
		{"object missing", func(t *testing.T, gs *genStore, gen uint64) {
			require.NoError(t, gs.obj.Delete(t.Context(), objectName(gen, 1)))
		}, "object g3/w1"},
		{"manifest garbled", func(t *testing.T, gs *genStore, gen uint64) {
			_, err := gs.kv.Put(t.Context(), manifestKey(gen), []byte(`{"format":1,"kind":"stackless-cluster","gen":3`))
			require.NoError(t, err)
		}, "manifest"},
		{"manifest of another generation", func(t *testing.T, gs *genStore, gen uint64) {
			e, err := gs.kv.Get(t.Context(), manifestKey(gen-1))
			require.NoError(t, err)
			_, err = gs.kv.Put(t.Context(), manifestKey(gen), e.Value())
			require.NoError(t, err)
		}, "says generation 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs := openTestStore(t, 0)
			ctx := t.Context()
			for i := range 3 {
				_, err := gs.save(ctx, snapOf(2, fmt.Sprint(i)))
				require.NoError(t, err)
			}
			tc.damage(t, gs, 3)
			_, err := gs.load(ctx, 3)
			require.ErrorIs(t, err, ErrSnapshot)
			assert.ErrorContains(t, err, "generation 3")
			assert.ErrorContains(t, err, tc.want)

			var skipped []uint64
			s, err := gs.loadNewest(ctx, func(g uint64, why error) {
				skipped = append(skipped, g)
				assert.ErrorContains(t, why, "generation 3")
			})
			require.NoError(t, err)
			assert.Equal(t, uint64(2), s.Gen, "the generation before the damaged one loads")
			assert.Equal(t, []byte("1/w1"), s.Worlds[0].Blob)
			assert.Equal(t, []uint64{3}, skipped)
		})
	}
}

// TestNoGenerationLoads: with every generation damaged the error names
// the newest and says none loads.
func TestNoGenerationLoads(t *testing.T) {
	gs := openTestStore(t, 0)
	ctx := t.Context()
	for range 2 {
		_, err := gs.save(ctx, snapOf(1, "x"))
		require.NoError(t, err)
	}
	for g := uint64(1); g <= 2; g++ {
		_, err := gs.kv.Put(ctx, manifestKey(g), []byte("{}"))
		require.NoError(t, err)
	}
	_, err := gs.loadNewest(ctx, func(uint64, error) {})
	require.ErrorIs(t, err, ErrSnapshot)
	assert.ErrorContains(t, err, "generation 2")
	assert.ErrorContains(t, err, "no stored generation loads")
}

// TestDeleteGeneration: delete removes the manifest and the objects; a
// generation not stored is store.ErrNotFound.
func TestDeleteGeneration(t *testing.T) {
	gs := openTestStore(t, 0)
	ctx := t.Context()
	for range 2 {
		_, err := gs.save(ctx, snapOf(2, "x"))
		require.NoError(t, err)
	}
	require.NoError(t, gs.delete(ctx, 2))
	gens, err := gs.gens(ctx)
	require.NoError(t, err)
	assert.Equal(t, []uint64{1}, gens)
	_, err = gs.obj.GetInfo(ctx, objectName(2, 1))
	assert.ErrorIs(t, err, jetstream.ErrObjectNotFound)
	assert.ErrorIs(t, gs.delete(ctx, 2), store.ErrNotFound)
	assert.ErrorIs(t, gs.delete(ctx, 9), store.ErrNotFound)
}

// TestEmbeddedNATSRefusesWrongCredentials: the embedded server listens on
// loopback and lets in only the holder of the cluster's seed.
func TestEmbeddedNATSRefusesWrongCredentials(t *testing.T) {
	l := dirLayout{t.TempDir()}
	e, err := startNATS(l, true)
	require.NoError(t, err)
	defer e.close()
	assert.Regexp(t, `^nats://127\.0\.0\.1:\d+$`, e.url)
	fi, err := os.Stat(l.NATSSeed())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the seed is private")

	other, err := nkeys.CreateUser()
	require.NoError(t, err)
	pub, _ := other.PublicKey()
	for name, opts := range map[string][]nats.Option{
		"another seed": {nats.Nkey(pub, other.Sign)},
		"none":         nil,
		"a password":   {nats.UserInfo("stackless", "guess")},
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := nats.Connect(e.url, append(opts, nats.MaxReconnects(0))...)
			if err == nil {
				nc.Close()
			}
			assert.ErrorIs(t, err, nats.ErrAuthorization)
		})
	}
	nc, err := dialNATS(l, "test")
	require.NoError(t, err, "the seed in the folder gets in")
	nc.Close()
}

// TestNATSStoreIsLocked: a second server on the same store is refused
// while the first runs, and allowed once it stopped.
func TestNATSStoreIsLocked(t *testing.T) {
	l := dirLayout{t.TempDir()}
	e, err := startNATS(l, false)
	require.NoError(t, err)
	_, err = startNATS(l, false)
	assert.ErrorIs(t, err, ErrNATSLocked)
	e.close()
	e2, err := startNATS(l, false)
	require.NoError(t, err)
	e2.close()
}

// TestOpenCheckpointsBothWays: the tools read the generations through a
// running coordinator's server, and with none running through their own.
func TestOpenCheckpointsBothWays(t *testing.T) {
	dir := t.TempDir()
	l := dirLayout{dir}
	e, err := startNATS(l, true)
	require.NoError(t, err)
	nc, err := e.connect("test")
	require.NoError(t, err)
	gs, err := openGenStore(t.Context(), nc, 0, "test")
	require.NoError(t, err)
	_, err = gs.save(t.Context(), snapOf(2, "x"))
	require.NoError(t, err)

	check := func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cps, err := OpenCheckpoints(ctx, dir)
		require.NoError(t, err)
		defer cps.Close()
		list, err := cps.List()
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, 2, list[0].Records)
		cp, err := cps.Load(1)
		require.NoError(t, err)
		assert.True(t, IsCheckpoint(cp.Meta))
		ws, err := DecodeCheckpoint(cp)
		require.NoError(t, err)
		assert.Equal(t, []byte("x/w2"), ws[1].World)
		_, err = cps.Load(5)
		assert.ErrorIs(t, err, store.ErrNotFound)
	}
	t.Run("through the running server", check)
	nc.Close()
	e.close()
	t.Run("through its own server", check)
	_, err = OpenCheckpoints(t.Context(), t.TempDir())
	assert.ErrorContains(t, err, "holds no cluster checkpoints")
}

// The tools read a cluster directory's buckets as they are: they made
// them again (CreateOrUpdate), a write that on a full disk ("write
// .../meta.inf.tmp: no space left on device") failed every `checkpoint
// ls` and `inspect` of the generations stored before.
func TestOpenCheckpointsWritesNoBucket(t *testing.T) {
	dir := t.TempDir()
	l := dirLayout{dir}
	e, err := startNATS(l, true)
	require.NoError(t, err)
	defer e.close()
	nc, err := e.connect("test")
	require.NoError(t, err)
	defer nc.Close()
	gs, err := openGenStore(t.Context(), nc, 0, "test")
	require.NoError(t, err)
	_, err = gs.save(t.Context(), snapOf(2, "x"))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	const mark = "changed by the test"
	_, err = js.UpdateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: gs.names.Manifests, History: 1,
		Storage: jetstream.FileStorage, Replicas: 1, Description: mark})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cps, err := OpenCheckpoints(ctx, dir)
	require.NoError(t, err)
	list, err := cps.List()
	require.NoError(t, err)
	assert.Len(t, list, 1)
	cps.Close()
	kv, err := js.KeyValue(ctx, gs.names.Manifests)
	require.NoError(t, err)
	st, err := kv.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, mark, st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Description, "the bucket was made again")
}

// FuzzManifest feeds the manifest decoder arbitrary bytes: it fails with
// ErrSnapshot or returns a manifest whose worlds validate.
func FuzzManifest(f *testing.F) {
	good, err := (&manifest{Format: 1, Kind: headerKind, Gen: 3, NextNode: 3, Worlds: []manifestWorld{
		{Node: 1, Hosts: []uint16{1}, Object: "g3/w1", Size: 4, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{Node: 2, Hosts: []uint16{2}, Object: "g3/w2", Size: 0, SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}}).encode()
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("error does not wrap ErrSnapshot: %v", err)
			}
			return
		}
		s := clusterSnapshot{NextNode: m.NextNode}
		for _, w := range m.Worlds {
			if w.Object != objectName(m.Gen, w.Node) {
				t.Fatalf("accepted object name %q for node %d of generation %d", w.Object, w.Node, m.Gen)
			}
			s.Worlds = append(s.Worlds, storedWorld{Node: w.Node, Hosts: w.Hosts})
		}
		if err := s.validate(); err != nil {
			t.Fatalf("accepted a manifest that does not validate: %v", err)
		}
	})
}

// BenchmarkEmbeddedNATSStart: what the embedded server adds to a
// coordinator's start: server, connection and buckets, on a new store.
func BenchmarkEmbeddedNATSStart(b *testing.B) {
	for b.Loop() {
		e, err := startNATS(dirLayout{b.TempDir()}, true)
		require.NoError(b, err)
		nc, err := e.connect("bench")
		require.NoError(b, err)
		_, err = openGenStore(b.Context(), nc, 8, "bench")
		require.NoError(b, err)
		nc.Close()
		e.close()
	}
}
