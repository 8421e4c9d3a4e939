package gen

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"sort"
)

// Locals that share. Two locals of one flow that share a slice's array
// (b := a, b := a[1:], for _, row := range grid) or a map are one value in
// Go but two fields in a save: a restore brings them back apart, so a write
// through one after it no longer shows through the other, without a word,
// and a map held twice makes pickle refuse every save while both are held.
// gen refuses such pairs where it can tell, with the fix, as it refuses a
// value a caller and its callee both hold (shared.go).

// refuseAliased refuses each pair of fn's locals that may share a slice's
// array or a map (aliases) and are both held at one of its points: always
// for a map, and for a slice when an element may be written through either
// after that point (in a later statement, or anywhere in a loop around it).
func (g *pkgGen) refuseAliased(fn *flowFn) {
	pts := make([]*point, 0, len(fn.points))
	for _, p := range fn.points {
		pts = append(pts, p)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].call.Pos() < pts[j].call.Pos() })
	vars := make([]*types.Var, 0, len(fn.vars))
	for v := range fn.vars {
		vars = append(vars, v)
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Pos() < vars[j].Pos() })
	done := map[[2]*types.Var]bool{}
	for _, root := range vars {
		of := g.aliases(fn.decl.Body, root)
		if len(of) < 2 {
			continue
		}
		var writes []token.Pos
		var appends map[token.Pos]*types.Var
		found := false
		for _, p := range pts {
			var both []*types.Var
			for _, v := range vars {
				if of[v] && g.keeps(fn, v, p) {
					both = append(both, v)
				}
			}
			if len(both) < 2 || done[[2]*types.Var{both[0], both[1]}] {
				continue
			}
			a, b := both[0], both[1]
			at := fmt.Sprintf("%s at %s", p, g.fset.Position(p.call.Pos()))
			if containsMap(a.Type(), map[types.Type]bool{}) && containsMap(b.Type(), map[types.Type]bool{}) {
				done[[2]*types.Var{a, b}] = true
				g.refuse(b.Pos(), fmt.Sprintf("%s and %s hold one map across a suspension: a save there would hold it twice, which pickle refuses", a.Name(), b.Name()), at,
					fmt.Sprintf("keep only one of them across the blocking call and reach the map through it (an index or a field of %s in place of %s: for k := range %s, then %s[k]), or make %s a copy if the two are meant to be apart (maps.Clone)", a.Name(), b.Name(), a.Name(), a.Name(), b.Name()))
				continue
			}
			if !found {
				writes, appends, found = g.writeSites(fn.decl.Body, root, false), g.appendSites(fn.decl.Body, of), true
				for w := range appends {
					writes = append(writes, w)
				}
				slices.Sort(writes)
			}
			w := g.writeAfter(fn, p, writes)
			if !w.IsValid() {
				continue
			}
			done[[2]*types.Var{a, b}] = true
			if v := appends[w]; v != nil {
				typ := types.TypeString(v.Type(), types.RelativeTo(g.pkg.Types))
				g.refuse(b.Pos(), fmt.Sprintf("%s and %s may share a slice's array across a suspension, one a prefix of the other, and the append to %s at %s fills that array in place: after a restore there they would be two arrays, and the appended elements would not show through the other", a.Name(), b.Name(), v.Name(), g.fset.Position(w)), at,
					fmt.Sprintf("give %s an array of its own (var %s %s, or make(%s, 0, n), in place of a slice of the other), or keep only one of them across the blocking call", v.Name(), v.Name(), typ, typ))
				continue
			}
			g.refuse(b.Pos(), fmt.Sprintf("%s and %s may share a slice's array across a suspension, and an element is written through one of them at %s: after a restore there they would be two arrays, and the write would not show through the other", a.Name(), b.Name(), g.fset.Position(w)), at,
				fmt.Sprintf("keep only one of them across the blocking call and reach the elements through it (an index into %s in place of %s), or make %s a copy if the two are meant to be apart (slices.Clone)", a.Name(), b.Name(), b.Name()))
		}
	}
}

// appendSites returns where body appends to a slice of the alias set of
// when one of them is a prefix of another (b := a[:k], the in-place filter
// out := all[:0]): an append through the shorter one writes elements the
// longer one holds, as long as the array has room, which Go's append
// fills in place. Appends where no alias is cut short write beyond every
// alias's length, which no element read sees.
func (g *pkgGen) appendSites(body ast.Node, of map[*types.Var]bool) map[token.Pos]*types.Var {
	cut := false
	ast.Inspect(body, func(n ast.Node) bool {
		if a, ok := n.(*ast.AssignStmt); ok && len(a.Lhs) == len(a.Rhs) {
			for i, r := range a.Rhs {
				se, ok := ast.Unparen(r).(*ast.SliceExpr)
				if ok && se.High != nil && !se.Slice3 && of[rootVar(g.info, se.X)] && of[assigned(g.info, a.Lhs[i])] {
					cut = true
				}
			}
		}
		return !cut
	})
	if !cut {
		return nil
	}
	at := map[token.Pos]*types.Var{} // the local appended to, by position
	ast.Inspect(body, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok && len(c.Args) > 0 {
			if b, ok := calleeObj(g.info, c.Fun).(*types.Builtin); ok && b.Name() == "append" && of[rootVar(g.info, c.Args[0])] {
				at[c.Pos()] = rootVar(g.info, c.Args[0])
			}
		}
		return true
	})
	return at
}

// assigned is the variable that the left side e of an assignment stores
// to as a whole (declared there or not), or nil.
func assigned(info *types.Info, e ast.Expr) *types.Var {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return nil
	}
	if v, ok := info.Defs[id].(*types.Var); ok {
		return v
	}
	v, _ := info.Uses[id].(*types.Var)
	return v
}

// writeAfter returns the first of writes that may run after p: in p's
// statement or after it, or in a loop around p. NoPos if none does.
func (g *pkgGen) writeAfter(fn *flowFn, p *point, writes []token.Pos) token.Pos {
	from := p.call.Pos()
	if p.stmt != nil {
		from = p.stmt.Pos()
	}
	for _, w := range writes {
		if w >= from {
			return w
		}
		for _, l := range fn.loops {
			if l.Pos() <= from && from < l.End() && l.Pos() <= w && w < l.End() {
				return w
			}
		}
	}
	return token.NoPos
}
