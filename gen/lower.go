package gen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/printer"
	"go/token"
	"go/types"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/ast/astutil"
)

// The lowering keeps the function's own statements and adds, at the top of
// every block that holds suspension points, a dispatch on the resume point
// (_rs) that jumps to the statement holding it. Compound statements on the
// way re-enter their branch, loop body or case without evaluating their
// condition again. So that these jumps cross no declaration, a block's
// variables are declared at its top (renamed to be unique, so hoisting
// cannot capture a name); locals live across a point are fields of the
// frame (_f) instead.

type line struct {
	text string
	pos  token.Pos // the source this line comes from (0: continues the previous)
}

type decl struct{ name, typ string }

type lowerer struct {
	g       *pkgGen
	fn      *flowFn
	q       *fileCtx
	n       int // last point number
	labels  int
	temps   int
	posts   int // for loops whose post statement suspends (forPost)
	pre     map[*ast.BlockStmt][]decl
	results []string    // the frame function's named results (zero on suspension)
	lines   map[int]int // call line -> 1 drop, 2 keep, 3 both
	fixed   map[*ast.ReturnStmt]bool
	lazy    map[*ast.BinaryExpr]bool
	direct  bool // the body is the tasklet's Step itself (no frame calls it)
}

func (l *lowerer) isLazy(c *ast.CallExpr) bool {
	b, ok := c.Fun.(*ast.BinaryExpr)
	return ok && l.lazy[b]
}

func (l *lowerer) print(n ast.Node) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, l.g.fset, n); err != nil {
		panic(err) // printing a node we built ourselves: a bug of the generator
	}
	return b.String()
}

func (l *lowerer) typeString(t types.Type) string {
	if b, ok := t.(*types.Basic); ok && b.Info()&types.IsUntyped != 0 {
		t = types.Default(t)
	}
	return types.TypeString(t, l.q.qualifier)
}

func (l *lowerer) label() string {
	l.labels++
	return fmt.Sprintf("_L%d", l.labels)
}

func (l *lowerer) temp() string {
	l.temps++
	return fmt.Sprintf("_sl%d", l.temps)
}

func (l *lowerer) hasPoint(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(m ast.Node) bool {
		if found {
			return false
		}
		if _, ok := m.(*ast.FuncLit); ok {
			return false
		}
		if c, ok := m.(*ast.CallExpr); ok && l.fn.points[c] != nil {
			found = true
		}
		return !found
	})
	return found
}

// rename gives every local its lowered name in place.
func (l *lowerer) rename() {
	ast.Inspect(l.fn.decl.Body, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		obj := l.g.info.Defs[id]
		if obj == nil {
			obj = l.g.info.Uses[id]
		}
		v, ok := obj.(*types.Var)
		if !ok {
			return true
		}
		if v == l.fn.flowVar {
			id.Name = "_fl"
		} else if loc := l.fn.vars[v]; loc != nil {
			id.Name = loc.name
		}
		return true
	})
	// A type switch's bound name is declared by no object of its own.
	ast.Inspect(l.fn.decl.Body, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSwitchStmt); ok {
			if a, ok := ts.Assign.(*ast.AssignStmt); ok {
				for _, c := range ts.Body.List {
					if v, ok := l.g.info.Implicits[c].(*types.Var); ok && l.fn.vars[v] != nil && !l.fn.vars[v].field {
						a.Lhs[0].(*ast.Ident).Name = l.fn.vars[v].name
						break
					}
				}
			}
		}
		return true
	})
}

func (l *lowerer) isField(id *ast.Ident) bool { return strings.HasPrefix(id.Name, "_f.") }

// body lowers the whole function body.
func (l *lowerer) body() []line {
	return l.block(l.fn.decl.Body.List, nil)
}

// block lowers a list of statements that form one block.
func (l *lowerer) block(list []ast.Stmt, pre []decl) []line {
	any := false
	for _, s := range list {
		if l.hasPoint(s) {
			any = true
			break
		}
	}
	if !any {
		var out []line
		for _, d := range pre {
			out = append(out, line{text: "var " + d.name + " " + d.typ}, line{text: "_ = " + d.name})
		}
		for _, s := range list {
			out = append(out, l.printLines(s, s.Pos())...)
		}
		return out
	}
	decls := append([]decl(nil), pre...)
	var dispatch, body []line
	for _, s0 := range list {
		for _, s := range l.expand(s0, &decls) {
			if !l.hasPoint(s) {
				body = append(body, l.plain(s, &decls)...)
				continue
			}
			lo := l.n + 1
			sl, entry := l.stmt(s, "", &decls)
			hi := l.n
			cond := rangeCond(lo, hi)
			dispatch = append(dispatch, line{text: "if " + cond + " {"}, line{text: "goto " + entry}, line{text: "}"})
			body = append(body, sl...)
		}
	}
	var out []line
	for _, d := range decls {
		out = append(out, line{text: "var " + d.name + " " + d.typ}, line{text: "_ = " + d.name})
	}
	out = append(out, dispatch...)
	return append(out, body...)
}

