package gen

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"slices"
	"strings"
)

// The lowering of compound statements that hold suspension points: each
// re-enters the branch, loop body or case that holds the resume point
// without evaluating its condition, tag or range expression again.

func (l *lowerer) ifStmt(s *ast.IfStmt, decls *[]decl) ([]line, string) {
	if s.Init != nil {
		return l.wrap(s.Pos(), nil, s.Init, &ast.IfStmt{If: s.If, Cond: s.Cond, Body: s.Body, Else: s.Else})
	}
	if l.hasPoint(s.Cond) {
		c := l.temp()
		pre := []decl{{c, l.typeString(l.g.info.TypeOf(s.Cond))}}
		cid := &ast.Ident{Name: c, NamePos: s.Cond.Pos()}
		return l.wrap(s.Pos(), pre, &ast.AssignStmt{Lhs: []ast.Expr{cid}, Tok: token.ASSIGN, TokPos: s.Cond.Pos(), Rhs: []ast.Expr{s.Cond}},
			&ast.IfStmt{If: s.If, Cond: &ast.Ident{Name: c, NamePos: s.Cond.Pos()}, Body: s.Body, Else: s.Else})
	}
	entry := l.label()
	lo := l.n + 1
	then := l.block(s.Body.List, nil)
	hi := l.n
	cond := "_rs == 0 && (" + l.print(s.Cond) + ")"
	if hi >= lo {
		cond = rangeCond(lo, hi) + " || " + cond
	}
	out := []line{{text: entry + ":", pos: s.Pos()}, {text: "if " + cond + " {", pos: s.Pos()}}
	out = append(out, then...)
	switch e := s.Else.(type) {
	case nil:
		out = append(out, line{text: "}"})
	case *ast.BlockStmt:
		out = append(out, line{text: "} else {", pos: e.Pos()})
		out = append(out, l.block(e.List, nil)...)
		out = append(out, line{text: "}"})
	default:
		out = append(out, line{text: "} else {", pos: e.Pos()})
		out = append(out, l.block([]ast.Stmt{e}, nil)...)
		out = append(out, line{text: "}"})
	}
	return out, entry
}

func labelPrefix(label string) string {
	if label == "" {
		return ""
	}
	return label + ": "
}

func (l *lowerer) forStmt(s *ast.ForStmt, label string, decls *[]decl) ([]line, string) {
	if s.Init != nil {
		inner := &ast.ForStmt{For: s.For, Cond: s.Cond, Post: s.Post, Body: s.Body}
		return l.wrap(s.Pos(), nil, s.Init, labelled(label, inner))
	}
	if s.Cond != nil && l.hasPoint(s.Cond) {
		check := &ast.IfStmt{If: s.Cond.Pos(), Cond: s.Cond, Body: &ast.BlockStmt{Lbrace: s.Cond.Pos()},
			Else: &ast.BlockStmt{Lbrace: s.Cond.Pos(), List: []ast.Stmt{&ast.BranchStmt{TokPos: s.Cond.Pos(), Tok: token.BREAK}}}}
		body := &ast.BlockStmt{Lbrace: s.Body.Lbrace, List: append([]ast.Stmt{check}, s.Body.List...), Rbrace: s.Body.Rbrace}
		return l.forStmt(&ast.ForStmt{For: s.For, Post: s.Post, Body: body}, label, decls)
	}
	if s.Post != nil && l.hasPoint(s.Post) {
		return l.forPost(s, label, decls)
	}
	entry := l.label()
	head := "for "
	switch {
	case s.Cond == nil && s.Post == nil:
		head = "for {"
	case s.Post == nil:
		head = "for _rs != 0 || (" + l.print(s.Cond) + ") {"
	case s.Cond == nil:
		head = "for ; ; " + l.print(s.Post) + " {"
	default:
		head = "for ; _rs != 0 || (" + l.print(s.Cond) + "); " + l.print(s.Post) + " {"
	}
	out := []line{{text: entry + ":", pos: s.Pos()}, {text: labelPrefix(label) + head, pos: s.Pos()}}
	out = append(out, l.block(s.Body.List, nil)...)
	return append(out, line{text: "}"}), entry
}

