// Package damage makes damaged copies of a good file, the way disks, full
// file systems, bad copies and crashes damage them, so that the tests of
// every package that reads stored files can check that no such copy
// crashes a reader: it is refused with a reason, or read as valid data.
//
// The copies are generated, never committed: the tests write real files
// with the project's own code, then damage them here. For a bbolt file the
// damage follows its layout (page size from the meta page, the freelist
// page the meta names), so it hits the structures bbolt trusts: meta pages,
// the freelist, branch and leaf pages, the file's length.
package damage

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
)

// Variant is one damaged copy of a file.
type Variant struct {
	Name string // what was done, e.g. "truncate to 16383 bytes"
	Data []byte
}

// bbolt layout (go.etcd.io/bbolt internal/common, native byte order): a
// 16-byte page header, then for a meta page magic, version, page size,
// flags (u32), root page, root sequence, freelist page, page count, txid,
// checksum (u64).
const (
	pageHeader  = 16
	offPageSize = pageHeader + 8
	offRoot     = pageHeader + 16
	offFreelist = pageHeader + 32
	offPgid     = pageHeader + 40
	offTxid     = pageHeader + 48
	offSum      = pageHeader + 56
	boltMagic   = 0xED0CDAED
)

var ne = binary.NativeEndian

// IsBolt reports whether data starts with a bbolt meta page.
func IsBolt(data []byte) bool {
	return len(data) >= offSum+8 && ne.Uint32(data[pageHeader:]) == boltMagic
}

