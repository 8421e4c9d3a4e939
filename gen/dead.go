package gen

import (
	"fmt"
	"go/token"
	"sort"
	"strings"
)

// Dead fields. At a suspension point a frame may hold fields the code after
// it never reads: a parameter used only before it, or a local handed to
// the called function and assigned from its result (`g, err = patrol(t,
// g)`), while the callee's frame holds the copy in use. The frame's
// DeadFields method (pickle.DeadFielder) names them by PC, and a save
// leaves them out; a load gives them their zero value, which nothing reads
// before writing. Callee frames are left out by their IsZero when not
// active, and named results are always kept: a bare return reads them
// where no identifier shows it.

// writeDeadFields writes fn's DeadFields, if some point has dead fields.
func (g *pkgGen) writeDeadFields(b *strings.Builder, fn *flowFn) {
	keep := map[string]bool{}
	for i := 0; i < fn.sig.Results().Len(); i++ {
		if loc := fn.vars[fn.sig.Results().At(i)]; loc != nil && loc.field {
			keep[loc.fname] = true
		}
	}
	pts := append([]layoutPoint(nil), fn.layout...)
	sort.Slice(pts, func(i, j int) bool { return fn.pcs[pts[i].N] < fn.pcs[pts[j].N] })
	var cases strings.Builder
	for _, p := range pts {
		live := map[string]bool{}
		for _, f := range p.Live {
			live[f] = true
		}
		var mask uint64
		var names []string
		bit := 1 // PC is field 0
		for _, f := range fn.fieldsOut {
			if !token.IsExported(f.name) || f.tag == skipTag {
				continue // not saved at all, so not counted by msgpack
			}
			if bit < 64 && f.tag != frameTag && !keep[f.name] && !live[f.name] {
				mask |= 1 << bit
				names = append(names, f.name)
			}
			bit++
		}
		if mask != 0 {
			fmt.Fprintf(&cases, "\tcase %d: // %s\n\t\treturn %#x\n", fn.pcs[p.N], strings.Join(names, ", "), mask)
		}
	}
	if cases.Len() == 0 {
		return
	}
	fmt.Fprintf(b, "// DeadFields implements pickle.DeadFielder: the fields a save leaves out\n// at the point PC names, those the code after it does not read.\n")
	fmt.Fprintf(b, "func (_f *%s) DeadFields() uint64 {\n\tswitch _f.PC {\n%s\t}\n\treturn 0\n}\n\n", fn.typ, cases.String())
}
