package gen_test

import (
	"errors"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/gen"
)

var update = flag.Bool("update", false, "rewrite the golden files of the refusal tests")

// Each directory of testdata/refuse is a package with one refused
// construct; want.txt is what the generator says about it. All of them
// load in one run (loading is what takes time).
func TestRefusals(t *testing.T) {
	root, err := filepath.Abs("testdata/refuse")
	require.NoError(t, err)
	dirs, err := os.ReadDir(root)
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	files, err := gen.Generate(root, "./...")
	require.Error(t, err)
	assert.Nil(t, files, "nothing is written when something is refused")
	var re *gen.RefusedError
	require.True(t, errors.As(err, &re), "%v", err)
	assert.ErrorIs(t, err, gen.ErrRefused)
	byDir := map[string][]string{}
	for _, r := range re.Refusals {
		assert.NotEmpty(t, r.Fix, "every refusal says how to fix it")
		assert.Positive(t, r.Pos.Line)
		dir := filepath.Dir(r.Pos.Filename)
		byDir[filepath.Base(dir)] = append(byDir[filepath.Base(dir)], strings.ReplaceAll(r.Error(), dir+string(filepath.Separator), ""))
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			got := strings.Join(byDir[d.Name()], "\n") + "\n"
			golden := filepath.Join(root, d.Name(), "want.txt")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./gen -run TestRefusals -update to write it")
			assert.Equal(t, string(want), got)
		})
	}
}