// forPost lowers a for loop whose post statement suspends by moving the
// post statement to the end of the body:
//
//	L: for ; cond; { body; post }
//
// and, when the body continues the loop, behind a one-clause switch that
// those continues leave instead:
//
//	L: for ; cond; { _FB: switch { default: body }; post }
//
// where a continue of L (unlabelled, or naming it) becomes break _FB, and an
// unlabelled break of L becomes break L, as the switch would take it.
func (l *lowerer) forPost(s *ast.ForStmt, label string, decls *[]decl) ([]line, string) {
	body := &ast.BlockStmt{Lbrace: s.Body.Lbrace, List: append(append([]ast.Stmt(nil), s.Body.List...), s.Post), Rbrace: s.Body.Rbrace}
	if branches(s.Body, label, token.CONTINUE) {
		l.posts++
		loop := label
		if loop == "" && branches(s.Body, label, token.BREAK) {
			loop = fmt.Sprintf("_FL%d", l.posts)
		}
		block := fmt.Sprintf("_FB%d", l.posts)
		retarget(s.Body, label, func(b *ast.BranchStmt) {
			if b.Tok == token.CONTINUE {
				b.Tok, b.Label = token.BREAK, &ast.Ident{Name: block, NamePos: b.TokPos}
			} else if b.Label == nil {
				b.Label = &ast.Ident{Name: loop, NamePos: b.TokPos}
			}
		})
		wrapper := &ast.LabeledStmt{Label: &ast.Ident{Name: block, NamePos: s.Body.Lbrace}, Colon: s.Body.Lbrace,
			Stmt: &ast.SwitchStmt{Switch: s.Body.Lbrace, Body: &ast.BlockStmt{Lbrace: s.Body.Lbrace, List: []ast.Stmt{
				&ast.CaseClause{Case: s.Body.Lbrace, Colon: s.Body.Lbrace, Body: s.Body.List}}}}}
		body.List = []ast.Stmt{wrapper, s.Post}
		label = loop
	}
	return l.forStmt(&ast.ForStmt{For: s.For, Cond: s.Cond, Body: body}, label, decls)
}

// branches reports whether body holds a branch of kind tok that leaves
// the loop labelled label ("" if none) around it (retarget).
func branches(body *ast.BlockStmt, label string, tok token.Token) bool {
	found := false
	retarget(body, label, func(b *ast.BranchStmt) { found = found || b.Tok == tok })
	return found
}

// retarget calls f on each branch of body that leaves the loop labelled
// label ("" if none) around it: a continue, unlabelled or naming it, and an
// unlabelled break (a break naming it needs no change). Branches of nested
// loops, switches and selects, and of function literals, are theirs.
func retarget(body *ast.BlockStmt, label string, f func(*ast.BranchStmt)) {
	var walk func(n ast.Node, nestedLoop, nestedBreak bool)
	walk = func(n ast.Node, nestedLoop, nestedBreak bool) {
		ast.Inspect(n, func(m ast.Node) bool {
			if m == n {
				return true
			}
			switch x := m.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ForStmt:
				walk(x.Body, true, true)
				return false
			case *ast.RangeStmt:
				walk(x.Body, true, true)
				return false
			case *ast.SwitchStmt:
				walk(x.Body, nestedLoop, true)
				return false
			case *ast.TypeSwitchStmt:
				walk(x.Body, nestedLoop, true)
				return false
			case *ast.SelectStmt:
				walk(x.Body, nestedLoop, true)
				return false
			case *ast.BranchStmt:
				mine := x.Label != nil && label != "" && x.Label.Name == label
				if x.Tok == token.CONTINUE && (mine || x.Label == nil && !nestedLoop) || x.Tok == token.BREAK && x.Label == nil && !nestedBreak {
					f(x)
				}
			}
			return true
		})
	}
	walk(body, false, false)
}

// fieldDecl is a field of a frame; holds, for the lowering's own fields,
// the points across which it holds a value (nil: a parameter, a local or a
// callee's frame, whose liveness is known otherwise).
type fieldDecl struct {
	name, typ string
	holds     map[*ast.CallExpr]bool
	tag       string // the struct tag, with its backquotes, or ""
}

// frameTag makes a save leave out a callee's frame while it is not active:
// with the frame's IsZero (PC 0: not suspended in it, and zeroed when it
// returns), msgpack and pickle's plans skip it, so a save carries only the
// frames on the live chain.
const frameTag = "`msgpack:\",omitempty\"`"

