package ipc

import "slices"

// linkTable maps node numbers to live links. A table is never changed once
// published: writers (holding Node.mu) build a new one, so the lookup on
// every send is a bounds check and an index, with no lock and no hashing.
// A link can stand under several numbers: its peer's, and logical nodes
// routed over it (Route).
type linkTable struct {
	byNode []*link // indexed by node number; as long as the highest number in use, plus one
}

func (t *linkTable) get(node uint16) *link {
	if int(node) < len(t.byNode) {
		return t.byNode[node]
	}
	return nil
}

// with returns a copy of t where node maps to l (nil removes it).
func (t *linkTable) with(node uint16, l *link) *linkTable {
	n := max(len(t.byNode), int(node)+1)
	byNode := make([]*link, n)
	copy(byNode, t.byNode)
	byNode[node] = l
	for len(byNode) > 0 && byNode[len(byNode)-1] == nil {
		byNode = byNode[:len(byNode)-1]
	}
	return &linkTable{byNode: slices.Clip(byNode)}
}

// each calls fn for every number in use, in order.
func (t *linkTable) each(fn func(name uint16, l *link)) {
	for i, l := range t.byNode {
		if l != nil {
			fn(uint16(i), l)
		}
	}
}

// links lists the distinct links (routed numbers share their peer's link).
func (t *linkTable) links() []*link {
	var out []*link
	t.each(func(name uint16, l *link) {
		if name == l.peer {
			out = append(out, l)
		}
	})
	return out
}
