package gen

import (
	"fmt"
	"go/ast"
	"go/printer"
	"go/token"
	"go/types"
	"strings"
)

// Values held twice. Where a parameter is not linked (link.go), a caller
// that keeps what it hands a flow function keeps a second copy during the
// call: a map in both is refused by pickle at every save until the call
// returns, and a slice in both comes back from a restore as two arrays.
// gen refuses such calls where it can tell, with the fix, rather than leave
// them to fail or diverge at run time.

// refuseHeld refuses the calls of fn that hand it a value the caller
// keeps during the call (keeps) and fn's parameter does not link, when the
// two copies would not stay one:
//   - a map, or a value holding one: every save while in fn would hold the
//     map twice, which pickle refuses (ErrShared) until fn returns;
//   - a slice, or a value holding one, that fn writes elements through
//     (writesThrough): a restore while in fn would bring back two arrays,
//     and fn's writes after it would not reach the caller, without a word.
//
// The caller's copy is what the argument is rooted at (valueRoots).
func (g *pkgGen) refuseHeld(fn *flowFn, sites []site) {
	if fn.recv != nil {
		g.refuseHeldParam(fn, fn.recv, sites, func(s site) ([]ast.Expr, bool) {
			return []ast.Expr{ast.Unparen(s.p.call.Fun).(*ast.SelectorExpr).X}, false
		})
	}
	for i := 1; i < fn.sig.Params().Len(); i++ {
		g.refuseHeldParam(fn, fn.sig.Params().At(i), sites, func(s site) ([]ast.Expr, bool) {
			return paramArgs(s.p.call, fn.sig, i), wholeArg(s.p.call, fn.sig, i) == nil
		})
	}
}

// refuseHeldParam is refuseHeld for fn's parameter (or receiver) pv, which
// args gives the arguments of at each call (packed: the elements of a
// variadic parameter).
func (g *pkgGen) refuseHeldParam(fn *flowFn, pv *types.Var, sites []site, args func(site) ([]ast.Expr, bool)) {
	if loc := fn.vars[pv]; loc == nil || !loc.field || g.linked[pv] {
		return
	}
	maps := containsMap(pv.Type(), map[types.Type]bool{})
	if !maps && !g.writesThrough(fn.decl.Body, pv) {
		return
	}
	shared := containsSlice
	if maps {
		shared = containsMap
	}
	for _, s := range sites {
		as, packed := args(s)
		for _, arg := range as {
			g.refuseHeldArg(fn, pv, s, arg, packed, maps, shared)
		}
	}
}

