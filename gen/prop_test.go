package gen_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/gen"
)

// progGen writes random straight-line flows: nested loops (with labelled
// break and continue; over ints, slices and maps), branches, switches, selects, early returns, and
// calls of other flows (helpers, some with a named result and a bare
// return) inside expressions and on the right of assignments to an array
// element whose index is a call, over int locals, an array, and a slice
// that every helper is handed and writes, all printed to the out channel
// at every observation. Calls of nx, which
// counts them in a package variable, make the order Go evaluates calls in
// part of the trace. Function literals that run at once (called where they
// are made, or handed to each or sort.Slice) write the saved locals; a
// variadic flow takes elements or the handed slice with ..., and a method
// flow its receiver; a helper may call itself, and any other while a
// counter allows. Out of loops, calls are deferred (deferStmt, drawn from
// a random source of its own).
type progGen struct {
	r       *rand.Rand
	dr      *rand.Rand // the defers' own, so that the rest is as without them
	b       strings.Builder
	indent  int
	helpers int // helpers h0..h(helpers-1) exist
	self    int // the helper being written, which may call itself; -1 in a tasklet
	nh      int // helpers in all: any may call any through rdepth's guard
	obs     int
	loops   int
	labels  []string
}

func (g *progGen) line(format string, args ...any) {
	g.b.WriteString(strings.Repeat("\t", g.indent))
	fmt.Fprintf(&g.b, format, args...)
	g.b.WriteByte('\n')
}

func (g *progGen) v() string { return []string{"a", "b", "c"}[g.r.IntN(3)] }

// expr is an int expression, sometimes with a suspending call inside.
func (g *progGen) expr(depth int) string {
	switch n := g.r.IntN(10); {
	case n == 7 && depth < 2 && g.r.IntN(3) == 0:
		// a method flow, on a receiver made in the expression
		return fmt.Sprintf("(Rv{K: %s}).Hm(t, %s)", g.v(), g.expr(depth+1))
	case n == 8 && depth < 2 && g.r.IntN(3) == 0:
		// a variadic flow: elements packed, or the handed slice with ...
		if g.r.IntN(2) == 0 {
			return "Hv(t, e...)"
		}
		return fmt.Sprintf("Hv(t, %s, %s)", g.expr(depth+1), g.v())
	case n < 3:
		return g.v()
	case n < 5:
		return fmt.Sprint(g.r.IntN(7))
	case n < 7 && depth < 2:
		return fmt.Sprintf("(%s %s %s)", g.expr(depth+1), []string{"+", "-", "*"}[g.r.IntN(3)], g.expr(depth+1))
	case n < 9 && g.helpers > 0 && depth < 2:
		return fmt.Sprintf("h%d(t, out, e, %s)", g.r.IntN(g.helpers), g.expr(depth+1))
	case n == 9 && g.r.IntN(3) == 0:
		return "nx()"
	case n == 9 && g.r.IntN(2) == 0:
		// a call that writes a saved local the expression may also read
		v := g.v()
		return fmt.Sprintf("func() int { %s++; return %s }()", v, v)
	default:
		return fmt.Sprintf("mix(%s, %s)", g.v(), g.expr(depth+1))
	}
}

// deferStmt defers a call, out of loops: a Flow method and a function
// with their arguments taken now, a literal reading the saved locals when
// it runs (or setting a helper's named result), one with a parameter.
func (g *progGen) deferStmt() {
	g.obs++
	v := func() string { return []string{"a", "b", "c"}[g.dr.IntN(3)] }
	switch g.dr.IntN(4) {
	case 0:
		if g.self >= 0 {
			// a helper may run thousands of times: its trace goes to
			// dlogs, which saves do not carry
			g.line("defer dlog(%d, %s+%s)", g.obs, v(), v())
			break
		}
		g.line(`defer t.TrySend(out, fmt.Sprint("d%d ", %s, " ", %s))`, g.obs, v(), v())
	case 1:
		g.line("defer dlog(%d, %s)", g.obs, v())
	case 2:
		if g.self >= 0 && g.self%2 == 1 {
			g.line("defer func() { r = mix(r, %s) }()", v())
		} else {
			g.line("defer func() { dlog(%d, %s*%s) }()", g.obs, v(), v())
		}
	default:
		g.line("defer func(x int) { dlog(x, %s) }(%d + %s)", v(), g.obs, v())
	}
}