func (l *lowerer) printLines(n ast.Node, pos token.Pos) []line {
	var out []line
	for i, t := range strings.Split(l.print(l.fixReturns(n)), "\n") {
		if i == 0 {
			out = append(out, line{text: t, pos: pos})
		} else {
			out = append(out, line{text: t})
		}
	}
	return out
}

// plain lowers a statement without points in a block with a dispatch: its
// declarations move to the top of the block.
func (l *lowerer) plain(s ast.Stmt, decls *[]decl) []line {
	switch s := s.(type) {
	case *ast.AssignStmt:
		if s.Tok == token.DEFINE {
			l.hoistDefs(s.Lhs, decls)
			s.Tok = token.ASSIGN
		}
	case *ast.DeclStmt:
		gd, ok := s.Decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			break
		}
		var out []line
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			lhs := make([]ast.Expr, len(vs.Names))
			for i, n := range vs.Names {
				lhs[i] = n
			}
			l.hoistDefs(lhs, decls)
			if len(vs.Values) > 0 {
				out = append(out, l.printLines(&ast.AssignStmt{Lhs: lhs, Tok: token.ASSIGN, TokPos: vs.Pos(), Rhs: vs.Values}, vs.Pos())...)
				continue
			}
			for _, n := range vs.Names {
				if l.isField(n) {
					v := l.g.info.Defs[n].(*types.Var)
					out = append(out, line{text: n.Name + " = *new(" + l.typeString(v.Type()) + ")", pos: n.Pos()})
				}
			}
		}
		return out
	}
	return l.printLines(s, s.Pos())
}

// hoistDefs declares, at the top of the block, the non-field variables
// that lhs defines.
func (l *lowerer) hoistDefs(lhs []ast.Expr, decls *[]decl) {
	for _, e := range lhs {
		id, ok := e.(*ast.Ident)
		if !ok || l.isField(id) || id.Name == "_" {
			continue
		}
		if v, ok := l.g.info.Defs[id].(*types.Var); ok {
			*decls = append(*decls, decl{id.Name, l.typeString(v.Type())})
		}
	}
}

// pointForm returns the point of a statement that is one suspension and
// nothing else: `call`, `lhs... = call`, `lhs... := call`.
func (l *lowerer) pointForm(s ast.Stmt) (*point, []ast.Expr, token.Token) {
	switch s := s.(type) {
	case *ast.ExprStmt:
		if c, ok := ast.Unparen(s.X).(*ast.CallExpr); ok && l.fn.points[c] != nil && !l.hasPointIn(c.Args) {
			return l.fn.points[c], nil, 0
		}
	case *ast.AssignStmt:
		if len(s.Rhs) == 1 && (s.Tok == token.ASSIGN || s.Tok == token.DEFINE) {
			if c, ok := ast.Unparen(s.Rhs[0]).(*ast.CallExpr); ok && l.fn.points[c] != nil && !l.hasPointIn(c.Args) && !l.hasPointIn(s.Lhs) {
				return l.fn.points[c], s.Lhs, s.Tok
			}
		}
	}
	return nil, nil, 0
}

func (l *lowerer) hasPointIn(es []ast.Expr) bool {
	for _, e := range es {
		if l.hasPoint(e) {
			return true
		}
	}
	return false
}

// suspend is the return statement that suspends the frame with op.
func (l *lowerer) suspend(op string) string {
	if l.direct {
		return "return " + op
	}
	return "return " + strings.Join(append([]string{op, "false"}, l.results...), ", ")
}

