package gen

import (
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// flowFn is one function being lowered.
type flowFn struct {
	decl    *ast.FuncDecl
	obj     *types.Func
	sig     *types.Signature
	file    *ast.File
	path    string
	marked  bool
	kind    string
	version int
	flowVar *types.Var
	recv    *types.Var      // a method's receiver, else nil
	types   []*ast.TypeSpec // the types declared in its body, moved to package level

	points       map[*ast.CallExpr]*point
	callees      []*flowFn // distinct, in order of first call
	sites        map[*flowFn][]token.Pos
	recursive    map[*flowFn]bool // callees whose frames it holds by pointer (markRecursion)
	byPointer    bool             // some caller holds its frame by pointer
	loops        []ast.Node       // every for and range statement
	vars         map[*types.Var]*local
	fields       map[string]bool // field names taken
	typ          string          // the frame's type name
	sub          map[*flowFn]string
	layout       []layoutPoint
	pcs          []int // saved point numbers by the lowering's own (see number)
	drops        []int // lines whose blocking call drops its error
	extra        []fieldDecl
	fieldsOut    []fieldDecl       // the frame's fields after PC, as written
	fieldImports map[string]string // the packages their types name
	usesRng      bool
	defers       []*deferred              // its defer statements, in source order (defer.go)
	deferMask    string                   // the field of the armed deferred calls
	deferRefs    map[*types.Var]token.Pos // the locals its deferred calls read when they run (deferRefs)
}

// point is a suspension point: a blocking Flow call or a call of a flow
// function.
type point struct {
	call    *ast.CallExpr
	method  string  // Recv, Send, ..., RecvAs; "" for a call
	callee  *flowFn // the flow function called
	typeArg ast.Expr
	assigns map[*types.Var]bool // what the point's own statement assigns
	limit   token.Pos           // where what follows it ends (a return), or 0
	name    string              // its //stackless:point name, or ""
	stmt    ast.Stmt            // the innermost statement around it
}

func (p *point) String() string {
	if p.callee != nil {
		return "call of " + p.callee.name()
	}
	return "t." + p.method
}

// name is how messages and layouts name fn: Run, or Guard.Run for a
// method.
func (fn *flowFn) name() string {
	if fn.recv != nil {
		return recvTypeName(fn.recv) + "." + fn.obj.Name()
	}
	return fn.obj.Name()
}

// ident is fn's name in the identifiers gen writes: Run, or GuardRun for
// a method.
func (fn *flowFn) ident() string {
	if fn.recv != nil {
		return recvTypeName(fn.recv) + exported(fn.obj.Name())
	}
	return fn.obj.Name()
}

// recvTypeName is the name of the type of a method's receiver v.
func recvTypeName(v *types.Var) string {
	t := v.Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		return n.Obj().Name()
	}
	return "T"
}

type local struct {
	v     *types.Var
	name  string // the Go name in the lowered code (a field: "_f.Name", or "_f.Name.V" when boxed)
	field bool
	fname string          // the field's name
	boxed bool            // an interface value, kept in a pickle.Boxed
	at    map[*point]bool // the points it is live at
	// unsaved: a parameter of a called flow that no code after a point
	// reads, of a type a save cannot hold (a func, []any): a field for the
	// caller to set, left out of saves (its caller steps into the frame
	// right after setting it, so no save finds the frame before its first
	// point).
	unsaved bool
}

// isInterface reports whether a field of type t must be boxed to keep
// its dynamic type.
func isInterface(t types.Type) bool {
	_, ok := t.Underlying().(*types.Interface)
	return ok
}

// blockingCall is how the lowering writes a blocking Flow method: the
// method of T whose Op suspends the step, and the expressions, read after
// the resume, that stand for the call's results (the error last).
type blockingCall struct {
	op      string   // the T method that builds the Op
	results []string // what the call's results are after the resume
}

