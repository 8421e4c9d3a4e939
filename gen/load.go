package gen

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/stackless-go/stackless/internal/atomicfile"
)

// Suffix ends the name of every generated file: guard.go gets
// guard_stackless.go.
const Suffix = "_stackless.go"

const taskletPath = "github.com/stackless-go/stackless/tasklet"

// File is one generated file: Content is what Path must hold (nil: the
// file is no longer needed and should be removed).
type File struct {
	Path    string
	Content []byte
}

// Refusal is one construct the generator will not lower.
type Refusal struct {
	Pos       token.Position
	Construct string // what was found
	Point     string // the suspension point involved, if any
	Fix       string // what to do instead
}

func (r Refusal) Error() string {
	s := fmt.Sprintf("%s: %s", r.Pos, r.Construct)
	if r.Point != "" {
		s += " (suspension point: " + r.Point + ")"
	}
	return s + "; fix: " + r.Fix
}

// ErrRefused is in the chain of every error that lists refusals.
var ErrRefused = errors.New("gen: cannot lower")

// RefusedError lists every refusal of one run, in source order.
type RefusedError struct{ Refusals []Refusal }

func (e *RefusedError) Error() string {
	lines := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		lines[i] = r.Error()
	}
	return strings.Join(lines, "\n")
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// Generate loads the packages matching patterns (as the go command reads
// them, from dir) and returns the generated file of every source file that
// holds a tasklet or a suspending function, plus a nil-content entry for
// every generated file that is no longer needed. The files already
// generated are ignored while loading, so a stale one never stops a run.
func Generate(dir string, patterns ...string) ([]File, error) {
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	if err := checkTempDir(); err != nil {
		return nil, err
	}
	// First pass: find the generated files and hide them.
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles, Dir: dir}
	list, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, loadError(dir, patterns, err)
	}
	if err := namedNothing(list); err != nil {
		return nil, err
	}
	overlay := map[string][]byte{}
	old := map[string]bool{}
	oldLayouts := map[string][]layoutRec{}
	// Type-checking is what takes time: only packages that may hold a
	// flow (or a generated file to refresh or remove) are loaded again.
	var paths []string
	for _, p := range list {
		if mayHoldFlows(p.GoFiles) {
			paths = append(paths, p.PkgPath)
		}
	}
	if len(paths) == 0 {
		return nil, nil
	}
	for _, p := range list {
		for _, f := range p.GoFiles {
			if strings.HasSuffix(f, Suffix) {
				recs, err := readLayouts(f)
				if err != nil {
					return nil, err
				}
				oldLayouts[f] = recs
				overlay[f] = []byte("package " + p.Name + "\n")
				old[f] = true
			}
		}
	}
	cfg = &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes |
			packages.NeedTypesInfo | packages.NeedImports,
		Dir: dir, Overlay: overlay,
	}
	pkgs, err := packages.Load(cfg, paths...)
	if err != nil {
		return nil, loadError(dir, patterns, err)
	}
	var out []File
	var refused []Refusal
	var loadErrs []error
	for _, p := range pkgs {
		// With the generated files hidden, what refers to the names they
		// declare does not compile; everything else must.
		fatal := false
		for _, e := range p.Errors {
			if onlyGeneratedNames(e.Msg) {
				continue
			}
			loadErrs = append(loadErrs, e)
			fatal = true
		}
		if fatal {
			continue
		}
		files, refs, err := generatePackage(p, oldLayouts)
		if err != nil {
			return nil, err
		}
		refused = append(refused, refs...)
		for _, f := range files {
			delete(old, f.Path)
		}
		out = append(out, files...)
	}
	if len(loadErrs) > 0 {
		return nil, fmt.Errorf("gen: the packages do not compile (fix these first): %w", errors.Join(loadErrs...))
	}
	if len(refused) > 0 {
		sort.SliceStable(refused, func(i, j int) bool {
			a, b := refused[i].Pos, refused[j].Pos
			if a.Filename != b.Filename {
				return a.Filename < b.Filename
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, &RefusedError{refused}
	}
	for f := range old {
		if isGenerated(f) {
			out = append(out, File{Path: f})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// mayHoldFlows reports whether a package of these files may hold a flow
// function or a tasklet mark, or has generated files: a parse of each file
// alone, which the type-checked load then decides on.
func mayHoldFlows(files []string) bool {
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, Suffix) {
			return true
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return true // let the full load report it
		}
		// Every file is parsed, the cheap part of a load: a package that
		// does not parse is loaded in full, which reports the error; it was
		// skipped as holding no flows, and gen exited 0.
		af, err := parser.ParseFile(fset, f, b, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return true
		}
		if !bytes.Contains(b, []byte("stackless:")) && !bytes.Contains(b, []byte(taskletPath)) {
			continue
		}
		if fileMayHoldFlows(af) {
			return true
		}
	}
	return false
}

func fileMayHoldFlows(f *ast.File) bool {
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//stackless:tasklet") || strings.HasPrefix(c.Text, pointDirective) {
				return true
			}
		}
	}
	name := ""
	for _, is := range f.Imports {
		if strings.Trim(is.Path.Value, `"`) == taskletPath {
			name = "tasklet"
			if is.Name != nil {
				name = is.Name.Name
			}
		}
	}
	if name == "" {
		return false
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || len(fd.Type.Params.List) == 0 {
			continue
		}
		if st, ok := fd.Type.Params.List[0].Type.(*ast.StarExpr); ok {
			if sel, ok := st.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Flow" {
				if id, ok := sel.X.(*ast.Ident); ok && (id.Name == name || name == ".") {
					return true
				}
			}
		}
		if name == "." {
			return true // a dot import: let the type-checked load decide
		}
	}
	return false
}

