package gen

import (
	"go/ast"
	"go/token"
	"go/types"
	"sort"
)

// Linked parameters. A slice or a map handed to a flow function is one
// array or map in Go, the caller's and the callee's. Saved as two fields
// (the caller's local and the callee frame's parameter) it comes back from
// a restore as two, so what the callee writes after the restore no longer
// reaches the caller (a map held twice is refused by pickle as shared, so
// such a tasklet could not be saved at all while in the callee).
//
// A parameter of slice or map type is linked when the callee never assigns
// it (nor takes its address) and every call of the callee passes a local
// of the caller (or its own linked parameter), which the caller then saves
// at that call even where nothing reads it after. A linked parameter is
// left out of saves (msgpack:"-"), and the caller sets it from its own
// local each time it steps into the callee, which it does on every
// resume: one copy in a save, one array or map after a restore.
// While the caller waits in the call its local cannot change, and the
// callee never assigns its parameter, so the two are always equal.

// skipTag leaves a field out of saves, for msgpack and pickle's plans.
const skipTag = "`msgpack:\"-\"`"

// site is a call of a flow function: its caller and its point there.
type site struct {
	caller *flowFn
	p      *point
}

// linkParams decides the linked parameters of every frame of the package.
func (g *pkgGen) linkParams() {
	callers := map[*flowFn][]site{}
	for _, fn := range g.order {
		for _, p := range fn.points {
			if p.callee != nil {
				callers[p.callee] = append(callers[p.callee], site{fn, p})
			}
		}
	}
	for _, ss := range callers {
		// In source order, so that the fields holdAt names come out the
		// same on every run.
		sort.Slice(ss, func(i, j int) bool { return ss[i].p.call.Pos() < ss[j].p.call.Pos() })
	}
	g.linked = map[*types.Var]bool{}
	done := map[*flowFn]bool{}
	var decide func(fn *flowFn)
	decide = func(fn *flowFn) {
		if done[fn] {
			return
		}
		done[fn] = true
		sites := callers[fn]
		if fn.marked || len(sites) == 0 {
			return // a tasklet's parameters come from its constructor and are saved
		}
		for _, s := range sites {
			decide(s.caller) // callers first: one may hand on its own linked parameter
		}
		for i := 1; i < fn.sig.Params().Len(); i++ {
			pv := fn.sig.Params().At(i)
			if loc := fn.vars[pv]; loc == nil || !loc.field || !sharedKind(pv.Type()) || assigns(g.info, fn.decl.Body, pv) {
				continue
			}
			all := true // every call passes a local of its caller
			for _, s := range sites {
				id, isID := ast.Unparen(wholeArg(s.p.call, fn.sig, i)).(*ast.Ident)
				v, _ := g.info.Uses[id].(*types.Var)
				all = all && isID && s.caller.vars[v] != nil
			}
			if all {
				g.linked[pv] = true
				for _, s := range sites {
					g.holdAt(s.caller, g.info.Uses[ast.Unparen(wholeArg(s.p.call, fn.sig, i)).(*ast.Ident)].(*types.Var), s.p)
				}
			}
		}
	}
	for _, fn := range g.order {
		decide(fn)
	}
	for _, fn := range g.order {
		g.refuseHeld(fn, callers[fn]) // shared.go
		g.refuseAliased(fn)           // alias.go
	}
}

// holdAt makes fn save its local v at the call p, where a linked
// parameter of the callee is set from it on every step into the callee.
func (g *pkgGen) holdAt(fn *flowFn, v *types.Var, p *point) {
	if g.keeps(fn, v, p) {
		return
	}
	loc := fn.vars[v]
	if !loc.field {
		loc.field = true
		loc.fname = fn.fieldName(v.Name())
		loc.name = "_f." + loc.fname
	}
	loc.at[p] = true
}

// keeps reports whether fn holds its local v at the call p across the
// callee's suspensions: saved there, or a linked parameter, which its own
// caller sets on every step.
func (g *pkgGen) keeps(fn *flowFn, v *types.Var, p *point) bool {
	loc := fn.vars[v]
	return loc != nil && (g.linked[v] || loc.field && loc.at[p])
}

// sharedKind reports whether a value of t shares what it holds with its
// copies: a slice (its array) or a map.
func sharedKind(t types.Type) bool {
	switch t.Underlying().(type) {
	case *types.Slice, *types.Map:
		return true
	}
	return false
}

// assigns reports whether body assigns v, or takes its address.
func assigns(info *types.Info, body ast.Node, v *types.Var) bool {
	is := func(e ast.Expr) bool {
		id, ok := ast.Unparen(e).(*ast.Ident)
		return ok && info.Uses[id] == v
	}
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for _, e := range n.Lhs {
				found = found || is(e)
			}
		case *ast.IncDecStmt:
			found = found || is(n.X)
		case *ast.RangeStmt:
			found = found || n.Tok == token.ASSIGN && (is(n.Key) || is(n.Value))
		case *ast.UnaryExpr:
			found = found || n.Op == token.AND && is(n.X)
		}
		return !found
	})
	return found
}

// relinks are the lines that set the linked parameters of the callee of p
// from the caller's locals, before each step into it.
func (l *lowerer) relinks(p *point, field string) []line {
	var out []line
	for i := 1; i < p.callee.sig.Params().Len(); i++ {
		pv := p.callee.sig.Params().At(i)
		if l.g.linked[pv] {
			out = append(out, line{text: "_f." + field + "." + p.callee.vars[pv].fname + " = " + l.print(wholeArg(p.call, p.callee.sig, i))})
		}
	}
	return out
}

// wholeArg is the argument of call that is parameter i's value: nil for
// the variadic parameter of a call that lists its elements (Go makes a new
// slice of them), which no local of the caller holds.
func wholeArg(call *ast.CallExpr, sig *types.Signature, i int) ast.Expr {
	if sig.Variadic() && i == sig.Params().Len()-1 && !call.Ellipsis.IsValid() {
		return nil
	}
	return call.Args[i]
}

// paramArgs are the arguments of call that make up parameter i: one, or
// the elements listed for a variadic parameter (perhaps none).
func paramArgs(call *ast.CallExpr, sig *types.Signature, i int) []ast.Expr {
	if e := wholeArg(call, sig, i); e != nil {
		return []ast.Expr{e}
	}
	return call.Args[i:]
}