// blocking lists the Flow methods that suspend. A new blocking method of
// Flow is one line here (its T method must take the same arguments).
var blocking = map[string]blockingCall{
	"Recv":    {"Recv", []string{"_t.Value()", "_t.Err()"}},
	"Send":    {"Send", []string{"_t.Err()"}},
	"SendErr": {"SendErr", []string{"_t.Err()"}},
	"Select":  {"Select", []string{"_t.Chosen()", "_t.Value()", "_t.Err()"}},
	"Sleep":   {"Sleep", []string{"_t.Err()"}},
	"Yield":   {"Yield", []string{"_t.Err()"}},
	"Pause":   {"Pause", []string{"_t.Err()"}},
	"Do":      {"Do", []string{"_t.Value()", "_t.Err()"}},
}

func (g *pkgGen) isFlowVar(e ast.Expr, fn *flowFn) bool {
	id, ok := ast.Unparen(e).(*ast.Ident)
	return ok && g.info.Uses[id] == fn.flowVar
}

// classify reports whether call is a suspension point of fn.
func (g *pkgGen) classify(call *ast.CallExpr, fn *flowFn) *point {
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.SelectorExpr:
		if _, ok := blocking[f.Sel.Name]; ok && g.isFlowVar(f.X, fn) {
			return &point{call: call, method: f.Sel.Name}
		}
		if callee := g.flows[funcOf(g.info, f.Sel)]; callee != nil {
			return &point{call: call, callee: callee}
		}
	case *ast.Ident:
		if callee := g.flows[funcOf(g.info, f)]; callee != nil {
			return &point{call: call, callee: callee}
		}
	case *ast.IndexExpr:
		if sel, ok := ast.Unparen(f.X).(*ast.SelectorExpr); ok && g.recvAs != nil && g.info.Uses[sel.Sel] == g.recvAs {
			return &point{call: call, method: "RecvAs", typeArg: f.Index}
		}
	}
	return nil
}

// unMethodExpr rewrites each call of a method flow written as a method
// expression (Guard.Run(g, t), (*Guard).Heal(&g, t)) into the call on its
// receiver (g.Run(t)), which is what it means, keeping the expression's
// selection for recvArg; the unlowered function keeps its own text.
func (g *pkgGen) unMethodExpr(fn *flowFn) {
	ast.Inspect(fn.decl.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok {
			return true
		}
		s := g.info.Selections[sel]
		if s == nil || s.Kind() != types.MethodExpr || g.flows[funcOf(g.info, sel.Sel)] == nil {
			return true
		}
		if g.methodExp == nil {
			g.methodExp = map[*ast.SelectorExpr]*types.Selection{}
		}
		to := &ast.SelectorExpr{X: call.Args[0], Sel: sel.Sel}
		g.methodExp[to] = s
		call.Fun, call.Args = to, call.Args[1:]
		return true
	})
}

// methodCall is the selection of sel when it calls a method on a receiver
// (a method value's, or that of a method expression rewritten into one),
// else nil.
func (g *pkgGen) methodCall(sel *ast.SelectorExpr) *types.Selection {
	if s := g.methodExp[sel]; s != nil {
		return s
	}
	if s := g.info.Selections[sel]; s != nil && s.Kind() == types.MethodVal {
		return s
	}
	return nil
}

// checkMethodCall refuses calls of a method flow that do not name their
// receiver as a value before the dot (a method value called through a
// variable is refused elsewhere). A method promoted from an embedded field
// gets that field as its receiver (recvArg), and a method expression was
// rewritten into the call on its receiver (unMethodExpr). It reports
// whether call is not refused.
func (g *pkgGen) checkMethodCall(call *ast.CallExpr, p *point) bool {
	if p.callee.recv == nil {
		return true
	}
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && g.methodCall(sel) != nil {
		return true
	}
	g.refuse(call.Pos(), "a call of the method flow "+p.callee.name()+" not made on a receiver", p.String(), "call the method on its receiver: x."+p.callee.obj.Name()+"(t, ...)")
	return false
}

func funcOf(info *types.Info, id *ast.Ident) *types.Func {
	f, _ := info.Uses[id].(*types.Func)
	return f
}

