package gen

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const picklePath = "github.com/stackless-go/stackless/pickle"

// layoutPoint is one suspension point of a frame, as the version record
// keeps it.
type layoutPoint struct {
	N    int // in the lowering's own order; the saved number is fn.pcs[N]
	What string
	Name string   // its //stackless:point name, or ""
	Live []string // the fields the code after it may read, sorted
	Pos  token.Position
}

// fileCtx is the import context of one generated file.
type fileCtx struct {
	g    *pkgGen
	src  *ast.File
	imps map[[2]string]bool // {name, path}
}

func (q *fileCtx) qualifier(p *types.Package) string {
	if p == q.g.pkg.Types {
		return ""
	}
	return q.name(p.Path(), p.Name())
}

// name is the name the generated file uses for the package at path: the
// source file's own name for it, else def.
func (q *fileCtx) name(path, def string) string {
	for _, is := range q.src.Imports {
		if strings.Trim(is.Path.Value, `"`) == path && is.Name != nil && is.Name.Name != "_" && is.Name.Name != "." {
			def = is.Name.Name
			break
		}
	}
	q.imps[[2]string{def, path}] = true
	return def
}

// names gives each flow function its frame type and each call its field.
func (g *pkgGen) names() {
	scope := g.pkg.Types.Scope()
	// taken says who has name already: the package, or a local type that
	// gen declares at package level too (localtypes.go).
	taken := func(name string) string {
		if at, ok := g.hoisted[name]; ok {
			return "the local type " + name + " at " + g.fset.Position(at).String() + " has the name"
		}
		if scope.Lookup(name) != nil {
			return "the package declares " + name + " already"
		}
		return ""
	}
	written := map[string]*flowFn{} // the names gen writes, a method's beside a function's
	for _, fn := range g.order {
		fn.typ = fn.ident() + "Frame"
		if fn.marked {
			fn.typ = fn.ident() + "Tasklet"
			ctor := ctorName(fn.ident())
			if who := taken(ctor); who != "" {
				g.refuse(fn.decl.Name.Pos(), who, "", "rename it: the generator writes the constructor "+ctor)
			}
		}
		if who := taken(fn.typ); who != "" {
			g.refuse(fn.decl.Name.Pos(), who, "", "rename it: the generator writes the frame type "+fn.typ)
		}
		if other := written[fn.ident()]; other != nil {
			g.refuse(fn.decl.Name.Pos(), fn.name()+" and "+other.name()+" would both be lowered into "+fn.typ, "", "rename one of them")
		}
		written[fn.ident()] = fn
	}
	for _, fn := range g.order {
		fn.sub = map[*flowFn]string{}
		for _, c := range fn.callees {
			fn.sub[c] = fn.fieldName(exported(c.ident()))
		}
	}
}

func ctorName(fn string) string {
	if ast.IsExported(fn) {
		return "New" + fn
	}
	return "new" + exported(fn)
}