func (g *progGen) block(depth, n int, ret string) {
	for range n {
		g.stmt(depth, ret)
	}
}

func (g *progGen) stmt(depth int, ret string) {
	if g.self >= 0 && depth == 0 && g.r.IntN(6) == 0 {
		// recursion, out of loops: a helper calls itself (x%3-1 is under 2
		// when x > 0, so that ends within two calls), or any helper, this
		// one or a later one too, while fewer than two such calls are open
		if g.r.IntN(2) == 0 {
			g.line("if x > 0 {")
			g.indent++
			g.line("%s = h%d(t, out, e, x%%3-1) + %s", g.v(), g.self, g.v())
		} else {
			g.line("if rdepth < 2 {")
			g.indent++
			g.line("rdepth++")
			g.line("%s = h%d(t, out, e, %s) + %s", g.v(), g.r.IntN(g.nh), g.expr(1), g.v())
			g.line("rdepth--")
		}
		g.indent--
		g.line("}")
		return
	}
	if len(g.labels) == 0 && g.dr.IntN(12) == 0 {
		g.deferStmt()
	}
	w := g.r.IntN(100)
	if depth >= 3 && w >= 40 {
		w = g.r.IntN(40)
	}
	switch {
	case w < 12:
		g.line("%s = %s", g.v(), g.expr(0))
	case w < 22:
		g.obs++
		g.line(`_ = t.Send(out, fmt.Sprint("o%d ", a, " ", b, " ", c, " ", d, " ", e, " ", s))`, g.obs)
	case w < 28:
		g.line("_ = t.Yield()")
	case w < 32:
		g.line("if _, _, err := t.Select(tasklet.RecvCase(in), tasklet.DefaultCase()); err != nil {")
		g.indent++
		g.line("return %s", ret)
		g.indent--
		g.line("}")
	case w < 34:
		g.line("_ = t.Sleep(%d)", g.r.IntN(3))
	case w < 37:
		// a saved local written directly or by a literal that runs at once
		switch v, k := g.v(), 1+g.r.IntN(4); g.r.IntN(4) {
		case 0:
			g.line("func() { %s += %d * %s }()", v, k, g.v())
		case 1:
			g.line("each(e, func(x int) { %s += x %% %d })", v, k+1)
		case 2:
			g.line("sort.Slice(e, func(i, j int) bool { return (e[i]+%s)%%%d < (e[j]+%s)%%%d })", v, k+1, g.v(), k+1)
		default:
			g.line("%s += %d", v, k)
		}
	case w < 40:
		// e is the tasklet's slice, handed to every helper: one array
		g.line("e[nx()] += %s", g.expr(1))
	case w < 52:
		g.line("if %s%%%d == %d {", g.expr(0), 2+g.r.IntN(3), g.r.IntN(2))
		g.indent++
		g.block(depth+1, 1+g.r.IntN(3), ret)
		g.indent--
		if g.r.IntN(2) == 0 {
			g.line("} else {")
			g.indent++
			g.block(depth+1, 1+g.r.IntN(3), ret)
			g.indent--
		}
		g.line("}")
	case w < 64:
		g.loops++
		label := fmt.Sprintf("l%d", g.loops)
		i := fmt.Sprintf("i%d", g.loops)
		labelled := g.r.IntN(3) == 0 && len(g.labels) > 0
		g.line("%s:", label)
		switch n := g.r.IntN(7); {
		case n == 0:
			g.line("for %s := 0; %s < %d; %s++ {", i, i, 1+g.r.IntN(3), i)
		case n == 6:
			// the post statement may suspend; it steps by 1 or 2
			g.line("for %s := 0; %s < %d; %s += 1 + ((%s)%%2+2)%%2 {", i, i, 1+g.r.IntN(4), i, g.expr(1))
		case n == 1:
			g.line("for %s := range %d {", i, 1+g.r.IntN(3))
		case n == 2 && g.helpers > 0:
			// a range over what a point returns
			g.line("for %s := range h%d(t, out, e, %s)%%3 {", i, g.r.IntN(g.helpers), g.expr(1))
		case n == 3:
			// a range over the handed slice, which the body writes ahead
			g.line("for _, %s := range e {", i)
			g.indent++
			g.line("e[nx()] += %s", i)
			g.indent--
		case n == 4:
			// a map, whose values are equal: Go's order of the keys,
			// which it leaves open, does not show in the trace
			v := g.r.IntN(9)
			g.line("for _, %s := range map[string]int{\"x\": %d, \"y\": %d, \"z\": %d} {", i, v, v, v)
		default:
			g.line("for _, %s := range []int{%d, %d} {", i, g.r.IntN(9), g.r.IntN(9))
		}
		g.indent++
		g.line("%s += %s", g.v(), i)
		g.labels = append(g.labels, label)
		g.block(depth+1, 1+g.r.IntN(3), ret)
		if g.r.IntN(3) == 0 {
			target := ""
			if labelled {
				target = " " + g.labels[g.r.IntN(len(g.labels))]
			}
			g.line("if %s > %d {", g.v(), g.r.IntN(20))
			g.indent++
			g.line("%s%s", []string{"break", "continue"}[g.r.IntN(2)], target)
			g.indent--
			g.line("}")
		}
		g.block(depth+1, g.r.IntN(2), ret)
		g.labels = g.labels[:len(g.labels)-1]
		g.indent--
		g.line("}")
		g.line("goto_%s:", label) // replaced below: a label must be used
	case w < 72:
		// the tag, an init and a case expression may suspend
		switch n := g.r.IntN(3); {
		case n == 0:
			g.line("switch %s %% 3 {", g.v())
		case n == 1:
			g.line("switch (%s) %% 3 {", g.expr(0))
		default:
			g.line("switch %s = %s; (%s) %% 3 {", g.v(), g.expr(0), g.expr(0))
		}
		for k := range 2 {
			if g.r.IntN(3) == 0 {
				// evaluated only while no case before it matched
				g.line("case (nx() + %s) %% 3:", g.expr(0))
			} else {
				g.line("case %d:", k)
			}
			g.indent++
			g.block(depth+1, 1+g.r.IntN(2), ret)
			g.indent--
		}
		g.line("default:")
		g.indent++
		g.block(depth+1, 1, ret)
		g.indent--
		g.line("}")
	case w < 78:
		g.line("if %s > %d {", g.v(), 10+g.r.IntN(40))
		g.indent++
		g.line("return %s", ret)
		g.indent--
		g.line("}")
	case w < 84:
		g.line("{")
		g.indent++
		g.line("%s := %s + 1 // shadows", g.v(), g.expr(0))
		g.line("a, b, c := a, b, c")
		g.block(depth+1, 1+g.r.IntN(2), ret)
		g.line("_, _, _ = a, b, c")
		g.indent--
		g.line("}")
	case w < 90 && g.helpers > 0:
		// Go calls nx on the left before the calls on the right: as a
		// point of its own, and inside an expression.
		if g.r.IntN(2) == 0 {
			g.line("d[nx()] = h%d(t, out, e, %s)", g.r.IntN(g.helpers), g.expr(1))
		} else {
			g.line("d[nx()], %s = mix(nx(), h%d(t, out, e, %s)), nx()", g.v(), g.r.IntN(g.helpers), g.expr(1))
		}
	case w < 95 && g.helpers > 0:
		// fields, elements and map entries of a saved struct, and a
		// flow's two results, on the left of a blocking call
		h := fmt.Sprintf("h%d(t, out, e, %s)", g.r.IntN(g.helpers), g.expr(1))
		switch g.r.IntN(5) {
		case 0:
			g.line("s.X %s= %s", []string{"+", "-", "^"}[g.r.IntN(3)], h)
		case 1:
			g.line("s.A[nx()%%2] = %s", h)
		case 2:
			g.line("s.M[\"k%d\"] += %s", g.r.IntN(3), h)
		case 3:
			g.line("%s, s.A[nx()%%2] = Hq(t, %s)", g.v(), g.expr(1))
		default:
			g.line("s.M[fmt.Sprint(nx())], %s = Hq(t, %s)", g.v(), g.expr(1))
		}
	default:
		if g.helpers > 0 && g.r.IntN(2) == 0 {
			// an op-assignment reads its left side after the point
			g.line("%s %s= h%d(t, out, e, %s)", g.v(), []string{"+", "-", "*", "^"}[g.r.IntN(4)], g.r.IntN(g.helpers), g.expr(1))
		} else if g.helpers > 0 {
			g.line("%s = %s + h%d(t, out, e, %s)", g.v(), g.v(), g.r.IntN(g.helpers), g.expr(1))
		} else {
			g.line("_ = t.Yield()")
		}
	}
}