// stmt lowers a statement that holds points; entry is the label the
// enclosing block's dispatch jumps to.
func (l *lowerer) stmt(s ast.Stmt, label string, decls *[]decl) ([]line, string) {
	if p, lhs, tok := l.pointForm(s); p != nil {
		return l.pointStmt(s, p, lhs, tok, decls)
	}
	switch s := s.(type) {
	case *ast.LabeledStmt:
		return l.stmt(s.Stmt, s.Label.Name, decls)
	case *ast.BlockStmt:
		entry := l.label()
		out := []line{{text: entry + ": {", pos: s.Pos()}}
		out = append(out, l.block(s.List, l.pre[s])...)
		return append(out, line{text: "}"}), entry
	case *ast.ReturnStmt:
		return l.printLines(s, s.Pos()), "" // no point left after expand
	case *ast.IfStmt:
		return l.ifStmt(s, decls)
	case *ast.ForStmt:
		return l.forStmt(s, label, decls)
	case *ast.RangeStmt:
		return l.rangeStmt(s, label, decls)
	case *ast.SwitchStmt:
		return l.switchStmt(s, label, decls)
	case *ast.TypeSwitchStmt:
		return l.typeSwitchStmt(s, label, decls)
	}
	l.g.refuse(s.Pos(), fmt.Sprintf("a suspension inside a %T statement, which the generator does not know", s), "", "move the blocking call into its own statement")
	return nil, "_L0"
}

// wrap lowers stmts as a block of their own, with pre declared at its top.
func (l *lowerer) wrap(pos token.Pos, pre []decl, stmts ...ast.Stmt) ([]line, string) {
	b := &ast.BlockStmt{Lbrace: pos, List: stmts}
	if l.pre == nil {
		l.pre = map[*ast.BlockStmt][]decl{}
	}
	l.pre[b] = pre
	return l.stmt(b, "", nil)
}

