package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestSaveRecordOrders saves the same records in orders Save merges in
// place (ascending runs) or sorts, and checks each loads back sorted.
func TestSaveRecordOrders(t *testing.T) {
	m := model{}
	for i := range 300 {
		m[fmt.Sprintf("t/%04d", i)] = fmt.Sprint("tasklet ", i)
		if i%3 == 0 {
			m[fmt.Sprintf("c/%04d", i)] = fmt.Sprint("channel ", i)
		}
	}
	sorted := recordsOf(m)
	var chans, tasks []Record
	for _, r := range sorted {
		if r.Key[0] == 'c' {
			chans = append(chans, r)
		} else {
			tasks = append(tasks, r)
		}
	}
	shuffled := slices.Clone(sorted)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	cases := []struct {
		name string
		recs []Record
	}{
		{"sorted", sorted},
		{"tasklets then channels", slices.Concat(tasks, chans)},
		{"three runs", slices.Concat(tasks[150:], chans, tasks[:150])},
		{"shuffled", shuffled}, // more runs than maxRuns: sorted
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t)
			orig := slices.Clone(tc.recs)
			gen, err := db.Save(&Checkpoint{Records: tc.recs})
			require.NoError(t, err)
			assert.Equal(t, orig, tc.recs, "Save must not reorder the caller's slice")
			got, err := db.Load(gen)
			require.NoError(t, err)
			assert.Equal(t, m, modelOf(t, got))
		})
	}
}

func TestSaveRejectsDuplicatesAcrossRuns(t *testing.T) {
	db := openTest(t)
	recs := []Record{{Key: []byte("b")}, {Key: []byte("d")}, {Key: []byte("a")}, {Key: []byte("d")}}
	_, err := db.Save(&Checkpoint{Records: recs})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `duplicate record key "d"`)
	assert.Empty(t, gensOf(t, db))
}

// TestSaveSpansSegments saves a generation of many segments, with a record
// bigger than a segment, and checks the stored segments and the round trip.
func TestSaveSpansSegments(t *testing.T) {
	db := openTest(t)
	m := model{}
	for i := range 3000 {
		m[fmt.Sprintf("t/%05d", i)] = strings.Repeat(string(rune('a'+i%26)), 40+i%200)
	}
	m["t/01500"] = strings.Repeat("B", 5*segmentTarget)
	gen, err := db.Save(&Checkpoint{Records: recordsOf(m)})
	require.NoError(t, err)

	var keys []string
	require.NoError(t, db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(genBucket(gen)).ForEach(func(k, v []byte) error {
			typ, _, err := decodeValue(k, v)
			require.NoError(t, err)
			assert.Equal(t, recSegment, typ)
			keys = append(keys, string(k))
			return nil
		})
	}))
	// The sealing rule: a segment ends with the entry that takes it to segmentTarget bytes.
	want, size := 0, 0
	for _, r := range recordsOf(m) {
		if size += entryHeaderSize + len(r.Key) + len(r.Value); size >= segmentTarget {
			want, size = want+1, 0
		}
	}
	if size > 0 {
		want++
	}
	assert.Len(t, keys, want)
	assert.Equal(t, "t/00000", keys[0], "a segment is stored under its first key")

	got, err := db.Load(gen)
	require.NoError(t, err)
	assert.Equal(t, m, modelOf(t, got))
	infos, err := db.List()
	require.NoError(t, err)
	assert.Equal(t, len(m), infos[0].Records)
}

func TestBufPool(t *testing.T) {
	var p bufPool
	assert.Zero(t, cap(p.get(0)), "an empty pool allocates what is asked")
	assert.Equal(t, 100, cap(p.get(100)))
	for _, n := range []int{10, 1000, 100, 10000, 5} {
		p.put(make([]byte, min(7, n), n))
	}
	assert.Len(t, p.free, keptBufs, "the smallest buffer is dropped")
	b := p.get(500)
	assert.Equal(t, 1000, cap(b), "the smallest buffer that fits")
	assert.Empty(t, b, "handed out empty")
	assert.Equal(t, 20000, cap(p.get(20000)), "none fits: a new one")
	p.put(make([]byte, 0, maxKeptArena+1))
	assert.Len(t, p.free, keptBufs-1, "huge buffers are not kept")
}
