package gen_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/gen"
)

// namedPkg is a package under testdata that a test writes, generates and
// runs `go test` in; it is removed when the test ends.
type namedPkg struct {
	t   *testing.T
	dir string
}

func newNamedPkg(t *testing.T) *namedPkg {
	dir, err := os.MkdirTemp("testdata", "prop-named-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	return &namedPkg{t: t, dir: abs}
}

func (p *namedPkg) write(name, src string) {
	require.NoError(p.t, os.WriteFile(filepath.Join(p.dir, name), []byte(src), 0o644))
}

func (p *namedPkg) remove(name string) { require.NoError(p.t, os.Remove(filepath.Join(p.dir, name))) }

func (p *namedPkg) generate() error {
	files, err := gen.Generate(p.dir, ".")
	if err == nil {
		_, err = gen.Write(files)
	}
	return err
}

func (p *namedPkg) goTest(run string) string {
	cmd := exec.Command("go", "test", "-count=1", "-v", "-run", run, ".")
	cmd.Dir = p.dir
	out, err := cmd.CombinedOutput()
	require.NoError(p.t, err, "%s", out)
	return string(out)
}

// counterSrc is a tasklet whose loop body is body.
func counterSrc(version, body string) string {
	return `package named

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

//stackless:tasklet kind=named.counter version=` + version + `
func Counter(t *tasklet.Flow, out channel.ID, n int) error {
	count := 0
	for count < n {
` + body + `
	}
	//stackless:point done
	return t.Send(out, fmt.Sprint("done ", count))
}
`
}

const namedV1 = `		//stackless:point report
		_ = t.Send(out, fmt.Sprint("v1 ", count))
		//stackless:point tick
		_ = t.Yield()
		count++`

// namedEdited adds a point before the others and moves and changes the
// code between them.
const namedEdited = `		_ = t.Yield()
		//stackless:point tick
		_ = t.Yield()
		count += 10
		//stackless:point report
		_ = t.Send(out, fmt.Sprint("v2 ", count))`

// saveTest runs Counter until it is suspended at each named point and
// writes the world then to a file named after the point.
const saveTest = `package named

import (
	"os"
	"testing"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

func TestSave(t *testing.T) {
	for _, at := range []struct {
		name      string
		pc, count int
	}{{"tick", 2, 2}, {"report", 1, 3}} {
		s := scheduler.New()
		out := s.NewChannel(100)
		id := s.Spawn(NewCounter(out, 25))
		for {
			ts, err := s.TaskletState(id)
			if err != nil {
				t.Fatal(err)
			}
			if c := ts.Behavior.(*CounterTasklet); c.PC == at.pc && c.Count == at.count {
				break
			}
			if err := s.Tick(); err != nil {
				t.Fatal(err)
			}
		}
		blob, err := pickle.Default.DumpWorld(s.World())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(at.name+".world", blob, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
`

// loadTest restores each saved world and prints what Counter sends from
// then on.
const loadTest = `package named

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

func TestLoad(t *testing.T) {
	for _, name := range []string{"tick", "report"} {
		blob, err := os.ReadFile(name + ".world")
		if err != nil {
			t.Fatal(err)
		}
		w, err := pickle.Default.LoadWorld(blob)
		if err != nil {
			t.Fatal(err)
		}
		s, err := scheduler.Restore(w)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		var trace []any
		for _, c := range s.World().Channels {
			trace = append(trace, c.Buffer...)
		}
		fmt.Printf("TRACE %s %v\n", name, trace)
	}
}
`

// A world saved at a named point before an edit that renumbers the other
// points restores into the edited code (same version) and finishes as the
// edited code does from that point.
func TestNamedPointsSurviveEdits(t *testing.T) {
	p := newNamedPkg(t)
	p.write("counter.go", counterSrc("1", namedV1))
	require.NoError(t, p.generate())
	p.write("save_test.go", saveTest)
	p.goTest("TestSave")

	p.write("counter.go", counterSrc("1", namedEdited))
	require.NoError(t, p.generate(), "named points keep their numbers: the edit is no layout change")
	p.remove("save_test.go")
	p.write("load_test.go", loadTest)
	out := p.goTest("TestLoad")
	// The saves hold the values sent before the save, then the edited
	// code runs on: from tick (count 2) it adds 10 and reports, from
	// report (count 3, already reported) it goes round the loop.
	assert.Contains(t, out, "TRACE tick [v1 0 v1 1 v1 2 v2 12 v2 22 v2 32 done 32]")
	assert.Contains(t, out, "TRACE report [v1 0 v1 1 v1 2 v1 3 v2 13 v2 23 v2 33 done 33]")

	// Without the names the same edit renumbers the points under old
	// saves, and the same version is refused.
	unnamed := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.Contains(l, "//stackless:point") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	p.remove("load_test.go")
	p.remove("counter_stackless.go")
	p.write("counter.go", counterSrc("1", unnamed(namedV1)))
	require.NoError(t, p.generate())
	p.write("counter.go", counterSrc("1", unnamed(namedEdited)))
	err := p.generate()
	require.ErrorIs(t, err, gen.ErrRefused)
	assert.Contains(t, err.Error(), "point 1 was t.Send, is t.Yield")
}

// The same-version check compares named points by name: a named point
// whose kind changes, or that is gone, is refused; and with the version
// raised, the upgrade skeleton maps the named points by name.
func TestNamedPointsVersions(t *testing.T) {
	p := newNamedPkg(t)
	p.write("counter.go", counterSrc("1", namedV1))
	require.NoError(t, p.generate())
	layout := mustRead(t, filepath.Join(p.dir, "counter_stackless.go"))
	assert.Contains(t, layout, `"names":{"done":3,"report":1,"tick":2}`, "the layout record names the points")

	// A renamed tasklet function is compared with its old frame (its
	// saves decode into the new type), and its named points keep their
	// numbers.
	renamed := func(src string) string { return strings.ReplaceAll(src, "func Counter(", "func Count(") }
	p.write("counter.go", renamed(counterSrc("1", strings.Replace(namedV1, "//stackless:point report", "", 1))))
	err := p.generate()
	require.ErrorIs(t, err, gen.ErrRefused)
	assert.Contains(t, err.Error(), "its frame CounterTasklet is now CountTasklet; CountTasklet: point 1 was t.Send named report, is t.Send")
	p.write("counter.go", renamed(counterSrc("1", "\t\t_ = t.Yield()\n"+namedV1)))
	require.NoError(t, p.generate(), "renamed, with a new point before the named ones")
	p.write("counter.go", counterSrc("1", namedV1))
	require.ErrorIs(t, p.generate(), gen.ErrRefused, "point 4 (the new one) would be gone")
	p.remove("counter_stackless.go")
	require.NoError(t, p.generate())

	p.write("counter.go", counterSrc("1", strings.Replace(namedV1, "_ = t.Yield()", "_ = t.Sleep(1)", 1)))
	err = p.generate()
	require.ErrorIs(t, err, gen.ErrRefused)
	assert.Contains(t, err.Error(), "point 2 was t.Yield named tick, is t.Sleep named tick")

	p.write("counter.go", counterSrc("1", strings.Replace(namedV1, "point tick", "point tock", 1)))
	err = p.generate()
	require.ErrorIs(t, err, gen.ErrRefused)
	assert.Contains(t, err.Error(), "point 2 was t.Yield named tick, is t.Yield named tock")

	// Version 2: the old layout is kept, and the skeleton maps the points
	// named in both by name (the new code numbers them afresh).
	p.write("counter.go", counterSrc("2", strings.Replace(strings.Replace(namedEdited, "count += 10", "count = last + 10", 1),
		"\t\t//stackless:point tick", "\t\tlast := count\n\t\t//stackless:point tick", 1)))
	require.NoError(t, p.generate())
	skeleton := mustRead(t, filepath.Join(p.dir, "counter_upgrade_v1.go"))
	assert.Contains(t, skeleton, "case 1: // point report (t.Send), by name\n\t\tn.PC = 1\n")
	assert.Contains(t, skeleton, "case 2: // point tick (t.Yield), by name\n\t\t// the new code reads Last there")
	assert.Contains(t, skeleton, "n.Count = old.Count")
	build := exec.Command("go", "vet", ".")
	build.Dir = p.dir
	vout, err := build.CombinedOutput()
	require.NoError(t, err, "the package with its upgrade skeleton compiles: %s", vout)
}