// scan finds fn's suspension points and refuses what cannot be lowered.
func (g *pkgGen) scan(fn *flowFn) {
	g.unMethodExpr(fn)
	fn.points = map[*ast.CallExpr]*point{}
	fn.sites = map[*flowFn][]token.Pos{}
	allowed := map[*ast.Ident]bool{}
	var stack []ast.Node
	ast.Inspect(fn.decl.Body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		stack = append(stack, n)
		switch n := n.(type) {
		case *ast.CallExpr:
			if p := g.classify(n, fn); p != nil {
				fn.points[n] = p
				g.pointContext(p, stack)
				if p.callee != nil {
					if !g.checkMethodCall(n, p) {
						for _, a := range n.Args {
							if g.isFlowVar(a, fn) {
								allowed[ast.Unparen(a).(*ast.Ident)] = true // refused already
							}
						}
					} else if len(n.Args) == 0 || !g.isFlowVar(n.Args[0], fn) {
						g.refuse(n.Pos(), "a call of "+p.callee.name()+" that does not pass this function's *tasklet.Flow", p.String(), "pass the Flow parameter itself as the first argument")
					} else {
						allowed[ast.Unparen(n.Args[0]).(*ast.Ident)] = true
					}
					if fn.sites[p.callee] == nil {
						fn.callees = append(fn.callees, p.callee)
					}
					fn.sites[p.callee] = append(fn.sites[p.callee], n.Pos())
				} else if p.method == "RecvAs" {
					if len(n.Args) == 2 && g.isFlowVar(n.Args[0], fn) {
						allowed[ast.Unparen(n.Args[0]).(*ast.Ident)] = true
					}
				} else {
					allowed[ast.Unparen(ast.Unparen(n.Fun).(*ast.SelectorExpr).X).(*ast.Ident)] = true
				}
				g.checkPointPlace(fn, p, stack)
			} else if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && g.isFlowVar(sel.X, fn) {
				allowed[ast.Unparen(sel.X).(*ast.Ident)] = true
			} else if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok {
				if b, ok := g.info.Uses[id].(*types.Builtin); ok && b.Name() == "recover" {
					g.refuse(n.Pos(), "recover", "", "a lowered function cannot stop a panic (its deferred calls run, then the tasklet fails): let the panic fail the tasklet, or check for the error before it happens")
				}
				if b, ok := g.info.Uses[id].(*types.Builtin); ok && b.Name() == "close" && len(n.Args) == 1 {
					if _, isChan := g.info.TypeOf(n.Args[0]).Underlying().(*types.Chan); isChan {
						g.refuse(n.Pos(), "a Go channel operation (close)", "", "use stackless channels: t.Close(ch)")
					}
				}
			}
			if f, ok := calleeObj(g.info, n.Fun).(*types.Func); ok && f.Pkg() != nil && f.Pkg().Path() == "time" && f.Name() == "Sleep" {
				g.refuse(n.Pos(), "time.Sleep, which stops every tasklet of the scheduler while it sleeps", "", "use t.Sleep(d), which suspends only this tasklet (and is saved with it)")
			}
			if sig, ok := g.info.TypeOf(n.Fun).(*types.Signature); ok && g.classify(n, fn) == nil && sig.Params().Len() > 0 && types.Identical(sig.Params().At(0).Type(), g.flowType) {
				if f, ok := calleeObj(g.info, n.Fun).(*types.Func); ok && f.Pkg() != g.pkg.Types {
					g.refuse(n.Pos(), "a call of "+f.FullName()+", a suspending function of another package", "", "move the function into this package (frames are lowered per package)")
				} else {
					g.refuse(n.Pos(), "a call through a function value or an interface that takes a *tasklet.Flow", "", "call a suspending function of this package by name (the callee must be known to save its frame)")
				}
			}
		case *ast.GoStmt:
			g.refuse(n.Pos(), "a go statement", "", "spawn a tasklet with t.Spawn instead of a goroutine")
		case *ast.DeferStmt:
			if !g.scanDefer(fn, n, stack) {
				stack = stack[:len(stack)-1]
				return false
			}
		case *ast.LabeledStmt:
			if strings.HasPrefix(n.Label.Name, "_") {
				g.refuse(n.Pos(), "a label starting with an underscore, as the generated code's own labels do", "", "rename the label (loop, outer: anything not starting with _)")
			}
		case *ast.BranchStmt:
			if n.Tok == token.GOTO {
				g.refuse(n.Pos(), "a goto statement", "", "use a loop with labelled break or continue")
			}
		case *ast.SendStmt:
			g.refuse(n.Pos(), "a Go channel operation (send)", "", "use stackless channels: t.Send(ch, v)")
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				g.refuse(n.Pos(), "a Go channel operation (receive)", "", "use stackless channels: t.Recv(ch)")
			}
		case *ast.SelectStmt:
			g.refuse(n.Pos(), "a Go select statement", "", "use t.Select(tasklet.RecvCase(ch), ...)")
		case *ast.DeclStmt:
			if gd, ok := n.Decl.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
				g.hoistTypes(fn, gd)
			}
		case *ast.ForStmt:
			fn.loops = append(fn.loops, n)
		case *ast.RangeStmt:
			fn.loops = append(fn.loops, n)
			if _, isChan := g.info.TypeOf(n.X).Underlying().(*types.Chan); isChan {
				g.refuse(n.Pos(), "a range over a Go channel", "", "use stackless channels: a loop of t.Recv(ch)")
			}
		case *ast.FuncLit:
			ast.Inspect(n.Body, func(m ast.Node) bool {
				switch m := m.(type) {
				case *ast.CallExpr:
					if p := g.classify(m, fn); p != nil {
						g.refuse(m.Pos(), "a suspension inside a function literal", p.String(), "move the blocking call out of the closure into the suspending function itself")
						return false
					}
				case *ast.Ident:
					if g.info.Uses[m] == fn.flowVar {
						g.refuse(m.Pos(), "the *tasklet.Flow used inside a function literal", "", "use it only in the suspending function's own body")
					}
				}
				return true
			})
			stack = stack[:len(stack)-1]
			return false
		case *ast.Ident:
			if g.info.Uses[n] == fn.flowVar && !allowed[n] {
				// Allowed uses were recorded by their call before the
				// identifier is visited.
				g.refuse(n.Pos(), "the *tasklet.Flow used as a value", "", "only call its methods, or pass it as the first argument of a suspending function of this package")
			}
			if f, ok := g.info.Uses[n].(*types.Func); ok && g.flows[f] != nil && !isCallee(stack, n) {
				g.refuse(n.Pos(), "a suspending function used as a value", "", "call it directly by name (calls through function values cannot be saved)")
			}
		}
		return true
	})
}

