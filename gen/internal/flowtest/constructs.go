package flowtest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

// Point is a value type that travels on channels and lives in frames.
type Point struct{ X, Y int }

// Feed sends each of vals on ch, then closes ch.
//
//stackless:tasklet kind=flowtest.feed version=1
func Feed(t *tasklet.Flow, ch channel.ID, vals []int) error {
	for _, v := range vals {
		if err := t.Send(ch, v); err != nil {
			return fmt.Errorf("feed: %w", err)
		}
	}
	return t.Close(ch)
}

// Branches covers if/else chains, switches with and without a tag,
// fallthrough, and a type switch, each with suspensions in their arms.
//
//stackless:tasklet kind=flowtest.branches version=1
func Branches(t *tasklet.Flow, in, out channel.ID) error {
	n := 0
	for {
		v, err := t.Recv(in)
		if err != nil {
			break
		}
		x := v.(int)
		if x%3 == 0 {
			_ = t.Send(out, fmt.Sprint("fizz ", x))
		} else if x%3 == 1 {
			if err := t.Yield(); err != nil {
				return err
			}
			_ = t.Send(out, fmt.Sprint("one ", x))
		} else {
			n += x
			_ = t.Send(out, fmt.Sprint("other ", x, " sum ", n))
		}
		switch x % 4 {
		case 0:
			_ = t.Send(out, "case 0")
			fallthrough
		case 1:
			_ = t.Send(out, "case 1 (or 0)")
		case 2, 3:
			if x > 5 {
				break
			}
			_ = t.Send(out, "small 2 or 3")
		}
		switch {
		case x > 6:
			_ = t.Yield()
			_ = t.Send(out, "big")
		default:
			_ = t.Send(out, "not big")
		}
		var any_ any = x
		if x%2 == 0 {
			any_ = fmt.Sprint(x)
		}
		if x == 7 {
			any_ = Point{x, -x}
		}
		switch w := any_.(type) {
		case int:
			_ = t.Yield()
			_ = t.Send(out, fmt.Sprint("int ", w+1))
		case string:
			_ = t.Send(out, "string "+w)
		default:
			_ = t.Yield()
			_ = t.Send(out, fmt.Sprintf("other %T %v", w, w))
		}
	}
	return t.Send(out, fmt.Sprint("branches done ", n))
}

// Loops covers every for form, labelled break and continue, and ranges
// over slices, arrays, strings and integers.
//
//stackless:tasklet kind=flowtest.loops version=1
func Loops(t *tasklet.Flow, out channel.ID, words []string) error {
	total := 0
	for i := 0; i < 3; i++ {
		_ = t.Yield()
		total += i
	}
	j := 0
	for j < 4 {
		_ = t.Send(out, fmt.Sprint("j ", j))
		j++
	}
outer:
	for a := range 4 {
		for b := 0; b < 4; b++ {
			if b > a {
				continue outer
			}
			if a == 3 {
				break outer
			}
			_ = t.Send(out, fmt.Sprint("pair ", a, b))
		}
	}
	for i, w := range words {
		if w == "skip" {
			continue
		}
		_ = t.Send(out, fmt.Sprint("word ", i, " ", w))
		words = append(words, "late") // the range keeps its own copy
		if len(words) > 20 {
			break
		}
	}
	arr := [3]int{7, 8, 9}
	for i, v := range arr {
		arr[2] = 100 // the range reads a copy of the array
		_ = t.Send(out, fmt.Sprint("arr ", i, " ", v))
	}
	for i := range arr {
		_ = t.Send(out, fmt.Sprint("idx ", i))
	}
	for i, r := range "héllo\xff" {
		_ = t.Send(out, fmt.Sprintf("rune %d %q", i, r))
	}
	for range 2 {
		_ = t.Yield()
	}
	k := 0
	for {
		k++
		if k > 3 {
			break
		}
		_ = t.Sleep(time.Millisecond)
	}
	return t.Send(out, fmt.Sprint("loops done ", total, " ", j, " ", k, " ", len(words)))
}

