package store_test

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackless-go/stackless/internal/damage"
	"github.com/stackless-go/stackless/store"
)

// metaFields are the meta page fields FuzzOpenDamaged may rewrite (offsets
// in the page; see preflight.go), with their checksum made valid again so
// bbolt trusts them.
var metaFields = []struct {
	off  int
	size int
}{{24, 4}, {32, 8}, {48, 8}, {56, 8}, {64, 8}, {28, 4}}

// FuzzOpenDamaged damages a real checkpoint database (a Checkpointer's,
// full and incremental generations) in a way the fuzzer chooses: rewrite a
// meta field (checksum fixed), fill one page with a pattern, cut the file;
// then opens it read-only and writable and reads every generation. The
// damage is parametric, so the seeds are a few numbers, not database files.
// Every outcome must be data or an error naming the file.
func FuzzOpenDamaged(f *testing.F) {
	good := damage.Trim(checkpointerFile(f))
	f.Add(uint8(0), uint64(0), uint16(0), byte(0), uint32(0))
	f.Add(uint8(3), uint64(1<<40), uint16(0), byte(0), uint32(0))
	f.Add(uint8(0), uint64(0), uint16(4), byte(0xff), uint32(0))
	f.Add(uint8(0), uint64(0), uint16(0), byte(0), uint32(40000))
	f.Add(uint8(2), uint64(4), uint16(0), byte(0), uint32(0))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, field uint8, value uint64, page uint16, fill byte, cut uint32) {
		data := append([]byte(nil), good...)
		ps := int(binary.NativeEndian.Uint32(data[24:]))
		if field != 0 {
			m := metaFields[int(field&0x7f)%len(metaFields)]
			for id := range 1 + int(field>>7) { // high bit: both meta pages
				p := data[id*ps:]
				if m.size == 4 {
					binary.NativeEndian.PutUint32(p[m.off:], uint32(value))
				} else {
					binary.NativeEndian.PutUint64(p[m.off:], value)
				}
				h := fnv.New64a()
				h.Write(p[16:72])
				binary.NativeEndian.PutUint64(p[72:], h.Sum64())
			}
		}
		if page != 0 {
			id := int(page) % (len(data) / ps)
			x := uint32(fill) | 1
			for i := range data[id*ps : (id+1)*ps] {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				data[id*ps+i] = 0 // fill 0: zeros
				if fill != 0 {
					data[id*ps+i] = byte(x)
				}
			}
		}
		if cut != 0 {
			data = data[:int(cut)%(len(data)+1)]
		}
		path := filepath.Join(dir, "fuzz.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		check := func(err error) {
			if err != nil && !errors.Is(err, store.ErrEmpty) && !strings.Contains(err.Error(), path) {
				t.Errorf("the error does not name the file: %v", err)
			}
		}
		for _, opts := range [][]store.Option{{store.WithReadOnly()}, nil} {
			db, err := store.Open(path, opts...)
			check(err)
			if err != nil {
				continue
			}
			gens, err := db.List()
			check(err)
			for _, g := range gens {
				_, err := db.Load(g.Gen)
				check(err)
			}
			if opts == nil {
				_, err := db.Save(&store.Checkpoint{Records: []store.Record{{Key: []byte("k"), Value: []byte("v")}}})
				check(err)
			}
			check(db.Close())
		}
	})
}
