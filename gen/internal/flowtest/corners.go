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

// Big is a value with an array, a slice and a map, kept in a frame.
type Big struct {
	A   [4]int
	Pts []Point
	M   map[string]int
	S   string
}

// Corners covers blocking calls in the less common places: the init and
// the tag of a switch and a type switch, a for loop's condition, the inits of an else-if chain, the fields of struct and
// array locals, arguments of blocking calls, slice bounds and map
// literal keys; a type switch's binding used across a point; a local set
// after a point and read before it in the next iteration; a labelled
// continue out of an inner loop; comma-ok forms; a big value.
//
//stackless:tasklet kind=flowtest.corners version=1
func Corners(t *tasklet.Flow, out channel.ID) error {
	var log []string
	// switch init with a blocking call
	switch x := add(t, 2, 3); {
	case x > 4:
		log = append(log, fmt.Sprint("sw ", x, add(t, x, 1)))
	default:
		log = append(log, "default")
	}
	for k := range 3 {
	tagged:
		switch y := add(t, k, 0); add(t, y, 1) {
		case 1:
			log = append(log, fmt.Sprint("one ", y))
		case 2:
			if add(t, y, 0) == 1 {
				break tagged
			}
			log = append(log, "not reached")
		default:
			_ = t.Yield()
			log = append(log, fmt.Sprint("tag ", y))
			fallthrough
		case 9:
			log = append(log, fmt.Sprint("nine ", y))
		}
	}
	for k := range 3 {
		in := []any{1, "s", Point{1, 2}}[k]
		switch v := echo(t, in).(type) {
		case int:
			log = append(log, fmt.Sprint("ts int ", add(t, v, 1)))
		case string, Point:
			_ = t.Yield()
			log = append(log, fmt.Sprint("ts ", v))
		}
		switch n := add(t, 1, 0); echo(t, in).(type) {
		case Point:
			log = append(log, fmt.Sprint("ts point ", n))
		}
	}
	// for condition with a blocking call
	i := 0
	for add(t, i, 0) < 3 {
		i++
	}
	log = append(log, fmt.Sprint("i ", i))
	// else-if chain with inits
	if a := add(t, 1, 0); a > 5 {
		log = append(log, "a")
	} else if b := add(t, a, 1); b > 5 {
		log = append(log, "b")
	} else if c := add(t, b, a); c == 3 {
		_ = t.Yield()
		log = append(log, fmt.Sprint("c ", a, b, c))
	} else {
		log = append(log, fmt.Sprint("else ", a, b, c))
	}
	// struct and array locals written from blocking calls
	var p Point
	p.X, p.Y = span(t, 3)
	var arr [3]int
	arr[add(t, 0, 1)] = add(t, 5, 5)
	_, hi := span(t, 7)
	log = append(log, fmt.Sprint("p ", p, arr, hi))
	// nested blocking calls as arguments
	v := add(t, add(t, 1, 2), add(t, 3, 4))
	sl := []int{1, 2, 3, 4}
	w := sl[add(t, 0, 1):add(t, 1, 2)]
	mm := map[int]int{add(t, 1, 0): add(t, 2, 0)}
	f := float64(add(t, 3, 0)) / 2
	s := strings.Repeat("z", add(t, 1, 1))
	s += fmt.Sprint(add(t, 4, 4))
	log = append(log, fmt.Sprint("v ", v, w, mm, f, s))
	// type switch binding live across a point in a case
	var got any = "str"
	for k := 0; k < 3; k++ {
		switch g := got.(type) {
		case string:
			_ = t.Yield()
			log = append(log, "str "+g)
			got = 1
		case int:
			n := add(t, g, 10)
			log = append(log, fmt.Sprint("int ", g, " ", n))
			got = Point{g, n}
		default:
			_ = t.Yield()
			log = append(log, fmt.Sprint("def ", g))
		}
	}
	// liveness around a loop: last set after the point, read before it
	var last int
	for j := range 3 {
		if j > 0 {
			log = append(log, fmt.Sprint("last ", last))
		}
		last = add(t, j, 100)
	}
	// labelled continue of outer loop from an inner blocking loop
outer:
	for j := 0; j < 3; j++ {
		for k := 0; k < 3; k++ {
			if add(t, j, k) == 2 {
				continue outer
			}
			log = append(log, fmt.Sprint("jk ", j, k))
		}
	}
	// comma-ok forms after suspensions
	var any1 any = add(t, 1, 1)
	n, ok := any1.(int)
	_ = t.Yield()
	cnt := map[string]int{"q": 1}
	q, ok2 := cnt["q"]
	_ = t.Yield()
	log = append(log, fmt.Sprint("ok ", n, ok, q, ok2))
	// a big value with a map, slice and array
	b := Big{A: [4]int{1}, Pts: []Point{{1, 2}}, M: map[string]int{"k": 1}, S: "s"}
	b.A[add(t, 1, 1)] = add(t, 9, 0)
	b.Pts = append(b.Pts, Point{add(t, 3, 0), 4})
	b.M["j"] = add(t, 2, 0)
	log = append(log, fmt.Sprint("big ", b.A, b.Pts, len(b.M), b.M["j"], b.S))
	// return with a blocking call in a multi-value context
	r1, r2 := two(t)
	log = append(log, fmt.Sprint("two ", r1, r2))
	return t.Send(out, strings.Join(log, "|"))
}

