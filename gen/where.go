package gen

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// A person looking at a stuck straight-line tasklet wants the source line
// it waits at, not its PC numbers. The generator knows the line of every
// point when it numbers them, so each frame type gets a where method that
// maps its PC to the point's position and, at a call of another flow
// function, goes on into the callee's frame field; a tasklet's type gets
// Where (tasklet.Framer) on top. Nothing of it runs on a step.

// whereField is the frame field a method Where would clash with.
const whereField = "Where"

// writeWhere writes fn's where method and, for a tasklet, its Where.
func (g *pkgGen) writeWhere(b *strings.Builder, fn *flowFn, tk string) {
	pts := append([]layoutPoint(nil), fn.layout...)
	sort.Slice(pts, func(i, j int) bool { return fn.pcs[pts[i].N] < fn.pcs[pts[j].N] })
	name := runtimeName(g, fn)
	if fn.marked {
		fmt.Fprintf(b, "// Where implements %s.Framer: where %s and the flow functions it\n// called are suspended, outermost first.\n", tk, fn.name())
		fmt.Fprintf(b, "func (_f *%s) Where() []%s.Frame { return _f.where(nil) }\n\n", fn.typ, tk)
	}
	fmt.Fprintf(b, "// where appends to _w the frame of %s, and the frames it called into, at\n// the point its PC names.\n", fn.name())
	fmt.Fprintf(b, "func (_f *%s) where(_w []%s.Frame) []%s.Frame {\n", fn.typ, tk, tk)
	if fn.byPointer {
		// Only a damaged or hand-edited save has a call's frame missing;
		// inspect asks such a save where it is, and must not crash.
		b.WriteString("\tif _f == nil {\n\t\treturn _w\n\t}\n")
	}
	b.WriteString("\tswitch _f.PC {\n")
	for _, p := range pts {
		what := p.What
		if p.Name != "" {
			what += " named " + p.Name
		}
		frame := fmt.Sprintf("%s.Frame{Function: %q, File: %q, Line: %d, Point: %q}", tk, name, filepath.Base(p.Pos.Filename), p.Pos.Line, what)
		fmt.Fprintf(b, "\tcase %d:\n", fn.pcs[p.N])
		if c := calleeAt(fn, p); c != nil {
			fmt.Fprintf(b, "\t\treturn _f.%s.where(append(_w, %s))\n", fn.sub[c], frame)
		} else {
			fmt.Fprintf(b, "\t\treturn append(_w, %s)\n", frame)
		}
	}
	b.WriteString("\t}\n\treturn _w\n}\n\n")
}

// calleeAt is the flow function point p calls, or nil for a blocking call.
func calleeAt(fn *flowFn, p layoutPoint) *flowFn {
	for _, c := range fn.callees {
		if p.What == "call of "+c.name() {
			return c
		}
	}
	return nil
}