func (l *lowerer) rangeStmt(s *ast.RangeStmt, label string, decls *[]decl) ([]line, string) {
	if l.hasPoint(s.X) {
		t := l.temp()
		pre := []decl{{t, l.typeString(l.g.info.TypeOf(s.X))}}
		x := &ast.Ident{Name: t, NamePos: s.X.Pos()}
		l.g.info.Types[x] = types.TypeAndValue{Type: l.g.info.TypeOf(s.X)}
		inner := &ast.RangeStmt{For: s.For, Key: s.Key, Value: s.Value, TokPos: s.TokPos, Tok: s.Tok, X: x, Body: s.Body}
		var st ast.Stmt = inner
		if label != "" {
			st = &ast.LabeledStmt{Label: &ast.Ident{Name: label, NamePos: s.Pos()}, Colon: s.Pos(), Stmt: inner}
		}
		return l.wrap(s.Pos(), pre, &ast.AssignStmt{Lhs: []ast.Expr{&ast.Ident{Name: t, NamePos: s.X.Pos()}}, Tok: token.ASSIGN, TokPos: s.X.Pos(), Rhs: []ast.Expr{s.X}}, st)
	}
	xt := l.g.info.TypeOf(s.X)
	if b, ok := xt.(*types.Basic); ok && b.Info()&types.IsUntyped != 0 {
		xt = types.Default(xt)
	}
	in := l.pointsIn(s.Body)
	idx := l.fn.fieldName("Idx")
	rng := l.fn.fieldName("Rng")
	entry := l.label()
	out := []line{{text: entry + ": {", pos: s.Pos()}}
	var body []ast.Stmt
	var pre []decl
	key, val := "", ""
	var head string
	assignVars := func(k, v string) {
		var ls, vs []string
		if s.Key != nil && l.print(s.Key) != "_" {
			ls, vs = append(ls, l.print(s.Key)), append(vs, k)
		}
		if s.Value != nil && l.print(s.Value) != "_" {
			ls, vs = append(ls, l.print(s.Value)), append(vs, v)
		}
		if len(ls) > 0 {
			key = strings.Join(ls, ", ") + " = " + strings.Join(vs, ", ")
		}
		if s.Tok == token.DEFINE {
			var lhs []ast.Expr
			if s.Key != nil {
				lhs = append(lhs, s.Key)
			}
			if s.Value != nil {
				lhs = append(lhs, s.Value)
			}
			l.hoistDefs(lhs, &pre)
		}
	}
	switch u := xt.Underlying().(type) {
	case *types.Basic:
		if u.Info()&types.IsString != 0 {
			next := l.fn.fieldName("Next")
			l.fn.extra = append(l.fn.extra, fieldDecl{idx, "int", in, ""}, fieldDecl{next, "int", in, ""}, fieldDecl{rng, l.typeString(xt), in, ""})
			r, w := l.temp(), l.temp()
			pre = append(pre, decl{r, "rune"}, decl{w, "int"})
			out = append(out, line{text: "if _rs == 0 {"}, line{text: fmt.Sprintf("_f.%s = %s", rng, l.print(s.X))}, line{text: fmt.Sprintf("_f.%s = 0", idx)}, line{text: "}"})
			head = fmt.Sprintf("for ; _f.%s < len(_f.%s); _f.%s = _f.%s {", idx, rng, idx, next)
			l.fn.usesRng = true
			val = fmt.Sprintf("%s, %s = %s.DecodeRuneInString(string(_f.%s[_f.%s:]))\n_f.%s = _f.%s + %s", r, w, l.q.name("unicode/utf8", "utf8"), rng, idx, next, idx, w)
			assignVars("_f."+idx, r)
			break
		}
		// an integer
		ts := l.typeString(xt)
		l.fn.extra = append(l.fn.extra, fieldDecl{idx, ts, in, ""}, fieldDecl{rng, ts, in, ""})
		out = append(out, line{text: "if _rs == 0 {"}, line{text: fmt.Sprintf("_f.%s = %s", rng, l.print(s.X))}, line{text: fmt.Sprintf("_f.%s = 0", idx)}, line{text: "}"})
		head = fmt.Sprintf("for ; _f.%s < _f.%s; _f.%s++ {", idx, rng, idx)
		assignVars("_f."+idx, "")
	case *types.Slice, *types.Array:
		l.fn.extra = append(l.fn.extra, fieldDecl{idx, "int", in, ""})
		tv := l.g.info.Types[s.X]
		_, isArr := u.(*types.Array)
		if isArr && s.Value == nil && tv.Value == nil && !l.hasCall(s.X) {
			n := u.(*types.Array).Len()
			out = append(out, line{text: "if _rs == 0 {"}, line{text: fmt.Sprintf("_f.%s = 0", idx)}, line{text: "}"})
			head = fmt.Sprintf("for ; _f.%s < %d; _f.%s++ {", idx, n, idx)
			assignVars("_f."+idx, "")
			break
		}
		if x := l.rangedField(s); x != "" && !isArr {
			// A saved local the body never assigns: its own elements, not
			// a copy of the slice that a save and a restore would part
			// from it (a write through it would no longer show in the
			// loop), and the save holds them once.
			out = append(out, line{text: "if _rs == 0 {"}, line{text: fmt.Sprintf("_f.%s = 0", idx)}, line{text: "}"})
			head = fmt.Sprintf("for ; _f.%s < len(%s); _f.%s++ {", idx, x, idx)
			assignVars("_f."+idx, fmt.Sprintf("%s[_f.%s]", x, idx))
			break
		}
		if why := saveable(xt, map[types.Type]bool{}); why != "" {
			l.g.refuse(s.X.Pos(), "a range over a value that must be saved across a suspension, but "+why, "", "range over a slice of saveable values")
		}
		if root, w := l.writtenInLoop(s); !isArr && s.Value != nil && !isBlank(s.Value) && w.IsValid() {
			l.g.refuse(s.X.Pos(), fmt.Sprintf("a range over a slice of %s with a suspension inside, whose body writes elements through %s at %s: the loop reads its own copy of the slice, which a restore parts from %s, so the write would not show when the loop gets there", root, root, l.g.fset.Position(w), root), "",
				fmt.Sprintf("range over the indices (for i := range len(...)) and read each element through %s, or range over %s itself or a field of it, which the loop then must not assign", root, root))
		}
		l.fn.extra = append(l.fn.extra, fieldDecl{rng, l.typeString(xt), in, ""})
		out = append(out, line{text: "if _rs == 0 {"}, line{text: fmt.Sprintf("_f.%s = %s", rng, l.print(s.X))}, line{text: fmt.Sprintf("_f.%s = 0", idx)}, line{text: "}"})
		head = fmt.Sprintf("for ; _f.%s < len(_f.%s); _f.%s++ {", idx, rng, idx)
		assignVars("_f."+idx, fmt.Sprintf("_f.%s[_f.%s]", rng, idx))
	case *types.Map:
		// The keys, taken when the loop starts, and each looked up when
		// its iteration starts: what Go's range gives (an entry deleted
		// before it is reached is not produced; one added may be skipped),
		// in an order a save can hold. Ordered keys are sorted, so a
		// lowered loop visits them the same way on every run.
		m := l.rangedMap(s, rng)
		if m == "" {
			return nil, "_L0" // refused
		}
		keys := l.fn.fieldName("Keys")
		kt := types.NewSlice(u.Key())
		for _, t := range []types.Type{kt, xt} {
			if why := saveable(t, map[types.Type]bool{}); why != "" {
				l.g.refuse(s.X.Pos(), "a range over a map whose keys the loop must save across a suspension, but "+why, "", "range over a map of saveable keys and values")
				return nil, "_L0"
			}
		}
		l.fn.extra = append(l.fn.extra, fieldDecl{idx, "int", in, ""}, fieldDecl{keys, l.typeString(kt), in, ""})
		if m == "_f."+rng {
			l.fn.extra = append(l.fn.extra, fieldDecl{rng, l.typeString(xt), in, ""})
		}
		collect := l.q.name("slices", "slices") + ".Collect"
		if b, ok := u.Key().Underlying().(*types.Basic); ok && b.Info()&types.IsOrdered != 0 {
			collect = l.q.name("slices", "slices") + ".Sorted"
		}
		out = append(out, line{text: "if _rs == 0 {"})
		if m == "_f."+rng {
			out = append(out, line{text: fmt.Sprintf("%s = %s", m, l.print(s.X))})
		}
		out = append(out, line{text: fmt.Sprintf("_f.%s = %s(%s.Keys(%s))", keys, collect, l.q.name("maps", "maps"), m)},
			line{text: fmt.Sprintf("_f.%s = 0", idx)}, line{text: "}"})
		head = fmt.Sprintf("for ; _f.%s < len(_f.%s); _f.%s++ {", idx, keys, idx)
		k, v, ok := l.temp(), "_", l.temp()
		pre = append(pre, decl{k, l.typeString(u.Key())}, decl{ok, "bool"})
		if s.Value != nil && !isBlank(s.Value) {
			v = l.temp()
			pre = append(pre, decl{v, l.typeString(u.Elem())})
		}
		val = fmt.Sprintf("%s = _f.%s[_f.%s]\n%s, %s = %s[%s]\nif !%s {\ncontinue\n}", k, keys, idx, v, ok, m, k, ok)
		assignVars(k, v)
	default:
		l.g.refuse(s.Pos(), "a range over "+xt.String()+" with a suspension inside", "", "range over a slice, an array, a string, an integer or a map")
		return nil, "_L0"
	}
	out = append(out, line{text: labelPrefix(label) + head, pos: s.Pos()})
	// The first statements of each iteration set the loop variables; the
	// body's dispatch jumps over them when resuming.
	var rawLines []line
	if val != "" {
		for _, t := range strings.Split(val, "\n") {
			rawLines = append(rawLines, line{text: t})
		}
	}
	if key != "" {
		rawLines = append(rawLines, line{text: key})
	}
	_ = body
	out = append(out, l.blockWithRaw(s.Body.List, pre, rawLines)...)
	out = append(out, line{text: "}"}, line{text: "}"})
	return out, entry
}

