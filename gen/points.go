package gen

import (
	"fmt"
	"go/ast"
	"regexp"
	"sort"
	"strings"
)

// Named points. A saved tasklet resumes by the number of its point (PC),
// and unnamed points are numbered in source order, so adding a point
// before another renumbers it. A point named with
//
//	//stackless:point NAME
//
// on the line before it keeps the number it had when the generated file
// was last written (read back from its layout record), whatever changes
// around it; the other points take the free numbers in order. The lowered
// code numbers its points in order all the same (its dispatch wants
// ranges), and maps the saved number to its own at the top of the frame.

const pointDirective = "//stackless:point"

var pointNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// namePoints reads the //stackless:point comments of the package and names
// the points they stand before; it refuses a bad name, a name used twice in
// one function, and a comment that stands before no suspension point.
func (g *pkgGen) namePoints() {
	for _, f := range g.pkg.Syntax {
		if strings.HasSuffix(g.fset.File(f.Pos()).Name(), Suffix) {
			continue
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				rest, ok := strings.CutPrefix(c.Text, pointDirective)
				if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
					continue
				}
				g.namePoint(c, strings.Fields(rest))
			}
		}
	}
}

func (g *pkgGen) namePoint(c *ast.Comment, words []string) {
	if len(words) != 1 || !pointNameRE.MatchString(words[0]) {
		g.refuse(c.Pos(), fmt.Sprintf("a malformed //stackless:point comment %q", c.Text), "",
			"write //stackless:point NAME, NAME a letter then letters, digits or _, on the line before the suspension point")
		return
	}
	name := words[0]
	var fn *flowFn
	for _, f := range g.order {
		if f.decl.Body.Pos() <= c.Pos() && c.Pos() < f.decl.Body.End() {
			fn = f
		}
	}
	if fn == nil {
		g.refuse(c.Pos(), "//stackless:point "+name+" outside a suspending function", "",
			"put it on the line before a blocking call or a call of a suspending function, inside one")
		return
	}
	line := g.fset.Position(c.Pos()).Line
	var next []*point
	for call, p := range fn.points {
		if g.fset.Position(call.Pos()).Line == line+1 {
			next = append(next, p)
		}
	}
	switch {
	case len(next) == 0:
		g.refuse(c.Pos(), "//stackless:point "+name+" is not followed by a suspension point", "",
			"put it on the line right before a blocking call (t.Recv, t.Send, ...) or a call of a suspending function")
		return
	case len(next) > 1:
		sort.Slice(next, func(i, j int) bool { return next[i].call.Pos() < next[j].call.Pos() })
		g.refuse(c.Pos(), fmt.Sprintf("//stackless:point %s stands before a line with %d suspension points", name, len(next)), next[0].String(),
			"put the point to name in a statement of its own line")
		return
	}
	for _, p := range fn.points {
		if p.name == name {
			g.refuse(c.Pos(), "//stackless:point "+name+" names a second point of "+fn.name(), p.String()+" at "+g.fset.Position(p.call.Pos()).String(),
				"give each point of a function its own name")
			return
		}
	}
	next[0].name = name
}

// number gives the points of a lowered frame their saved numbers: a named
// point the number its name had in the old layout of the frame, every other
// point the lowest number still free, in order. The result maps the
// lowering's own numbers (1..n, index 0 unused) to the saved ones.
func number(pts []layoutPoint, old *layoutRec) []int {
	pcs := make([]int, len(pts)+1)
	taken := map[int]bool{0: true}
	if old != nil {
		for _, p := range pts {
			if n, ok := old.Names[p.Name]; ok && p.Name != "" && !taken[n] {
				pcs[p.N] = n
				taken[n] = true
			}
		}
	}
	next := 1
	for _, p := range pts {
		if pcs[p.N] != 0 {
			continue
		}
		for taken[next] {
			next++
		}
		pcs[p.N] = next
		taken[next] = true
	}
	return pcs
}

// identity reports whether pcs numbers the points in order.
func identity(pcs []int) bool {
	for i, n := range pcs {
		if i != n {
			return false
		}
	}
	return true
}

// resumeDispatch is the frame's first statement: the point to resume at
// (_rs, in the lowering's own numbers) from the saved PC.
func resumeDispatch(pcs []int) string {
	if identity(pcs) {
		return "_rs := _f.PC\n_ = _rs\n"
	}
	var b strings.Builder
	b.WriteString("var _rs int\nswitch _f.PC {\ncase 0:\n")
	order := make([]int, 0, len(pcs))
	for i := 1; i < len(pcs); i++ {
		order = append(order, i)
	}
	sort.Slice(order, func(i, j int) bool { return pcs[order[i]] < pcs[order[j]] })
	for _, i := range order {
		fmt.Fprintf(&b, "case %d:\n_rs = %d\n", pcs[i], i)
	}
	b.WriteString("default:\n_rs = -1 // no point of this code: resumes nowhere\n}\n")
	return b.String()
}

// pcLine is the placeholder line that saves point k; renumber writes the
// saved number into it once all points are known.
func pcLine(k int) string { return fmt.Sprintf("_f.PC = %d", k) }

// renumber rewrites the PC assignments of lines to the saved numbers.
func renumber(lines []line, pcs []int) {
	if identity(pcs) {
		return
	}
	for i, ln := range lines {
		rest, ok := strings.CutPrefix(ln.text, "_f.PC = ")
		if !ok {
			continue
		}
		var k int
		if _, err := fmt.Sscanf(rest, "%d", &k); err == nil && k > 0 && k < len(pcs) {
			lines[i].text = pcLine(pcs[k])
		}
	}
}
