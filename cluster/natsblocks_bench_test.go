package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/highwayhash"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeBlock writes block 1 of stream name under dir in the server's record
// layout (the one TestBlockCheckReadsTheServersRecords checks against the
// server), one record a payload, and returns its path and the offsets of
// the records.
func writeBlock(t testing.TB, dir, name string, payloads [][]byte) (string, []int) {
	t.Helper()
	key := sha256.Sum256([]byte(name + "-1"))
	hh, err := highwayhash.New64(key[:])
	require.NoError(t, err)
	var b []byte
	var offs []int
	for i, p := range payloads {
		subj := fmt.Sprintf("s.%d", i%64)
		off := len(b)
		offs = append(offs, off)
		rl := blkHdrSize + len(subj) + len(p) + blkHashSize
		b = binary.LittleEndian.AppendUint32(b, uint32(rl))
		b = binary.LittleEndian.AppendUint64(b, uint64(i+1))
		b = binary.LittleEndian.AppendUint64(b, uint64(1e18)+uint64(i))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(subj)))
		b = append(b, subj...)
		b = append(b, p...)
		hh.Reset()
		hh.Write(b[off+4 : off+20])
		hh.Write(b[off+blkHdrSize:])
		b = hh.Sum(b)
	}
	path := filepath.Join(dir, "jetstream", "$G", "streams", name, "msgs", "1.blk")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path, offs
}

// BenchmarkBlockCheck: the check before the embedded server starts, from
// the page cache; op = the whole store. small: 200,000 records of 20 bytes
// (an effect journal's shape: the most records for their bytes); large:
// 100 MB in chunks of 128 KiB (world objects).
func BenchmarkBlockCheck(b *testing.B) {
	for _, c := range []struct {
		name   string
		n, len int
	}{{"small", 200_000, 20}, {"large", 800, 128 << 10}} {
		b.Run(c.name, func(b *testing.B) {
			payloads := make([][]byte, c.n)
			for i := range payloads {
				payloads[i] = make([]byte, c.len)
				copy(payloads[i], fmt.Sprintf("result of call %d", i))
			}
			dir := b.TempDir()
			writeBlock(b, dir, "S", payloads)
			b.SetBytes(int64(c.n * c.len))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				notes, err := checkBlocks(dir)
				if err != nil || len(notes) != 0 {
					b.Fatal(err, notes)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.n), "ns/record")
		})
	}
}

// A record longer than the check's read buffer is read whole, and the
// records after it are found where they are: a damaged one among them is
// named at its offset.
func TestBlockCheckReadsRecordsLongerThanItsBuffer(t *testing.T) {
	long := make([]byte, blkBuf+100)
	for i := range long {
		long[i] = byte(i)
	}
	payloads := [][]byte{[]byte("a"), long, []byte("b"), long[:blkBuf-40], []byte("c"), []byte("d")}
	dir := t.TempDir()
	path, offs := writeBlock(t, dir, "S", payloads)
	notes, err := checkBlocks(dir)
	require.NoError(t, err)
	assert.Empty(t, notes, "a sound block")

	for _, i := range []int{1, 3, 4} { // the long ones, and one after them
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b[offs[i]+blkHdrSize+10] ^= 1
		require.NoError(t, os.WriteFile(path, b, 0o600))
		bad, ok := checkBlock(path)
		assert.True(t, ok, "record %d", i)
		assert.Equal(t, badRecord{off: int64(offs[i]), seq: uint64(i + 1)}, bad)
		b[offs[i]+blkHdrSize+10] ^= 1
		require.NoError(t, os.WriteFile(path, b, 0o600))
	}
}