// file writes the generated file for the source file at path.
func (g *pkgGen) file(path string, fns []*flowFn) ([]byte, error) {
	q := &fileCtx{g: g, src: fns[0].file, imps: map[[2]string]bool{}}
	tk := q.name(taskletPath, "tasklet")
	base := filepath.Base(path)
	var body strings.Builder
	var inits []string
	for _, fn := range fns {
		l := &lowerer{g: g, fn: fn, q: q, lines: map[int]int{}, fixed: map[*ast.ReturnStmt]bool{}, lazy: map[*ast.BinaryExpr]bool{}, direct: fn.marked && !g.called[fn]}
		l.rename()
		ast.Inspect(fn.decl.Body, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				if pn, ok := g.info.Uses[id].(*types.PkgName); ok {
					q.imps[[2]string{id.Name, pn.Imported().Path()}] = true
				}
			}
			return true
		})
		// After the imports are found: the defer statements become text.
		l.armDefers()
		if len(fn.defers) > 0 {
			l.declareForced(fn.deferRefs)
		}
		dropTypeDecls(fn.decl.Body)
		if err := g.writeTypes(&body, fn); err != nil {
			return nil, err
		}
		var resTypes []string
		for i := 0; i < fn.sig.Results().Len() && !l.direct; i++ {
			name := fmt.Sprintf("_r%d", i)
			l.results = append(l.results, name)
			resTypes = append(resTypes, name+" "+l.typeString(fn.sig.Results().At(i).Type()))
		}
		lines := l.body()
		if fn.sig.Results().Len() == 0 && !endsInReturn(g.info, fn.decl.Body) {
			if len(fn.defers) > 0 {
				lines = append(lines, line{text: "_f.defers(_t)"})
			}
			lines = append(lines, line{text: "return " + tk + ".Op{}, true"})
		}
		if len(g.refusals) > 0 {
			return nil, nil
		}
		oldRec := g.oldFrames[fn.typ]
		if oldRec == nil && fn.marked {
			oldRec = oldTop(g.oldRecs, fn.kind) // the function was renamed
		}
		fn.pcs = number(fn.layout, oldRec)
		renumber(lines, fn.pcs)
		// The frame type.
		doc := fmt.Sprintf("// %s is the frame of %s, lowered by stackless gen from %s: its\n// exported fields are the locals that live across suspension points.\n", fn.typ, fn.name(), base)
		if fn.marked {
			doc = fmt.Sprintf("// %s is the tasklet %s (kind %q, version %d), lowered by\n// stackless gen from %s: its exported fields are the locals that live\n// across suspension points, and PC the point it resumes at.\n", fn.typ, fn.name(), fn.kind, fn.version, base)
		}
		body.WriteString(doc)
		fmt.Fprintf(&body, "type %s struct {\n\tPC int\n", fn.typ)
		fn.fieldsOut = l.fieldList()
		for _, c := range fn.callees {
			fn.fieldsOut = append(fn.fieldsOut, fieldDecl{name: fn.sub[c], typ: fn.frameType(c), tag: frameTag})
		}
		fn.fieldImports = map[string]string{}
		for _, f := range fn.fieldsOut {
			fmt.Fprintf(&body, "\t%s %s %s\n", f.name, f.typ, f.tag)
			for k := range q.imps {
				if strings.Contains(f.typ, k[0]+".") {
					fn.fieldImports[k[0]] = k[1]
				}
			}
		}
		body.WriteString("}\n\n")
		g.writeWhere(&body, fn, tk)
		if len(fn.defers) > 0 {
			l.writeDefers(&body, tk)
		}
		g.writeDeadFields(&body, fn)
		if g.called[fn] {
			fmt.Fprintf(&body, "// IsZero reports that the frame is not active (it is zeroed when\n// %s returns), for its caller's save to leave it out.\n", fn.name())
			fmt.Fprintf(&body, "func (_f %s) IsZero() bool { return _f.PC == 0 }\n\n", fn.typ)
		}
		if fn.marked {
			l.writeTasklet(&body, tk, lines)
			inits = append(inits, fmt.Sprintf("%s.MustRegister(%q, %d, (*%s)(nil)%s)", q.name(picklePath, "pickle"), fn.kind, fn.version, fn.typ, upgradesHere(fn.kind)))
		}
		if len(fn.drops) > 0 {
			sort.Ints(fn.drops)
			var ls []string
			for _, d := range fn.drops {
				ls = append(ls, fmt.Sprint(d))
			}
			inits = append(inits, fmt.Sprintf("%s.RegisterDropped(%q, %s)", tk, runtimeName(g, fn), strings.Join(ls, ", ")))
		}
		if l.direct {
			continue // the body is Step's
		}
		fmt.Fprintf(&body, "// step runs %s to its next suspension point (done: it returned).\n", fn.name())
		name := "step"
		if len(fn.defers) > 0 {
			writeUnwinding(&body, fmt.Sprintf("func (_f *%s) step(_t *%s.T, _fl *%s.Flow) (_op %s.Op, _done bool%s)", fn.typ, tk, tk, tk, prefixAll(", ", resTypes)),
				strings.Join(append([]string{"_op", "_done"}, l.results...), ", ")+" = _f.stepBody(_t, _fl)", "return")
			name = "stepBody"
		}
		fmt.Fprintf(&body, "//line %s:%d\n", base, g.fset.Position(fn.decl.Pos()).Line)
		fmt.Fprintf(&body, "func (_f *%s) %s(_t *%s.T, _fl *%s.Flow) (_op %s.Op, _done bool%s) {\n", fn.typ, name, tk, tk, tk, prefixAll(", ", resTypes))
		body.WriteString(resumeDispatch(fn.pcs))
		writeLines(&body, lines, base, g.fset)
		body.WriteString("}\n//line RESET\n\n")
	}
	var out strings.Builder
	out.WriteString(Header)
	fmt.Fprintf(&out, "// Source: %s\n\n", base)
	out.WriteString(layoutsHere + "\n\n")
	fmt.Fprintf(&out, "package %s\n\n", g.pkg.Name)
	var imps []string
	for k := range q.imps {
		if k[0] == filepath.Base(k[1]) || k[0] == defaultName(g, k[1]) {
			imps = append(imps, fmt.Sprintf("%q", k[1]))
		} else {
			imps = append(imps, fmt.Sprintf("%s %q", k[0], k[1]))
		}
	}
	sort.Slice(imps, func(i, j int) bool {
		si, sj := isStd(imps[i]), isStd(imps[j])
		if si != sj {
			return si
		}
		return imps[i] < imps[j]
	})
	out.WriteString("import (\n")
	for i, imp := range imps {
		if i > 0 && isStd(imps[i-1]) && !isStd(imp) {
			out.WriteString("\n")
		}
		out.WriteString("\t" + imp + "\n")
	}
	out.WriteString(")\n\n")
	if len(inits) > 0 {
		out.WriteString("func init() {\n")
		for _, i := range inits {
			out.WriteString("\t" + i + "\n")
		}
		out.WriteString("}\n\n")
	}
	out.WriteString(body.String())
	src, err := format.Source([]byte(out.String()))
	if err != nil {
		dump := filepath.Join(os.TempDir(), "stackless-gen-"+base+".txt")
		_ = os.WriteFile(dump, []byte(out.String()), 0o644)
		return nil, fmt.Errorf("gen: generated code for %s does not parse (a bug of the generator; the code is in %s): %w", base, dump, err)
	}
	// Point the lines after each function back at the generated file.
	genBase := strings.TrimSuffix(base, ".go") + Suffix
	ls := strings.Split(string(src), "\n")
	for i, t := range ls {
		if t == "//line RESET" {
			ls[i] = fmt.Sprintf("//line %s:%d", genBase, i+2)
		}
	}
	return []byte(strings.Join(ls, "\n")), nil
}