// Exprs covers suspensions inside expressions and conditions, evaluated in
// Go's order, Select with the chosen index, shadowing, and per-iteration
// loop variables.
//
//stackless:tasklet kind=flowtest.exprs version=1
func Exprs(t *tasklet.Flow, in, out channel.ID) error {
	Order = Order[:0]
	x := mark("a")*10 + add(t, mark("b"), 5) + mark("c") + add(t, mark("d"), 0)
	_ = t.Send(out, fmt.Sprint("x ", x, " order ", Order))
	if t.Yield() == nil && add(t, 1, 1) == 2 {
		_ = t.Send(out, "yield then add")
	}
	for i := 0; add(t, i, 0) < 2; i++ {
		_ = t.Send(out, fmt.Sprint("cond loop ", i))
	}
	v := 1
	{
		v := v + 1 // shadows
		_ = t.Yield()
		_ = t.Send(out, fmt.Sprint("inner v ", v))
	}
	_ = t.Send(out, fmt.Sprint("outer v ", v))
	_ = t.Yield()
	var fs []func() int
	for i := 0; i < 3; i++ {
		fs = append(fs, func() int { return i * 10 })
	}
	sum := 0
	for _, f := range fs {
		sum += f()
	}
	_ = t.Send(out, fmt.Sprint("closures ", sum))
	var got []string
	for _, w := range []string{"p", "q"} {
		f := func() string { return w + w }
		got = append(got, f())
		_ = t.Yield()
	}
	_ = t.Send(out, fmt.Sprint("range vars ", got))
	for n := 0; n < 3; n++ {
		chosen, got, err := t.Select(tasklet.RecvCase(in), tasklet.DefaultCase())
		_ = t.Send(out, fmt.Sprint("select ", chosen, " ", got, " ", err))
	}
	p := Point{1, 2}
	_ = t.Yield()
	p.X += add(t, p.Y, 3)
	_ = t.Send(out, fmt.Sprint("point ", p))
	s := strings.Repeat("ab", add(t, 1, 1))
	lo, hi := span(t, 4)
	_ = t.Send(out,
		fmt.Sprint("span ", lo, " ", hi)) // a dropped error on two lines
	return t.Send(out, "exprs done "+s)
}

// Left covers calls on the left of an assignment whose right side
// suspends: Go makes them before the right side's, so they run before the
// suspension, and the element they pick is the one written after it.
//
//stackless:tasklet kind=flowtest.left version=1
func Left(t *tasklet.Flow, in, out channel.ID) error {
	Order = Order[:0]
	arr := []int{0, 0, 0}
	arr[mark("i")%3] = add(t, mark("v"), 0)
	m := map[string]int{}
	m[fmt.Sprint(mark("k"))] = add(t, mark("w"), 1)
	pts := []Point{{}, {}}
	pts[mark("p")%2].X = add(t, mark("z"), 2)
	ints := []int{0, 0}
	var err error
	ints[mark("r")%2], err = tasklet.RecvAs[int](t, in)
	arr[mark("j")%3] += add(t, 1, mark("u"))
	return t.Send(out, fmt.Sprint("left ", Order, " ", arr, " ", m, " ", pts, " ", ints, " ", err))
}

// Ranges covers a range over what a suspending call returns: the call
// runs before the loop's variables exist, so they need no field unless a
// point in the body needs them.
//
//stackless:tasklet kind=flowtest.ranges version=1
func Ranges(t *tasklet.Flow, out channel.ID) error {
	var got []int
	for i, v := range pair(t, 3) {
		got = append(got, i+v)
	}
	for i, v := range pair(t, 5) {
		_ = t.Yield()
		got = append(got, i*v)
	}
	var i, v int
	for i, v = range pair(t, 7) {
		got = append(got, i-v)
	}
	return t.Send(out, fmt.Sprint("ranges ", got, " ", i, " ", v))
}

// Names covers locals whose names have no upper case ASCII first letter:
// each becomes an exported field, which saves hold.
//
//stackless:tasklet kind=flowtest.names version=1
func Names(t *tasklet.Flow, out channel.ID) error {
	été, 数, α, _n := 1, 2, 3, 4
	_ = t.Yield()
	été, 数 = été+数, 数*α
	_ = t.Yield()
	return t.Send(out, fmt.Sprint("names ", été, " ", 数, " ", α, " ", _n))
}

// Decls covers var declarations whose values suspend: a group of them,
// declared in order, and declared types other than the value's.
//
//stackless:tasklet kind=flowtest.decls version=1
func Decls(t *tasklet.Flow, out channel.ID) error {
	Order = Order[:0]
	var (
		a     = add(t, 1, 1)
		b     = add(t, a, mark("b"))
		c int = 3
	)
	var x any = add(t, 2, 2)
	var f float64 = float64(add(t, c, 1)) / 2
	_ = t.Yield()
	x = fmt.Sprint("x was ", x)
	return t.Send(out, fmt.Sprint("decls ", a, " ", b, " ", c, " ", x, " ", f))
}

