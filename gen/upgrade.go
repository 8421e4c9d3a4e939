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
func (g *pkgGen) upgrades(fns []*flowFn, path, content string, old []layoutRec) (string, []layoutRec, []File, error) {
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
				fmt.Fprintf(&extra, "\n// %s%s is the layout of %s (kind %q) at version %d, kept to\n// read its saves; see %s.\ntype %s%s struct {\n\tPC int\n", r.Frame, suffix, fn.obj.Name(), fn.kind, v, upgradeFunc(fn, v), r.Frame, suffix)
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
				skeletons = append(skeletons, g.skeleton(fn, path, v))
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
		return "", nil, nil, fmt.Errorf("stackless gen: the old layouts of %s do not parse (a bug of the generator; the code is in %s): %w", path, dump, err)
	}
	return string(src), kept, skeletons, nil
}

func upgradeFunc(fn *flowFn, v int) string {
	return fmt.Sprintf("upgrade%sV%d", exported(fn.obj.Name()), v)
}

// frameRenamer renames the frame types of an old layout in a field type.
func frameRenamer(frames []string, suffix string) func(string) string {
	if len(frames) == 0 {
		return func(s string) string { return s }
	}
	re := regexp.MustCompile(`\b(` + strings.Join(frames, "|") + `)\b`)
	return func(s string) string { return re.ReplaceAllString(s, "${1}"+suffix) }
}

// skeleton is the upgrade function of fn from version v for the user to
// write, in a file of its own that gen never touches again.
func (g *pkgGen) skeleton(fn *flowFn, path string, v int) File {
	name := upgradeFunc(fn, v)
	oldType := fmt.Sprintf("%sV%d", fn.typ, v)
	src := fmt.Sprintf(`package %s

import (
	"fmt"

	"github.com/stackless-go/stackless/tasklet"
)

// %s maps a %s tasklet saved at version %d onto version %d: set the new
// %s's fields from old's, and PC to the suspension point of the new code
// that corresponds to old.PC (the layouts of both are recorded at the top
// of the generated file). stackless gen wrote this skeleton once; it is
// yours to edit and is never overwritten.
func %s(old *%s) (tasklet.Behavior, error) {
	return nil, fmt.Errorf("%s: no upgrade from version %d written yet (edit %s)")
}
`, g.pkg.Name, name, fn.kind, v, fn.version, fn.typ, name, oldType, fn.kind, v, name)
	out, err := format.Source([]byte(src))
	if err != nil {
		out = []byte(src)
	}
	return File{Path: fmt.Sprintf("%s_upgrade_v%d.go", strings.TrimSuffix(path, Suffix), v), Content: out}
}