// blockWithRaw is block with lines that run first on a fresh entry.
func (l *lowerer) blockWithRaw(list []ast.Stmt, pre []decl, raw []line) []line {
	inner := l.block(list, pre)
	// block puts declarations and the dispatch first; the raw lines go
	// right after them, so a resume skips them.
	n := 2 * len(pre)
	for i := n; i < len(inner); i++ {
		if strings.HasPrefix(inner[i].text, "var ") || strings.HasPrefix(inner[i].text, "_ = ") {
			n = i + 1
			continue
		}
		break
	}
	for n+2 < len(inner) && strings.HasPrefix(inner[n].text, "if _rs ") && strings.HasPrefix(inner[n+1].text, "goto ") {
		n += 3
	}
	out := append([]line(nil), inner[:n]...)
	out = append(out, raw...)
	return append(out, inner[n:]...)
}

// rangedField is how the lowered loop reads the slice a range statement
// ranges over, if it ranges over a saved local, or a field path from one
// (r.Steps), that its body never assigns (so its length, which Go takes
// once, cannot change either): the local's own elements, not a copy of the
// slice that a save and a restore would part from it. Else "".
func (l *lowerer) rangedField(s *ast.RangeStmt) string {
	root := rootVar(l.g.info, s.X)
	loc := l.fn.vars[root]
	if root == nil || loc == nil || !loc.field || loc.boxed {
		return ""
	}
	if _, ok := ast.Unparen(s.X).(*ast.Ident); ok {
		if assigns(l.g.info, s.Body, root) {
			return ""
		}
		return loc.name
	}
	path, ok := l.pathOf(s.X)
	for _, st := range path {
		ok = ok && !st.index // not through an element, which the body could replace
	}
	if !ok {
		return ""
	}
	if !l.savedIn(loc, s.Body) || assigns(l.g.info, s.Body, root) || l.assignsPath(s.Body, path) {
		return ""
	}
	return l.print(s.X)
}

