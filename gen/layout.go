package gen

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
)

// A generated file records the layout of each tasklet it holds: for every
// frame of the tasklet's call tree, its suspension points by saved number
// (PC), their names, the fields the code after each may read, and the
// frame's fields. A saved tasklet resumes by PC and field name, so
// regenerating with another layout under the same version= could resume
// old saves at the wrong place or with the wrong variables: gen compares
// the two layouts point by point and refuses, naming the change, only what
// would do that (a point of an old save gone or now another one, a field
// read after a point that old saves at it do not hold, a field whose type
// changed). New points, points named by //stackless:point moved among
// others, and code changed between points are fine. Raising version= makes
// old saves fail to load with pickle.ErrKindVersion until an upgrade is
// registered.

const layoutsHere = "//stackless:layouts"

const layoutPrefix = "//stackless:layout "

type layoutRec struct {
	Kind    string            `json:"kind"`
	Version int               `json:"version"`
	Frame   string            `json:"frame"`
	Points  []string          `json:"points"`          // by PC-1: what the point is ("" for a free number)
	Names   map[string]int    `json:"names,omitempty"` // named point -> PC
	Live    [][]string        `json:"live,omitempty"`  // by PC-1: the fields read after the point
	Fields  [][2]string       `json:"fields"`
	Imports map[string]string `json:"imports,omitempty"` // package name -> path, of the field types
}

// point describes the point with saved number pc ("" when there is none).
func (r *layoutRec) point(pc int) string {
	if pc < 1 || pc > len(r.Points) || r.Points[pc-1] == "" {
		return ""
	}
	return r.Points[pc-1] + r.nameOf(pc)
}

func (r *layoutRec) nameOf(pc int) string {
	for n, k := range r.Names {
		if k == pc {
			return " named " + n
		}
	}
	return ""
}

// layouts are the records of the marked functions among fns: each
// tasklet's frame and, once each, the frames it calls into.
func (g *pkgGen) layouts(fns []*flowFn) []layoutRec {
	var recs []layoutRec
	for _, fn := range fns {
		if !fn.marked {
			continue
		}
		seen := map[*flowFn]bool{}
		var walk func(f *flowFn)
		walk = func(f *flowFn) {
			if seen[f] {
				return
			}
			seen[f] = true
			rec := layoutRec{Kind: fn.kind, Version: fn.version, Frame: f.typ, Points: []string{}, Fields: [][2]string{}}
			n := 0
			for _, pc := range f.pcs {
				n = max(n, pc)
			}
			rec.Points = make([]string, n)
			rec.Live = make([][]string, n)
			for _, p := range f.layout {
				pc := f.pcs[p.N]
				rec.Points[pc-1] = p.What
				rec.Live[pc-1] = append([]string{}, p.Live...)
				if p.Name != "" {
					if rec.Names == nil {
						rec.Names = map[string]int{}
					}
					rec.Names[p.Name] = pc
				}
			}
			for _, fd := range f.fieldsOut {
				rec.Fields = append(rec.Fields, [2]string{fd.name, fd.typ})
			}
			rec.Imports = f.fieldImports
			recs = append(recs, rec)
			for _, c := range f.callees {
				walk(c)
			}
		}
		walk(fn)
	}
	return recs
}

