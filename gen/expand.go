package gen

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/ast/astutil"
)

// Suspension points inside expressions: the calls of a statement are
// moved, in Go's evaluation order, into assignments to temporaries ahead
// of it, so that every point is a statement of its own.

// expand rewrites a simple statement whose points sit inside expressions
// into assignments of the calls (in evaluation order) to temporaries,
// followed by the statement reading them.
func (l *lowerer) expand(s ast.Stmt, decls *[]decl) []ast.Stmt {
	if !l.hasPoint(s) {
		return []ast.Stmt{s}
	}
	if p, _, _ := l.pointForm(s); p != nil {
		return l.expandLeft(s)
	}
	var exprs []ast.Expr
	switch s := s.(type) {
	case *ast.ExprStmt:
		exprs = []ast.Expr{s.X}
	case *ast.AssignStmt:
		if len(s.Rhs) == 1 && len(s.Lhs) > 1 {
			if c, ok := ast.Unparen(s.Rhs[0]).(*ast.CallExpr); ok && l.fn.points[c] != nil {
				// `a, b := sub(t, x(t))`: only the arguments need temporaries.
				exprs = append(append([]ast.Expr(nil), indexOperands(s.Lhs)...), c.Args...)
				break
			}
		}
		exprs = append(append([]ast.Expr(nil), indexOperands(s.Lhs)...), s.Rhs...)
	case *ast.IncDecStmt:
		exprs = []ast.Expr{s.X}
	case *ast.ReturnStmt:
		if len(s.Results) == 1 && tupleLen(l.g.info, s.Results[0]) > 1 {
			c := ast.Unparen(s.Results[0]).(*ast.CallExpr)
			// return sub(t, ...) with several results
			var lhs []ast.Expr
			var results []ast.Expr
			tup := l.g.info.TypeOf(c).(*types.Tuple)
			for i := 0; i < tup.Len(); i++ {
				name := l.temp()
				*decls = append(*decls, decl{name, l.typeString(tup.At(i).Type())})
				lhs = append(lhs, &ast.Ident{Name: name, NamePos: c.Pos()})
				results = append(results, &ast.Ident{Name: name, NamePos: c.Pos()})
			}
			pre := l.expand(&ast.AssignStmt{Lhs: lhs, Tok: token.ASSIGN, TokPos: c.Pos(), Rhs: []ast.Expr{c}}, decls)
			return append(pre, &ast.ReturnStmt{Return: s.Return, Results: results})
		}
		exprs = s.Results
	case *ast.DeclStmt:
		gd := s.Decl.(*ast.GenDecl)
		if gd.Tok == token.VAR && len(gd.Specs) > 1 {
			// var ( a = x(t); b = y(t, a) ): one declaration a spec, in
			// order, as Go declares them.
			var out []ast.Stmt
			for _, spec := range gd.Specs {
				one := &ast.GenDecl{TokPos: spec.Pos(), Tok: token.VAR, Specs: []ast.Spec{spec}}
				out = append(out, l.expand(&ast.DeclStmt{Decl: one}, decls)...)
			}
			return out
		}
		if gd.Tok == token.VAR && len(gd.Specs) == 1 {
			vs := gd.Specs[0].(*ast.ValueSpec)
			lhs := make([]ast.Expr, len(vs.Names))
			for i, n := range vs.Names {
				lhs[i] = n
			}
			if len(vs.Values) > 0 {
				return l.expand(&ast.AssignStmt{Lhs: lhs, Tok: token.DEFINE, TokPos: vs.Pos(), Rhs: vs.Values}, decls)
			}
		}
		return []ast.Stmt{s}
	default:
		return []ast.Stmt{s} // compound statements are lowered by stmt
	}
	var calls []*ast.CallExpr
	for _, e := range exprs {
		l.calls(e, &calls)
	}
	last := -1
	for i, c := range calls {
		if l.fn.points[c] != nil || l.isLazy(c) {
			last = i
		}
	}
	repl := map[ast.Node]*ast.Ident{}
	var out []ast.Stmt
	for i, c := range calls[:last+1] {
		if l.isLazy(c) {
			// a && b, a || b with a suspension in b: b runs only when
			// the operator needs it.
			b := c.Fun.(*ast.BinaryExpr)
			name := l.temp()
			if i < last {
				fname := l.fn.fieldName("Tmp")
				l.fn.extra = append(l.fn.extra, fieldDecl{fname, l.typeString(l.g.info.TypeOf(b)), l.pointsAfter(calls[i+1 : last+1]), ""})
				name = "_f." + fname
			} else {
				*decls = append(*decls, decl{name, l.typeString(l.g.info.TypeOf(b))})
			}
			id := func() *ast.Ident { return &ast.Ident{Name: name, NamePos: b.Pos()} }
			out = append(out, &ast.AssignStmt{Lhs: []ast.Expr{id()}, Tok: token.ASSIGN, TokPos: b.Pos(), Rhs: []ast.Expr{replaceNodes(b.X, repl).(ast.Expr)}})
			set := &ast.BlockStmt{Lbrace: b.Y.Pos(), List: []ast.Stmt{&ast.AssignStmt{Lhs: []ast.Expr{id()}, Tok: token.ASSIGN, TokPos: b.Y.Pos(), Rhs: []ast.Expr{b.Y}}}}
			if b.Op == token.LAND {
				out = append(out, &ast.IfStmt{If: b.Pos(), Cond: id(), Body: set})
			} else {
				out = append(out, &ast.IfStmt{If: b.Pos(), Cond: id(), Body: &ast.BlockStmt{Lbrace: b.Pos()}, Else: set})
			}
			repl[b] = id()
			continue
		}
		if tupleLen(l.g.info, c) != 1 {
			l.g.refuse(c.Pos(), "a call with several results inside an expression that suspends", "", "assign its results to variables in their own statement")
			return []ast.Stmt{s}
		}
		var held map[*ast.CallExpr]bool // held across the later points of the same statement
		if i < last {
			held = l.pointsAfter(calls[i+1 : last+1])
		}
		out = append(out, l.hoist(c, held, repl, decls, "call it in its own statement after the blocking call"))
	}
	return append(out, replaceNodes(s, repl).(ast.Stmt))
}

