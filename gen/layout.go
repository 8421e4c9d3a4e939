package gen

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// A generated file records the layout of each tasklet it holds: for every
// frame of the tasklet's call tree, its suspension points in order and its
// fields. A saved tasklet resumes by PC and field name, so regenerating
// with another layout under the same version= would resume old saves at the
// wrong place or with the wrong variables: gen refuses that and names the
// change. Raising version= makes old saves fail to load with
// pickle.ErrKindVersion until an upgrade is registered.

const layoutsHere = "//stackless:layouts"

const layoutPrefix = "//stackless:layout "

type layoutRec struct {
	Kind    string            `json:"kind"`
	Version int               `json:"version"`
	Frame   string            `json:"frame"`
	Points  []string          `json:"points"`
	Fields  [][2]string       `json:"fields"`
	Imports map[string]string `json:"imports,omitempty"` // package name -> path, of the field types
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
			for _, p := range f.layout {
				rec.Points = append(rec.Points, p.What)
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
		return nil, fmt.Errorf("stackless gen: read %s: %w", path, err)
	}
	var recs []layoutRec
	for _, l := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(l, layoutPrefix)
		if !ok {
			continue
		}
		var r layoutRec
		if err := json.Unmarshal([]byte(rest), &r); err != nil {
			return nil, fmt.Errorf("stackless gen: %s holds a damaged layout record (%v); restore it from version control", path, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// checkLayouts refuses a tasklet whose layout changed without a new version.
func (g *pkgGen) checkLayouts(fns []*flowFn, recs, old []layoutRec) {
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
			o, ok := before[key{r.Kind, r.Frame}]
			if !ok {
				changes = append(changes, "frame "+r.Frame+" is new")
				continue
			}
			changes = append(changes, diffLayout(o, r)...)
			delete(before, key{r.Kind, r.Frame})
		}
		for k := range before {
			if k.kind == fn.kind {
				changes = append(changes, "frame "+k.frame+" is gone")
			}
		}
		if len(changes) > 0 {
			g.refuse(fn.decl.Name.Pos(), fmt.Sprintf("the layout of kind %q changed but its version is still %d: %s", fn.kind, fn.version, strings.Join(changes, "; ")), "",
				fmt.Sprintf("saved %s tasklets would resume at the wrong point or with the wrong variables: raise to version=%d (gen then keeps the old layout and writes an upgrade skeleton to fill in), or undo the change", fn.kind, fn.version+1))
		}
	}
}

func diffLayout(o, n layoutRec) []string {
	var out []string
	for i := 0; i < max(len(o.Points), len(n.Points)); i++ {
		switch {
		case i >= len(o.Points):
			out = append(out, fmt.Sprintf("%s: point %d (%s) is new", n.Frame, i+1, n.Points[i]))
		case i >= len(n.Points):
			out = append(out, fmt.Sprintf("%s: point %d (%s) is gone", n.Frame, i+1, o.Points[i]))
		case o.Points[i] != n.Points[i]:
			out = append(out, fmt.Sprintf("%s: point %d was %s, is %s", n.Frame, i+1, o.Points[i], n.Points[i]))
		}
	}
	of := map[string]string{}
	for _, f := range o.Fields {
		of[f[0]] = f[1]
	}
	for _, f := range n.Fields {
		t, ok := of[f[0]]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: field %s %s is new", n.Frame, f[0], f[1]))
		case t != f[1]:
			out = append(out, fmt.Sprintf("%s: field %s was %s, is %s", n.Frame, f[0], t, f[1]))
		}
		delete(of, f[0])
	}
	for name, t := range of {
		out = append(out, fmt.Sprintf("%s: field %s %s is gone", n.Frame, name, t))
	}
	return out
}