func layoutComment(recs []layoutRec) string {
	var b strings.Builder
	b.WriteString("// Layouts of the tasklets below, checked by stackless gen on every run.\n")
	for _, r := range recs {
		j, _ := json.Marshal(r)
		b.WriteString(layoutPrefix + string(j) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// readLayouts reads the layout records of a generated file.
func readLayouts(path string) ([]layoutRec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gen: read %s: %w", path, err)
	}
	recs, err := parseLayouts(b)
	if err != nil {
		return nil, fmt.Errorf("gen: %s holds a damaged layout record (%v); restore it from version control", path, err)
	}
	return recs, nil
}

// parseLayouts reads the layout records of a generated file's text,
// checked: the file is the user's, and a record edited by hand (a point
// name -1, a million points) crashed gen or made it allocate gigabytes.
func parseLayouts(b []byte) ([]layoutRec, error) {
	var recs []layoutRec
	for l := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(l, layoutPrefix)
		if !ok {
			continue
		}
		var r layoutRec
		if err := json.Unmarshal([]byte(rest), &r); err != nil {
			return nil, err
		}
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("kind %q frame %q: %w", r.Kind, r.Frame, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// maxLayoutPoints bounds the points of one recorded frame.
const maxLayoutPoints = 1 << 16

// check refuses a record gen could not have written.
func (r *layoutRec) check() error {
	switch {
	case r.Kind == "" || r.Version < 1:
		return fmt.Errorf("kind and version %d: want a name and 1 or more", r.Version)
	case !token.IsIdentifier(r.Frame):
		return errors.New("the frame is not a Go name")
	case len(r.Points) > maxLayoutPoints:
		return fmt.Errorf("%d points, more than %d", len(r.Points), maxLayoutPoints)
	case r.Live != nil && len(r.Live) != len(r.Points):
		return fmt.Errorf("live sets of %d points, not %d", len(r.Live), len(r.Points))
	}
	named := map[int]string{}
	for name, pc := range r.Names {
		if pc < 1 || pc > len(r.Points) || r.Points[pc-1] == "" {
			return fmt.Errorf("point %q numbered %d, which is no point of the frame", name, pc)
		}
		if other, dup := named[pc]; dup {
			return fmt.Errorf("point %d named both %q and %q", pc, other, name)
		}
		named[pc] = name
	}
	fields := map[string]bool{}
	for _, f := range r.Fields {
		if !token.IsIdentifier(f[0]) {
			return fmt.Errorf("field %q is not a Go name", f[0])
		}
		if fields[f[0]] {
			return fmt.Errorf("field %s twice", f[0])
		}
		fields[f[0]] = true
		if _, err := parser.ParseExpr(f[1]); err != nil || strings.ContainsAny(f[1], "\n\r") {
			return fmt.Errorf("field %s has type %q, which is no Go type", f[0], f[1])
		}
	}
	for name, path := range r.Imports {
		if !token.IsIdentifier(name) || strconv.Quote(path) != `"`+path+`"` {
			return fmt.Errorf("import %s %q", name, path)
		}
	}
	return nil
}

// checkLayouts refuses a tasklet whose layout changed without a new version.
func (g *pkgGen) checkLayouts(fns []*flowFn, recs []layoutRec) {
	old := g.oldRecs
	type key struct{ kind, frame string }
	before := map[key]layoutRec{}
	versions := map[string]int{}
	for _, r := range old {
		if r.Version >= versions[r.Kind] {
			versions[r.Kind] = r.Version
		}
	}
	for _, r := range old {
		if r.Version == versions[r.Kind] {
			before[key{r.Kind, r.Frame}] = r
		}
	}
	for _, fn := range fns {
		if !fn.marked {
			continue
		}
		ov, had := versions[fn.kind]
		switch {
		case !had || fn.version > ov:
			continue
		case fn.version < ov:
			g.refuse(fn.decl.Name.Pos(), fmt.Sprintf("kind %q went from version %d down to %d", fn.kind, ov, fn.version), "",
				fmt.Sprintf("versions only go up: use version=%d or more", ov+1))
			continue
		}
		var changes []string
		for _, r := range recs {
			if r.Kind != fn.kind {
				continue
			}
			if o, ok := before[key{r.Kind, r.Frame}]; ok {
				changes = append(changes, diffLayout(o, r)...)
			} else if o := oldTop(old, fn.kind); r.Frame == fn.typ && o != nil {
				// The tasklet's function was renamed: its saves decode
				// into the new type all the same.
				if d := diffLayout(*o, r); len(d) > 0 {
					changes = append(append(changes, "its frame "+o.Frame+" is now "+r.Frame), d...)
				}
			}
			// A frame that is new holds no old save; one that is gone is
			// caught at the points that called it.
		}
		if len(changes) > 0 {
			g.refuse(fn.decl.Name.Pos(), fmt.Sprintf("the layout of kind %q changed but its version is still %d: %s", fn.kind, fn.version, strings.Join(changes, "; ")), "",
				fmt.Sprintf("saved %s tasklets would resume at the wrong point or with the wrong variables: raise to version=%d (gen then keeps the old layout and writes an upgrade skeleton to fill in), or undo the change", fn.kind, fn.version+1))
		}
	}
}

// diffLayout lists what in n would resume a save of o wrongly.
func diffLayout(o, n layoutRec) []string {
	var out []string
	of, nf := map[string]string{}, map[string]string{}
	for _, f := range o.Fields {
		of[f[0]] = f[1]
	}
	for _, f := range n.Fields {
		nf[f[0]] = f[1]
		if t, ok := of[f[0]]; ok && t != f[1] {
			out = append(out, fmt.Sprintf("%s: field %s was %s, is %s", n.Frame, f[0], t, f[1]))
		}
	}
	for pc := 1; pc <= len(o.Points); pc++ {
		was := o.point(pc)
		if was == "" {
			continue
		}
		is := n.point(pc)
		switch {
		case is == "":
			out = append(out, fmt.Sprintf("%s: point %d (%s) is gone", n.Frame, pc, was))
			continue
		case o.Points[pc-1] != n.Points[pc-1] || (o.nameOf(pc) != "" && o.nameOf(pc) != n.nameOf(pc)):
			out = append(out, fmt.Sprintf("%s: point %d was %s, is %s", n.Frame, pc, was, is))
			continue
		}
		if o.Live == nil {
			continue // a record from before live sets: compared whole below
		}
		had := map[string]bool{}
		for _, f := range o.Live[pc-1] {
			had[f] = true
		}
		for _, f := range n.Live[pc-1] {
			if !had[f] {
				out = append(out, fmt.Sprintf("%s: after point %d (%s) the code reads field %s %s, which saves at that point do not hold", n.Frame, pc, is, f, nf[f]))
			}
		}
	}
	if o.Live == nil {
		for _, f := range n.Fields {
			if _, ok := of[f[0]]; !ok {
				out = append(out, fmt.Sprintf("%s: field %s %s is new", n.Frame, f[0], f[1]))
			}
		}
	}
	return out
}

// oldTop is the recorded frame of the tasklet of kind itself (the first
// record of the kind's newest version), or nil.
func oldTop(old []layoutRec, kind string) *layoutRec {
	newest := 0
	for _, r := range old {
		if r.Kind == kind {
			newest = max(newest, r.Version)
		}
	}
	for i := range old {
		if old[i].Kind == kind && old[i].Version == newest {
			return &old[i]
		}
	}
	return nil
}
