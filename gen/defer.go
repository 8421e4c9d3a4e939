package gen

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"
)

// Deferred calls. A defer statement arms a bit of the frame's mask and
// stores the call's arguments (and a value receiver) in fields, evaluated
// where the statement runs, as Go evaluates them; the frame's defers
// method runs the armed calls, the last armed first, at every return (after
// the results are set, so a deferred literal may change a named result) and
// when the step panics, as Go unwinds. A save holds the mask and the
// arguments, so a restored tasklet runs the calls it had deferred. Locals a
// deferred literal refers to are fields of the frame, as a Go closure keeps
// them alive. Since a defer statement may not sit in a loop, each runs at
// most once and in the order of the source, so one bit a statement is
// enough and the last armed is the highest.

// maxDefers bounds the defer statements of one function (one bit each).
const maxDefers = 62

// deferred is one defer statement of a flow function.
type deferred struct {
	stmt *ast.DeferStmt
	bit  int
	// How the call is made when it runs: a function literal, a function
	// or method expression named in the source, a method on a receiver
	// saved at the defer (recvType), a pointer method on a variable
	// (addressed again when it runs), or a method of the Flow.
	lit      *ast.FuncLit
	flow     bool
	recvType types.Type // the saved receiver's type, or nil
	recvVar  *types.Var // the variable a pointer method is called on, or nil
	sig      *types.Signature
	// Set by the lowering: what the call reads its receiver and arguments
	// from when it runs.
	recvField string
	args      []string
}

// scanDefer checks a defer statement of fn and records it, or refuses it.
// It reports whether the walk should look inside the statement.
func (g *pkgGen) scanDefer(fn *flowFn, d *ast.DeferStmt, stack []ast.Node) bool {
	for _, n := range stack[:len(stack)-1] {
		switch n.(type) {
		case *ast.ForStmt, *ast.RangeStmt:
			g.refuse(d.Pos(), "a defer statement inside a loop", "",
				"defer once before the loop, or call the code at the end of each iteration (a frame keeps one deferred call a statement)")
			return false
		}
	}
	if p := g.classify(d.Call, fn); p != nil {
		g.refuse(d.Pos(), "a deferred call that suspends", p.String(),
			"call it before each return instead (a deferred call runs while the function returns or panics, where it cannot wait)")
		return false
	}
	for _, a := range d.Call.Args {
		if p := g.firstPoint(a, fn); p != nil {
			g.refuse(a.Pos(), "a suspension in the arguments of a deferred call", p.String(), "wait for the value in a statement of its own before the defer")
			return false
		}
	}
	df := &deferred{stmt: d, bit: len(fn.defers)}
	if df.bit == maxDefers {
		g.refuse(d.Pos(), fmt.Sprintf("more than %d defer statements in one function", maxDefers), "", "gather the deferred code into fewer calls")
		return false
	}
	fun := ast.Unparen(d.Call.Fun)
	sig, _ := g.info.TypeOf(fun).(*types.Signature)
	df.sig = sig
	funcValue := func(what string) bool {
		g.refuse(d.Pos(), "a deferred call through "+what, "", "defer a function literal or a function named in the source (a function value cannot be saved)")
		return false
	}
	switch f := fun.(type) {
	case *ast.FuncLit:
		df.lit = f
		rec := false
		ast.Inspect(f.Body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				b, isB := calleeObj(g.info, c.Fun).(*types.Builtin)
				rec = rec || isB && b.Name() == "recover"
			}
			return !rec
		})
		if rec {
			g.refuse(d.Pos(), "recover in a deferred function literal", "", "a lowered function cannot stop a panic (its deferred calls run, then the tasklet fails): let the panic fail the tasklet, or check for the error before it happens")
			return false
		}
	case *ast.Ident:
		switch obj := g.info.Uses[f].(type) {
		case *types.Func:
		case *types.Builtin:
			g.refuse(d.Pos(), "a deferred call of the builtin "+obj.Name(), "", "wrap it in a function literal: defer func() { "+obj.Name()+"(...) }()")
			return false
		default:
			return funcValue("the function value " + f.Name)
		}
	case *ast.SelectorExpr:
		sel := g.info.Selections[f]
		switch {
		case g.isFlowVar(f.X, fn):
			df.flow = true
		case sel == nil: // a function of another package
			if _, ok := g.info.Uses[f.Sel].(*types.Func); !ok {
				return funcValue("the function value " + types.ExprString(f))
			}
		case sel.Kind() == types.MethodExpr:
		case sel.Kind() == types.FieldVal:
			return funcValue("the function value " + types.ExprString(f))
		default:
			m := sel.Obj().(*types.Func)
			_, ptrRecv := m.Type().(*types.Signature).Recv().Type().(*types.Pointer)
			xt := g.info.TypeOf(f.X)
			_, xPtr := xt.Underlying().(*types.Pointer)
			if ptrRecv && !xPtr && !isInterface(xt) {
				// Go takes the address of the operand at the defer; the
				// variable is the same when the call runs.
				id, ok := ast.Unparen(f.X).(*ast.Ident)
				v, isVar := g.info.Uses[id].(*types.Var)
				if !ok || !isVar {
					g.refuse(d.Pos(), "a deferred call of the pointer method "+m.Name()+" on "+types.ExprString(f.X), "",
						"defer a function literal that calls it: defer func() { "+types.ExprString(f)+"(...) }()")
					return false
				}
				df.recvVar = v
			} else {
				df.recvType = xt
			}
		}
	case *ast.IndexExpr: // a generic function instantiated by hand
		if _, ok := calleeObj(g.info, f.X).(*types.Func); !ok {
			return funcValue("a function value")
		}
	case *ast.IndexListExpr:
		if _, ok := calleeObj(g.info, f.X).(*types.Func); !ok {
			return funcValue("a function value")
		}
	default:
		return funcValue("a function value")
	}
	if sig == nil {
		g.refuse(d.Pos(), "a deferred call the generator cannot type", "", "defer a function literal")
		return false
	}
	fn.defers = append(fn.defers, df)
	return true
}