// RangeWrites covers a loop that writes the slice it ranges over: a write
// to a later element shows when the loop gets there, also across a save
// and restore.
//
//stackless:tasklet kind=flowtest.rangewrites version=1
func RangeWrites(t *tasklet.Flow, out channel.ID) error {
	hp := []int{10, 20, 30}
	for i, h := range hp {
		if i+1 < len(hp) {
			hp[i+1] += h
		}
		_ = t.Yield()
		_ = t.Send(out, fmt.Sprint("hp ", i, " ", h))
	}
	return t.Send(out, fmt.Sprint("rangewrites ", hp))
}

// Handed covers slices and maps handed to flow functions that write them:
// one array, one map, the caller's and the callee's, also across a save
// and restore inside the callee, and handed on one call deeper.
//
//stackless:tasklet kind=flowtest.handed version=1
func Handed(t *tasklet.Flow, out channel.ID) error {
	buf := make([]int, 3)
	fillIn(t, buf)
	counts := map[string]int{"a": 1}
	n := bumpKey(t, counts, 2)
	spare := map[string]int{"a": 5}
	m := bumpKey(t, spare, 1)
	return t.Send(out, fmt.Sprint("handed ", buf, " ", counts, " ", n, " ", m))
}

// fillIn writes buf's elements between suspensions, then hands it on.
func fillIn(t *tasklet.Flow, buf []int) {
	for i := range buf {
		_ = t.Yield()
		buf[i] = (i + 1) * 10
	}
	firstTo(t, buf, 99)
}

func firstTo(t *tasklet.Flow, b []int, v int) {
	_ = t.Yield()
	b[0] = v
}

// bumpKey adds n to m["a"] after a suspension.
func bumpKey(t *tasklet.Flow, m map[string]int, n int) int {
	_ = t.Yield()
	m["a"] += n
	return m["a"]
}

// pair suspends once and returns n and n+1.
func pair(t *tasklet.Flow, n int) []int {
	_ = t.Yield()
	return []int{n, n + 1}
}

// span has named results and a bare return.
func span(t *tasklet.Flow, x int) (lo, hi int) {
	lo = x
	if err := t.Yield(); err != nil {
		return
	}
	hi = lo * 2
	return
}

// Order records the order of the calls mark sees.
var Order []string

func mark(s string) int {
	Order = append(Order, s)
	return len(Order)
}

// add suspends once and returns a+b.
func add(t *tasklet.Flow, a, b int) int {
	_ = t.Yield()
	return a + b
}

// Nested calls suspending functions three frames deep, with early returns
// and errors coming back up.
//
//stackless:tasklet kind=flowtest.nested version=1
func Nested(t *tasklet.Flow, in, out channel.ID) error {
	for round := 0; ; round++ {
		total, err := sumN(t, in, 2) // where: Nested calls sumN
		if errors.Is(err, channel.ErrClosed) {
			return t.Send(out, fmt.Sprint("nested closed after ", round))
		}
		if err != nil {
			return err
		}
		_ = t.Send(out, fmt.Sprint("nested total ", total))
		if round == 5 {
			return errors.New("nested gives up")
		}
	}
}

// sumN receives n values (each through recvInt) and returns their sum.
func sumN(t *tasklet.Flow, in channel.ID, n int) (int, error) {
	sum := 0
	for i := 0; i < n; i++ {
		v, err := recvInt(t, in) // where: sumN calls recvInt
		if err != nil {
			return sum, err
		}
		sum += v
	}
	return sum, nil
}

// recvInt receives an int, yielding first.
func recvInt(t *tasklet.Flow, in channel.ID) (int, error) {
	if err := t.Yield(); err != nil { // where: recvInt yields
		return 0, err
	}
	return tasklet.RecvAs[int](t, in) // where: recvInt receives
}

// Errs covers kills, thrown and sent errors, dropped errors and Pause.
//
//stackless:tasklet kind=flowtest.errs version=1
func Errs(t *tasklet.Flow, in, out channel.ID, tough bool) error {
	for i := 0; ; i++ {
		v, err := t.Recv(in)
		switch {
		case errors.Is(err, tasklet.ErrKilled):
			_ = t.Send(out, fmt.Sprint("killed at ", i, " tough ", tough))
			if !tough {
				return err
			}
		case errors.Is(err, channel.ErrClosed):
			return t.Send(out, "errs: closed")
		case err != nil:
			_ = t.Send(out, "errs: got error "+err.Error())
		default:
			_ = t.Send(out, fmt.Sprint("errs: got ", v))
		}
		if i == 2 {
			_ = t.Pause()
			_ = t.Send(out, "errs: resumed")
		}
	}
}