func (l *lowerer) pointStmt(s ast.Stmt, p *point, lhs []ast.Expr, tok token.Token, decls *[]decl) ([]line, string) {
	l.n++
	k := l.n
	entry := fmt.Sprintf("_P%d", k)
	pos := s.Pos()
	if tok == token.DEFINE {
		l.hoistDefs(lhs, decls)
	}
	l.fn.layout = append(l.fn.layout, layoutPoint{N: k, What: p.String(), Name: p.name, Live: l.liveFields(p), Pos: l.g.fset.Position(p.call.Pos())})
	lhsText := make([]string, len(lhs))
	for i, e := range lhs {
		lhsText[i] = l.print(e)
	}
	var out []line
	if p.callee != nil {
		callee := p.callee
		field := l.fn.sub[callee]
		var inits []string
		if loc := l.recvLocal(callee); loc != nil {
			inits = append(inits, loc.fname+": "+l.fieldValue(loc, l.recvArg(p.call, callee)))
		}
		for i := 1; i < callee.sig.Params().Len(); i++ {
			pv := callee.sig.Params().At(i)
			loc := callee.vars[pv]
			if loc == nil {
				continue // a blank parameter
			}
			arg := wholeArg(p.call, callee.sig, i)
			if arg == nil { // a variadic parameter's elements, packed as Go does
				elems := p.call.Args[i:]
				if len(elems) == 0 {
					continue // nil, as in Go
				}
				texts := make([]string, len(elems))
				for j, e := range elems {
					texts[j] = l.print(e)
				}
				inits = append(inits, loc.fname+": "+l.fieldValue(loc, l.typeString(pv.Type())+"{"+strings.Join(texts, ", ")+"}"))
				continue
			}
			inits = append(inits, loc.fname+": "+l.fieldValue(loc, l.print(arg)))
		}
		// A frame the callee holds by pointer (a recursion) is kept, zeroed,
		// when the call returns, so that a recursion going as deep again
		// allocates nothing; IsZero leaves a zeroed frame out of saves.
		var keep []string
		for _, c2 := range callee.callees {
			if callee.recursive[c2] {
				keep = append(keep, fmt.Sprintf("%s: _f.%s.%s", callee.sub[c2], field, callee.sub[c2]))
			}
		}
		set := "_f." + field + " = "
		if l.fn.recursive[callee] { // this frame too is held by pointer, made once
			out = append(out, line{text: fmt.Sprintf("if _f.%s == nil {", field), pos: pos}, line{text: fmt.Sprintf("_f.%s = &%s{}", field, callee.typ)}, line{text: "}"})
			set = "*" + set
		}
		gone := fmt.Sprintf("%s%s{%s}", set, callee.typ, strings.Join(keep, ", "))
		inits = append(keep, inits...)
		out = append(out, line{text: fmt.Sprintf("%s%s{%s}", set, callee.typ, strings.Join(inits, ", ")), pos: pos})
		out = append(out, line{text: entry + ":"}, line{text: "_rs = 0"})
		if l.fn.recursive[callee] {
			// Only a damaged or hand-edited save resumes here without the
			// frame: say so, rather than fail with a nil dereference.
			at := l.g.fset.Position(p.call.Pos())
			msg := fmt.Sprintf("stackless: a damaged save: %s resumes in its call of %s (%s:%d) but holds no frame for that call; restore an earlier generation",
				l.fn.name(), callee.name(), filepath.Base(at.Filename), at.Line)
			out = append(out, line{text: fmt.Sprintf("if _f.%s == nil {", field)}, line{text: fmt.Sprintf("panic(%q)", msg)}, line{text: "}"})
		}
		out = append(out, l.relinks(p, field)...)
		nres := callee.sig.Results().Len()
		var rs []string
		for i := 0; i < nres; i++ {
			rs = append(rs, fmt.Sprintf("_c%d", i))
		}
		out = append(out, line{text: "{"},
			line{text: strings.Join(append([]string{"_cop", "_cdone"}, rs...), ", ") + fmt.Sprintf(" := _f.%s.step(_t, _fl)", field)},
			line{text: "if !_cdone {"}, line{text: pcLine(k)}, line{text: l.suspend("_cop")}, line{text: "}"},
			line{text: gone})
		var ls, vs []string
		for i, t := range lhsText {
			if t != "_" {
				ls, vs = append(ls, t), append(vs, rs[i])
			}
		}
		for i := len(lhsText); i < nres; i++ {
			vs = append(vs, "_ = "+rs[i])
		}
		if len(ls) > 0 {
			out = append(out, line{text: strings.Join(ls, ", ") + " = " + strings.Join(vs[:len(ls)], ", ")})
		}
		for _, r := range rs[len(lhsText):] {
			out = append(out, line{text: "_ = " + r})
		}
		for i, t := range lhsText {
			if t == "_" {
				out = append(out, line{text: "_ = " + rs[i]})
			}
		}
		out = append(out, line{text: "}"})
		return out, entry
	}
	// A blocking Flow call.
	args := make([]string, len(p.call.Args))
	for i, a := range p.call.Args {
		args[i] = l.print(a)
	}
	method := blocking[p.method].op
	if p.method == "RecvAs" {
		args = args[1:]
		method = "Recv"
	}
	ellipsis := ""
	if p.call.Ellipsis.IsValid() {
		ellipsis = "..."
	}
	out = append(out, line{text: pcLine(k), pos: pos},
		line{text: l.suspend(fmt.Sprintf("_t.%s(%s%s)", method, strings.Join(args, ", "), ellipsis))},
		line{text: entry + ":"}, line{text: "_rs = 0"})
	results := blocking[p.method].results
	if p.method == "RecvAs" {
		results = blocking["Recv"].results
	}
	errIdx := len(results) - 1
	dropped := len(lhsText) <= errIdx || lhsText[errIdx] == "_"
	callLine := l.g.fset.Position(p.call.Pos()).Line
	if dropped {
		// The unlowered mode finds the call by the line runtime.Callers
		// reports, which for a call written on several lines may be any
		// of them.
		last := l.g.fset.Position(p.call.Rparen).Line
		for ln := callLine; ln <= last; ln++ {
			l.fn.drops = append(l.fn.drops, ln)
		}
		l.lines[callLine] |= 1
	} else {
		l.lines[callLine] |= 2
	}
	if l.lines[callLine] == 3 {
		l.g.refuse(p.call.Pos(), "a line with blocking calls that drop their error and calls that do not", p.String(), "put the calls on separate lines (the unlowered mode tells them apart by line)")
	}
	if p.method == "RecvAs" {
		if len(lhsText) == 0 {
			return out, entry
		}
		errExpr := "_t.Err()"
		if dropped {
			errExpr = "nil"
		}
		// tasklet.As in full only when the value is not what the code
		// asked for: a generic call costs what the whole step does.
		typ := l.print(p.typeArg)
		out = append(out, line{text: "{"}, line{text: "_e := " + errExpr},
			line{text: fmt.Sprintf("_x, _ok := _t.Value().(%s)", typ)},
			line{text: "if !_ok || _e != nil {"},
			line{text: fmt.Sprintf("_x, _e = %s.As[%s](_t.Value(), _e)", l.q.name(taskletPath, "tasklet"), typ)},
			line{text: "}"},
			line{text: strings.Join(lhsText, ", ") + " = _x, _e"}, line{text: "}"})
		return out, entry
	}
	var ls, vs []string
	for i, t := range lhsText {
		if t != "_" {
			ls, vs = append(ls, t), append(vs, results[i])
		}
	}
	if len(ls) > 0 {
		out = append(out, line{text: strings.Join(ls, ", ") + " = " + strings.Join(vs, ", ")})
	}
	return out, entry
}

