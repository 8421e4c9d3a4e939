package gen

import (
	"go/ast"
	"go/types"
)

// Closures over saved locals. Inside a function literal a saved local is
// the frame's field, as everywhere in the lowered function, so a literal
// that runs while the statement that made it runs reads and writes the
// local itself: `sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })`
// sorts the saved xs. A literal kept beyond that (stored, returned, handed
// to a function that may keep it) would hold on to the frame: after a
// restore the old frame, and in a called flow a frame zeroed once its
// function returned, where Go keeps the locals alive. So gen accepts a
// literal over saved locals only where it cannot outlive its statement:
// called at once, ranged over, handed to a function known to call it only
// while it runs (closureCallers, or a function of the package that does
// nothing with that parameter but call it), or bound to a local that is
// used only in those ways.

// closureCallers are the functions outside the package that call a func
// argument only before they return, by the argument's index (methods as
// path.Type.Method).
var closureCallers = map[string]int{
	"sort.Slice": 1, "sort.SliceStable": 1, "sort.SliceIsSorted": 1, "sort.Search": 1, "sort.Find": 1,
	"slices.SortFunc": 1, "slices.SortStableFunc": 1, "slices.IsSortedFunc": 1, "slices.BinarySearchFunc": 2,
	"slices.IndexFunc": 1, "slices.ContainsFunc": 1, "slices.DeleteFunc": 1, "slices.EqualFunc": 2,
	"slices.CompareFunc": 2, "slices.MinFunc": 1, "slices.MaxFunc": 1, "slices.CompactFunc": 1,
	"maps.DeleteFunc": 1, "maps.EqualFunc": 2,
	"strings.Map": 0, "strings.IndexFunc": 1, "strings.LastIndexFunc": 1, "strings.FieldsFunc": 1,
	"strings.TrimFunc": 1, "strings.TrimLeftFunc": 1, "strings.TrimRightFunc": 1, "strings.ContainsFunc": 1,
	"bytes.Map": 0, "bytes.IndexFunc": 1, "bytes.LastIndexFunc": 1, "bytes.FieldsFunc": 1,
	"bytes.TrimFunc": 1, "bytes.TrimLeftFunc": 1, "bytes.TrimRightFunc": 1, "bytes.ContainsFunc": 1,
	"math/rand.Shuffle": 1, "math/rand/v2.Shuffle": 1, "math/rand.Rand.Shuffle": 1, "math/rand/v2.Rand.Shuffle": 1,
	"regexp.Regexp.ReplaceAllStringFunc": 1, "regexp.Regexp.ReplaceAllFunc": 1,
	"os.Expand": 1, "path/filepath.Walk": 1, "path/filepath.WalkDir": 1, "io/fs.WalkDir": 2,
}

// checkClosures refuses each function literal of fn that captures a saved
// local (itself or through a literal inside it) and may outlive its
// statement, once per literal and local.
func (g *pkgGen) checkClosures(fn *flowFn) {
	parent := parents(fn.decl.Body)
	type key struct {
		lit *ast.FuncLit
		v   *types.Var
	}
	refused := map[key]bool{}
	ast.Inspect(fn.decl.Body, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		v, ok := g.info.Uses[id].(*types.Var)
		if !ok || fn.vars[v] == nil || !fn.vars[v].field {
			return true
		}
		for p := parent[id]; p != nil; p = parent[p] {
			lit, ok := p.(*ast.FuncLit)
			if !ok || g.closureStays(fn, parent, lit) || refused[key{lit, v}] {
				continue
			}
			refused[key{lit, v}] = true
			g.refuse(id.Pos(), "a function literal that captures "+v.Name()+", which lives across a suspension, and may be kept beyond its statement",
				g.pointAfterPos(fn, v.Pos()),
				"call it where it is made, or hand it straight to a function that calls it before returning (sort.Slice, slices.SortFunc, a function of this package that only calls it); or pass the value to it as an argument")
		}
		return true
	})
}

// parents maps each node under root to the node holding it.
func parents(root ast.Node) map[ast.Node]ast.Node {
	m := map[ast.Node]ast.Node{}
	var stack []ast.Node
	ast.Inspect(root, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if len(stack) > 0 {
			m[n] = stack[len(stack)-1]
		}
		stack = append(stack, n)
		return true
	})
	return m
}

// holder is the node holding n, past parentheses.
func holder(parent map[ast.Node]ast.Node, n ast.Node) (ast.Node, ast.Node) {
	p := parent[n]
	for {
		pe, ok := p.(*ast.ParenExpr)
		if !ok {
			return p, n
		}
		n, p = pe, parent[pe]
	}
}

