package gen

import (
	"go/ast"
	"go/printer"
	"go/token"
	"go/types"
	"strings"
)

// Local types. A type declared in a flow's body may be the type of a saved
// local, and so of a field of the frame, which is declared at package
// level. gen moves such declarations to the generated file under their own
// names (the function's body keeps its own declaration, which shadows that
// one, for the unlowered run). So a local type must be a name the package
// does not use and no other flow declares, and must not refer to the
// function's other locals (a constant, say), which package level cannot
// see.

// hoistTypes records the specs of gd, a type declaration in fn's body, to be
// written at package level, and refuses those that cannot be.
func (g *pkgGen) hoistTypes(fn *flowFn, gd *ast.GenDecl) {
	if g.hoisted == nil {
		g.hoisted = map[string]token.Pos{}
	}
	for _, s := range gd.Specs {
		ts := s.(*ast.TypeSpec)
		name := ts.Name.Name
		switch {
		case name == "_":
			continue
		case ts.TypeParams != nil:
			g.refuse(ts.Pos(), "a generic type declared inside a suspending function", "", "declare the type at package level")
			continue
		case g.pkg.Types.Scope().Lookup(name) != nil:
			g.refuse(ts.Pos(), "the local type "+name+" has the name of a declaration of the package, and gen declares local types at package level", "", "rename the local type")
			continue
		case types.Universe.Lookup(name) != nil || g.info.Scopes[fn.file].Lookup(name) != nil || name == "tasklet" || name == "pickle":
			// At package level it would hide the predeclared name from the
			// whole package, or clash with an import of the generated file.
			g.refuse(ts.Pos(), "the local type "+name+" has the name of a predeclared identifier or of an import, and gen declares local types at package level", "", "rename the local type")
			continue
		}
		if at, ok := g.hoisted[name]; ok {
			g.refuse(ts.Pos(), "a second local type named "+name+" (the other at "+g.fset.Position(at).String()+"), and gen declares local types at package level", "", "give each local type of the package's flows a name of its own")
			continue
		}
		if v := g.localRef(ts.Type); v != nil {
			g.refuse(ts.Pos(), "the local type "+name+" refers to "+v.Name()+", a local of the function, which package level cannot see", "", "declare "+v.Name()+" at package level, or the type")
			continue
		}
		g.hoisted[name] = ts.Pos()
		fn.types = append(fn.types, ts)
	}
}

// localRef is an object declared inside a function that the type
// expression e names, other than a local type (moved too), or nil.
func (g *pkgGen) localRef(e ast.Expr) types.Object {
	var found types.Object
	ast.Inspect(e, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok || found != nil {
			return found == nil
		}
		obj := g.info.Uses[id]
		if obj == nil || obj.Pkg() != g.pkg.Types || obj.Parent() == nil || obj.Parent() == g.pkg.Types.Scope() {
			return true
		}
		switch obj.(type) {
		case *types.TypeName, *types.PkgName: // a local type, moved too; an import of the file
		default:
			found = obj
		}
		return true
	})
	return found
}

// dropTypeDecls takes the type declarations out of body: their types are
// declared at package level (writeTypes).
func dropTypeDecls(body *ast.BlockStmt) {
	keep := func(list []ast.Stmt) []ast.Stmt {
		out := list[:0]
		for _, s := range list {
			if d, ok := s.(*ast.DeclStmt); ok && d.Decl.(*ast.GenDecl).Tok == token.TYPE {
				continue
			}
			out = append(out, s)
		}
		return out
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BlockStmt:
			n.List = keep(n.List)
		case *ast.CaseClause:
			n.Body = keep(n.Body)
		case *ast.CommClause:
			n.Body = keep(n.Body)
		case *ast.FuncLit:
			return false // a literal's own types stay in it
		}
		return true
	})
}

// writeTypes writes fn's local types at package level.
func (g *pkgGen) writeTypes(b *strings.Builder, fn *flowFn) error {
	for _, ts := range fn.types {
		b.WriteString("// " + ts.Name.Name + " is declared in " + fn.name() + "; stackless gen declares it here for its frame.\ntype ")
		if err := printer.Fprint(b, g.fset, ts); err != nil {
			return err
		}
		b.WriteString("\n\n")
	}
	return nil
}