// rangeCond is the test that the resume point is one of lo..hi.
func rangeCond(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("_rs == %d", lo)
	}
	return fmt.Sprintf("_rs >= %d && _rs <= %d", lo, hi)
}

// fixReturns makes the returns of n (outside function literals) return
// from a frame function: a zero Op, done, and the results.
func (l *lowerer) fixReturns(n ast.Node) ast.Node {
	return astutil.Apply(n, func(cur *astutil.Cursor) bool {
		switch r := cur.Node().(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			if l.fixed[r] {
				return false
			}
			if len(l.fn.defers) > 0 {
				cur.Replace(&ast.ExprStmt{X: &ast.Ident{Name: l.deferredReturn(r), NamePos: r.Pos()}})
				return false
			}
			res := []ast.Expr{&ast.Ident{Name: l.q.name(taskletPath, "tasklet") + ".Op{}", NamePos: r.Pos()}, &ast.Ident{Name: "true", NamePos: r.Pos()}}
			results := r.Results
			if len(r.Results) == 0 {
				results = nil
				for i := 0; i < l.fn.sig.Results().Len(); i++ {
					results = append(results, &ast.Ident{Name: l.fn.vars[l.fn.sig.Results().At(i)].name, NamePos: r.Pos()})
				}
			}
			nr := &ast.ReturnStmt{Return: r.Return, Results: append(res, results...)}
			if l.direct {
				// The tasklet's Step itself: its error ends it.
				finish := &ast.CallExpr{Fun: &ast.Ident{Name: l.q.name(taskletPath, "tasklet") + ".Finish", NamePos: r.Pos()},
					Args: []ast.Expr{&ast.Ident{Name: "_t", NamePos: r.Pos()}, results[0]}}
				nr = &ast.ReturnStmt{Return: r.Return, Results: []ast.Expr{finish}}
			}
			l.fixed[nr] = true
			cur.Replace(nr)
			return false
		}
		return true
	}, nil)
}

// liveFields are the fields the code after p may read: the saved locals
// live there, the frame of the function p calls, and the lowering's own
// fields that hold a value across p.
func (l *lowerer) liveFields(p *point) []string {
	var out []string
	for _, loc := range l.fn.vars {
		if loc.field && loc.at[p] {
			out = append(out, loc.fname)
		}
	}
	if p.callee != nil {
		out = append(out, l.fn.sub[p.callee])
	}
	for _, f := range l.fn.extra {
		if f.holds[p.call] {
			out = append(out, f.name)
		}
	}
	sort.Strings(out)
	return out
}

// recvLocal is the receiver of the method callee as a local, or nil (a
// function, or an unnamed receiver).
func (l *lowerer) recvLocal(callee *flowFn) *local {
	if callee.recv == nil {
		return nil
	}
	return callee.vars[callee.recv]
}

// recvArg is the receiver call hands the method callee, addressed or
// dereferenced as Go does implicitly.
func (l *lowerer) recvArg(call *ast.CallExpr, callee *flowFn) string {
	sel := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	x := sel.X
	text := l.print(x)
	typ := l.g.info.TypeOf(x)
	if s := l.g.methodCall(sel); s != nil && len(s.Index()) > 1 {
		// A method promoted from an embedded field: the receiver is that
		// field, which Go finds through the path the selection took.
		switch x.(type) {
		case *ast.Ident, *ast.SelectorExpr, *ast.IndexExpr, *ast.CallExpr, *ast.ParenExpr:
		default:
			text = "(" + text + ")"
		}
		for _, i := range s.Index()[:len(s.Index())-1] {
			st := typ.Underlying()
			if p, ok := st.(*types.Pointer); ok {
				st = p.Elem().Underlying()
			}
			f := st.(*types.Struct).Field(i)
			text += "." + f.Name()
			typ = f.Type()
		}
	}
	_, wantPtr := callee.recv.Type().(*types.Pointer)
	_, isPtr := typ.Underlying().(*types.Pointer)
	switch {
	case wantPtr && !isPtr:
		return "&(" + text + ")"
	case !wantPtr && isPtr:
		return "*(" + text + ")"
	}
	return text
}