func isCallee(stack []ast.Node, id *ast.Ident) bool {
	for i := len(stack) - 2; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.ParenExpr:
			continue
		case *ast.SelectorExpr:
			if p.Sel == id {
				continue
			}
			return false
		case *ast.CallExpr:
			return ast.Unparen(p.Fun) == id || ast.Unparen(p.Fun) == stack[i+1]
		}
		return false
	}
	return false
}

// pointContext records what the point's statement assigns and, when the
// point sits in a block that ends in a return and holds no break or
// continue, where the code that can run after it ends.
func (g *pkgGen) pointContext(p *point, stack []ast.Node) {
	p.assigns = map[*types.Var]bool{}
	for i := len(stack) - 2; i >= 0 && p.stmt == nil; i-- {
		p.stmt, _ = stack[i].(ast.Stmt)
	}
	// x op= call(t) reads x too, after the point: only = and := assign
	// without reading.
	if a, ok := stack[len(stack)-2].(*ast.AssignStmt); ok && (a.Tok == token.ASSIGN || a.Tok == token.DEFINE) && len(a.Rhs) == 1 && ast.Unparen(a.Rhs[0]) == p.call {
		for _, e := range a.Lhs {
			if id, ok := e.(*ast.Ident); ok {
				if v, ok := g.info.Defs[id].(*types.Var); ok {
					p.assigns[v] = true
				} else if v, ok := g.info.Uses[id].(*types.Var); ok {
					p.assigns[v] = true
				}
			}
		}
	}
	for i := len(stack) - 2; i >= 0; i-- {
		var list []ast.Stmt
		switch b := stack[i].(type) {
		case *ast.BlockStmt:
			list = b.List
		case *ast.CaseClause:
			if inCaseList(b, stack[i+1]) {
				continue // a case expression: the clauses after it may run
			}
			list = b.Body
		case *ast.FuncLit:
			return
		default:
			continue
		}
		if len(list) == 0 {
			continue
		}
		if _, ok := list[len(list)-1].(*ast.ReturnStmt); !ok {
			continue
		}
		branches := false
		ast.Inspect(stack[i], func(n ast.Node) bool {
			if b, ok := n.(*ast.BranchStmt); ok && b.Tok != token.FALLTHROUGH {
				branches = true
			}
			return !branches
		})
		if !branches {
			p.limit = stack[i].End()
			return
		}
	}
}

