package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// storeRecordSeeds are (key, stored value) pairs: valid values of every type
// and damaged ones.
func storeRecordSeeds() (seeds [][2][]byte) {
	key := []byte("t/42")
	good := encodeValue(key, recData, []byte("tasklet state"))
	flipped := bytes.Clone(good)
	flipped[7] ^= 0x01
	unknown := bytes.Clone(good)
	unknown[4] = 0x7f
	binary.BigEndian.PutUint32(unknown, valueCRC(key, unknown[4:]))
	seeds = [][2][]byte{
		{key, good},
		{key, encodeValue(key, recData, nil)},
		{[]byte("c/7"), encodeValue([]byte("c/7"), recTombstone, nil)},
		{genKey(3), encodeValue(genKey(3), recMeta, []byte("world header"))},
		{genKey(3), encodeValue(genKey(3), recGenHeader, (&genHeader{base: 2, nanos: 1, nrec: 5}).marshal())},
		{keyFormat, encodeValue(keyFormat, recFormat, []byte{0, 0, 0, 1})},
		{key, good[:4]},
		{key, good[:len(good)-1]},
		{key, flipped},
		{key, unknown},
		{[]byte("t/43"), good},
		{nil, nil},
		{key, []byte{0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, sg := range segmentSeeds() {
		seeds = append(seeds, [2][]byte{sg[0], encodeValue(sg[0], recSegment, sg[1])})
	}
	flippedSeg := bytes.Clone(seeds[len(seeds)-1][1])
	flippedSeg[len(flippedSeg)-1] ^= 0x01
	return append(seeds, [2][]byte{seeds[len(seeds)-1][0], flippedSeg})
}

// segmentSeeds are (segment key, segment payload) pairs: valid segments and
// structurally damaged ones.
func segmentSeeds() [][2][]byte {
	build := func(entries ...entry) []byte {
		w := newSegWriter(nil, 1<<20)
		for _, e := range entries {
			if err := w.add(e.typ, []byte(e.key), []byte(e.value)); err != nil {
				panic(err)
			}
		}
		return w.segments(nil)[0].value[valueHeaderSize:]
	}
	two := build(entry{recData, "t/1", "tasklet one"}, entry{recData, "t/2", ""})
	mixed := build(entry{recData, "c/7", "channel"}, entry{recTombstone, "t/3", ""}, entry{recData, "t/9", "nine"})
	badType := bytes.Clone(two)
	badType[0] = 9
	longValue := bytes.Clone(two)
	longValue[3] = 0xff
	return [][2][]byte{
		{[]byte("t/1"), two},
		{[]byte("c/7"), mixed},
		{[]byte("t/1"), build(entry{recData, "t/1", strings.Repeat("v", 300)})},
		{[]byte("t/0"), two},                              // first key differs
		{[]byte("t/1"), two[:len(two)-1]},                 // truncated
		{[]byte("t/1"), badType},                          // unknown entry type
		{[]byte("t/1"), longValue},                        // value past the end
		{[]byte("t/1"), append(bytes.Clone(two), two...)}, // keys repeat
		{[]byte("t/1"), append(bytes.Clone(two), 0)},      // trailing byte
		{[]byte("t/1"), nil},                              // empty
		{nil, nil},
	}
}

// checkSegment walks a segment payload as Load does. It must never panic;
// whatever it accepts must re-encode to the same bytes.
func checkSegment(t *testing.T, key, payload []byte) {
	r := segReader{p: payload}
	w := newSegWriter(nil, len(payload)+1)
	for {
		typ, k, v, ok, err := r.next(key)
		if err != nil {
			return
		}
		if !ok {
			break
		}
		require.NoError(t, w.add(typ, k, v), "the writer refused an entry the reader accepted")
	}
	segs := w.segments(nil)
	if len(segs) == 1 { // a long payload may re-encode as several segments
		require.Equal(t, string(key), string(segs[0].key))
		require.Equal(t, encodeValue(key, recSegment, payload), segs[0].value)
	}
}

// snapshotSeeds are valid and hostile snapshot files.
func snapshotSeeds(t testing.TB) [][]byte {
	good := snapshotBytes(t, smallSnapshot())
	header := snapshotHeader(t)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	future := bytes.Clone(good)
	future[len(snapshotPrefix)] = 9
	bolt := make([]byte, 64)
	binary.LittleEndian.PutUint32(bolt[16:], 0xED0CDAED)
	return [][]byte{
		good,
		snapshotBytes(t, &Checkpoint{Gen: 1, Time: time.Unix(0, 1)}),
		snapshotBytes(t, &Checkpoint{Gen: 1 << 62, Time: time.Unix(-1, 0), Meta: []byte{0}, Records: recordsOf(model{"\x00": "", "\xff": "x"})}),
		good[:len(good)/2],
		good[:len(good)-1],
		flipped,
		future,
		append(bytes.Clone(good), 0),
		append(bytes.Clone(header), 0xdd, 0xff, 0xff, 0xff, 0xff), // records array32 of 4G elements
		append(bytes.Clone(header), 0xdc, 0xff, 0xff),
		append(bytes.Clone(header), 0x91, 0x93, 0xc6, 0xff, 0xff, 0xff, 0xff), // bin32 key of 4 GiB
		append(bytes.Clone(header), 0x91, 0x93, 0xc4, 0x01, 'k', 0x00, 0xc6, 0x7f, 0xff, 0xff, 0xff),
		append(bytes.Clone(header), 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff),
		bytes.Repeat([]byte{0x91}, 4096),
		{0xdd, 0xff, 0xff, 0xff, 0xff},
		{0x97, 0xdb, 0xff, 0xff, 0xff, 0xff},
		bolt,
		[]byte("stackless-snapshot"),
		nil,
	}
}

// FuzzStoreRecord fuzzes the decoder of one stored database value
// (CRC32C + type + payload under a key). It must never panic, and whatever
// it accepts must carry a matching checksum and re-encode to the same bytes.
func FuzzStoreRecord(f *testing.F) {
	for _, s := range storeRecordSeeds() {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		typ, payload, err := decodeValue(key, value)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, len(value), valueHeaderSize)
		require.Equal(t, binary.BigEndian.Uint32(value), valueCRC(key, value[4:]), "accepted a value whose checksum does not match")
		require.Equal(t, value, encodeValue(key, typ, payload))
		if typ == recSegment {
			checkSegment(t, key, payload)
		}
	})
}

// FuzzStoreSegment fuzzes the reader of a segment's entries on payloads
// whose checksum already matched (FuzzStoreRecord rarely gets past the CRC).
func FuzzStoreSegment(f *testing.F) {
	for _, s := range segmentSeeds() {
		f.Add(s[0], s[1])
	}
	f.Fuzz(checkSegment)
}

// FuzzSnapshotFile fuzzes the snapshot file parser on raw bytes. It must
// never panic, never allocate more than a small multiple of the input, and
// whatever it accepts must re-encode and parse to the same checkpoint.
func FuzzSnapshotFile(f *testing.F) {
	for _, s := range snapshotSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cp, err := parseSnapshot("fuzz.snap", data)
		runtime.ReadMemStats(&after)
		if alloc, limit := after.TotalAlloc-before.TotalAlloc, 16*uint64(len(data))+64<<10; alloc > limit {
			t.Fatalf("parsing %d bytes allocated %d bytes (limit %d)", len(data), alloc, limit)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error wraps neither ErrCorrupt nor ErrVersion: %v", err)
			}
			return
		}
		require.Equal(t, crc32c(data[:len(data)-5]), binary.BigEndian.Uint32(data[len(data)-4:]), "accepted a file whose checksum does not match")
		again, err := parseSnapshot("again", snapshotBytes(t, cp))
		require.NoError(t, err)
		require.Equal(t, cp.Gen, again.Gen)
		require.True(t, cp.Time.Equal(again.Time))
		require.Equal(t, string(cp.Meta), string(again.Meta))
		require.Equal(t, len(cp.Records), len(again.Records))
		for i := range cp.Records {
			require.Equal(t, cp.Records[i].Key, again.Records[i].Key)
			require.Equal(t, cp.Records[i].Value, again.Records[i].Value)
			require.Equal(t, crc32c(cp.Records[i].Value), crc32c(again.Records[i].Value))
		}
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora under
// testdata/fuzz from the seeds above: STORE_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("STORE_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set STORE_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	write := func(target string, i int, args ...[]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			fmt.Fprintf(&b, "[]byte(%q)\n", a)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), b.Bytes(), 0o644))
	}
	for i, s := range storeRecordSeeds() {
		write("FuzzStoreRecord", i, s[0], s[1])
	}
	for i, s := range snapshotSeeds(t) {
		write("FuzzSnapshotFile", i, s)
	}
	for i, s := range segmentSeeds() {
		write("FuzzStoreSegment", i, s[0], s[1])
	}
}
