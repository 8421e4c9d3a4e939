package gen

import (
	"go/ast"
	"go/token"
	"go/types"
	"sort"
)

// Liveness: which locals must be fields of the frame. A local is saved
// when it may be used after a suspension point in its scope (textually
// after it, or anywhere in a loop around it), unless the point's own
// statement assigns it or the code after the point ends in a return first.
// The point's own arguments are read before it suspends; what stands
// before it in its statement is read after it (the lowering moves the
// call ahead of the statement: `y := x + sub(t)` reads x after sub).

// analyse decides which locals are saved (live across a suspension point)
// and refuses those that cannot be.
func (g *pkgGen) analyse(fn *flowFn) {
	var pts []*point
	for _, p := range fn.points {
		pts = append(pts, p)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].call.Pos() < pts[j].call.Pos() })
	refs := map[*types.Var][]token.Pos{}
	var vars []*types.Var
	rangeVar := map[*types.Var]*ast.RangeStmt{}
	implicit := map[*types.Var]*ast.TypeSwitchStmt{}
	shared := map[*ast.TypeSwitchStmt]string{}
	ast.Inspect(fn.decl, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Ident:
			if v, ok := g.info.Defs[n].(*types.Var); ok && !v.IsField() && v != fn.flowVar {
				if _, seen := refs[v]; !seen {
					vars = append(vars, v)
					refs[v] = nil
				}
			}
			if v, ok := g.info.Uses[n].(*types.Var); ok && !v.IsField() && v.Parent() != nil && v.Parent() != g.pkg.Types.Scope() && v != fn.flowVar {
				refs[v] = append(refs[v], n.Pos())
			}
		case *ast.TypeSwitchStmt:
			for _, c := range n.Body.List {
				if v, ok := g.info.Implicits[c].(*types.Var); ok {
					vars = append(vars, v)
					refs[v] = nil
					implicit[v] = n
				}
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if id, ok := e.(*ast.Ident); ok && n.Tok == token.DEFINE {
					if v, ok := g.info.Defs[id].(*types.Var); ok {
						rangeVar[v] = n
					}
				}
			}
		}
		return true
	})
	params := map[*types.Var]bool{}
	if fn.recv != nil {
		params[fn.recv] = true
	}
	for i := 1; i < fn.sig.Params().Len(); i++ {
		params[fn.sig.Params().At(i)] = true
	}
	for i := 0; i < fn.sig.Results().Len(); i++ {
		params[fn.sig.Results().At(i)] = true
	}
	fn.vars = map[*types.Var]*local{}
	fn.fields = map[string]bool{"PC": true, "Step": true, "IsZero": true, whereField: true} // names of the generated methods and the point field
	names := map[string]bool{}
	fn.deferRefs = g.deferRefs(fn)
	for _, v := range vars {
		if v.Name() == "_" {
			continue
		}
		at := g.live(fn, v, pts, refs[v], rangeVar[v])
		from, forced := fn.deferRefs[v]
		if forced {
			// A deferred call reads it when the function returns, after
			// any point that follows the defer.
			for c := range pointsAfterPos(fn, from) {
				at[fn.points[c]] = true
			}
		}
		field := params[v] || len(at) > 0 || forced
		l := &local{v: v, field: field, at: at}
		if field {
			l.fname = fn.fieldName(v.Name())
			l.name = "_f." + l.fname
			if isInterface(v.Type()) {
				l.boxed = true
				l.name += ".V"
			}
			if why := saveable(v.Type(), map[types.Type]bool{}); why != "" && params[v] && len(at) == 0 && !fn.marked && !isResult(fn, v) {
				l.unsaved = true
			} else if why != "" && forced && len(at) == 0 && !params[v] {
				l.unsaved = true // no save finds it set: no point follows the defer
			} else if _, ptr := v.Type().(*types.Pointer); why != "" && v == fn.recv && ptr {
				g.refuse(v.Pos(), "receiver "+v.Name()+" of type "+types.TypeString(v.Type(), types.RelativeTo(g.pkg.Types))+" is saved across a suspension, but "+why, g.pointAfterPos(fn, v.Pos()),
					"give "+fn.name()+" a value receiver ("+v.Name()+" "+recvTypeName(v)+"): the frame then holds its own copy, saved with it, and the method hands back what it changed as a result")
			} else if why != "" {
				g.refuse(v.Pos(), "local "+v.Name()+" of type "+types.TypeString(v.Type(), types.RelativeTo(g.pkg.Types))+" is saved across a suspension, but "+why, g.pointAfterPos(fn, v.Pos()),
					"keep only saveable values (numbers, strings, IDs, slices, maps, structs of exported fields, registered types) in locals that live across blocking calls")
			}
		} else if sw := implicit[v]; sw != nil && shared[sw] != "" {
			l.name = shared[sw] // a type switch's clauses share its name
		} else {
			l.name = uniqueName(v.Name(), names)
			if sw != nil {
				shared[sw] = l.name
			}
		}
		fn.vars[v] = l
	}
	g.checkAddresses(fn)
	g.checkClosures(fn)
}