// pointAfterPos names the first point of fn after pos (a local's
// declaration, a defer), for a message.
func (g *pkgGen) pointAfterPos(fn *flowFn, pos token.Pos) string {
	for _, p := range sortedPoints(fn) {
		if p > pos {
			for c, pt := range fn.points {
				if c.Pos() == p {
					return pt.String() + " at " + g.fset.Position(p).String()
				}
			}
		}
	}
	return ""
}

// firstPoint is the first suspension point inside e, outside function
// literals, or nil.
func (g *pkgGen) firstPoint(e ast.Node, fn *flowFn) *point {
	var found *point
	ast.Inspect(e, func(n ast.Node) bool {
		if found != nil {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.CallExpr:
			found = g.classify(n, fn)
		}
		return found == nil
	})
	return found
}

// deferRefs are the locals of fn that its deferred calls read when they
// run (a literal's captured locals, the variable of a pointer method), by
// the position of the first defer statement reading each.
func (g *pkgGen) deferRefs(fn *flowFn) map[*types.Var]token.Pos {
	out := map[*types.Var]token.Pos{}
	add := func(v *types.Var, at token.Pos) {
		if v == nil || v.IsField() || v.Parent() == nil || v.Parent() == g.pkg.Types.Scope() || v == fn.flowVar {
			return
		}
		if old, ok := out[v]; !ok || at < old {
			out[v] = at
		}
	}
	for _, df := range fn.defers {
		if df.recvVar != nil {
			add(df.recvVar, df.stmt.Pos())
		}
		if df.lit == nil {
			continue
		}
		lit := df.lit
		ast.Inspect(lit.Body, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				if v, ok := g.info.Uses[id].(*types.Var); ok && (v.Pos() < lit.Pos() || v.Pos() >= lit.End()) {
					add(v, df.stmt.Pos())
				}
			}
			return true
		})
	}
	return out
}