// generatedName matches the type errors of code that uses what gen writes.
var generatedName = regexp.MustCompile(`^undefined: ([nN]ew\w+|\w+(Tasklet|Frame)(V\d+)?)$`)

// onlyGeneratedNames reports whether every compiler message in msg is about
// a name gen writes.
func onlyGeneratedNames(msg string) bool {
	any := false
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "-: #") || strings.HasSuffix(l, "too many errors") {
			continue
		}
		if i := strings.LastIndex(l, ": undefined: "); i >= 0 {
			l = l[i+2:]
		}
		if !generatedName.MatchString(l) {
			return false
		}
		any = true
	}
	return any
}

// Header starts every generated file (the go command's convention).
const Header = "// Code generated by stackless gen. DO NOT EDIT.\n"

// isGenerated reports whether the file at path was written by Generate
// (so it may be removed).
func isGenerated(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.HasPrefix(string(b), Header)
}

// Write writes the files (removing those with nil content) and returns the
// paths it changed.
func Write(files []File) ([]string, error) {
	var changed []string
	for _, f := range files {
		old, err := os.ReadFile(f.Path)
		exists := err == nil
		if f.Content == nil {
			if exists {
				if err := os.Remove(f.Path); err != nil {
					return changed, fmt.Errorf("gen: remove the stale %s: %w", f.Path, err)
				}
				changed = append(changed, f.Path)
			}
			continue
		}
		if exists && string(old) == string(f.Content) {
			continue
		}
		// Whole or not at all: a cut file would lose the layout records
		// that versions are checked against.
		if err := atomicfile.WriteFile(f.Path, f.Content, 0o644); err != nil {
			return changed, fmt.Errorf("gen: %w", err)
		}
		changed = append(changed, f.Path)
	}
	return changed, nil
}

// pkgGen is one package being generated.
type pkgGen struct {
	pkg       *packages.Package
	fset      *token.FileSet
	info      *types.Info
	flowType  types.Type // *tasklet.Flow
	recvAs    types.Object
	methodExp map[*ast.SelectorExpr]*types.Selection // calls written as method expressions, rewritten (scan.go)
	oldRecs   []layoutRec                            // the layout records of the package's generated files
	oldFrames map[string]*layoutRec                  // each frame's layout when last generated (its kind's newest version)
	called    map[*flowFn]bool                       // the functions some flow calls (they need a step of their own)
	flows     map[*types.Func]*flowFn
	order     []*flowFn
	refusals  []Refusal
	kinds     map[string]string             // the package's tasklets by kind: "Name (file:line:col)"
	linked    map[*types.Var]bool           // the parameters set by their callers, not saved (link.go)
	writes    memo[*types.Var, bool]        // whether a function writes through a parameter (shared.go)
	decls     map[*types.Func]*ast.FuncDecl // the package's functions with bodies (shared.go)
	returns   memo[*types.Func, int]        // the parameter a function's result may share, or -1 (shared.go)
	checking  map[*types.Var]bool           // the func locals whose uses funcLocalStays is following (closure.go)
	hoisted   map[string]token.Pos          // the local types moved to package level, by name (localtypes.go)
}

func (g *pkgGen) refuse(pos token.Pos, construct, point, fix string) {
	g.refusals = append(g.refusals, Refusal{Pos: g.fset.Position(pos), Construct: construct, Point: point, Fix: fix})
}