// refuseHeldArg refuses arg, handed to fn's parameter pv at the call s,
// where the caller keeps what it is rooted at (refuseHeld).
// packed says arg is one of the elements of a variadic parameter.
func (g *pkgGen) refuseHeldArg(fn *flowFn, pv *types.Var, s site, arg ast.Expr, packed, maps bool, shared func(types.Type, map[types.Type]bool) bool) {
	name := fn.name()
	for _, v := range valueRoots(g.info, arg, nil) {
		if !g.keeps(s.caller, v, s.p) || !shared(v.Type(), map[types.Type]bool{}) {
			continue
		}
		a := g.source(arg)
		_, isMap := pv.Type().Underlying().(*types.Map)
		_, isVar := ast.Unparen(arg).(*ast.Ident)
		what := fmt.Sprintf("%s handed to %s, which writes elements of a slice in it that the caller keeps too: after a restore while in %s, the caller's %s and %s's parameter %s would be two arrays, and %s's writes would not reach the caller", a, name, name, v.Name(), name, pv.Name(), name)
		if maps {
			what = fmt.Sprintf("%s, which holds a map, handed to %s: a save while in %s would hold the map twice, in the caller's %s and in %s's parameter %s (pickle refuses such a save)", a, name, name, v.Name(), name, pv.Name())
		}
		var fix string
		switch {
		case pv == fn.recv:
			fix = fmt.Sprintf("hand the value back (%s = %s.%s(t, ...), %s returning its receiver), so that the caller keeps no copy during the call", a, a, fn.obj.Name(), name)
		case packed:
			fix = fmt.Sprintf("keep the values in one local slice and hand that with ... at every call of %s (%s(t, all...)), which gen then links, and do not assign %s in it", name, name, pv.Name())
		case isMap:
			what = fmt.Sprintf("the map %s handed to %s, which a save while in %s would hold twice, as the caller's %s and as %s's parameter %s (pickle refuses such a save)", a, name, name, v.Name(), name, pv.Name())
			fix = "pass a local variable at every call of " + name + ", and do not assign " + pv.Name() + " in it: gen then hands " + name + " the caller's map, saved once"
		case !isVar:
			fix = fmt.Sprintf("make it a local variable before the call and hand that back (x := %s; x = %s(t, x), %s returning it), then use x, not %s, after the call", a, name, name, v.Name())
		case maps:
			fix = fmt.Sprintf("hand the value back instead (%s = %s(t, %s), %s returning it), so that the caller keeps no copy during the call", a, name, a, name)
		default:
			fix = fmt.Sprintf("hand the value back (%s = %s(t, %s), %s returning it), or, for a slice, pass a local variable at every call of %s and do not assign %s in it (gen then links them)", a, name, a, name, name, pv.Name())
		}
		g.refuse(arg.Pos(), what, "", fix)
		return
	}
}

// writesThrough reports whether fn's body may write an element of a slice
// that v holds, itself or through its aliases: an index expression through
// a slice rooted at v assigned, incremented or addressed; a pointer method
// called on something rooted at v through a slice; copy or clear into it,
// or a writer of the standard library (sliceWriters); or the same,
// followed into the functions and methods of this package it is handed to
// (a pointer method of the package on it counts as a write), or an append
// into its array through a prefix of it (appendSites).
func (g *pkgGen) writesThrough(body ast.Node, v *types.Var) bool {
	return g.writes.answer(v, false, func(w bool) bool { return w }, func() bool {
		return len(g.writeSites(body, v, true)) > 0 || len(g.appendSites(body, g.aliases(body, v))) > 0
	})
}

// writeSites returns where body may write an element of a slice that v
// holds, as writesThrough tells them: the first one only if first is set.
func (g *pkgGen) writeSites(body ast.Node, v *types.Var, first bool) []token.Pos {
	info := g.info
	of := g.aliases(body, v)
	viaSlice := func(e ast.Expr) bool {
		for {
			switch x := ast.Unparen(e).(type) {
			case *ast.IndexExpr:
				if _, ok := info.TypeOf(x.X).Underlying().(*types.Slice); ok && of[rootVar(info, x.X)] {
					return true
				}
				e = x.X
			case *ast.SelectorExpr:
				e = x.X
			default:
				return false
			}
		}
	}
	holdsSlice := func(e ast.Expr) bool {
		return of[rootVar(info, e)] && containsSlice(info.TypeOf(e), map[types.Type]bool{})
	}
	var at []token.Pos
	write := func(n ast.Node, yes bool) {
		if yes {
			at = append(at, n.Pos())
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for _, e := range n.Lhs {
				write(e, viaSlice(e))
			}
		case *ast.IncDecStmt:
			write(n, viaSlice(n.X))
		case *ast.UnaryExpr:
			write(n, n.Op == token.AND && viaSlice(n.X))
		case *ast.CallExpr:
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
				if m := g.methodCall(sel); m != nil {
					recv := m.Obj().Type().(*types.Signature).Recv()
					_, ptr := recv.Type().(*types.Pointer)
					switch {
					case viaSlice(sel.X):
						write(n, ptr)
					case holdsSlice(sel.X):
						// A method of the package on a value holding the
						// slice: path.Reverse() writes what Reverse writes
						// through its receiver, any pointer method maybe.
						decl := g.funcs()[m.Obj().(*types.Func)]
						write(n, decl != nil && (ptr || g.writesThrough(decl.Body, recv)))
					}
				}
			}
			switch f := calleeObj(info, n.Fun).(type) {
			case *types.Builtin:
				write(n, (f.Name() == "copy" || f.Name() == "clear") && len(n.Args) > 0 && holdsSlice(n.Args[0]))
			case *types.Func:
				if i, ok := writtenArg(f); ok && i < len(n.Args) {
					write(n, holdsSlice(unconvert(info, n.Args[i])))
				}
				decl := g.funcs()[f]
				sig, _ := f.Type().(*types.Signature)
				for i, a := range n.Args {
					write(n, decl != nil && sig != nil && i < sig.Params().Len() && !sig.Variadic() && holdsSlice(a) && g.writesThrough(decl.Body, sig.Params().At(i)))
				}
			}
		}
		return !first || len(at) == 0
	})
	return at
}

