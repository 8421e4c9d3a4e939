package p

import (
	"bytes"
	"encoding/binary"
	"io"
	"slices"
	"sort"

	"github.com/stackless-go/stackless/tasklet"
)

// twoLocals writes through b after a point where a holds the array too.
func twoLocals(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	b := a
	_ = t.Yield()
	b[0] = 10
	return a[0]
}

// subSlice writes through c before the point, in a loop around it.
func subSlice(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	c := a[1:]
	for i := range 2 {
		c[0] += i
		_ = t.Yield()
	}
	return a[1] + c[0]
}

// rows writes through the row it ranges over while grid is held.
func rows(t *tasklet.Flow) int {
	grid := [][]int{{1}, {2}}
	for _, row := range grid {
		_ = t.Yield()
		row[0]++
	}
	return grid[0][0]
}

// twoMaps holds one map twice across a point: every save there fails.
func twoMaps(t *tasklet.Flow) int {
	m := map[string]int{"a": 1}
	n := m
	_ = t.Yield()
	return m["a"] + n["a"]
}

// appended may share a's array while it has room.
func appended(t *tasklet.Flow) int {
	a := make([]int, 1, 4)
	b := append(a, 2)
	_ = t.Yield()
	slices.Sort(b)
	return a[0] + b[1]
}

// inCallee aliases its linked parameter and writes through the alias.
func inCallee(t *tasklet.Flow, p []int) int {
	q := p[1:]
	_ = t.Yield()
	q[0] = 5
	return q[0]
}

// readOnly, writtenBefore and cloned are not refused: the copies a
// restore makes stay equal.
func readOnly(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	b := a[1:]
	_ = t.Yield()
	return a[0] + b[0]
}

func writtenBefore(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	b := a
	b[0] = 7
	_ = t.Yield()
	return a[0] + b[0]
}

func cloned(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	b := slices.Clone(a)
	_ = t.Yield()
	b[0] = 7
	return a[0] + b[0]
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	p := []int{1, 2, 3}
	_ = twoLocals(t) + subSlice(t) + rows(t) + twoMaps(t) + appended(t) + inCallee(t, p)
	_ = readOnly(t) + writtenBefore(t) + cloned(t)
	return nil
}

// The writers of the standard library count as writes too.
func readInto(t *tasklet.Flow, r io.Reader) int {
	buf := make([]byte, 8)
	head := buf[:4]
	_ = t.Yield()
	n, _ := io.ReadFull(r, buf)
	return n + int(head[0])
}

func putInto(t *tasklet.Flow) int {
	buf := make([]byte, 8)
	head := buf[:4]
	_ = t.Yield()
	binary.LittleEndian.PutUint32(buf, 7)
	return int(head[0])
}

func sortInto(t *tasklet.Flow) int {
	xs := []int{3, 1, 2}
	view := xs[:2]
	_ = t.Yield()
	sort.Sort(sort.IntSlice(view))
	return xs[0]
}

func deleteIn(t *tasklet.Flow) int {
	xs := []int{3, 1, 2}
	view := xs
	_ = t.Yield()
	view = slices.Delete(view, 0, 1)
	return xs[0] + len(view)
}

func readMethod(t *tasklet.Flow) int {
	buf := make([]byte, 8)
	head := buf[:4]
	_ = t.Yield()
	n, _ := bytes.NewReader([]byte("x")).Read(buf)
	return n + int(head[0])
}

//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow) error {
	_ = readInto(t, nil) + putInto(t) + sortInto(t) + deleteIn(t) + readMethod(t)
	return nil
}

type path []int

func (p path) reverse() { slices.Reverse(p) }

func (p path) first() int { return p[0] }

// methods writes through a value receiver's elements: refused; first
// only reads them.
func methods(t *tasklet.Flow) int {
	all := path{1, 2, 3}
	view := all[:2]
	_ = t.Yield()
	n := view.first()
	view.reverse()
	return all[0] + n
}

func readsByMethod(t *tasklet.Flow) int {
	all := path{1, 2, 3}
	view := all[:2]
	_ = t.Yield()
	return all.first() + view.first()
}

//stackless:tasklet kind=p.z version=1
func Z(t *tasklet.Flow) error {
	_ = methods(t) + readsByMethod(t)
	return nil
}

func tail(xs []int) []int { return xs[1:] }

func headOf(t *tasklet.Flow, xs []int) (h []int) {
	_ = t.Yield()
	h = xs[:1]
	return
}

func fresh(xs []int) []int { return slices.Clone(xs) }

// A function's result may share its argument's array: followed into
// the package's functions (a bare return of a named result too) and
// slices' in-place edits.
func viaFunc(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	b := tail(a)
	_ = t.Yield()
	b[0] = 9
	return a[1]
}

func viaFlow(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	h := headOf(t, a)
	_ = t.Yield()
	h[0] = 9
	return a[0]
}

func viaDelete(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	b := slices.Delete(a, 0, 1)
	_ = t.Yield()
	b[0] = 9
	return a[0]
}

func viaBytes(t *tasklet.Flow) int {
	line := []byte(" go ")
	word := bytes.TrimSpace(line)
	_ = t.Yield()
	word[0] = 'G'
	return int(line[1])
}

type route []int

// tail returns part of its receiver.
func (p route) tail() route { return p[1:] }

func viaMethod(t *tasklet.Flow) int {
	a := route{1, 2, 3}
	b := a.tail()
	_ = t.Yield()
	b[0] = 9
	return a[1]
}

// notShared is not refused: fresh returns a copy.
func notShared(t *tasklet.Flow) int {
	a := []int{1, 2, 3}
	b := fresh(a)
	_ = t.Yield()
	b[0] = 9
	return a[0]
}

//stackless:tasklet kind=p.w version=1
func W(t *tasklet.Flow) error {
	_ = viaFunc(t) + viaFlow(t) + viaDelete(t) + viaBytes(t) + viaMethod(t) + notShared(t)
	return nil
}