func defaultName(g *pkgGen, path string) string {
	for _, p := range g.pkg.Types.Imports() {
		if p.Path() == path {
			return p.Name()
		}
	}
	return filepath.Base(path)
}

func prefixAll(sep string, xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return sep + strings.Join(xs, sep)
}

// runtimeName is the function's name as runtime.Frame.Function has it.
func runtimeName(g *pkgGen, fn *flowFn) string {
	path := g.pkg.PkgPath
	if g.pkg.Name == "main" {
		path = "main"
	}
	if fn.recv != nil {
		if _, ptr := fn.recv.Type().(*types.Pointer); ptr {
			return path + ".(*" + recvTypeName(fn.recv) + ")." + fn.obj.Name()
		}
	}
	return path + "." + fn.name()
}

// writeUnwinding writes the step method head of a frame with deferred
// calls: it runs the step's body (call) and returns (ret), and when the
// body panics runs the armed calls on the panic's way up, as Go does.
func writeUnwinding(b *strings.Builder, head, call, ret string) {
	fmt.Fprintf(b, "%s {\n_ok := false\ndefer func() {\nif !_ok {\n_f.defers(_t)\n}\n}()\n%s\n_ok = true\n%s\n}\n\n", head, call, ret)
}

// endsInReturn reports whether b ends in a return or a call of the
// builtin panic, after which a return would be unreachable.
func endsInReturn(info *types.Info, b *ast.BlockStmt) bool {
	if len(b.List) == 0 {
		return false
	}
	switch s := b.List[len(b.List)-1].(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.ExprStmt:
		if c, ok := ast.Unparen(s.X).(*ast.CallExpr); ok {
			b, ok := calleeObj(info, c.Fun).(*types.Builtin)
			return ok && b.Name() == "panic"
		}
	}
	return false
}

func writeLines(b *strings.Builder, lines []line, base string, fset *token.FileSet) {
	for _, ln := range lines {
		if ln.pos.IsValid() {
			fmt.Fprintf(b, "//line %s:%d\n", base, fset.Position(ln.pos).Line)
		}
		b.WriteString(ln.text)
		b.WriteByte('\n')
	}
}

// fieldList is the frame's fields after PC: parameters, saved locals, and
// the lowering's own (range state, held call results).
func (l *lowerer) fieldList() []fieldDecl {
	var out []fieldDecl
	seen := map[*types.Var]bool{}
	add := func(v *types.Var) {
		loc := l.fn.vars[v]
		if loc == nil || !loc.field || seen[v] {
			return
		}
		seen[v] = true
		f := fieldDecl{name: loc.fname, typ: l.fieldType(v.Type())}
		if l.g.linked[v] || loc.unsaved {
			f.tag = skipTag
		}
		out = append(out, f)
	}
	if l.fn.recv != nil {
		add(l.fn.recv)
	}
	for i := 1; i < l.fn.sig.Params().Len(); i++ {
		add(l.fn.sig.Params().At(i))
	}
	for i := 0; i < l.fn.sig.Results().Len(); i++ {
		add(l.fn.sig.Results().At(i))
	}
	var vs []*types.Var
	for v := range l.fn.vars {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool {
		if vs[i].Pos() != vs[j].Pos() { // a type switch's clause variables share one
			return vs[i].Pos() < vs[j].Pos()
		}
		return l.fn.vars[vs[i]].fname < l.fn.vars[vs[j]].fname
	})
	for _, v := range vs {
		add(v)
	}
	return append(out, l.fn.extra...)
}