// aliases are v and the locals of body that may share a slice's array or a
// map with it: assigned from an expression rooted at one of them (q := p,
// q := p.Steps[1:], q := append(p, x), which shares p's array while it has
// room, q := rest(p) where rest may return what p holds: sharedArg), or
// ranging over the elements of one (for _, row := range p.Rows).
func (g *pkgGen) aliases(body ast.Node, v *types.Var) map[*types.Var]bool {
	info := g.info
	of := map[*types.Var]bool{v: true}
	add := func(lhs ast.Expr, from ast.Expr) bool {
		id, ok := lhs.(*ast.Ident)
		if ok && from != nil {
			from = g.sharedArg(from)
		}
		if !ok || from == nil || !of[rootVar(info, from)] {
			return false
		}
		w, _ := info.ObjectOf(id).(*types.Var)
		if w == nil || of[w] || !sharesWithCopies(w.Type()) {
			return false
		}
		of[w] = true
		return true
	}
	for grew := true; grew; {
		grew = false
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				if len(n.Lhs) == len(n.Rhs) {
					for i := range n.Lhs {
						grew = add(n.Lhs[i], n.Rhs[i]) || grew
					}
				}
			case *ast.ValueSpec:
				if len(n.Names) == len(n.Values) {
					for i := range n.Names {
						grew = add(n.Names[i], n.Values[i]) || grew
					}
				}
			case *ast.RangeStmt:
				if n.Value != nil {
					grew = add(n.Value, n.X) || grew
				}
			}
			return true
		})
	}
	return of
}

// sharedArg is the argument whose slice or map the value of e may share,
// when e is a call that may return it: append's first, a function of the
// standard library that edits a slice in place and returns it (slices.
// Delete), or a function of this package that returns a parameter, part of
// one or an alias of one (followed into its body). Else e itself.
func (g *pkgGen) sharedArg(e ast.Expr) ast.Expr {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return e
	}
	switch f := calleeObj(g.info, call.Fun).(type) {
	case *types.Builtin:
		if f.Name() == "append" && len(call.Args) > 0 {
			return call.Args[0]
		}
	case *types.Func:
		if f.Pkg() != nil && sliceReturners[f.Pkg().Path()+"."+f.Name()] && len(call.Args) > 0 {
			return call.Args[0]
		}
		switch i := g.returnsParam(f); {
		case i >= 0 && i < len(call.Args):
			return call.Args[i]
		case i == recvIndex:
			if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
				return sel.X
			}
		}
	}
	return e
}

// sliceReturners return the slice they are given first, edited in place,
// or parts of it.
var sliceReturners = map[string]bool{
	"slices.Delete": true, "slices.DeleteFunc": true, "slices.Compact": true, "slices.CompactFunc": true,
	"slices.Insert": true, "slices.Replace": true, "slices.Grow": true, "slices.Clip": true,
	"bytes.TrimSpace": true, "bytes.Trim": true, "bytes.TrimLeft": true, "bytes.TrimRight": true,
	"bytes.TrimPrefix": true, "bytes.TrimSuffix": true, "bytes.TrimFunc": true,
	"bytes.TrimLeftFunc": true, "bytes.TrimRightFunc": true,
	"bytes.Fields": true, "bytes.FieldsFunc": true, "bytes.Split": true, "bytes.SplitN": true,
	"bytes.SplitAfter": true, "bytes.SplitAfterN": true,
}