// writtenInLoop returns the variable a range over a copy of a slice
// reaches its slice from, and where the loop's body may write an element
// through it or a local that shares its array (writeSites): a local so
// written inside a loop with a point is saved, so a restore parts it from
// the loop's copy. NoPos if none.
func (l *lowerer) writtenInLoop(s *ast.RangeStmt) (string, token.Pos) {
	root := rootVar(l.g.info, s.X)
	if root == nil {
		return "", token.NoPos
	}
	for _, w := range l.g.writeSites(l.fn.decl.Body, root, false) {
		if w >= s.Body.Pos() && w < s.Body.End() {
			return root.Name(), w
		}
	}
	return "", token.NoPos
}

func isBlank(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "_"
}

// rangedMap is how the lowered loop reaches the map a range statement
// ranges over on each iteration: a path from a saved local, through fields
// and indexes by saved locals or constants (sq.HP, grid[name],
// squads[id].Members), that the body assigns no part of (so it reaches the
// map it started on, held once in a save, as the local's); else the field
// rng, holding the map the range expression gave, when no saved local may
// hold it too (a save would hold it twice, which pickle refuses). "" when
// refused.
func (l *lowerer) rangedMap(s *ast.RangeStmt, rng string) string {
	root := rootVar(l.g.info, s.X)
	loc := l.fn.vars[root]
	if root == nil || loc == nil || !loc.field || !l.savedIn(loc, s.Body) {
		if shared := l.g.sharedArg(s.X); shared != s.X {
			// A call that may return a map a saved local holds: the loop
			// would keep it too.
			if v := rootVar(l.g.info, shared); v != nil && l.fn.vars[v] != nil && l.fn.vars[v].field && l.savedIn(l.fn.vars[v], s.Body) {
				what := "the call"
				if f := calleeObj(l.g.info, ast.Unparen(s.X).(*ast.CallExpr).Fun); f != nil {
					what = f.Name()
				}
				l.g.refuse(s.X.Pos(), "a range over the map that "+what+" returns, which may be the map "+v.Name()+" holds, with a suspension inside: a save there would hold the map twice, in "+v.Name()+" and in the loop", "",
					"range over "+v.Name()+" (or the field or element holding the map) itself")
				return ""
			}
		}
		return "_f." + rng
	}
	fix := "range over a sorted slice of its keys (for _, k := range slices.Sorted(maps.Keys(...)))"
	path, ok := l.pathOf(s.X)
	for _, st := range path {
		ok = ok && !st.wild
	}
	if !ok || loc.boxed {
		l.g.refuse(s.X.Pos(), "a range over a map reached from "+root.Name()+" through a call or an index that is not a variable or a constant, with a suspension inside: a save there would hold the map twice, in "+root.Name()+" and in the loop", "",
			fix)
		return ""
	}
	for _, st := range path {
		if v, isVar := st.obj.(*types.Var); isVar && st.index && assigns(l.g.info, s.Body, v) {
			l.g.refuse(s.X.Pos(), "a range over a map indexed by "+v.Name()+" with a suspension inside, whose body assigns "+v.Name()+": the lowered loop reads the map through the index at each iteration", "", fix)
			return ""
		}
	}
	if assigns(l.g.info, s.Body, root) || l.assignsPath(s.Body, path) {
		l.g.refuse(s.X.Pos(), "a range over a map in "+root.Name()+" with a suspension inside, whose body assigns "+root.Name()+" or the field or element holding the map (or deletes it): the lowered loop reads the map through it at each iteration", "", fix)
		return ""
	}
	return l.print(s.X)
}

// pathStep is a step of a path from a variable: the variable itself, a
// field, or an index by a variable (obj), a constant (val) or anything
// else (wild).
type pathStep struct {
	obj   types.Object
	val   constant.Value
	index bool
	wild  bool
}

// pathOf returns the steps of e from its root, if e is a variable with
// fields and indexes after it.
func (l *lowerer) pathOf(e ast.Expr) ([]pathStep, bool) {
	var rev []pathStep
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.SelectorExpr:
			rev = append(rev, pathStep{obj: l.g.info.Uses[x.Sel]})
			e = x.X
			continue
		case *ast.IndexExpr:
			st := pathStep{index: true}
			if tv := l.g.info.Types[x.Index]; tv.Value != nil {
				st.val = tv.Value
			} else if id, ok := ast.Unparen(x.Index).(*ast.Ident); ok && l.g.info.Uses[id] != nil {
				st.obj = l.g.info.Uses[id]
			} else {
				st.wild = true
			}
			rev = append(rev, st)
			e = x.X
			continue
		case *ast.Ident:
			rev = append(rev, pathStep{obj: l.g.info.Uses[x]})
			slices.Reverse(rev)
			return rev, true
		}
		return nil, false
	}
}