// echo suspends once and returns v.
func echo(t *tasklet.Flow, v any) any {
	_ = t.Yield()
	return v
}

// two returns a blocking call's result and nil.
func two(t *tasklet.Flow) (int, error) {
	return add(t, 20, 1), nil
}

// Wrapped covers a select loop over a channel another flow feeds and
// closes, with timeouts, TrySend and TryRecv, and an error that wraps a
// registered error type, kept across points: errors.As finds it after a
// restore too.
//
//stackless:tasklet kind=flowtest.wrapped version=1
func Wrapped(t *tasklet.Flow, out channel.ID) error {
	var log []string
	a, b := t.NewChannel(0), t.NewChannel(2)
	t.Spawn(NewChatter(a, 4))
	got := 0
	for got < 6 {
		i, v, err := t.Select(tasklet.RecvCase(a), tasklet.RecvCase(b), tasklet.TimeoutCase(3*time.Millisecond))
		switch i {
		case 0:
			if err != nil {
				log = append(log, "a err "+err.Error())
				a = 0
				got += 10
				continue
			}
			log = append(log, fmt.Sprint("a ", v, " at ", t.Now()))
			if ok, _ := t.TrySend(b, v); ok {
				log = append(log, "posted")
			}
		case 1:
			log = append(log, fmt.Sprint("b ", v))
		default:
			log = append(log, fmt.Sprint("timeout at ", t.Now()))
		}
		got++
	}
	for {
		v, ok, err := t.TryRecv(b)
		if !ok || err != nil {
			break
		}
		log = append(log, fmt.Sprint("left ", v))
	}
	// an error value kept across points in a frame
	e := failing(t, 3)
	_ = t.Sleep(time.Millisecond)
	var pe *CodeErr
	log = append(log, fmt.Sprint("err ", e, " ", errors.As(e, &pe)))
	return t.Send(out, strings.Join(log, "|"))
}

// CodeErr is an error type registered with pickle.RegisterValue.
type CodeErr struct{ Code int }

func (e *CodeErr) Error() string { return fmt.Sprint("code ", e.Code) }

// failing returns an error wrapping a *CodeErr, made between points.
func failing(t *tasklet.Flow, n int) error {
	_ = t.Yield()
	err := fmt.Errorf("wrapped: %w", &CodeErr{n})
	_ = t.Yield()
	return err
}

// Chatter sends the squares of 0..n-1 on ch, sleeping longer each time,
// then closes it.
//
//stackless:tasklet kind=flowtest.chatter version=1
func Chatter(t *tasklet.Flow, ch channel.ID, n int) error {
	for i := range n {
		if err := t.Sleep(time.Duration(i) * 2 * time.Millisecond); err != nil {
			return err
		}
		if err := t.Send(ch, i*i); err != nil {
			return err
		}
	}
	return t.Close(ch)
}

func init() {
	if err := pickle.RegisterValue[CodeErr](pickle.Default, "flowtest.codeErr"); err != nil {
		panic(err)
	}
}

// Compound assigns a blocking call's result with +=, -=, *= and |= in a
// loop, to locals read only there and once after the last point: the old
// value is read after the point, so each is saved.
//
//stackless:tasklet kind=flowtest.compound version=1
func Compound(t *tasklet.Flow, out channel.ID) error {
	sum, diff, prod, bits := 0, 100, 1, 0
	for i := range 4 {
		sum += add(t, i, 1)
		diff -= add(t, i, 0)
		prod *= add(t, i, 1)
		bits |= add(t, 1<<i, 0)
	}
	return t.Send(out, fmt.Sprint(sum, diff, prod, bits))
}
