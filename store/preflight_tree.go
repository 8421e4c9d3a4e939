package store

import (
	"encoding/binary"
	"fmt"
)

// Why walk the tree: bbolt follows page ids from branch elements and
// bucket headers without checking where they lead. A damaged page that
// points back at one of its ancestors sends bbolt round the loop for ever,
// recursing until Go's stack limit (a fatal error no recover catches) or
// growing a cursor's stack until memory runs out. A valid file reaches
// every page of its tree exactly once, so Open reads the tree once with
// plain reads, before bbolt maps the file, and refuses one that reaches a
// page twice, leaves the pages in use, or has a page that does not say it
// is the page it was reached as.

const (
	boltBranchFlag  = 0x01
	boltLeafFlag    = 0x02
	boltBucketLeaf  = 0x01 // a leaf element whose value is a bucket header
	boltBranchElem  = 16   // pos u32, ksize u32, pgid u64
	boltLeafElem    = 16   // flags u32, pos u32, ksize u32, vsize u32
	boltBucketHdr   = 16   // root u64, sequence u64
	boltMaxTreePage = 1 << 20
)

// checkTree walks every bucket's pages from the root bucket m.root.
func checkTree(path string, read func(int64, int) ([]byte, error), m boltMeta, pageSize int64) error {
	ne := binary.NativeEndian
	seen := make(map[uint64]bool)
	stack := []uint64{m.root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id < 2 || id >= m.pgid {
			return damaged(path, fmt.Sprintf("a page of its tree points at page %d, outside pages 2 to %d", id, m.pgid-1))
		}
		if seen[id] {
			return damaged(path, fmt.Sprintf("page %d is reached twice from its tree (a loop or a shared page)", id))
		}
		seen[id] = true
		if len(seen) > boltMaxTreePage {
			return damaged(path, "its tree is larger than any checkpoint database")
		}
		hdr, err := read(int64(id)*pageSize, boltPageHeader)
		if err != nil {
			return err
		}
		if len(hdr) < boltPageHeader {
			return damaged(path, fmt.Sprintf("page %d is cut off", id))
		}
		overflow := uint64(ne.Uint32(hdr[12:]))
		if self := ne.Uint64(hdr); self != id {
			return damaged(path, fmt.Sprintf("page %d says it is page %d", id, self))
		}
		if id+overflow >= m.pgid {
			return damaged(path, fmt.Sprintf("page %d spans %d more pages, past the %d pages in use", id, overflow, m.pgid))
		}
		for o := uint64(1); o <= overflow; o++ {
			seen[id+o] = true // an overflow page is part of its page, never a tree page of its own
		}
		p, err := read(int64(id)*pageSize, int((overflow+1)*uint64(pageSize)))
		if err != nil {
			return err
		}
		children, err := pageChildren(p, id)
		if err != nil {
			return damaged(path, err.Error())
		}
		stack = append(stack, children...)
	}
	return nil
}

// pageChildren lists the pages a branch or leaf page p (page id) points
// at: a branch's children, a leaf's buckets' roots (and, inside an inline
// bucket's page, theirs: none, as bbolt inlines only buckets without
// buckets, but a damaged file may say otherwise).
func pageChildren(p []byte, id uint64) ([]uint64, error) {
	ne := binary.NativeEndian
	if len(p) < boltPageHeader {
		return nil, fmt.Errorf("page %d is cut off", id)
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	body := p[boltPageHeader:]
	var out []uint64
	switch flags {
	case boltBranchFlag:
		if count*boltBranchElem > len(body) {
			return nil, fmt.Errorf("branch page %d claims %d elements, more than it holds", id, count)
		}
		for i := range count {
			out = append(out, ne.Uint64(body[i*boltBranchElem+8:]))
		}
	case boltLeafFlag:
		if count*boltLeafElem > len(body) {
			return nil, fmt.Errorf("leaf page %d claims %d elements, more than it holds", id, count)
		}
		for i := range count {
			e := body[i*boltLeafElem:]
			if ne.Uint32(e)&boltBucketLeaf == 0 {
				continue
			}
			pos, ksize, vsize := uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
			start := uint64(i*boltLeafElem) + pos + ksize // relative to body
			if vsize < boltBucketHdr || start+vsize > uint64(len(body)) {
				return nil, fmt.Errorf("leaf page %d has a bucket header outside the page", id)
			}
			v := body[start : start+vsize]
			if root := ne.Uint64(v); root != 0 {
				out = append(out, root)
				continue
			}
			inline, err := pageChildren(v[boltBucketHdr:], id)
			if err != nil {
				return nil, err
			}
			out = append(out, inline...)
		}
	default:
		return nil, fmt.Errorf("page %d of its tree is neither a branch nor a leaf page (type %#x)", id, flags)
	}
	return out, nil
}
