package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/highwayhash"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openJS starts the embedded server on l and connects a JetStream client;
// stop closes both.
func openJS(t *testing.T, l dirLayout) (e *embeddedNATS, js jetstream.JetStream, stop func()) {
	t.Helper()
	e, err := startNATS(l, false)
	require.NoError(t, err)
	nc, err := e.connect("test")
	require.NoError(t, err)
	js, err = jetstream.New(nc)
	require.NoError(t, err)
	return e, js, func() { nc.Close(); e.close() }
}

// storeWithMessages runs the embedded server on a new folder, puts n
// messages (every third with headers) into a stream and stops it. It
// returns the folder and the stream's block files.
func storeWithMessages(t *testing.T, n int) (dirLayout, []string) {
	t.Helper()
	l := dirLayout{t.TempDir()}
	_, js, stop := openJS(t, l)
	ctx := context.Background()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	for i := range n {
		m := nats.NewMsg(fmt.Sprintf("s.%d", i))
		m.Data = fmt.Appendf(nil, "message %d", i)
		if i%3 == 0 {
			m.Header.Set("K", "v")
		}
		_, err := js.PublishMsg(ctx, m)
		require.NoError(t, err)
	}
	stop()
	blocks, err := filepath.Glob(filepath.Join(l.NATS(), "jetstream", "*", "streams", "S", "msgs", "*.blk"))
	require.NoError(t, err)
	require.NotEmpty(t, blocks)
	return l, blocks
}

// records lists the offsets of the records of a block file.
func records(t *testing.T, b []byte) []int {
	t.Helper()
	var offs []int
	for off := 0; off+blkHdrSize <= len(b); {
		offs = append(offs, off)
		off += int(binary.LittleEndian.Uint32(b[off:]) &^ blkHeaders)
	}
	return offs
}

// TestBlockCheckReadsTheServersRecords: every record the server wrote, with
// headers or without, passes the checksum as the check computes it, and a
// sound store starts.
func TestBlockCheckReadsTheServersRecords(t *testing.T) {
	l, blocks := storeWithMessages(t, 30)
	b, err := os.ReadFile(blocks[0])
	require.NoError(t, err)
	key := sha256.Sum256([]byte("S-1"))
	hh, err := highwayhash.New64(key[:])
	require.NoError(t, err)
	offs := records(t, b)
	require.Len(t, offs, 30)
	for _, off := range offs {
		rl := binary.LittleEndian.Uint32(b[off:])
		slen := int(binary.LittleEndian.Uint16(b[off+20:]))
		rec := b[off : off+int(rl&^blkHeaders)]
		assert.True(t, recordSumOK(hh, rec, slen, rl&blkHeaders != 0), "the record at %d", off)
	}
	notes, err := checkBlocks(l.NATS())
	require.NoError(t, err)
	assert.Empty(t, notes)
	e, err := startNATS(l, false)
	require.NoError(t, err)
	e.close()
}

// TestARecordFarAheadIsRebuiltNotFilled: a record whose sequence was
// damaged to one far ahead made the server fill the gap in memory until
// the process was killed. Its stream is now rebuilt by the server, which
// drops that record and the ones after it, and a note names it; the same
// jump with its checksum intact (a block compacted after many deletes)
// is left alone.
func TestARecordFarAheadIsRebuiltNotFilled(t *testing.T) {
	l, blocks := storeWithMessages(t, 10)
	b, err := os.ReadFile(blocks[0])
	require.NoError(t, err)
	off := records(t, b)[4]
	seq := binary.LittleEndian.Uint64(b[off+4:])
	binary.LittleEndian.PutUint64(b[off+4:], seq+1<<40)
	require.NoError(t, os.WriteFile(blocks[0], b, 0o600))

	// Re-sealed, as a sound record after a wide gap: left alone.
	sealed := append([]byte(nil), b...)
	reseal(t, sealed[off:], "S-1")
	require.NoError(t, os.WriteFile(blocks[0], sealed, 0o600))
	notes, err := checkBlocks(l.NATS())
	require.NoError(t, err)
	assert.Empty(t, notes, "a wide gap before a sound record is the server's to fill")

	require.NoError(t, os.WriteFile(blocks[0], b, 0o600))
	e, js, stop := openJS(t, l)
	defer stop()
	require.Len(t, e.notes.damage(), 1)
	assert.Contains(t, e.notes.damage()[0], fmt.Sprintf("corrupt record in %s at byte %d", blocks[0], off))
	st, err := js.Stream(context.Background(), "S")
	require.NoError(t, err)
	assert.Equal(t, uint64(4), st.CachedInfo().State.Msgs, "the records before the damaged one")
}