// expandLeft rewrites an assignment of a point's results whose left side
// makes calls (`a[key()] = recv(t)`): Go makes them before the point, with
// the right side's, so they move ahead of it into temporaries held across
// it, and the point stays a statement of its own.
func (l *lowerer) expandLeft(s ast.Stmt) []ast.Stmt {
	as, ok := s.(*ast.AssignStmt)
	if !ok {
		return []ast.Stmt{s}
	}
	var calls []*ast.CallExpr
	for _, e := range indexOperands(as.Lhs) {
		l.calls(e, &calls)
	}
	if len(calls) == 0 {
		return []ast.Stmt{s}
	}
	point := ast.Unparen(as.Rhs[0]).(*ast.CallExpr)
	repl := map[ast.Node]*ast.Ident{}
	var out []ast.Stmt
	for _, c := range calls {
		held := map[*ast.CallExpr]bool{point: true}
		out = append(out, l.hoist(c, held, repl, nil, "assign the blocking call's result to a variable first, and that to the left side in a statement of its own"))
	}
	return append(out, replaceNodes(s, repl).(ast.Stmt))
}

// hoist assigns the result of call c to a temporary and records it in repl
// for the statement to read: a field when it is held across the points in
// held (the result must then be saveable), else a local of decls.
func (l *lowerer) hoist(c *ast.CallExpr, held map[*ast.CallExpr]bool, repl map[ast.Node]*ast.Ident, decls *[]decl, fix string) ast.Stmt {
	name := l.temp()
	t := l.g.info.TypeOf(c)
	if held != nil {
		if why := saveable(t, map[types.Type]bool{}); why != "" {
			l.g.refuse(c.Pos(), "the result of this call is held across a later suspension in the same statement, but "+why, "", fix)
		}
		fname := l.fn.fieldName("Tmp")
		l.fn.extra = append(l.fn.extra, fieldDecl{fname, l.fieldType(t), held, ""})
		name = "_f." + fname
		if isInterface(t) {
			name += ".V"
		}
	} else {
		*decls = append(*decls, decl{name, l.typeString(t)})
	}
	// The call's own arguments read the temporaries of the calls inside
	// them.
	for j, a := range c.Args {
		c.Args[j] = replaceNodes(a, repl).(ast.Expr)
	}
	c.Fun = replaceNodes(c.Fun, repl).(ast.Expr)
	repl[c] = &ast.Ident{Name: name, NamePos: c.Pos()}
	return &ast.AssignStmt{Lhs: []ast.Expr{&ast.Ident{Name: name, NamePos: c.Pos()}}, Tok: token.ASSIGN, TokPos: c.Pos(), Rhs: []ast.Expr{c}}
}