// checkPointPlace refuses suspension points where the lowering cannot put
// a resume point: a case expression of a switch that falls through, a
// range over a function or a pointer to an array.
func (g *pkgGen) checkPointPlace(fn *flowFn, p *point, stack []ast.Node) {
	for i := len(stack) - 2; i >= 0; i-- {
		child := stack[i+1]
		switch s := stack[i].(type) {
		case *ast.CaseClause:
			for _, e := range s.List {
				if e == child && i >= 2 && hasFallthrough(stack[i-2]) {
					g.refuse(p.call.Pos(), "a suspension in a case expression of a switch with fallthrough", p.String(), "evaluate it before the switch")
				}
			}
		case *ast.RangeStmt:
			if child == s.Body {
				switch g.info.TypeOf(s.X).Underlying().(type) {
				case *types.Signature:
					g.refuse(s.Pos(), "a range over a function with a suspension inside", p.String(), "collect the values into a slice first (an iterator cannot be saved)")
				case *types.Pointer:
					g.refuse(s.Pos(), "a range over a pointer to an array with a suspension inside", p.String(), "range over the array or a slice of it")
				}
			}
		case *ast.FuncLit:
			return
		}
	}
	if p.method != "" && p.method != "RecvAs" {
		if len(stack) >= 2 {
			if _, ok := stack[len(stack)-2].(*ast.CallExpr); ok && tupleLen(g.info, p.call) > 1 {
				g.refuse(p.call.Pos(), "a blocking call's results passed straight to another call", p.String(), "assign them to variables first")
			}
		}
	}
}

// inCaseList reports whether n is one of c's case expressions.
func inCaseList(c *ast.CaseClause, n ast.Node) bool {
	for _, e := range c.List {
		if ast.Node(e) == n {
			return true
		}
	}
	return false
}

// hasFallthrough reports whether n is a switch some clause of which falls
// through.
func hasFallthrough(n ast.Node) bool {
	sw, ok := n.(*ast.SwitchStmt)
	if !ok {
		return false
	}
	for _, c := range sw.Body.List {
		body := c.(*ast.CaseClause).Body
		if len(body) > 0 {
			if b, ok := body[len(body)-1].(*ast.BranchStmt); ok && b.Tok == token.FALLTHROUGH {
				return true
			}
		}
	}
	return false
}

func tupleLen(info *types.Info, e ast.Expr) int {
	if t, ok := info.TypeOf(e).(*types.Tuple); ok {
		return t.Len()
	}
	return 1
}

// markRecursion finds the calls that close a cycle of flow calls: a frame
// holds its callees' frames by value, which a cycle cannot, so a callee
// that can reach its caller again is held through a pointer (recursive),
// made by the first call that deep and kept, zeroed, for the next
// (lower.go's pointStmt).
func (g *pkgGen) markRecursion() {
	reach := map[*flowFn]map[*flowFn]bool{} // what each callee reaches, found once
	reached := func(from *flowFn) map[*flowFn]bool {
		if r, ok := reach[from]; ok {
			return r
		}
		r := map[*flowFn]bool{}
		stack := []*flowFn{from}
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !r[f] {
				r[f] = true
				stack = append(stack, f.callees...)
			}
		}
		reach[from] = r
		return r
	}
	for _, fn := range g.order {
		for _, c := range fn.callees {
			if reached(c)[fn] {
				if fn.recursive == nil {
					fn.recursive = map[*flowFn]bool{}
				}
				fn.recursive[c] = true
				c.byPointer = true
			}
		}
	}
}