func generatePackage(p *packages.Package, oldLayouts map[string][]layoutRec) ([]File, []Refusal, error) {
	g := &pkgGen{pkg: p, fset: p.Fset, info: p.TypesInfo, flows: map[*types.Func]*flowFn{}, kinds: map[string]string{}}
	for _, f := range p.GoFiles {
		g.oldRecs = append(g.oldRecs, oldLayouts[f]...)
	}
	g.oldFrames = currentFrames(g.oldRecs)
	tp := findImport(p.Types, taskletPath)
	if tp == nil {
		return nil, nil, nil // no flows without the tasklet package
	}
	flowObj := tp.Scope().Lookup("Flow")
	if flowObj == nil {
		return nil, nil, fmt.Errorf("gen: %s has no Flow type; is the stackless module too old?", taskletPath)
	}
	g.flowType = types.NewPointer(flowObj.Type())
	g.recvAs = tp.Scope().Lookup("RecvAs")
	for i, f := range p.Syntax {
		_ = i
		name := p.Fset.File(f.Pos()).Name()
		if strings.HasSuffix(name, Suffix) {
			continue
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			g.consider(fd, f, name)
		}
	}
	if len(g.order) == 0 {
		return nil, g.refusals, nil
	}
	for _, fn := range g.order {
		g.scan(fn)
	}
	g.namePoints()
	g.markRecursion()
	g.called = map[*flowFn]bool{}
	for _, fn := range g.order {
		for _, c := range fn.callees {
			g.called[c] = true
		}
	}
	if len(g.refusals) > 0 {
		return nil, g.refusals, nil
	}
	for _, fn := range g.order {
		g.analyse(fn)
	}
	g.linkParams()
	g.names()
	if len(g.refusals) > 0 {
		return nil, g.refusals, nil
	}
	byFile := map[string][]*flowFn{}
	var names []string
	for _, fn := range g.order {
		if byFile[fn.path] == nil {
			names = append(names, fn.path)
		}
		byFile[fn.path] = append(byFile[fn.path], fn)
	}
	var files []File
	for _, name := range names {
		src, err := g.file(name, byFile[name])
		if err != nil {
			return nil, nil, err
		}
		if len(g.refusals) > 0 {
			return nil, g.refusals, nil
		}
		files = append(files, File{Path: strings.TrimSuffix(name, ".go") + Suffix, Content: src})
	}
	// Every frame is lowered now: record the layouts and check them
	// against the ones the files held before.
	for i, name := range names {
		recs := g.layouts(byFile[name])
		old := oldLayouts[files[i].Path]
		g.checkLayouts(byFile[name], recs)
		content, kept, skeletons, err := g.upgrades(byFile[name], files[i].Path, string(files[i].Content), recs, old)
		if err != nil {
			return nil, nil, err
		}
		files[i].Content = []byte(strings.Replace(content, layoutsHere, layoutComment(append(recs, kept...)), 1))
		files = append(files, skeletons...)
	}
	if len(g.refusals) > 0 {
		return nil, g.refusals, nil
	}
	return files, g.refusals, nil
}

// currentFrames are the layouts of the frames of p as its generated files
// hold them, of each kind's newest version only (older ones are kept for
// upgrades and say nothing of the numbering today).
func currentFrames(recs []layoutRec) map[string]*layoutRec {
	newest := map[string]int{}
	for _, r := range recs {
		newest[r.Kind] = max(newest[r.Kind], r.Version)
	}
	out := map[string]*layoutRec{}
	for i := range recs {
		if r := &recs[i]; r.Version == newest[r.Kind] && out[r.Frame] == nil {
			out[r.Frame] = r
		}
	}
	return out
}

func findImport(p *types.Package, path string) *types.Package {
	for _, i := range p.Imports() {
		if i.Path() == path {
			return i
		}
	}
	return nil
}