// pointsAfterPos are fn's points that stand after pos in the source: the
// ones that may run while a call deferred at pos is armed.
func pointsAfterPos(fn *flowFn, pos token.Pos) map[*ast.CallExpr]bool {
	out := map[*ast.CallExpr]bool{}
	for c := range fn.points {
		if c.Pos() > pos {
			out[c] = true
		}
	}
	return out
}

// armDefers replaces each defer statement of fn with the statement that
// arms it: its arguments (and a value receiver) stored in fields of their
// own, its bit set in the mask. It runs after rename, so the arguments
// name the frame's fields.
func (l *lowerer) armDefers() {
	fn := l.fn
	if len(fn.defers) == 0 {
		return
	}
	byStmt := map[*ast.DeferStmt]*deferred{}
	for _, df := range fn.defers {
		byStmt[df.stmt] = df
	}
	first := fn.defers[0].stmt.Pos()
	maskHolds := pointsAfterPos(fn, first)
	fn.deferMask = fn.fieldName("Deferred")
	tag := ""
	if len(maskHolds) == 0 {
		tag = skipTag // no save can find a call armed
	}
	fn.extra = append(fn.extra, fieldDecl{name: fn.deferMask, typ: "uint64", holds: maskHolds, tag: tag})
	replaceStmts(fn.decl.Body, func(n ast.Stmt) ast.Stmt {
		d, ok := n.(*ast.DeferStmt)
		if !ok || byStmt[d] == nil {
			return nil
		}
		df := byStmt[d]
		holds := pointsAfterPos(fn, d.Pos())
		var lhs, rhs []string
		store := func(base, what string, t types.Type, x ast.Expr) string {
			name := fn.fieldName(base)
			f := fieldDecl{name: name, typ: l.fieldType(t), holds: holds}
			read := "_f." + name
			val := l.print(x)
			if isInterface(t) {
				read += ".V"
				val = f.typ + "{V: " + val + "}"
			}
			if len(holds) == 0 {
				f.tag = skipTag
			} else if (sharesWithCopies(t) || sharesWithCopies(l.g.info.TypeOf(x))) && !l.g.fresh(x) {
				l.g.refuse(x.Pos(), "the deferred call's "+what+" "+types.ExprString(x)+" shares a slice's array or a map, and is saved with the frame until the call runs: a restore would part it from what it shares",
					l.g.pointAfterPos(fn, d.Pos()), "defer a function literal that reads the value when it runs")
			} else if why := saveable(t, map[types.Type]bool{}); why != "" {
				l.g.refuse(x.Pos(), "the deferred call's "+what+" "+types.ExprString(x)+" is saved with the frame until the call runs, but "+why,
					l.g.pointAfterPos(fn, d.Pos()), "make the call before that suspension point instead of deferring it, or keep only values a save can hold in the call")
			}
			fn.extra = append(fn.extra, f)
			lhs, rhs = append(lhs, "_f."+name), append(rhs, val)
			return read
		}
		if df.recvType != nil {
			sel := ast.Unparen(d.Call.Fun).(*ast.SelectorExpr)
			df.recvField = store(fmt.Sprintf("Defer%dRecv", df.bit+1), "receiver", df.recvType, sel.X)
		}
		params := df.sig.Params()
		for i, a := range d.Call.Args {
			var t types.Type
			switch {
			case df.sig.Variadic() && i >= params.Len()-1 && !d.Call.Ellipsis.IsValid():
				t = params.At(params.Len() - 1).Type().(*types.Slice).Elem()
			case i < params.Len():
				t = params.At(i).Type()
			default: // f(g()) with g's results spread: not a single value
				l.g.refuse(a.Pos(), "a deferred call whose arguments are the results of one call", "", "assign the results to variables first")
				return nil
			}
			if tup, ok := l.g.info.TypeOf(a).(*types.Tuple); ok && tup.Len() != 1 {
				l.g.refuse(a.Pos(), "a deferred call whose arguments are the results of one call", "", "assign the results to variables first")
				return nil
			}
			df.args = append(df.args, store(fmt.Sprintf("Defer%dArg%d", df.bit+1, i+1), fmt.Sprintf("argument %d", i+1), t, a))
		}
		lhs = append(lhs, "_f."+fn.deferMask)
		rhs = append(rhs, fmt.Sprintf("_f.%s | %#x", fn.deferMask, uint64(1)<<df.bit))
		return &ast.ExprStmt{X: &ast.Ident{Name: strings.Join(lhs, ", ") + " = " + strings.Join(rhs, ", "), NamePos: d.Pos()}}
	})
}