// recvIndex stands for a method's receiver among returnsParam's answers.
const recvIndex = -2

// returnsParam is the index of the parameter of f, a function of this
// package, whose slice or map a result of f may share (a return of the
// parameter, part of it, or an alias of it), recvIndex for a method's
// receiver, or -1.
func (g *pkgGen) returnsParam(f *types.Func) int {
	return g.returns.answer(f, -1, func(i int) bool { return i != -1 }, func() int { return g.paramReturned(f) })
}

// paramReturned is returnsParam's answer, found.
func (g *pkgGen) paramReturned(f *types.Func) int {
	decl := g.funcs()[f]
	sig, _ := f.Type().(*types.Signature)
	if decl == nil || sig == nil {
		return -1
	}
	for i := recvIndex; i < sig.Params().Len(); i++ {
		var pv *types.Var
		switch {
		case i == recvIndex:
			pv = sig.Recv()
		case i >= 0:
			pv = sig.Params().At(i)
		}
		if pv == nil || !sharesWithCopies(pv.Type()) {
			continue
		}
		of := g.aliases(decl.Body, pv)
		found := false
		ast.Inspect(decl.Body, func(n ast.Node) bool {
			if _, lit := n.(*ast.FuncLit); lit {
				return false // a closure's returns are not f's
			}
			if r, ok := n.(*ast.ReturnStmt); ok {
				for _, res := range r.Results {
					found = found || of[rootVar(g.info, g.sharedArg(res))]
				}
				for j := 0; len(r.Results) == 0 && j < sig.Results().Len(); j++ {
					found = found || of[sig.Results().At(j)] // a bare return of a named result
				}
			}
			return !found
		})
		if found {
			return i
		}
	}
	return -1
}

// sliceWriters are functions and methods outside the package that write
// the elements of a slice they are given, by the argument they write: the
// sorts, slices' in-place edits, and the common ways of reading or
// encoding into a buffer. Others are not followed (README).
var sliceWriters = map[string]int{
	"sort.Ints": 0, "sort.Strings": 0, "sort.Float64s": 0, "sort.Slice": 0, "sort.SliceStable": 0,
	"sort.Sort": 0, "sort.Stable": 0,
	"slices.Sort": 0, "slices.SortFunc": 0, "slices.SortStableFunc": 0, "slices.Reverse": 0,
	"slices.Delete": 0, "slices.DeleteFunc": 0, "slices.Compact": 0, "slices.CompactFunc": 0,
	"slices.Insert": 0, "slices.Replace": 0,
	"io.ReadFull": 1, "io.ReadAtLeast": 1, "crypto/rand.Read": 0, "math/rand.Read": 0,
	"encoding/hex.Encode": 0, "encoding/hex.Decode": 0,
	"encoding/base64.Encode": 0, "encoding/base64.Decode": 0, // methods of *Encoding
	"encoding/binary.PutUint16": 0, "encoding/binary.PutUint32": 0, "encoding/binary.PutUint64": 0,
	"encoding/binary.PutUvarint": 0, "encoding/binary.PutVarint": 0,
	"unicode/utf8.EncodeRune": 0,
}