// program writes nh helpers and np tasklets.
func (g *progGen) program(nh, np int) string {
	g.line("package prop")
	g.line("")
	g.line(`import (`)
	g.line(`	"fmt"`)
	g.line(`	"sort"`)
	g.line(``)
	g.line(`	"github.com/stackless-go/stackless/channel"`)
	g.line(`	"github.com/stackless-go/stackless/tasklet"`)
	g.line(`)`)
	g.line("")
	g.line("var _ = sort.Ints")
	g.line("")
	g.line("func mix(x, y int) int { return (x*31 + y) %% 1000 }")
	g.line("")
	g.line("var nxCalls int")
	g.line("")
	g.line("// nx counts its calls: their order shows in what the flows print.")
	g.line("func nx() int { nxCalls++; return nxCalls %% 3 }")
	g.line("")
	g.line("// rdepth counts the guarded calls between helpers that are open.")
	g.line("var rdepth int")
	g.line("")
	g.line("// dlogs records the deferred calls that ran, for the trace.")
	g.line("var dlogs []int")
	g.line("")
	g.line("func dlog(at, x int) { dlogs = append(dlogs, at*1000+x%%1000) }")
	g.line("")
	g.line("func init() { resets = append(resets, func() { nxCalls, rdepth, dlogs = 0, 0, nil }) }")
	g.line("")
	g.line("// each only calls f: a literal handed to it may capture saved locals.")
	g.line("func each(xs []int, f func(int)) {")
	g.line("	for _, x := range xs {")
	g.line("		f(x)")
	g.line("	}")
	g.line("}")
	g.nh = nh
	for h := range nh {
		g.self = h
		g.line("")
		// Every other helper has a named result that only its bare
		// return reads after the first point: a save must keep it.
		named := h%2 == 1
		if named {
			g.line("func h%d(t *tasklet.Flow, out channel.ID, e []int, x int) (r int) {", h)
		} else {
			g.line("func h%d(t *tasklet.Flow, out channel.ID, e []int, x int) int {", h)
		}
		g.indent++
		g.line("in := channel.ID(0)")
		g.line("_ = in")
		g.line("a, b, c := x, %d, %d", g.r.IntN(5), g.r.IntN(5))
		g.line("var d [3]int")
		g.line("_ = d")
		g.line("s := St{M: map[string]int{\"h\": x}}")
		g.line("_ = s")
		if named {
			g.line("_, _, _ = a, b, c // used before any point: they may be dead after")
			g.line("r = mix(a, x+%d)", g.r.IntN(5))
		}
		g.block(0, 2+g.r.IntN(4), "a + b + c")
		if named {
			g.line("return")
		} else {
			g.line("return a + b + c")
		}
		g.indent--
		g.line("}")
		g.helpers++
	}
	g.self = -1
	for p := range np {
		g.line("")
		g.line("//stackless:tasklet kind=prop.p%d version=1", p)
		g.line("func P%d(t *tasklet.Flow, in, out channel.ID) error {", p)
		g.indent++
		g.line("a, b, c := %d, %d, %d", g.r.IntN(5), g.r.IntN(5), g.r.IntN(5))
		g.line("var d [3]int")
		g.line("e := make([]int, 3)")
		g.line("s := St{M: map[string]int{}}")
		g.block(0, 3+g.r.IntN(6), "nil")
		g.line(`return t.Send(out, fmt.Sprint("end ", a, " ", b, " ", c, " ", d, " ", e, " ", s, " ", dlogs))`)
		g.indent--
		g.line("}")
	}
	src := g.b.String()
	// Labels nobody jumps to do not compile: drop them with their markers.
	var out []string
	for _, l := range strings.Split(src, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "goto_") {
			continue
		}
		if strings.HasSuffix(t, ":") && strings.HasPrefix(t, "l") && !strings.Contains(src, " "+strings.TrimSuffix(t, ":")+"\n") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

const propMain = `package prop

import (
	"context"
	"fmt"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// St is a saved struct the programs write through on the left of
// blocking calls.
type St struct {
	X int
	A [2]int
	M map[string]int
}

// Hq is a flow with two results.
func Hq(t *tasklet.Flow, x int) (int, int) {
	_ = t.Yield()
	return x / 3, x % 3
}

// Rv is the receiver of a method flow.
type Rv struct{ K int }

// Hm is a method flow that reads its receiver across a point.
func (r Rv) Hm(t *tasklet.Flow, x int) int {
	_ = t.Yield()
	r.K += x
	_ = t.Yield()
	return r.K % 97
}

// Hv is a variadic flow that reads its elements across points.
func Hv(t *tasklet.Flow, xs ...int) int {
	n := len(xs)
	for _, x := range xs {
		_ = t.Yield()
		n = (n*7 + x) % 1000
	}
	return n
}

// Run runs every program lowered, unlowered and restored after every
// switch, and returns the names of those whose traces differ.
func Run() ([]string, int) {
	var bad []string
	obs := 0
	for i, p := range progs {
		want := run(p, 1)
		obs += len(want)
		for m := 0; m < 3; m += 2 {
			if got := run(p, m); fmt.Sprint(got) != fmt.Sprint(want) {
				bad = append(bad, fmt.Sprintf("P%d mode %d:\n got %v\nwant %v", i, m, got, want))
			}
		}
	}
	return bad, obs
}

// resets set each file's package variables back for the next run.
var resets []func()

type prog struct {
	lowered func(in, out channel.ID) tasklet.Behavior
	flow    func(t *tasklet.Flow, in, out channel.ID) error
}

func run(p prog, mode int) []string {
	for _, r := range resets {
		r()
	}
	var trace []string
	opts := []scheduler.Option{scheduler.WithErrorHandler(func(err error) { trace = append(trace, "failure: "+err.Error()) })}
	s := scheduler.New(opts...)
	in, out := s.NewChannel(1), s.NewChannel(1<<14)
	if mode == 1 {
		s.Spawn(tasklet.Goroutine(func(t *tasklet.Flow) error { return p.flow(t, in, out) }))
	} else {
		s.Spawn(p.lowered(in, out))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if mode == 2 {
		for steps := 0; s.Len() > 0 && steps < 1e6; steps++ {
			if _, err = s.RunBudget(ctx, 1, scheduler.Total|scheduler.Soft); err != nil {
				break
			}
			blob, err := pickle.Default.DumpWorld(s.World())
			if err != nil {
				return append(trace, "dump: "+err.Error())
			}
			w, err := pickle.Default.LoadWorld(blob)
			if err != nil {
				return append(trace, "load: "+err.Error())
			}
			if s, err = scheduler.Restore(w, opts...); err != nil {
				return append(trace, "restore: "+err.Error())
			}
		}
	} else {
		err = s.Run(ctx)
	}
	for _, c := range s.World().Channels {
		if c.ID == out {
			for _, v := range c.Buffer {
				trace = append(trace, fmt.Sprint(v))
			}
		}
	}
	return append(trace, fmt.Sprint("run: ", err))
}
`

// TestRandomFlows generates random flows, lowers them, and checks that
// every one gives the same trace lowered, unlowered, and restored after
// every switch. The programs are built and run in a package under
// testdata that the test removes again.
func TestRandomFlows(t *testing.T) {
	dir, err := os.MkdirTemp("testdata", "prop-")
	require.NoError(t, err)
	if os.Getenv("KEEP_PROP") == "" { // KEEP_PROP=1 keeps the programs, to look into a failure
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	seeds, perSeed := uint64(8), 5
	if testing.Short() {
		seeds = 2 // make test runs all 40 programs
	}
	var progs []string
	for seed := range seeds {
		g := &progGen{r: rand.New(rand.NewPCG(seed, 42)), dr: rand.New(rand.NewPCG(seed, 7))}
		src := g.program(3, perSeed)
		src = strings.Replace(src, "package prop", "package prop\n\n// seed "+fmt.Sprint(seed), 1)
		// Each seed is its own file, so names are suffixed by seed.
		src = renameAll(src, seed)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%d.go", seed)), []byte(src), 0o644))
		for p := range perSeed {
			name := fmt.Sprintf("P%d_%d", p, seed)
			progs = append(progs, fmt.Sprintf("{func(in, out channel.ID) tasklet.Behavior { return New%s(in, out) }, %s},", name, name))
		}
	}
	main := propMain + "\nvar progs = []prog{\n" + strings.Join(progs, "\n") + "\n}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "run.go"), []byte(main), 0o644))
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	files, err := gen.Generate(abs, ".")
	require.NoError(t, err)
	_, err = gen.Write(files)
	require.NoError(t, err)
	test := "package prop\n\nimport \"testing\"\n\nfunc TestProp(t *testing.T) {\n\tbad, obs := Run()\n\tfor _, b := range bad {\n\t\tt.Error(b)\n\t}\n\tif obs < 50 {\n\t\tt.Errorf(\"only %d observations\", obs)\n\t}\n}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prop_test.go"), []byte(test), 0o644))
	cmd := exec.Command("go", "test", "-count=1", ".")
	cmd.Dir = abs
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// renameAll suffixes the package-level names of one seed's file.
func renameAll(src string, seed uint64) string {
	var pairs []string
	for _, n := range []string{"P0", "P1", "P2", "P3", "P4", "h0", "h1", "h2"} {
		pairs = append(pairs, n+"(", fmt.Sprintf("%s_%d(", n, seed))
	}
	pairs = append(pairs, "func mix(", fmt.Sprintf("func mix%d(", seed), "mix(", fmt.Sprintf("mix%d(", seed), "kind=prop.p", fmt.Sprintf("kind=prop.s%d.p", seed),
		"func nx(", fmt.Sprintf("func nx%d(", seed), "each(", fmt.Sprintf("each%d(", seed), "nx(", fmt.Sprintf("nx%d(", seed), "nxCalls", fmt.Sprintf("nxCalls%d", seed),
		"rdepth", fmt.Sprintf("rdepth%d", seed), "dlogs", fmt.Sprintf("dlogs%d", seed), "dlog(", fmt.Sprintf("dlog%d(", seed))
	return strings.NewReplacer(pairs...).Replace(src)
}
