package gen

import (
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// When a tasklet's version= goes up, the generated file keeps every older
// layout as a struct of its own (GuardTaskletV1, and its frames with the
// same suffix), registers pickle.Upgrade from each older version, and gen
// writes, once, a skeleton upgrade function per older version into
// FILE_upgrade_vN.go for the user to fill in: it maps an old save onto
// the new code.

func upgradesHere(kind string) string { return "/*upgrades:" + kind + "*/" }

// upgrades adds the old layouts of raised kinds to content, and returns the
// old records to keep and the skeleton files to create.
func (g *pkgGen) upgrades(fns []*flowFn, path, content string, newRecs, old []layoutRec) (string, []layoutRec, []File, error) {
	var kept []layoutRec
	var extra strings.Builder
	var skeletons []File
	imports := map[string]string{}
	for _, fn := range fns {
		if !fn.marked {
			continue
		}
		byVersion := map[int][]layoutRec{}
		for _, r := range old {
			if r.Kind == fn.kind && r.Version < fn.version {
				byVersion[r.Version] = append(byVersion[r.Version], r)
			}
		}
		var versions []int
		for v := range byVersion {
			versions = append(versions, v)
		}
		sort.Ints(versions)
		var opts []string
		for _, v := range versions {
			recs := byVersion[v]
			kept = append(kept, recs...)
			suffix := fmt.Sprintf("V%d", v)
			var frames []string
			for _, r := range recs {
				frames = append(frames, r.Frame)
			}
			rename := frameRenamer(frames, suffix)
			for _, r := range recs {
				fmt.Fprintf(&extra, "\n// %s%s is the layout of %s (kind %q) at version %d, kept to\n// read its saves; see %s.\ntype %s%s struct {\n\tPC int\n", r.Frame, suffix, fn.name(), fn.kind, v, upgradeFunc(fn, v), r.Frame, suffix)
				for _, f := range r.Fields {
					fmt.Fprintf(&extra, "\t%s %s\n", f[0], rename(f[1]))
				}
				extra.WriteString("}\n")
				for name, p := range r.Imports {
					imports[name] = p
				}
			}
			opts = append(opts, fmt.Sprintf(", pickle.Upgrade(%d, %s)", v, upgradeFunc(fn, v)))
			if g.pkg.Types.Scope().Lookup(upgradeFunc(fn, v)) == nil {
				skeletons = append(skeletons, g.skeleton(fn, path, v, frameRec(newRecs, fn), frameRec(byVersion[v], fn)))
			}
		}
		// gofmt put a space before the placeholder comment.
		content = strings.Replace(content, " "+upgradesHere(fn.kind), strings.Join(opts, ""), 1)
		content = strings.Replace(content, upgradesHere(fn.kind), strings.Join(opts, ""), 1)
	}
	if extra.Len() == 0 {
		return content, nil, nil, nil
	}
	content += extra.String()
	var missing []string
	for name, p := range imports {
		if !strings.Contains(content, fmt.Sprintf("%q", p)) {
			missing = append(missing, fmt.Sprintf("%s %q", name, p))
		}
	}
	if len(missing) > 0 {
		content = strings.Replace(content, "import (\n", "import (\n"+strings.Join(missing, "\n")+"\n", 1)
	}
	src, err := format.Source([]byte(content))
	if err != nil {
		dump := filepath.Join(os.TempDir(), "stackless-gen-"+filepath.Base(path)+".txt")
		_ = os.WriteFile(dump, []byte(content), 0o644)
		return "", nil, nil, fmt.Errorf("gen: the old layouts of %s do not parse (a bug of the generator; the code is in %s): %w", path, dump, err)
	}
	return string(src), kept, skeletons, nil
}

func upgradeFunc(fn *flowFn, v int) string {
	return fmt.Sprintf("upgrade%sV%d", exported(fn.ident()), v)
}

// frameRenamer renames the frame types of an old layout in a field type.
func frameRenamer(frames []string, suffix string) func(string) string {
	if len(frames) == 0 {
		return func(s string) string { return s }
	}
	re := regexp.MustCompile(`\b(` + strings.Join(frames, "|") + `)\b`)
	return func(s string) string { return re.ReplaceAllString(s, "${1}"+suffix) }
}

func frameRec(recs []layoutRec, fn *flowFn) *layoutRec {
	for i := range recs {
		if recs[i].Kind == fn.kind && recs[i].Frame == fn.typ {
			return &recs[i]
		}
	}
	return nil
}

// skeleton is the upgrade function of fn from version v for the user to
// write, in a file of its own that gen never touches again. It maps what
// it can: a tasklet not started yet, and each point of the old layout
// that has a name the new layout has too, when every field the new code
// reads after it is in the old layout with the same name and type (those
// are copied). The other points fail the upgrade with an error naming
// them, until the user writes their mapping.
func (g *pkgGen) skeleton(fn *flowFn, path string, v int, nrec, orec *layoutRec) File {
	name := upgradeFunc(fn, v)
	oldType := fmt.Sprintf("%sV%d", fn.typ, v)
	var cases strings.Builder
	if nrec != nil && orec != nil {
		oldField := map[string]string{}
		for _, f := range orec.Fields {
			oldField[f[0]] = f[1]
		}
		newField := map[string]string{}
		for _, f := range nrec.Fields {
			newField[f[0]] = f[1]
		}
		copies := func(fields []string) ([]string, string) {
			var out []string
			for _, f := range fields {
				if oldField[f] != newField[f] {
					return nil, f
				}
				out = append(out, f)
			}
			return out, ""
		}
		var params []string
		if loc := fn.vars[fn.recv]; fn.recv != nil && loc != nil {
			params = append(params, loc.fname) // a method's receiver, set by its constructor too
		}
		for i := 1; i < fn.sig.Params().Len(); i++ {
			if loc := fn.vars[fn.sig.Params().At(i)]; loc != nil {
				params = append(params, loc.fname)
			}
		}
		writeCase := func(oldPC, newPC int, what string, fields []string) {
			fs, missing := copies(fields)
			fmt.Fprintf(&cases, "\tcase %d: // %s\n", oldPC, what)
			if missing != "" {
				fmt.Fprintf(&cases, "\t\t// the new code reads %s there, which version %d does not hold as %s: map it by hand\n", missing, v, newField[missing])
				fmt.Fprintf(&cases, "\t\treturn nil, fmt.Errorf(\"%s: no upgrade from version %d at point %%d written yet (edit %s)\", old.PC)\n", fn.kind, v, name)
				return
			}
			fmt.Fprintf(&cases, "\t\tn.PC = %d\n", newPC)
			for _, f := range fs {
				fmt.Fprintf(&cases, "\t\tn.%s = old.%s\n", f, f)
			}
		}
		writeCase(0, 0, "not started yet", params)
		var names []string
		for n := range orec.Names {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, pn := range names {
			opc := orec.Names[pn]
			npc, ok := nrec.Names[pn]
			if !ok || opc > len(orec.Points) || npc > len(nrec.Points) || orec.Points[opc-1] != nrec.Points[npc-1] {
				continue
			}
			if strings.HasPrefix(nrec.Points[npc-1], "call of ") {
				continue // the callee's frame changes type: by hand
			}
			writeCase(opc, npc, fmt.Sprintf("point %s (%s), by name", pn, nrec.Points[npc-1]), nrec.Live[npc-1])
		}
	}
	src := fmt.Sprintf(`package %s

import (
	"fmt"

	"github.com/stackless-go/stackless/tasklet"
)

// %s maps a %s tasklet saved at version %d onto version %d: set the new
// %s's fields from old's, and PC to the suspension point of the new code
// that corresponds to old.PC (the layouts of both are recorded at the top
// of the generated file). stackless gen wrote this skeleton once, mapping
// the points that keep their //stackless:point name and whose fields did
// not change; it is yours to edit and is never overwritten.
func %s(old *%s) (tasklet.Behavior, error) {
	n := &%s{}
	switch old.PC {
%s	default:
		return nil, fmt.Errorf("%s: no upgrade from version %d at point %%d written yet (edit %s)", old.PC)
	}
	return n, nil
}
`, g.pkg.Name, name, fn.kind, v, fn.version, fn.typ, name, oldType, fn.typ, cases.String(), fn.kind, v, name)
	out, err := format.Source([]byte(src))
	if err != nil {
		out = []byte(src)
	}
	return File{Path: fmt.Sprintf("%s_upgrade_v%d.go", strings.TrimSuffix(path, Suffix), v), Content: out}
}