// consider records fd when it is a flow function (its first parameter is a
// *tasklet.Flow) or marked as a tasklet.
func (g *pkgGen) consider(fd *ast.FuncDecl, file *ast.File, path string) {
	obj, _ := g.info.Defs[fd.Name].(*types.Func)
	if obj == nil {
		return
	}
	sig := obj.Type().(*types.Signature)
	kind, version, marked, bad := marker(fd.Doc)
	isFlow := sig.Params().Len() > 0 && types.Identical(sig.Params().At(0).Type(), g.flowType)
	if bad != "" {
		g.refuse(fd.Pos(), "malformed //stackless:tasklet line: "+bad, "", "write it as //stackless:tasklet kind=NAME version=N (N >= 1)")
		return
	}
	if !isFlow && !marked {
		return
	}
	switch {
	case !isFlow:
		g.refuse(fd.Name.Pos(), "tasklet "+fd.Name.Name+" does not take a *tasklet.Flow first", "", "make its first parameter `t *tasklet.Flow`")
		return
	case sig.RecvTypeParams().Len() > 0:
		g.refuse(fd.Name.Pos(), "method "+fd.Name.Name+" of a generic type takes a *tasklet.Flow", "", "make it a method of a concrete type, or a plain function of the package")
		return
	case fd.Type.TypeParams != nil:
		g.refuse(fd.Name.Pos(), "generic function "+fd.Name.Name+" takes a *tasklet.Flow", "", "write it for concrete types")
		return
	case fd.Body == nil:
		g.refuse(fd.Name.Pos(), "function "+fd.Name.Name+" has no body", "", "write it in Go")
		return
	case marked && (sig.Results().Len() != 1 || !types.Identical(sig.Results().At(0).Type(), types.Universe.Lookup("error").Type())):
		g.refuse(fd.Name.Pos(), "tasklet "+fd.Name.Name+" does not return just an error", "", "make its only result `error`: nil exits, an error fails the tasklet")
		return
	}
	if marked {
		// One package registers both at init: the program would panic
		// at start. (Kinds of different packages may meet in one program
		// too; Register says so then.)
		if other, ok := g.kinds[kind]; ok {
			g.refuse(fd.Pos(), fmt.Sprintf("tasklet %s has the kind %q of tasklet %s: the package would register the kind twice and panic at start", fd.Name.Name, kind, other), "", "give each tasklet a kind= of its own")
			return
		}
		g.kinds[kind] = fmt.Sprintf("%s (%s)", fd.Name.Name, g.fset.Position(fd.Name.Pos()))
	}
	fn := &flowFn{decl: fd, obj: obj, sig: sig, file: file, path: path, marked: marked, kind: kind, version: version}
	fn.flowVar = sig.Params().At(0)
	fn.recv = sig.Recv()
	g.flows[obj] = fn
	g.order = append(g.order, fn)
}

// marker parses the //stackless:tasklet line of a doc comment.
func marker(doc *ast.CommentGroup) (kind string, version int, marked bool, bad string) {
	if doc == nil {
		return
	}
	for _, c := range doc.List {
		rest, ok := strings.CutPrefix(c.Text, "//stackless:tasklet")
		if !ok {
			continue
		}
		marked = true
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "kind":
				kind = v
			case "version":
				if _, err := fmt.Sscanf(v, "%d", &version); err != nil || fmt.Sprint(version) != v {
					return "", 0, true, fmt.Sprintf("version %q is not a number", v)
				}
			default:
				return "", 0, true, fmt.Sprintf("unknown field %q", f)
			}
		}
		if kind == "" {
			return "", 0, true, "no kind="
		}
		if version < 1 {
			return "", 0, true, "no version= of 1 or more"
		}
	}
	return
}

// checkTempDir refuses a TMPDIR that names nothing or a file: the go
// command that lists the packages makes its work folder there, and failed
// with only the path ("stat PATH", "mkdir PATH/gocommand-1: not a
// directory"), or as a package that does not compile.
func checkTempDir() error {
	tmp := os.TempDir()
	fi, err := os.Stat(tmp)
	if err == nil && fi.IsDir() {
		return nil
	}
	what := "does not exist"
	if err == nil {
		what = "is not a folder"
	} else if !errors.Is(err, fs.ErrNotExist) {
		what = "cannot be read: " + err.Error()
	}
	return fmt.Errorf("gen: the temporary folder %s (TMPDIR) %s, and the go command needs one: set TMPDIR to a writable folder or unset it", tmp, what)
}

// loadError says why the go command could not list patterns, the common
// cause first: gen run outside a module.
func loadError(dir string, patterns []string, err error) error {
	if strings.Contains(err.Error(), "go.mod file not found") {
		return fmt.Errorf("gen: %s is not inside a Go module (no go.mod there or above): run gen in your module's directory, or `go mod init` one first", dir)
	}
	return fmt.Errorf("gen: load %s: %w", strings.Join(patterns, " "), err)
}

// namedNothing refuses a pattern that matched no package (a directory that
// does not exist, a file, a path outside the module): without it a typo
// would generate nothing and succeed.
func namedNothing(list []*packages.Package) error {
	var bad []string
	for _, p := range list {
		if len(p.GoFiles) == 0 && len(p.Errors) > 0 {
			bad = append(bad, p.Errors[0].Msg)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("gen: %s; give the packages to lower as the go command names them (., ./..., ./game)", strings.Join(bad, "; "))
}
