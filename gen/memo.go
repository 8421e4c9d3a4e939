package gen

// memo caches an analysis that follows calls, over a call graph that may
// have cycles (recursive functions): a question asked again while it is
// being answered gets the answer "nothing" (cycle), the least that can be
// true. An answer that used such a stand-in for a question still open is
// not kept unless it is final (final: nothing found later could change
// it), since the stand-in may yet be wrong: f writes, g only calls f, and
// g asked within f's answer would otherwise be kept as writing nothing.
type memo[K comparable, V any] struct {
	done map[K]V
	busy map[K]bool
	cut  bool // an answer since the last of answer's starts used a stand-in
}

func (m *memo[K, V]) answer(k K, cycle V, final func(V) bool, compute func() V) V {
	if v, ok := m.done[k]; ok {
		return v
	}
	if m.busy[k] {
		m.cut = true
		return cycle
	}
	if m.done == nil {
		m.done, m.busy = map[K]V{}, map[K]bool{}
	}
	m.busy[k] = true
	outer := m.cut
	m.cut = false
	v := compute()
	delete(m.busy, k)
	if !m.cut || len(m.busy) == 0 || final(v) {
		m.done[k] = v
	}
	m.cut = m.cut || outer
	return v
}