// fresh reports whether e makes a value that shares no array or map with
// another: nil, a literal whose elements share nothing, a make.
func (g *pkgGen) fresh(e ast.Expr) bool {
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident:
		_, isNil := g.info.Uses[x].(*types.Nil)
		return isNil
	case *ast.BasicLit:
		return true
	case *ast.CompositeLit:
		for _, el := range x.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				el = kv.Value // a key is a field name or a map key, which shares nothing
			}
			if sharesWithCopies(g.info.TypeOf(el)) && !g.fresh(el) {
				return false
			}
		}
		return true
	case *ast.CallExpr:
		if id, ok := ast.Unparen(x.Fun).(*ast.Ident); ok {
			b, ok := g.info.Uses[id].(*types.Builtin)
			return ok && b.Name() == "make"
		}
	}
	return false
}

// replaceStmts walks the statement lists under body, outside function
// literals, and puts f's answer in place of each statement it answers for.
func replaceStmts(body *ast.BlockStmt, f func(ast.Stmt) ast.Stmt) {
	var walk func(list []ast.Stmt)
	walk = func(list []ast.Stmt) {
		for i, s := range list {
			if ls, ok := s.(*ast.LabeledStmt); ok {
				if r := f(ls.Stmt); r != nil {
					ls.Stmt = r
					continue
				}
			}
			if r := f(s); r != nil {
				list[i] = r
				continue
			}
			forEachList(s, func(inner *[]ast.Stmt) { walk(*inner) })
		}
	}
	walk(body.List)
}

// writeDefers writes fn's defers method: the armed calls, the last first.
func (l *lowerer) writeDefers(b *strings.Builder, tk string) {
	fn := l.fn
	base := fn.path[strings.LastIndex(fn.path, "/")+1:]
	fmt.Fprintf(b, "// defers runs the calls %s deferred and has not run yet, the last\n// first, as its return or a panic does in Go.\n", fn.name())
	fmt.Fprintf(b, "func (_f *%s) defers(_t *%s.T) {\n", fn.typ, tk)
	for _, df := range fn.defers {
		if df.flow {
			fmt.Fprintf(b, "_flv := %s.Lowered(_t)\n_fl := &_flv\n", tk)
			break
		}
	}
	for i := len(fn.defers) - 1; i >= 0; i-- {
		df := fn.defers[i]
		bit := fmt.Sprintf("%#x", uint64(1)<<df.bit)
		fmt.Fprintf(b, "if _f.%s&%s != 0 {\n_f.%s &^= %s\n", fn.deferMask, bit, fn.deferMask, bit)
		fmt.Fprintf(b, "//line %s:%d\n", base, l.g.fset.Position(df.stmt.Call.Pos()).Line)
		b.WriteString(l.deferredCall(df) + "\n}\n")
	}
	b.WriteString("}\n//line RESET\n\n")
}

// deferredCall is the call df makes when it runs.
func (l *lowerer) deferredCall(df *deferred) string {
	call := df.stmt.Call
	args := strings.Join(df.args, ", ")
	if call.Ellipsis.IsValid() {
		args += "..."
	}
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.FuncLit:
		return l.print(f) + "(" + args + ")"
	case *ast.SelectorExpr:
		switch {
		case df.flow:
			return "_fl." + f.Sel.Name + "(" + args + ")"
		case df.recvField != "":
			return df.recvField + "." + f.Sel.Name + "(" + args + ")"
		}
	}
	return l.print(call.Fun) + "(" + args + ")"
}

