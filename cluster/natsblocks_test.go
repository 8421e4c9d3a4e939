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

// storeWithMessages runs the embedded server on a new folder, puts n
// messages (every third with headers) into a stream and stops it. It
// returns the folder and the stream's block files.
func storeWithMessages(t *testing.T, n int) (dirLayout, []string) {
	t.Helper()
	l := dirLayout{t.TempDir()}
	e, err := startNATS(l, false)
	require.NoError(t, err)
	nc, err := e.connect("test")
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage})
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
	nc.Close()
	e.close()
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
	f, err := os.Open(blocks[0])
	require.NoError(t, err)
	defer f.Close()
	offs := records(t, b)
	require.Len(t, offs, 30)
	for _, off := range offs {
		rl := binary.LittleEndian.Uint32(b[off:])
		slen := int(binary.LittleEndian.Uint16(b[off+20:]))
		assert.True(t, recordSumOK(f, int64(off), int(rl&^blkHeaders), slen, rl&blkHeaders != 0, "S", 1), "the record at %d", off)
	}
	require.NoError(t, checkBlocks(l.NATS()))
	e, err := startNATS(l, false)
	require.NoError(t, err)
	e.close()
}

// TestBlockCheckRefusesARecordFarAhead: a record whose sequence was
// damaged to one far ahead is refused, naming the file and the record; the
// same jump with its checksum intact (a block compacted after many
// deletes) is not.
func TestBlockCheckRefusesARecordFarAhead(t *testing.T) {
	l, blocks := storeWithMessages(t, 10)
	b, err := os.ReadFile(blocks[0])
	require.NoError(t, err)
	off := records(t, b)[4]
	seq := binary.LittleEndian.Uint64(b[off+4:])
	binary.LittleEndian.PutUint64(b[off+4:], seq+1<<40)
	require.NoError(t, os.WriteFile(blocks[0], b, 0o600))

	err = checkBlocks(l.NATS())
	require.ErrorIs(t, err, ErrDamagedBlock)
	assert.Contains(t, err.Error(), blocks[0])
	assert.Contains(t, err.Error(), fmt.Sprintf("the record at byte %d fails its checksum", off))
	_, err = startNATS(l, false)
	require.ErrorIs(t, err, ErrDamagedBlock, "the server is not started on it")

	// Re-sealed, as a sound record after a wide gap.
	rl := int(binary.LittleEndian.Uint32(b[off:]) &^ blkHeaders)
	slen := int(binary.LittleEndian.Uint16(b[off+20:]))
	headers := binary.LittleEndian.Uint32(b[off:])&blkHeaders != 0
	key := sha256.Sum256([]byte("S-1"))
	hh, err := highwayhash.New64(key[:])
	require.NoError(t, err)
	data := b[off+blkHdrSize : off+rl]
	hh.Write(b[off+4 : off+20])
	hh.Write(data[:slen])
	if headers {
		hh.Write(data[slen+4 : len(data)-blkHashSize])
	} else {
		hh.Write(data[slen : len(data)-blkHashSize])
	}
	copy(data[len(data)-blkHashSize:], hh.Sum(nil))
	require.NoError(t, os.WriteFile(blocks[0], b, 0o600))
	assert.NoError(t, checkBlocks(l.NATS()), "a wide gap before a sound record is the server's to fill")
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
		var be *blockError
		if err := checkBlock(path); err != nil {
			require.ErrorAs(t, err, &be)
			assert.Less(t, be.off, int64(len(b)))
			assert.Greater(t, be.seq-be.before, uint64(maxHole))
		}
	})
}