// assignsPath reports whether body assigns the path want (sq.HP,
// grid[name]) or a path that holds it (sq, grid[k] for any k that may be
// name), or deletes an element that may be it.
func (l *lowerer) assignsPath(body ast.Node, want []pathStep) bool {
	hits := func(lhs ast.Expr) bool {
		got, ok := l.pathOf(lhs)
		if !ok || len(got) > len(want) {
			return false
		}
		for i, g := range got {
			w := want[i]
			switch {
			case g.index != w.index:
				return false
			case !g.index && g.obj != w.obj:
				return false
			case g.index && g.val != nil && w.val != nil && !constant.Compare(g.val, token.EQL, w.val):
				return false // two different constants: another element
			}
		}
		return true
	}
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for _, lhs := range n.Lhs {
				found = found || hits(lhs)
			}
		case *ast.CallExpr:
			if b, ok := calleeObj(l.g.info, n.Fun).(*types.Builtin); ok && b.Name() == "delete" && len(n.Args) == 2 {
				found = found || hits(&ast.IndexExpr{X: n.Args[0], Index: n.Args[1]})
			}
		}
		return !found
	})
	return found
}

// savedIn reports whether loc is saved at a point inside n.
func (l *lowerer) savedIn(loc *local, n ast.Node) bool {
	for p := range loc.at {
		if p.call.Pos() >= n.Pos() && p.call.Pos() < n.End() {
			return true
		}
	}
	return l.g.linked[loc.v]
}

func (l *lowerer) hasCall(e ast.Expr) bool {
	var cs []*ast.CallExpr
	l.calls(e, &cs)
	return len(cs) > 0
}

func (l *lowerer) switchStmt(s *ast.SwitchStmt, label string, decls *[]decl) ([]line, string) {
	for _, c := range s.Body.List {
		for _, e := range c.(*ast.CaseClause).List {
			if l.hasPoint(e) {
				if hasFallthrough(s) {
					return nil, "_L0" // refused by checkPointPlace
				}
				return l.caseChain(s, label)
			}
		}
	}
	if s.Init != nil && l.hasPoint(s.Init) || s.Tag != nil && l.hasPoint(s.Tag) {
		// { init; _t := tag; switch _t { ... } }: the init and the tag
		// suspend in a block of their own, before the switch.
		var pre []decl
		var stmts []ast.Stmt
		if s.Init != nil {
			stmts = append(stmts, s.Init)
		}
		inner := &ast.SwitchStmt{Switch: s.Switch, Tag: s.Tag, Body: s.Body}
		if s.Tag != nil {
			var set ast.Stmt
			inner.Tag, pre, set = l.held(s.Tag)
			stmts = append(stmts, set)
		}
		return l.wrap(s.Pos(), pre, append(stmts, labelled(label, inner))...)
	}
	var pre []decl
	var stmts []ast.Stmt
	if s.Init != nil {
		stmts = append(stmts, s.Init)
	}
	tag := ""
	if s.Tag != nil {
		tag = l.temp()
		pre = append(pre, decl{tag, l.typeString(l.g.info.TypeOf(s.Tag))})
	}
	entry := l.label()
	var out []line
	if s.Tag != nil {
		out = append(out, line{text: "if _rs == 0 {", pos: s.Tag.Pos()}, line{text: fmt.Sprintf("%s = %s", tag, l.print(s.Tag))}, line{text: "}"})
	}
	out = append(out, line{text: labelPrefix(label) + "switch {", pos: s.Pos()})
	for _, c := range s.Body.List {
		cc := c.(*ast.CaseClause)
		lo := l.n + 1
		body := l.block(cc.Body, nil)
		hi := l.n
		var conds []string
		for _, e := range cc.List {
			if tag != "" {
				conds = append(conds, tag+" == "+l.print(e))
			} else {
				conds = append(conds, "("+l.print(e)+")")
			}
		}
		if cc.List == nil {
			out = append(out, line{text: "default:", pos: cc.Pos()})
		} else {
			cond := "_rs == 0 && (" + strings.Join(conds, " || ") + ")"
			if hi >= lo {
				cond = rangeCond(lo, hi) + " || " + cond
			}
			out = append(out, line{text: "case " + cond + ":", pos: cc.Pos()})
		}
		out = append(out, body...)
	}
	out = append(out, line{text: "}"})
	if len(stmts) == 0 && len(pre) == 0 {
		return append([]line{{text: entry + ":"}}, out...), entry
	}
	// The switch proper goes in a block with the init and the tag.
	lines, e := l.wrapLines(s.Pos(), pre, stmts, out)
	return lines, e
}