// replaceNodes replaces the nodes of n that are keys of repl.
func replaceNodes(n ast.Node, repl map[ast.Node]*ast.Ident) ast.Node {
	if id, ok := repl[n]; ok {
		return id
	}
	return astutil.Apply(n, func(cur *astutil.Cursor) bool {
		if id, ok := repl[cur.Node()]; ok {
			cur.Replace(id)
			return false
		}
		return true
	}, nil)
}

// indexOperands are the operands of index expressions and indirections on
// the left of an assignment, which Go evaluates with the right side.
func indexOperands(lhs []ast.Expr) []ast.Expr {
	var out []ast.Expr
	for _, e := range lhs {
		switch x := ast.Unparen(e).(type) {
		case *ast.IndexExpr:
			out = append(out, x.X, x.Index)
		case *ast.StarExpr:
			out = append(out, x.X)
		case *ast.SelectorExpr:
			out = append(out, x.X)
		}
	}
	return out
}

// calls appends the function calls of e in Go's evaluation order (a call
// after its arguments), leaving out what is evaluated lazily.
func (l *lowerer) calls(e ast.Expr, out *[]*ast.CallExpr) {
	switch x := e.(type) {
	case nil, *ast.Ident, *ast.BasicLit, *ast.FuncLit:
	case *ast.ParenExpr:
		l.calls(x.X, out)
	case *ast.SelectorExpr:
		l.calls(x.X, out)
	case *ast.IndexExpr:
		l.calls(x.X, out)
		l.calls(x.Index, out)
	case *ast.IndexListExpr:
		l.calls(x.X, out)
	case *ast.SliceExpr:
		l.calls(x.X, out)
		l.calls(x.Low, out)
		l.calls(x.High, out)
		l.calls(x.Max, out)
	case *ast.TypeAssertExpr:
		l.calls(x.X, out)
	case *ast.StarExpr:
		l.calls(x.X, out)
	case *ast.UnaryExpr:
		l.calls(x.X, out)
	case *ast.BinaryExpr:
		l.calls(x.X, out)
		if x.Op != token.LAND && x.Op != token.LOR {
			l.calls(x.Y, out)
		} else if l.hasPoint(x.Y) {
			l.lazy[x] = true
			*out = append(*out, &ast.CallExpr{Fun: x}) // stands for the whole operation
		}
	case *ast.KeyValueExpr:
		if _, isID := x.Key.(*ast.Ident); !isID {
			l.calls(x.Key, out)
		}
		l.calls(x.Value, out)
	case *ast.CompositeLit:
		for _, el := range x.Elts {
			l.calls(el, out)
		}
	case *ast.CallExpr:
		if l.fn.points[x] != nil {
			// A point's own arguments are evaluated as it suspends;
			// only points among them must go first.
			if l.hasPointIn(x.Args) {
				for _, a := range x.Args {
					l.calls(a, out)
				}
			}
			*out = append(*out, x)
			return
		}
		tv := l.g.info.Types[x.Fun]
		if !tv.IsType() {
			l.calls(x.Fun, out)
		}
		for _, a := range x.Args {
			l.calls(a, out)
		}
		if tv.IsType() || tv.IsBuiltin() {
			return
		}
		*out = append(*out, x)
	}
}

// pointsAfter are the points among calls (and inside the lazy operands
// that stand among them).
func (l *lowerer) pointsAfter(calls []*ast.CallExpr) map[*ast.CallExpr]bool {
	out := map[*ast.CallExpr]bool{}
	for _, c := range calls {
		if l.isLazy(c) {
			for k := range l.pointsIn(c.Fun.(*ast.BinaryExpr).Y) {
				out[k] = true
			}
		} else if l.fn.points[c] != nil {
			out[c] = true
		}
	}
	return out
}

// pointsIn are the points inside n.
func (l *lowerer) pointsIn(n ast.Node) map[*ast.CallExpr]bool {
	out := map[*ast.CallExpr]bool{}
	ast.Inspect(n, func(m ast.Node) bool {
		if c, ok := m.(*ast.CallExpr); ok && l.fn.points[c] != nil {
			out[c] = true
		}
		return true
	})
	return out
}