// Variants returns damaged copies of data, deterministic for a seed. A
// bbolt file gets damage aimed at its structure; any file gets truncations
// and overwritten and flipped bytes.
func Variants(data []byte, seed uint64) []Variant {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []Variant
	add := func(name string, b []byte) { out = append(out, Variant{Name: name, Data: b}) }
	ps := 4096
	if IsBolt(data) {
		ps = int(ne.Uint32(data[offPageSize:]))
		data = Trim(data)
	}
	n := len(data)

	// Cut short: empty, inside the first page, at and around page edges,
	// in the middle, one byte short.
	cuts := []int{0, 1, 20, 100, ps / 2, ps - 1, ps, ps + 17, 2*ps - 1, 2 * ps, 2*ps + ps/2, 3 * ps, n / 3, n / 2, n - ps, n - ps/2, n - 1}
	for range 4 {
		cuts = append(cuts, rng.IntN(max(n, 1)))
	}
	slices.Sort(cuts)
	for _, c := range slices.Compact(cuts) {
		if c >= 0 && c < n {
			add(fmt.Sprintf("truncate to %d bytes", c), slices.Clone(data[:c]))
		}
	}

	// Flipped bytes anywhere, and a run of random bytes.
	for range 4 {
		b := slices.Clone(data)
		at := rng.IntN(n)
		b[at] ^= byte(1 + rng.IntN(255))
		add(fmt.Sprintf("flip byte %d", at), b)
	}
	if n > 64 {
		b := slices.Clone(data)
		at := rng.IntN(n - 64)
		fill(rng, b[at:at+64])
		add(fmt.Sprintf("random bytes at %d..%d", at, at+64), b)
	}

	if !IsBolt(data) || n < 2*ps {
		return out
	}
	pages := n / ps
	page := func(b []byte, id int) []byte { return b[id*ps : (id+1)*ps] }

	// Whole pages overwritten: random and zero, the meta pages included.
	ids := []int{0, 1}
	for id := 2; id < pages; id++ {
		ids = append(ids, id)
	}
	if len(ids) > 14 {
		rng.Shuffle(len(ids)-2, func(i, j int) { ids[i+2], ids[j+2] = ids[j+2], ids[i+2] })
		ids = ids[:14]
	}
	for i, id := range ids {
		b := slices.Clone(data)
		if i%2 == 0 {
			fill(rng, page(b, id))
			add(fmt.Sprintf("page %d random", id), b)
		} else {
			clear(page(b, id))
			add(fmt.Sprintf("page %d zeroed", id), b)
		}
	}
	b := slices.Clone(data)
	clear(page(b, 0))
	clear(page(b, 1))
	add("both meta pages zeroed", b)

	// Meta pages that pass their checksum but lie: what bbolt trusts.
	for _, lie := range []struct {
		name string
		off  int
		v    uint64
	}{
		{"page count past the end", offPgid, uint64(pages) + 5},
		{"page count huge", offPgid, 1 << 40},
		{"root at the freelist", offRoot, freelistOf(data)},
		{"root at a meta page", offRoot, 1},
		{"root past the end", offRoot, uint64(pages) + 3},
		{"root random", offRoot, uint64(2 + rng.IntN(max(pages-2, 1)))},
		{"freelist at the root", offFreelist, ne.Uint64(data[offRoot:])},
		{"freelist random", offFreelist, uint64(2 + rng.IntN(max(pages-2, 1)))},
		{"freelist past the end", offFreelist, uint64(pages) + 9},
	} {
		b := slices.Clone(data)
		for id := range 2 {
			p := page(b, id)
			ne.PutUint64(p[lie.off:], lie.v)
			reseal(p)
		}
		add("meta: "+lie.name, b)
	}
	b = slices.Clone(data)
	for id := range 2 {
		p := page(b, id)
		ne.PutUint32(p[offPageSize:], uint32(ps*2))
		reseal(p)
	}
	add("meta: page size doubled", b)
	b = slices.Clone(data)
	p := page(b, 0)
	ne.PutUint64(p[offTxid:], ne.Uint64(p[offTxid:])+1000)
	ne.PutUint64(p[offPgid:], uint64(pages)+100)
	reseal(p)
	add("meta 0: newest and truncated", b)

	// The freelist page: its header and its ids.
	if fl := freelistOf(data); fl >= 2 && int(fl) < pages {
		for i, name := range []string{"freelist page random", "freelist ids random", "freelist count huge", "freelist type wrong"} {
			b := slices.Clone(data)
			p := page(b, int(fl))
			switch i {
			case 0:
				fill(rng, p)
			case 1:
				fill(rng, p[pageHeader:])
			case 2:
				ne.PutUint16(p[10:], 0xFFFF)
				ne.PutUint64(p[pageHeader:], 1<<40)
			case 3:
				ne.PutUint16(p[8:], 0x02) // a leaf
			}
			add(name, b)
		}
	}
	return out
}

// Trim cuts a bbolt file to the pages its meta pages say are in use: bbolt
// grows files in big steps (16 MiB), and the rest is never read. The result
// is a valid database, and damage to it hits pages that matter.
func Trim(data []byte) []byte {
	if !IsBolt(data) {
		return data
	}
	ps := int(ne.Uint32(data[offPageSize:]))
	if ps <= 0 || len(data) < 2*ps {
		return data
	}
	used := max(ne.Uint64(data[offPgid:]), ne.Uint64(data[ps+offPgid:]))
	if used < 2 || used > uint64(len(data)/ps) {
		return data
	}
	return data[:int(used)*ps]
}

// freelistOf is the freelist page of the newest valid meta page.
func freelistOf(data []byte) uint64 {
	ps := int(ne.Uint32(data[offPageSize:]))
	m0, m1 := data[:offSum+8], data[ps:ps+offSum+8]
	if ne.Uint64(m1[offTxid:]) > ne.Uint64(m0[offTxid:]) {
		return ne.Uint64(m1[offFreelist:])
	}
	return ne.Uint64(m0[offFreelist:])
}

// reseal recomputes a meta page's checksum, so the lie passes bbolt's check.
func reseal(p []byte) {
	h := fnv.New64a()
	h.Write(p[pageHeader:offSum])
	ne.PutUint64(p[offSum:], h.Sum64())
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