// The generated files of the repository match their sources: a stale one
// fails here (and so `make test`); run `go generate ./...` to refresh.
// TestGeneratedFilesAreFresh fails when any *_stackless.go of the module
// is not what the generator writes for its source today (an edited flow
// not regenerated would run its old code). One load for every package:
// type-checking is most of this test's time, so no package repeats it.
func TestGeneratedFilesAreFresh(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	files, err := gen.Generate(root, "./...")
	require.NoError(t, err)
	var paths []string
	for _, f := range files {
		rel, err := filepath.Rel(root, f.Path)
		require.NoError(t, err)
		paths = append(paths, filepath.ToSlash(rel))
		old, err := os.ReadFile(f.Path)
		require.NoError(t, err, "%s is missing: run go generate ./... (or stackless gen ./...)", f.Path)
		assert.Equal(t, string(f.Content), string(old), "%s is stale: run go generate ./... (or stackless gen ./...)", f.Path)
		formatted, err := format.Source(f.Content)
		require.NoError(t, err)
		assert.Equal(t, string(formatted), string(f.Content), "%s is gofmt-clean", f.Path)
	}
	// The packages known to hold flows are among them: a load that
	// silently found nothing must not pass.
	for _, want := range []string{"gen/internal/flowtest/", "examples/tour/", "examples/saving/",
		"examples/pingpong/game/", "examples/gameai/game/", "examples/longtask/task/"} {
		found := false
		for _, p := range paths {
			found = found || strings.HasPrefix(p, want)
		}
		assert.True(t, found, "no generated file under %s in %v", want, paths)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// A layout change under the same version= is refused with what changed; a
// raised version is accepted; a lowered one is refused.
func TestVersionCheck(t *testing.T) {
	dir, err := os.MkdirTemp("testdata", "prop-version-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	src := func(version int, body string) {
		code := fmt.Sprintf(`package v

import "github.com/stackless-go/stackless/tasklet"

//stackless:tasklet kind=v.counter version=%d
func Counter(t *tasklet.Flow, n int) error {
	count := 0
	for count < n {
%s
		count++
	}
	return nil
}
`, version, body)
		require.NoError(t, os.WriteFile(filepath.Join(abs, "v.go"), []byte(code), 0o644))
	}
	generate := func() error {
		files, err := gen.Generate(abs, ".")
		if err == nil {
			_, err = gen.Write(files)
		}
		return err
	}
	src(1, "\t\t_ = t.Yield()")
	require.NoError(t, generate())

	src(1, "\t\t_ = t.Sleep(1)\n\t\t_ = t.Yield()")
	err = generate()
	require.ErrorIs(t, err, gen.ErrRefused, "a point inserted before another renumbers it")
	assert.Contains(t, err.Error(), `the layout of kind "v.counter" changed but its version is still 1`)
	assert.Contains(t, err.Error(), "point 1 was t.Yield, is t.Sleep")
	assert.Contains(t, err.Error(), "raise to version=2")

	src(1, "\t\tlast := count\n\t\t_ = t.Yield()\n\t\tcount = last")
	err = generate()
	require.ErrorIs(t, err, gen.ErrRefused, "a variable newly read after a point")
	assert.Contains(t, err.Error(), "after point 1 (t.Yield) the code reads field Last int, which saves at that point do not hold")

	src(1, "\t\tif count > 100 {\n\t\t\tcount--\n\t\t}\n\t\t_ = t.Yield()")
	require.NoError(t, generate(), "code between points may change")

	src(1, "\t\t_ = t.Yield()\n\t\t_ = t.Sleep(1)")
	require.NoError(t, generate(), "a point after the others holds no old save")

	src(1, "\t\t_ = t.Yield()")
	err = generate()
	require.ErrorIs(t, err, gen.ErrRefused, "saves at a point that is gone")
	assert.Contains(t, err.Error(), "point 2 (t.Sleep) is gone")

	src(2, "\t\t_ = t.Sleep(1)\n\t\t_ = t.Yield()")
	require.NoError(t, generate(), "a raised version may change the layout")
	out, err := os.ReadFile(filepath.Join(abs, "v_stackless.go"))
	require.NoError(t, err)
	assert.Contains(t, string(out), "type CounterTaskletV1 struct", "the old layout is kept to read old saves")
	assert.Contains(t, string(out), "pickle.Upgrade(1, upgradeCounterV1)")
	skeleton := filepath.Join(abs, "v_upgrade_v1.go")
	require.FileExists(t, skeleton, "an upgrade skeleton is written")
	require.NoError(t, os.WriteFile(skeleton, []byte(mustRead(t, skeleton)+"\n// edited.\n"), 0o644))
	require.NoError(t, generate(), "regenerating keeps the old layout")
	assert.Contains(t, mustRead(t, skeleton), "// edited.", "the skeleton is the user's once written")
	assert.Contains(t, mustRead(t, filepath.Join(abs, "v_stackless.go")), "type CounterTaskletV1 struct")
	build := exec.Command("go", "vet", ".")
	build.Dir = abs
	vout, err := build.CombinedOutput()
	require.NoError(t, err, "the package with its upgrade compiles: %s", vout)

	src(1, "\t\t_ = t.Sleep(1)\n\t\t_ = t.Yield()")
	err = generate()
	require.ErrorIs(t, err, gen.ErrRefused)
	assert.Contains(t, err.Error(), "went from version 2 down to 1")
}

// A method tasklet's receiver is one of its constructor's values: the
// upgrade skeleton copies it for a tasklet not started yet, as it copies
// the parameters.
func TestUpgradeOfAMethodKeepsItsReceiver(t *testing.T) {
	dir, err := os.MkdirTemp("testdata", "prop-method-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	src := func(version int, body string) {
		code := fmt.Sprintf(`package m

import "github.com/stackless-go/stackless/tasklet"

type Sentry struct{ HP int }

//stackless:tasklet kind=m.watch version=%d
func (s Sentry) Watch(t *tasklet.Flow, n int) error {
%s
	s.HP += n
	return nil
}
`, version, body)
		require.NoError(t, os.WriteFile(filepath.Join(abs, "m.go"), []byte(code), 0o644))
		files, err := gen.Generate(abs, ".")
		require.NoError(t, err)
		_, err = gen.Write(files)
		require.NoError(t, err)
	}
	src(1, "	_ = t.Yield()")
	src(2, "	_ = t.Sleep(1)")
	skeleton := mustRead(t, filepath.Join(abs, "m_upgrade_v1.go"))
	assert.Contains(t, skeleton, "case 0: // not started yet\n\t\tn.PC = 0\n\t\tn.S = old.S\n\t\tn.N = old.N\n")
	build := exec.Command("go", "vet", ".")
	build.Dir = abs
	vout, err := build.CombinedOutput()
	require.NoError(t, err, "the package with its upgrade compiles: %s", vout)
}

// A pattern that names no package is an error, not a run that lowers
// nothing and succeeds; so is a directory outside any module.
func TestPatternsThatNameNothingAreRefused(t *testing.T) {
	root, err := filepath.Abs("testdata/refuse")
	require.NoError(t, err)
	for _, pattern := range []string{"./nope", filepath.Join(root, "missing")} {
		files, err := gen.Generate(root, pattern)
		require.Error(t, err, pattern)
		assert.Nil(t, files)
		assert.Contains(t, err.Error(), "directory not found", pattern)
		assert.Contains(t, err.Error(), "./...", "says how packages are named")
	}

	_, err = gen.Generate(t.TempDir(), ".")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not inside a Go module")
}

// A package that does not parse is an error even when nothing in it names
// a flow: it was passed over as holding no flows and gen exited 0.
func TestAPackageThatDoesNotParseIsAnError(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/broken\n\ngo 1.26\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.go"), []byte("package broken\n\nfunc broken( {\n"), 0o600))
	files, err := gen.Generate(dir, ".")
	require.Error(t, err)
	assert.Nil(t, files)
	assert.Contains(t, err.Error(), "do not compile")
	assert.Contains(t, err.Error(), "a.go:3", "names the file and line")
}

// A TMPDIR naming nothing, or a file, is named as TMPDIR: the go command
// that lists the packages needs the folder, and said only "stat PATH".
func TestATempDirThatIsNoFolderIsNamed(t *testing.T) {
	root, err := filepath.Abs("testdata/refuse")
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for tmp, what := range map[string]string{filepath.Join(t.TempDir(), "missing"): "does not exist", file: "is not a folder"} {
		t.Setenv("TMPDIR", tmp)
		_, err := gen.Generate(filepath.Join(root, "defer"), ".")
		require.Error(t, err, tmp)
		assert.Contains(t, err.Error(), "the temporary folder "+tmp+" (TMPDIR) ", tmp)
		assert.Contains(t, err.Error(), what, tmp)
		assert.Contains(t, err.Error(), "set TMPDIR to a writable folder")
	}
}

// Generating the same package twice writes the same bytes: what gen names
// (fields of locals saved for a linked parameter, among them two locals of
// one name) does not depend on the order of a map.
func TestGenerateIsDeterministic(t *testing.T) {
	root, err := filepath.Abs("testdata")
	require.NoError(t, err)
	first, err := gen.Generate(root, "./linked")
	require.NoError(t, err)
	require.Len(t, first, 1)
	assert.Contains(t, string(first[0].Content), "Buf2", "both locals named buf are saved, under two names")
	for range 4 {
		again, err := gen.Generate(root, "./linked")
		require.NoError(t, err)
		require.Len(t, again, 1)
		assert.Equal(t, string(first[0].Content), string(again[0].Content))
	}
}