// caseChain lowers a switch with a suspension in a case expression as Go
// evaluates it, an if-else chain inside a switch that keeps break and the
// label:
//
//	{ init; _tag = tag; switch { default: if _tag == a || _tag == b { ... } else if ... { ... } else { default's body } } }
//
// The conditions are evaluated in order until one holds, the right of each
// || only when needed, so a case expression suspends only when Go would
// evaluate it. The tag is held in a field across the points of the case
// expressions.
func (l *lowerer) caseChain(s *ast.SwitchStmt, label string) ([]line, string) {
	var stmts []ast.Stmt
	if s.Init != nil {
		stmts = append(stmts, s.Init)
	}
	var tag func() ast.Expr
	if s.Tag != nil {
		tv := l.g.info.Types[s.Tag]
		if why := saveable(tv.Type, map[types.Type]bool{}); why != "" {
			l.g.refuse(s.Tag.Pos(), "a switch tag held across a suspension in a case expression, but "+why, "", "switch on a saveable value, or evaluate the case expressions before the switch")
		}
		holds := map[*ast.CallExpr]bool{}
		for _, c := range s.Body.List {
			for _, e := range c.(*ast.CaseClause).List {
				ast.Inspect(e, func(n ast.Node) bool {
					if c, ok := n.(*ast.CallExpr); ok && l.fn.points[c] != nil {
						holds[c] = true
					}
					return true
				})
			}
		}
		fname := l.fn.fieldName("Tag")
		l.fn.extra = append(l.fn.extra, fieldDecl{fname, l.fieldType(tv.Type), holds, ""})
		name := "_f." + fname
		if isInterface(tv.Type) {
			name += ".V"
		}
		tag = func() ast.Expr {
			x := &ast.Ident{Name: name, NamePos: s.Tag.Pos()}
			l.g.info.Types[x] = types.TypeAndValue{Type: tv.Type}
			return x
		}
		stmts = append(stmts, &ast.AssignStmt{Lhs: []ast.Expr{tag()}, Tok: token.ASSIGN, TokPos: s.Tag.Pos(), Rhs: []ast.Expr{s.Tag}})
	}
	boolean := types.TypeAndValue{Type: types.Typ[types.Bool]}
	var chain, last *ast.IfStmt
	var dflt *ast.CaseClause
	for _, c := range s.Body.List {
		cc := c.(*ast.CaseClause)
		if cc.List == nil {
			dflt = cc
			continue
		}
		var cond ast.Expr
		for _, e := range cc.List {
			if tag != nil {
				eq := &ast.BinaryExpr{X: tag(), OpPos: e.Pos(), Op: token.EQL, Y: e}
				l.g.info.Types[eq] = boolean
				e = eq
			}
			if cond == nil {
				cond = e
			} else {
				or := &ast.BinaryExpr{X: cond, OpPos: e.Pos(), Op: token.LOR, Y: e}
				l.g.info.Types[or] = boolean
				cond = or
			}
		}
		next := &ast.IfStmt{If: cc.Pos(), Cond: cond, Body: &ast.BlockStmt{Lbrace: cc.Colon, List: cc.Body}}
		if chain == nil {
			chain = next
		} else {
			last.Else = next
		}
		last = next
	}
	// chain is not nil: a clause with a case expression brought us here.
	if dflt != nil {
		last.Else = &ast.BlockStmt{Lbrace: dflt.Colon, List: dflt.Body}
	}
	wrapper := &ast.SwitchStmt{Switch: s.Switch, Body: &ast.BlockStmt{Lbrace: s.Body.Lbrace, List: []ast.Stmt{
		&ast.CaseClause{Case: s.Body.Lbrace, Colon: s.Body.Lbrace, Body: []ast.Stmt{chain}}}}}
	return l.wrap(s.Pos(), nil, append(stmts, labelled(label, wrapper))...)
}

// held returns a temporary that holds e's value, its declaration and the
// statement that sets it. The temporary has e's type for the code that
// lowers what reads it.
func (l *lowerer) held(e ast.Expr) (ast.Expr, []decl, ast.Stmt) {
	c := l.temp()
	tv := l.g.info.Types[e]
	id := func() *ast.Ident {
		x := &ast.Ident{Name: c, NamePos: e.Pos()}
		l.g.info.Types[x] = types.TypeAndValue{Type: tv.Type}
		return x
	}
	set := &ast.AssignStmt{Lhs: []ast.Expr{id()}, Tok: token.ASSIGN, TokPos: e.Pos(), Rhs: []ast.Expr{e}}
	return id(), []decl{{c, l.typeString(tv.Type)}}, set
}

// labelled gives s the label of the statement it stands for, if any.
func labelled(label string, s ast.Stmt) ast.Stmt {
	if label == "" {
		return s
	}
	return &ast.LabeledStmt{Label: &ast.Ident{Name: label, NamePos: s.Pos()}, Colon: s.Pos(), Stmt: s}
}