// writtenArg returns the argument of a call of f whose slice f writes: by
// sliceWriters, or the p of any Read(p []byte) or ReadAt(p []byte, off)
// method, as an io.Reader's.
func writtenArg(f *types.Func) (int, bool) {
	if f.Pkg() != nil {
		if i, ok := sliceWriters[f.Pkg().Path()+"."+f.Name()]; ok {
			return i, true
		}
	}
	sig, _ := f.Type().(*types.Signature)
	if sig == nil || sig.Recv() == nil || (f.Name() != "Read" && f.Name() != "ReadAt") || sig.Params().Len() == 0 {
		return 0, false
	}
	sl, _ := sig.Params().At(0).Type().Underlying().(*types.Slice)
	if sl == nil {
		return 0, false
	}
	b, _ := sl.Elem().Underlying().(*types.Basic)
	return 0, b != nil && b.Kind() == types.Byte
}

// unconvert is e without the type conversions around it: sort.Sort writes
// through sort.IntSlice(xs) what it writes through xs.
func unconvert(info *types.Info, e ast.Expr) ast.Expr {
	for {
		call, ok := ast.Unparen(e).(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return e
		}
		if tv, ok := info.Types[call.Fun]; !ok || !tv.IsType() {
			return e
		}
		e = call.Args[0]
	}
}

// funcs are the functions declared in the package, by object, with bodies.
func (g *pkgGen) funcs() map[*types.Func]*ast.FuncDecl {
	if g.decls == nil {
		g.decls = map[*types.Func]*ast.FuncDecl{}
		for _, f := range g.pkg.Syntax {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
					if obj, ok := g.info.Defs[fd.Name].(*types.Func); ok {
						g.decls[obj] = fd
					}
				}
			}
		}
	}
	return g.decls
}

// containsSlice reports whether a value of t holds a slice, and
// containsMap a map, not behind a pointer or an interface (neither of
// which a saved local may hold).
func containsSlice(t types.Type, seen map[types.Type]bool) bool {
	return holds(t, func(u types.Type) bool { _, ok := u.(*types.Slice); return ok }, seen)
}

func containsMap(t types.Type, seen map[types.Type]bool) bool {
	return holds(t, func(u types.Type) bool { _, ok := u.(*types.Map); return ok }, seen)
}

// sharesWithCopies reports whether a copy of a value of t shares a slice's
// array or a map with it.
func sharesWithCopies(t types.Type) bool {
	return containsSlice(t, map[types.Type]bool{}) || containsMap(t, map[types.Type]bool{})
}

// holds reports whether t, or an element or field of it, has an
// underlying type that is says yes to.
func holds(t types.Type, is func(types.Type) bool, seen map[types.Type]bool) bool {
	if t == nil || seen[t] {
		return false
	}
	seen[t] = true
	u := t.Underlying()
	if is(u) {
		return true
	}
	switch u := u.(type) {
	case *types.Slice:
		return holds(u.Elem(), is, seen)
	case *types.Array:
		return holds(u.Elem(), is, seen)
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if holds(u.Field(i).Type(), is, seen) {
				return true
			}
		}
	}
	return false
}

// source is e as written.
func (g *pkgGen) source(e ast.Expr) string {
	var b strings.Builder
	if printer.Fprint(&b, g.fset, e) != nil {
		return types.ExprString(e)
	}
	return b.String()
}

// valueRoots appends the variables whose slices and maps the value of e
// may share: its root (rootVar), or, for a composite literal, those of its
// elements.
func valueRoots(info *types.Info, e ast.Expr, out []*types.Var) []*types.Var {
	if lit, ok := ast.Unparen(e).(*ast.CompositeLit); ok {
		for _, el := range lit.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				el = kv.Value
			}
			out = valueRoots(info, el, out)
		}
		return out
	}
	if v := rootVar(info, e); v != nil {
		out = append(out, v)
	}
	return out
}

// rootVar is the variable an expression of selectors, indexes and slicings
// starts from (g in g.Body.Seen, buf in buf[1:]), or nil.
func rootVar(info *types.Info, e ast.Expr) *types.Var {
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			v, _ := info.Uses[x].(*types.Var)
			return v
		case *ast.SelectorExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.SliceExpr:
			e = x.X
		default:
			return nil
		}
	}
}