// checkAddresses refuses pointers to saved locals: after a save and a
// restore they would point at the old copy. (Closures: closure.go.)
func (g *pkgGen) checkAddresses(fn *flowFn) {
	var stack []ast.Node
	ast.Inspect(fn.decl.Body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		stack = append(stack, n)
		switch n := n.(type) {
		case *ast.UnaryExpr:
			if sel, ok := stack[len(stack)-2].(*ast.SelectorExpr); ok && sel.X == n && g.methodExp[sel] != nil {
				break // (*T).M(&x, t): the receiver, addressed as x.M(t) would be
			}
			if n.Op == token.AND {
				if v := g.rootVar(n.X); v != nil && fn.vars[v] != nil && fn.vars[v].field {
					g.refuse(n.Pos(), "&"+v.Name()+": the address of a local that lives across a suspension", g.pointAfterPos(fn, v.Pos()),
						"copy the value, or keep it in a package-level or heap value that the local refers to by ID")
				}
			}
		case *ast.SliceExpr:
			if v := g.rootVar(n.X); v != nil && fn.vars[v] != nil && fn.vars[v].field {
				if _, isArr := g.info.TypeOf(n.X).Underlying().(*types.Array); isArr {
					g.refuse(n.Pos(), "a slice of the array "+v.Name()+", which lives across a suspension", g.pointAfterPos(fn, v.Pos()),
						"make "+v.Name()+" a slice")
				}
			}
		}
		return true
	})
}

func sortedPoints(fn *flowFn) []token.Pos {
	var pts []token.Pos
	for c := range fn.points {
		pts = append(pts, c.Pos())
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i] < pts[j] })
	return pts
}

// rootVar is the variable whose storage e is part of (x in x, x.f, x[i] of
// an array), or nil.
func (g *pkgGen) rootVar(e ast.Expr) *types.Var {
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			v, _ := g.info.Uses[x].(*types.Var)
			return v
		case *ast.SelectorExpr:
			if _, ok := g.info.TypeOf(x.X).Underlying().(*types.Pointer); ok {
				return nil
			}
			e = x.X
		case *ast.IndexExpr:
			if _, ok := g.info.TypeOf(x.X).Underlying().(*types.Array); !ok {
				return nil
			}
			e = x.X
		default:
			return nil
		}
	}
}

func (fn *flowFn) fieldName(base string) string {
	n := exported(base)
	return uniqueName(n, fn.fields)
}

// exported is s with its first letter upper case, or with an X before it
// where its first letter has none (数, _n): msgpack saves exported fields
// only, and a local whose field it would not save must not vanish.
func exported(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if up := string(unicode.ToUpper(r)) + s[n:]; token.IsExported(up) {
		return up
	}
	return "X" + s
}

// uniqueName returns base, or base with a number, not yet in taken, and
// takes it. Names the lowering uses itself start with an underscore and
// are never handed out.
func uniqueName(base string, taken map[string]bool) string {
	if base == "" || base[0] == '_' {
		base = "v" + base
	}
	n := base
	for i := 2; taken[n]; i++ {
		n = base + itoa(i)
	}
	taken[n] = true
	return n
}

func itoa(i int) string {
	const d = "0123456789"
	if i < 10 {
		return d[i : i+1]
	}
	return itoa(i/10) + d[i%10:i%10+1]
}

func calleeObj(info *types.Info, fun ast.Expr) types.Object {
	switch f := ast.Unparen(fun).(type) {
	case *ast.Ident:
		return info.Uses[f]
	case *ast.SelectorExpr:
		return info.Uses[f.Sel]
	}
	return nil
}