// closureStays reports whether the function value lit cannot outlive the
// statement that makes it.
func (g *pkgGen) closureStays(fn *flowFn, parent map[ast.Node]ast.Node, lit *ast.FuncLit) bool {
	p, n := holder(parent, lit)
	switch p := p.(type) {
	case *ast.RangeStmt:
		return p.X == n // the loop runs within the step: a suspension inside is refused
	case *ast.AssignStmt:
		for i, r := range p.Rhs {
			if r == n && len(p.Lhs) == len(p.Rhs) {
				return g.funcLocalStays(fn, parent, p.Lhs[i])
			}
		}
	case *ast.ValueSpec:
		for i, r := range p.Values {
			if r == n && len(p.Names) == len(p.Values) {
				return g.funcLocalStays(fn, parent, p.Names[i])
			}
		}
	default:
		return g.usedAtOnce(parent, n, 0)
	}
	return false
}

// usedAtOnce reports whether the function value n is called where it
// stands, outside a go statement, or handed to a function that calls it
// only before returning.
func (g *pkgGen) usedAtOnce(parent map[ast.Node]ast.Node, n ast.Node, depth int) bool {
	p, n := holder(parent, n)
	call, ok := p.(*ast.CallExpr)
	if !ok {
		return false
	}
	if call.Fun == n {
		_, isGo := parent[call].(*ast.GoStmt)
		return !isGo
	}
	for i, a := range call.Args {
		if a == n {
			return g.callsOnly(call, i, depth)
		}
	}
	return false
}

// callsOnly reports whether the function call calls does nothing with its
// argument i but call it.
func (g *pkgGen) callsOnly(call *ast.CallExpr, i, depth int) bool {
	f, ok := calleeObj(g.info, call.Fun).(*types.Func)
	if !ok || depth > 8 || call.Ellipsis.IsValid() {
		return false
	}
	f = f.Origin()
	sig, _ := f.Type().(*types.Signature)
	if sig == nil || i >= sig.Params().Len() || sig.Variadic() && i >= sig.Params().Len()-1 {
		return false
	}
	if f.Pkg() != nil {
		key := f.Pkg().Path() + "." + f.Name()
		if sig.Recv() != nil {
			key = f.Pkg().Path() + "." + recvTypeName(sig.Recv()) + "." + f.Name()
		}
		if j, ok := closureCallers[key]; ok {
			return i == j
		}
	}
	decl := g.funcs()[f]
	if decl == nil || f.Pkg() != g.pkg.Types {
		return false
	}
	pv := sig.Params().At(i)
	parent := parents(decl.Body)
	only := true
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && g.info.Uses[id] == pv {
			only = only && (isAssigned(parent, id) || g.usedAtOnce(parent, id, depth+1)) &&
				literalsStay(parent, id, func(lit *ast.FuncLit) bool { return g.usedAtOnce(parent, lit, depth+1) })
		}
		return only
	})
	return only
}

// literalsStay reports whether every function literal around n stays, as
// stays tells.
func literalsStay(parent map[ast.Node]ast.Node, n ast.Node, stays func(*ast.FuncLit) bool) bool {
	for p := parent[n]; p != nil; p = parent[p] {
		if lit, ok := p.(*ast.FuncLit); ok && !stays(lit) {
			return false
		}
	}
	return true
}

// funcLocalStays reports whether the local that e names, holding a function
// literal, is used only where the literal itself could be: called, or
// handed to a function that only calls it, never copied or kept in a
// saved local.
func (g *pkgGen) funcLocalStays(fn *flowFn, parent map[ast.Node]ast.Node, e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	if !ok {
		return false
	}
	v, _ := g.info.Defs[id].(*types.Var)
	if v == nil {
		v, _ = g.info.Uses[id].(*types.Var)
	}
	if v == nil || v.Parent() == nil || v.Parent() == types.Universe || v.Parent() == g.pkg.Types.Scope() {
		return false
	}
	if loc := fn.vars[v]; loc != nil && loc.field {
		return false
	}
	if g.checking[v] {
		return true // a literal bound to v calling v: the answer is the outer one's
	}
	if g.checking == nil {
		g.checking = map[*types.Var]bool{}
	}
	g.checking[v] = true
	defer delete(g.checking, v)
	stays := true
	ast.Inspect(fn.decl.Body, func(n ast.Node) bool {
		if u, ok := n.(*ast.Ident); ok && g.info.Uses[u] == v {
			stays = stays && (isAssigned(parent, u) || g.usedAtOnce(parent, u, 0)) &&
				literalsStay(parent, u, func(lit *ast.FuncLit) bool { return g.closureStays(fn, parent, lit) })
		}
		return stays
	})
	return stays
}

// isAssigned reports whether the identifier id is the whole left side of an
// assignment (a new value for it, not a use of the old one).
func isAssigned(parent map[ast.Node]ast.Node, id *ast.Ident) bool {
	a, ok := parent[id].(*ast.AssignStmt)
	if !ok {
		return false
	}
	for _, l := range a.Lhs {
		if l == id {
			return true
		}
	}
	return false
}