// deferredReturn is the text of a return from a frame with deferred calls:
// the results set (named ones in their fields, so a deferred literal sees
// and may change them), the deferred calls run, then the return of what
// the results hold.
func (l *lowerer) deferredReturn(r *ast.ReturnStmt) string {
	fn := l.fn
	n := fn.sig.Results().Len()
	targets := make([]string, n)
	var b strings.Builder
	b.WriteString("{\n")
	temps := 0
	for i := range n {
		res := fn.sig.Results().At(i)
		if loc := fn.vars[res]; loc != nil && loc.field {
			targets[i] = loc.name
			continue
		}
		targets[i] = fmt.Sprintf("_dr%d", i)
		temps++
	}
	if temps == n && len(r.Results) == n {
		// Only temporaries, which no result expression can read: one
		// declaration each, in Go's order of evaluation.
		for i, e := range r.Results {
			fmt.Fprintf(&b, "var %s %s = %s\n", targets[i], l.typeString(fn.sig.Results().At(i).Type()), l.print(e))
		}
		r = &ast.ReturnStmt{Return: r.Return}
	} else {
		for i := range n {
			if strings.HasPrefix(targets[i], "_dr") {
				fmt.Fprintf(&b, "var %s %s\n", targets[i], l.typeString(fn.sig.Results().At(i).Type()))
			}
		}
	}
	if len(r.Results) == 1 && n > 1 { // return f(), f with n results
		fmt.Fprintf(&b, "%s = %s\n", strings.Join(targets, ", "), l.print(r.Results[0]))
	} else if len(r.Results) > 0 {
		var ls, vs []string
		for i, e := range r.Results {
			if v := l.print(e); v != targets[i] { // `return trail, err` of named results
				ls, vs = append(ls, targets[i]), append(vs, v)
			}
		}
		if len(ls) > 0 {
			fmt.Fprintf(&b, "%s = %s\n", strings.Join(ls, ", "), strings.Join(vs, ", "))
		}
	}
	b.WriteString("_f.defers(_t)\n")
	tk := l.q.name(taskletPath, "tasklet")
	if l.direct {
		fmt.Fprintf(&b, "return %s.Finish(_t, %s)\n}", tk, targets[0])
	} else {
		fmt.Fprintf(&b, "return %s\n}", strings.Join(append([]string{tk + ".Op{}", "true"}, targets...), ", "))
	}
	return b.String()
}

// declareForced rewrites, in every statement list without a point, the
// declarations of locals that are fields only because a deferred literal
// reads them (elsewhere a field's declaration always shares a block with
// a point, which the lowering rewrites): the code assigns their fields,
// and declares the other names the statement defines. A forced local
// declared where no statement list holds it (an if's init, a range's
// variables, a type switch's name) is refused. It runs after rename.
func (l *lowerer) declareForced(forced map[*types.Var]token.Pos) {
	parent := parents(l.fn.decl.Body)
	for v := range forced {
		if loc := l.fn.vars[v]; loc == nil || !loc.field || v.Pos() < l.fn.decl.Body.Pos() {
			continue // not a field, or a parameter
		}
		var def *ast.Ident
		for id, obj := range l.g.info.Defs {
			if obj == v {
				def = id
			}
		}
		if def == nil { // a type switch's name, declared per clause
			l.g.refuse(v.Pos(), "a deferred function literal reads "+v.Name()+", the variable of a type switch", "", "copy it into a variable declared in a statement of its own, and read that")
			continue
		}
		switch p := parent[def].(type) {
		case *ast.AssignStmt:
			switch parent[p].(type) {
			case *ast.BlockStmt, *ast.CaseClause:
				continue
			}
		case *ast.ValueSpec:
			continue
		}
		l.g.refuse(v.Pos(), "a deferred function literal reads "+v.Name()+", declared in the header of an if, for, range or switch", "", "declare it in a statement of its own before that statement")
	}
	var walk func(list []ast.Stmt) []ast.Stmt
	walk = func(list []ast.Stmt) []ast.Stmt {
		points := false
		for _, s := range list {
			forEachList(s, func(inner *[]ast.Stmt) { *inner = walk(*inner) })
			points = points || l.hasPoint(s)
		}
		if points {
			return list // the lowering declares at the block's top
		}
		var out []ast.Stmt
		for _, s := range list {
			out = append(out, l.assignFields(s)...)
		}
		return out
	}
	l.fn.decl.Body.List = walk(l.fn.decl.Body.List)
}