// TestADamagedKVRecordIsRebuilt: a bit flip in a record of a KV bucket
// stalled every listing of the bucket until its deadline (30 s a command,
// "context deadline exceeded"); the server now rebuilds the bucket's
// stream without it, and the listing answers.
func TestADamagedKVRecordIsRebuilt(t *testing.T) {
	l := dirLayout{t.TempDir()}
	ctx := t.Context()
	_, js, stop := openJS(t, l)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "T", Storage: jetstream.FileStorage})
	require.NoError(t, err)
	for i := range 6 {
		_, err := kv.Put(ctx, fmt.Sprintf("k%d", i), fmt.Appendf(nil, "value %d", i))
		require.NoError(t, err)
	}
	stop()
	blocks, err := filepath.Glob(filepath.Join(l.NATS(), "jetstream", "*", "streams", "KV_T", "msgs", "*.blk"))
	require.NoError(t, err)
	require.Len(t, blocks, 1)
	b, err := os.ReadFile(blocks[0])
	require.NoError(t, err)
	offs := records(t, b)
	require.Len(t, offs, 6)
	b[offs[3]+blkHdrSize+2] ^= 0x10 // in the subject or the value: the checksum fails
	require.NoError(t, os.WriteFile(blocks[0], b, 0o600))

	e, js, stop := openJS(t, l)
	defer stop()
	require.Len(t, e.notes.damage(), 1)
	assert.Contains(t, e.notes.damage()[0], fmt.Sprintf("[KV_T] corrupt record in %s at byte %d", blocks[0], offs[3]))
	kv, err = js.KeyValue(ctx, "T")
	require.NoError(t, err)
	keys, err := kv.Keys(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"k0", "k1", "k2"}, keys, "the keys before the damaged record")
}

// reseal writes the checksum the server would for the record at the start
// of rec, in the block whose hash key is key.
func reseal(t *testing.T, rec []byte, key string) {
	t.Helper()
	rl := int(binary.LittleEndian.Uint32(rec) &^ blkHeaders)
	slen := int(binary.LittleEndian.Uint16(rec[20:]))
	headers := binary.LittleEndian.Uint32(rec)&blkHeaders != 0
	k := sha256.Sum256([]byte(key))
	hh, err := highwayhash.New64(k[:])
	require.NoError(t, err)
	data := rec[blkHdrSize:rl]
	hh.Write(rec[4:20])
	hh.Write(data[:slen])
	if headers {
		hh.Write(data[slen+4 : len(data)-blkHashSize])
	} else {
		hh.Write(data[slen : len(data)-blkHashSize])
	}
	copy(data[len(data)-blkHashSize:], hh.Sum(nil))
}

// sealed is a block of records with the given sequences (0x.. with the
// tombstone or erased bit as given), each sealed with the checksum the
// server writes for stream S, block 1.
func sealed(seqs ...uint64) []byte {
	key := sha256.Sum256([]byte("S-1"))
	var b []byte
	for i, seq := range seqs {
		subj := fmt.Sprintf("s.%d", i)
		msg := fmt.Appendf(nil, "message %d", i)
		rl := blkHdrSize + len(subj) + len(msg) + blkHashSize
		rec := binary.LittleEndian.AppendUint32(nil, uint32(rl))
		rec = binary.LittleEndian.AppendUint64(rec, seq)
		rec = binary.LittleEndian.AppendUint64(rec, uint64(i)*1000)
		rec = binary.LittleEndian.AppendUint16(rec, uint16(len(subj)))
		rec = append(append(rec, subj...), msg...)
		hh, _ := highwayhash.New64(key[:])
		hh.Write(rec[4:20])
		hh.Write([]byte(subj))
		hh.Write(msg)
		b = append(b, hh.Sum(rec)...)
	}
	return b
}

// FuzzCheckBlock: the block check reads files nobody vouches for; any
// content gets an answer, never a panic, and reads no more than the file.
func FuzzCheckBlock(f *testing.F) {
	f.Add([]byte{})
	f.Add(sealed(1, 2, 3))
	f.Add(sealed(5, 6, 7<<30))
	f.Add(sealed(1, 2|blkTomb, 3|blkErased, 1<<40))
	bad := sealed(1, 2, 3)
	binary.LittleEndian.PutUint64(bad[len(bad)/3*2:], 1<<50)
	f.Add(bad)
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	dir := f.TempDir()
	path := filepath.Join(dir, "S", "msgs", "1.blk")
	require.NoError(f, os.MkdirAll(filepath.Dir(path), 0o700))
	f.Fuzz(func(t *testing.T, b []byte) {
		require.NoError(t, os.WriteFile(path, b, 0o600))
		if bad, ok := checkBlock(path); ok {
			assert.Less(t, bad.off, int64(len(b)))
		}
	})
}
