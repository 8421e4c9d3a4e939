package cluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/store"
)

func TestSnapshotRoundTrip(t *testing.T) {
	gs := openTestStore(t, 0)
	ctx := t.Context()
	in := &clusterSnapshot{Time: time.Unix(100, 0), NextNode: 6, Worlds: []storedWorld{
		{Node: 1, Hosts: []uint16{1, 4}, Blob: []byte("one")},
		{Node: 2, Hosts: []uint16{2, 3, 5}, Blob: []byte("two")},
	}}
	gen, err := gs.save(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, gen, in.Gen)

	out, err := gs.load(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, gen, out.Gen)
	assert.Equal(t, in.NextNode, out.NextNode)
	assert.Equal(t, in.Worlds, out.Worlds)
	assert.True(t, in.Time.Equal(out.Time))
	assert.Equal(t, map[uint16]uint16{1: 1, 4: 1, 2: 2, 3: 2, 5: 2}, out.Routes())

	_, err = gs.save(ctx, &clusterSnapshot{NextNode: 2, Worlds: []storedWorld{{Node: 1, Hosts: []uint16{1}, Blob: []byte{}}}})
	require.NoError(t, err)
	again, err := gs.load(ctx, gen)
	require.NoError(t, err, "an older generation stays loadable by number")
	assert.Equal(t, in.Worlds, again.Worlds)
}

func TestSnapshotValidation(t *testing.T) {
	gs := openTestStore(t, 0)
	for _, tc := range []struct {
		name string
		s    clusterSnapshot
	}{
		{"node 0", clusterSnapshot{NextNode: 2, Worlds: []storedWorld{{Node: 0, Hosts: []uint16{0}}}}},
		{"world does not host itself", clusterSnapshot{NextNode: 3, Worlds: []storedWorld{{Node: 1, Hosts: []uint16{2}}}}},
		{"hosted twice", clusterSnapshot{NextNode: 3, Worlds: []storedWorld{{Node: 1, Hosts: []uint16{1, 2}}, {Node: 2, Hosts: []uint16{2}}}}},
		{"next too small", clusterSnapshot{NextNode: 1, Worlds: []storedWorld{{Node: 1, Hosts: []uint16{1}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gs.save(t.Context(), &tc.s)
			assert.ErrorIs(t, err, ErrSnapshot)
		})
	}
	gens, err := gs.gens(t.Context())
	require.NoError(t, err)
	assert.Empty(t, gens, "a refused snapshot commits no generation")
}

func TestDecodeSnapshotRefusesMismatches(t *testing.T) {
	good := `{"format":1,"kind":"stackless-cluster","next_node":2,"worlds":[{"node":1,"hosts":[1]}]}`
	rec := []store.Record{{Key: worldKey(1), Value: []byte("w")}}
	for _, tc := range []struct {
		name string
		meta string
		recs []store.Record
	}{
		{"not json", `{`, rec},
		{"other kind", `{"format":1,"kind":"x","next_node":2,"worlds":[]}`, nil},
		{"newer format", `{"format":2,"kind":"stackless-cluster","next_node":2,"worlds":[]}`, nil},
		{"missing record", good, nil},
		{"extra record", good, append(rec, store.Record{Key: worldKey(7), Value: []byte("x")})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeSnapshot(&store.Checkpoint{Meta: []byte(tc.meta), Records: tc.recs})
			assert.ErrorIs(t, err, ErrSnapshot)
		})
	}
	s, err := decodeSnapshot(&store.Checkpoint{Meta: []byte(good), Records: rec})
	require.NoError(t, err)
	assert.Equal(t, []storedWorld{{Node: 1, Hosts: []uint16{1}, Blob: []byte("w")}}, s.Worlds)
}

func TestLoadSnapshotOfEmptyStore(t *testing.T) {
	gs := openTestStore(t, 0)
	_, err := gs.load(t.Context(), 0)
	assert.ErrorIs(t, err, store.ErrEmpty)
	_, err = gs.loadNewest(t.Context(), func(uint64, error) { t.Error("nothing to skip in an empty store") })
	assert.ErrorIs(t, err, store.ErrEmpty)
}

// FuzzDecodeSnapshot feeds the cluster header decoder arbitrary bytes: it
// must fail cleanly or return a snapshot that passes validation.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(`{"format":1,"kind":"stackless-cluster","next_node":2,"worlds":[{"node":1,"hosts":[1]}]}`), uint16(1))
	f.Add([]byte(`{"format":1,"kind":"stackless-cluster","next_node":0,"worlds":[{"node":1,"hosts":[1,1]}]}`), uint16(1))
	f.Fuzz(func(t *testing.T, meta []byte, key uint16) {
		s, err := decodeSnapshot(&store.Checkpoint{Meta: meta, Records: []store.Record{{Key: worldKey(key), Value: []byte{1}}}})
		if err != nil {
			return
		}
		if err := s.validate(); err != nil {
			t.Fatalf("decoded an invalid snapshot: %v", err)
		}
	})
}