// isResult reports whether v is one of fn's named results.
func isResult(fn *flowFn, v *types.Var) bool {
	for i := 0; i < fn.sig.Results().Len(); i++ {
		if fn.sig.Results().At(i) == v {
			return true
		}
	}
	return false
}

// live returns the suspension points inside v's scope after which v may be
// used: used textually after the point, or used in a loop around it that v
// was declared outside of (or in the header of).
func (g *pkgGen) live(fn *flowFn, v *types.Var, pts []*point, refs []token.Pos, rangeVar *ast.RangeStmt) map[*point]bool {
	at := map[*point]bool{}
	scope := v.Parent()
	if scope == nil {
		for _, pt := range pts {
			at[pt] = true
		}
		return at
	}
	for _, pt := range pts {
		if g.liveAt(fn, v, pt, scope.Pos(), scope.End(), refs, rangeVar) {
			at[pt] = true
		}
	}
	return at
}

// liveAt reports whether v may be used after the point pt. rangeVar is
// the range statement that declares v, if one does.
func (g *pkgGen) liveAt(fn *flowFn, v *types.Var, pt *point, scopePos, scopeEnd token.Pos, refs []token.Pos, rangeVar *ast.RangeStmt) bool {
	p := pt.call.Pos()
	if p <= v.Pos() || p >= scopeEnd || p < scopePos || pt.assigns[v] {
		return false
	}
	if rangeVar != nil && p >= rangeVar.X.Pos() && p < rangeVar.X.End() {
		return false // the range expression runs before its variables exist
	}
	limit := pt.limit
	if limit == 0 {
		limit = scopeEnd
	}
	for _, r := range refs {
		if r > p && r < limit && !g.inArgs(pt, r) || g.movedAfter(pt, r) {
			return true
		}
	}
	for _, l := range fn.loops {
		if p < l.Pos() || p >= l.End() || l.End() > limit {
			continue
		}
		body := loopBody(l)
		if v.Pos() >= body.Pos() && v.Pos() < body.End() {
			continue // declared afresh in each iteration
		}
		if rangeVar != nil && v.Pos() >= l.Pos() && v.Pos() < body.Pos() {
			continue // set afresh from the range state in each iteration
		}
		for _, r := range refs {
			if r >= l.Pos() && r < l.End() {
				return true
			}
		}
	}
	return false
}

func loopBody(n ast.Node) *ast.BlockStmt {
	switch l := n.(type) {
	case *ast.ForStmt:
		return l.Body
	case *ast.RangeStmt:
		return l.Body
	}
	return nil
}

// inArgs reports whether the reference at r is in pt's own arguments,
// which are evaluated before it suspends.
func (g *pkgGen) inArgs(pt *point, r token.Pos) bool {
	return r > pt.call.Lparen && r < pt.call.Rparen
}

// movedAfter reports whether the reference at r stands before pt in pt's
// statement, so that the lowered code may read it after pt.
func (g *pkgGen) movedAfter(pt *point, r token.Pos) bool {
	return pt.stmt != nil && r >= pt.stmt.Pos() && r < pt.call.Pos()
}