// wrapLines lowers stmts as the start of a new block whose last
// statement is the already lowered tail (which holds points after them).
func (l *lowerer) wrapLines(pos token.Pos, pre []decl, stmts []ast.Stmt, tail []line) ([]line, string) {
	// The tail was lowered first, so stmts must hold no points (their
	// numbers would come after the tail's): switchStmt and typeSwitchStmt
	// lower an init or a tag that suspends as a block of its own instead.
	entry := l.label()
	out := []line{{text: entry + ": {", pos: pos}}
	var decls []decl
	decls = append(decls, pre...)
	var body []line
	for _, s := range stmts {
		// the init runs on a fresh entry only
		body = append(body, line{text: "if _rs == 0 {"})
		body = append(body, l.plain(s, &decls)...)
		body = append(body, line{text: "}"})
	}
	for _, d := range decls {
		out = append(out, line{text: "var " + d.name + " " + d.typ}, line{text: "_ = " + d.name})
	}
	out = append(out, body...)
	out = append(out, tail...)
	return append(out, line{text: "}"}), entry
}

func (l *lowerer) typeSwitchStmt(s *ast.TypeSwitchStmt, label string, decls *[]decl) ([]line, string) {
	var x ast.Expr
	var bound *ast.Ident
	switch a := s.Assign.(type) {
	case *ast.AssignStmt:
		bound = a.Lhs[0].(*ast.Ident)
		x = a.Rhs[0].(*ast.TypeAssertExpr).X
	case *ast.ExprStmt:
		x = a.X.(*ast.TypeAssertExpr).X
	}
	if s.Init != nil && l.hasPoint(s.Init) || l.hasPoint(x) {
		// { init; _x := x; switch v := _x.(type) { ... } }, as switchStmt.
		var stmts []ast.Stmt
		if s.Init != nil {
			stmts = append(stmts, s.Init)
		}
		hx, pre, set := l.held(x)
		assert := &ast.TypeAssertExpr{X: hx, Lparen: x.End(), Rparen: x.End()}
		inner := &ast.TypeSwitchStmt{Switch: s.Switch, Body: s.Body}
		if bound != nil {
			inner.Assign = &ast.AssignStmt{Lhs: []ast.Expr{bound}, Tok: token.DEFINE, TokPos: bound.End(), Rhs: []ast.Expr{assert}}
		} else {
			inner.Assign = &ast.ExprStmt{X: assert}
		}
		return l.wrap(s.Pos(), pre, append(stmts, set, labelled(label, inner))...)
	}
	xv, which := l.temp(), l.temp()
	pre := []decl{{xv, l.typeString(l.g.info.TypeOf(x))}, {which, "int"}}
	var stmts []ast.Stmt
	if s.Init != nil {
		stmts = append(stmts, s.Init)
	}
	var out []line
	out = append(out, line{text: "if _rs == 0 {", pos: s.Pos()}, line{text: fmt.Sprintf("%s = %s", xv, l.print(x))}, line{text: "switch " + xv + ".(type) {"})
	for i, c := range s.Body.List {
		cc := c.(*ast.CaseClause)
		if cc.List == nil {
			out = append(out, line{text: "default:"})
		} else {
			var ts []string
			for _, e := range cc.List {
				ts = append(ts, l.print(e))
			}
			out = append(out, line{text: "case " + strings.Join(ts, ", ") + ":"})
		}
		out = append(out, line{text: fmt.Sprintf("%s = %d", which, i+1)})
	}
	out = append(out, line{text: "}"}, line{text: "}"})
	out = append(out, line{text: labelPrefix(label) + "switch {"})
	for i, c := range s.Body.List {
		cc := c.(*ast.CaseClause)
		var cpre []decl
		var raw []line
		if bound != nil {
			if obj, ok := l.g.info.Implicits[cc].(*types.Var); ok {
				name := ""
				if loc := l.fn.vars[obj]; loc != nil {
					name = loc.name
				}
				if name != "" {
					if !strings.HasPrefix(name, "_f.") {
						cpre = append(cpre, decl{name, l.typeString(obj.Type())})
					}
					if len(cc.List) == 1 && !isNilIdent(cc.List[0]) {
						raw = append(raw, line{text: fmt.Sprintf("%s = %s.(%s)", name, xv, l.print(cc.List[0]))})
					} else {
						raw = append(raw, line{text: fmt.Sprintf("%s = %s", name, xv)})
					}
				}
			}
		}
		lo := l.n + 1
		body := l.blockWithRaw(cc.Body, cpre, raw)
		hi := l.n
		if cc.List == nil {
			out = append(out, line{text: "default:", pos: cc.Pos()})
		} else {
			cond := fmt.Sprintf("_rs == 0 && %s == %d", which, i+1)
			if hi >= lo {
				cond = rangeCond(lo, hi) + " || " + cond
			}
			out = append(out, line{text: "case " + cond + ":", pos: cc.Pos()})
		}
		out = append(out, body...)
	}
	out = append(out, line{text: "}"})
	return l.wrapLines(s.Pos(), pre, stmts, out)
}

func isNilIdent(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "nil"
}