// forEachList calls f with each statement list directly inside s, outside
// function literals.
func forEachList(s ast.Stmt, f func(*[]ast.Stmt)) {
	switch s := s.(type) {
	case *ast.BlockStmt:
		f(&s.List)
	case *ast.LabeledStmt:
		forEachList(s.Stmt, f)
	case *ast.IfStmt:
		f(&s.Body.List)
		if s.Else != nil {
			forEachList(s.Else, f)
		}
	case *ast.ForStmt:
		f(&s.Body.List)
	case *ast.RangeStmt:
		f(&s.Body.List)
	case *ast.SwitchStmt:
		for _, c := range s.Body.List {
			f(&c.(*ast.CaseClause).Body)
		}
	case *ast.TypeSwitchStmt:
		for _, c := range s.Body.List {
			f(&c.(*ast.CaseClause).Body)
		}
	case *ast.SelectStmt:
		for _, c := range s.Body.List {
			f(&c.(*ast.CommClause).Body)
		}
	}
}

// assignFields is s with the fields it declares assigned instead, and the
// other names it declares declared before it.
func (l *lowerer) assignFields(s ast.Stmt) []ast.Stmt {
	decl := func(id *ast.Ident) ast.Stmt {
		v := l.g.info.Defs[id].(*types.Var)
		return &ast.DeclStmt{Decl: &ast.GenDecl{Tok: token.VAR, TokPos: id.Pos(), Specs: []ast.Spec{
			&ast.ValueSpec{Names: []*ast.Ident{{Name: id.Name, NamePos: id.Pos()}}, Type: &ast.Ident{Name: l.typeString(v.Type()), NamePos: id.Pos()}}}}}
	}
	switch s := s.(type) {
	case *ast.AssignStmt:
		if s.Tok != token.DEFINE || !l.anyField(s.Lhs) {
			return []ast.Stmt{s}
		}
		var out []ast.Stmt
		for _, e := range s.Lhs {
			if id := e.(*ast.Ident); !l.isField(id) && l.g.info.Defs[id] != nil {
				out = append(out, decl(id))
			}
		}
		s.Tok = token.ASSIGN
		return append(out, s)
	case *ast.DeclStmt:
		gd, ok := s.Decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			break
		}
		var out []ast.Stmt
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			lhs := make([]ast.Expr, len(vs.Names))
			for i, n := range vs.Names {
				lhs[i] = n
			}
			if !l.anyField(lhs) {
				out = append(out, &ast.DeclStmt{Decl: &ast.GenDecl{Tok: token.VAR, TokPos: vs.Pos(), Specs: []ast.Spec{vs}}})
				continue
			}
			for _, n := range vs.Names {
				if !l.isField(n) && n.Name != "_" {
					out = append(out, decl(n))
				}
			}
			if len(vs.Values) > 0 {
				out = append(out, &ast.AssignStmt{Lhs: lhs, Tok: token.ASSIGN, TokPos: vs.Pos(), Rhs: vs.Values})
				continue
			}
			for _, n := range vs.Names {
				if l.isField(n) {
					v := l.g.info.Defs[n].(*types.Var)
					out = append(out, &ast.ExprStmt{X: &ast.Ident{Name: n.Name + " = *new(" + l.typeString(v.Type()) + ")", NamePos: n.Pos()}})
				}
			}
		}
		return out
	}
	return []ast.Stmt{s}
}

// anyField reports whether one of the identifiers in lhs names a field.
func (l *lowerer) anyField(lhs []ast.Expr) bool {
	for _, e := range lhs {
		if id, ok := e.(*ast.Ident); ok && l.isField(id) {
			return true
		}
	}
	return false
}
