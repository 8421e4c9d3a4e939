package gen

// memo caches an analysis that follows calls (does f write through its
// parameter, does its result share one) over a call graph that may have
// cycles (recursive functions). A question asked again while it is being
// answered gets a stand-in (cycle: "nothing", the least answer), as in
// Tarjan's algorithm for strongly connected parts: answers within such a
// part are kept open until the question that opened the part has its
// answer, and are then kept if no stand-in they used proved wrong. Where
// one did (f writes, g only calls f, and g was asked inside f's answer and
// told f writes nothing), the answers found (final: found is found,
// whatever the rest) are kept and the part is answered again: at most as
// many rounds as it has questions, where answering each question anew on
// every path would take exponential time over a large recursive part.
type memo[K comparable, V any] struct {
	done  map[K]V
	open  map[K]*memoEntry[V]
	stack []K // the open answers, in the order they were asked
	low   int // the earliest open question the answer being found reached
}

type memoEntry[V any] struct {
	index int // its place on the stack
	v     V
	busy  bool // being answered
	stood bool // a stand-in was given for it while it was busy
}

func (m *memo[K, V]) answer(k K, cycle V, final func(V) bool, compute func() V) V {
	if v, ok := m.done[k]; ok {
		return v
	}
	if e, ok := m.open[k]; ok {
		m.low = min(m.low, e.index)
		if e.busy {
			e.stood = true
			return cycle
		}
		return e.v
	}
	if m.done == nil {
		m.done, m.open = map[K]V{}, map[K]*memoEntry[V]{}
	}
	outer := m.low
	for {
		idx := len(m.stack)
		e := &memoEntry[V]{index: idx, busy: true}
		m.open[k] = e
		m.stack = append(m.stack, k)
		m.low = idx
		v := compute()
		e.v, e.busy = v, false
		if m.low < idx { // inside a part opened by an earlier question
			m.low = min(outer, m.low)
			return v
		}
		wrong := false // a stand-in given for a question whose answer is not the stand-in
		for _, s := range m.stack[idx:] {
			if se := m.open[s]; se.stood && final(se.v) {
				wrong = true
			}
		}
		for _, s := range m.stack[idx:] {
			if se := m.open[s]; !wrong || final(se.v) {
				m.done[s] = se.v
			}
			delete(m.open, s)
		}
		m.stack = m.stack[:idx]
		if v, ok := m.done[k]; ok { // right the first time, or found
			m.low = outer
			return v
		}
	}
}