// writeTasklet writes the constructor and Step of a marked function.
func (l *lowerer) writeTasklet(b *strings.Builder, tk string, lines []line) {
	fn := l.fn
	var params, inits []string
	if r := fn.recv; r != nil {
		name := r.Name()
		if name == "" || name == "_" {
			name = "r"
		}
		params = append(params, name+" "+l.typeString(r.Type()))
		if loc := fn.vars[r]; loc != nil {
			inits = append(inits, loc.fname+": "+l.fieldValue(loc, name))
		}
	}
	for i := 1; i < fn.sig.Params().Len(); i++ {
		p := fn.sig.Params().At(i)
		name := p.Name()
		if name == "" || name == "_" {
			name = fmt.Sprintf("p%d", i)
		}
		if fn.sig.Variadic() && i == fn.sig.Params().Len()-1 {
			params = append(params, name+" ..."+l.typeString(p.Type().(*types.Slice).Elem()))
		} else {
			params = append(params, name+" "+l.typeString(p.Type()))
		}
		if loc := fn.vars[p]; loc != nil {
			inits = append(inits, loc.fname+": "+l.fieldValue(loc, name))
		}
	}
	names := []string{"t"}
	for _, p := range params {
		names = append(names, strings.Fields(p)[0])
	}
	ctor := ctorName(fn.ident())
	fmt.Fprintf(b, "// %s returns the tasklet %s(%s), to spawn.\n", ctor, fn.name(), strings.Join(names, ", "))
	fmt.Fprintf(b, "func %s(%s) *%s {\n\treturn &%s{%s}\n}\n\n", ctor, strings.Join(params, ", "), fn.typ, fn.typ, strings.Join(inits, ", "))
	fmt.Fprintf(b, "// Step runs %s to its next suspension point: nil returned exits the\n// tasklet, an error fails it.\n", fn.name())
	if l.direct {
		// No frame calls this function: its body is Step's own, and
		// saves the call of a step function and its results.
		name := "Step"
		if len(fn.defers) > 0 {
			writeUnwinding(b, fmt.Sprintf("func (_f *%s) Step(_t *%s.T) %s.Op", fn.typ, tk, tk), "_op := _f.stepBody(_t)", "return _op")
			name = "stepBody"
		}
		fmt.Fprintf(b, "//line %s:%d\n", filepath.Base(fn.path), l.g.fset.Position(fn.decl.Pos()).Line)
		fmt.Fprintf(b, "func (_f *%s) %s(_t *%s.T) %s.Op {\n", fn.typ, name, tk, tk)
		for _, ln := range lines {
			if strings.Contains(ln.text, "_fl") {
				fmt.Fprintf(b, "_flv := %s.Lowered(_t)\n_fl := &_flv\n", tk)
				break
			}
		}
		b.WriteString(resumeDispatch(fn.pcs))
		writeLines(b, lines, filepath.Base(fn.path), l.g.fset)
		b.WriteString("}\n//line RESET\n\n")
		return
	}
	fmt.Fprintf(b, "func (_f *%s) Step(t *%s.T) %s.Op {\n", fn.typ, tk, tk)
	fmt.Fprintf(b, "\tfl := %s.Lowered(t)\n\top, done, err := _f.step(t, &fl)\n", tk)
	b.WriteString("\tif !done {\n\t\treturn op\n\t}\n\tif err != nil {\n\t\treturn t.Fail(err)\n\t}\n\treturn t.Exit()\n}\n\n")
}

func isStd(imp string) bool {
	path := imp[strings.Index(imp, `"`)+1:]
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// fieldType is the type of a frame field holding a t.
func (l *lowerer) fieldType(t types.Type) string {
	if isInterface(t) {
		return l.q.name(picklePath, "pickle") + ".Boxed[" + l.typeString(t) + "]"
	}
	return l.typeString(t)
}

// fieldValue is the expression that stores x in loc's field.
func (l *lowerer) fieldValue(loc *local, x string) string {
	if loc.boxed {
		return l.fieldType(loc.v.Type()) + "{V: " + x + "}"
	}
	return x
}

// frameType is the type of the field in which fn holds c's frame.
func (fn *flowFn) frameType(c *flowFn) string {
	if fn.recursive[c] {
		return "*" + c.typ
	}
	return c.typ
}