// Dropper drops the errors of its blocking calls: an error delivered to
// one ends the tasklet at its next suspension.
//
//stackless:tasklet kind=flowtest.dropper version=1
func Dropper(t *tasklet.Flow, in, out channel.ID) error {
	for {
		v, _ := t.Recv(in)
		t.Send(out, fmt.Sprint("dropper got ", v))
	}
}

// Boss drives Errs and Dropper: it sends values and errors, kills, inserts
// and closes.
//
//stackless:tasklet kind=flowtest.boss version=1
func Boss(t *tasklet.Flow, toErrs, toDropper, out channel.ID, errs, dropper tasklet.ID) error {
	_ = t.Send(toErrs, 1)
	_ = t.SendErr(toErrs, errors.New("bad news"))
	_ = t.Send(toErrs, 2)
	_ = t.Yield()
	_ = t.Yield()
	_ = t.Send(out, fmt.Sprint("insert: ", t.Host().Insert(errs)))
	_ = t.Yield()
	_ = t.Send(out, fmt.Sprint("kill: ", t.Host().Kill(errs, false)))
	_ = t.Yield()
	_ = t.Send(toDropper, "a")
	_ = t.SendErr(toDropper, errors.New("dropped"))
	_ = t.Yield()
	_ = t.Send(out, fmt.Sprint("kill again: ", t.Host().Kill(errs, false)))
	return nil
}

func init() {
	// Point values travel on channels and live in saved frames.
	if err := pickle.RegisterValue[Point](pickle.Default, "flowtest.point"); err != nil {
		panic(err)
	}
}

// Timer waits with Select timeouts and Sleep, and answers with SendErr.
//
//stackless:tasklet kind=flowtest.timer version=1
func Timer(t *tasklet.Flow, in, out channel.ID) error {
	misses := 0
	for misses < 3 {
		chosen, v, err := t.Select(tasklet.RecvCase(in), tasklet.TimeoutCase(time.Duration(misses+1)*time.Millisecond))
		switch {
		case err != nil:
			return t.Send(out, fmt.Sprint("timer: ", err, " at ", t.Now()))
		case chosen == 1:
			misses++
			_ = t.Send(out, fmt.Sprint("timer: timeout ", misses, " at ", t.Now()))
		default:
			_ = t.Send(out, fmt.Sprintf("timer: got %T %v at %v", v, v, t.Now()))
			if err := t.SendErr(out, fmt.Errorf("timer saw %v", v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Ticker sends a Point after a sleep, n times.
//
//stackless:tasklet kind=flowtest.ticker version=1
func Ticker(t *tasklet.Flow, out channel.ID, n int) error {
	for i := range n {
		if err := t.Sleep(time.Duration(i) * time.Millisecond); err != nil {
			return err
		}
		if err := t.Send(out, Point{i, -i}); err != nil {
			return err
		}
	}
	return nil
}

// Before reads locals that stand before a suspension point in its
// statement but are read after it when the lowered code runs (the call
// moves ahead of the statement): they live across the point.
//
//stackless:tasklet kind=flowtest.before version=1
func Before(t *tasklet.Flow, out channel.ID) error {
	x := 5
	y := x + add(t, 1, 2)
	s := []int{1, 2, 3}
	k := 1
	s[k] = add(t, 10, 0)
	z := 7
	total := 0
	for a := range 4 {
		n := 0
		for b := 0; b < a; b++ { // a, set by the range, is read after the yield
			_ = t.Yield()
			n++
		}
		total += n
	}
	_ = t.Send(out, fmt.Sprint("before ", y, s, z, total))
	return t.Send(out, fmt.Sprint("args only ", z))
}

// Results reports what tally returns.
//
//stackless:tasklet kind=flowtest.results version=1
func Results(t *tasklet.Flow, out channel.ID) error {
	return t.Send(out, fmt.Sprint("tally ", tally(t, 41)))
}

// tally has a named result set before a point and read after it only by
// the bare return, which no identifier shows: a save must keep it.
func tally(t *tasklet.Flow, x int) (n int) {
	n = x + 1
	_ = t.Yield()
	return
}
