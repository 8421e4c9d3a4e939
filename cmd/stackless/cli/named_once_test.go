package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/store"
)

// assertNamedOnce checks that an error printed by execute names the program
// and its command once: execute writes "stackless: " before every error, so
// the error itself must not start with the program's name again, quote a
// command path that starts with it, or repeat its own leading label
// ("gameai: gameai: ...").
func assertNamedOnce(t *testing.T, errOut string) {
	t.Helper()
	line, _, _ := strings.Cut(errOut, "\n")
	msg, ok := strings.CutPrefix(line, "stackless: ")
	require.True(t, ok, "the error starts with the program's name: %q", errOut)
	assert.False(t, strings.HasPrefix(msg, "stackless"), "the program named twice: %q", line)
	assert.NotContains(t, msg, `"stackless`, "a command path with the program's name in it: %q", line)
	if parts := strings.SplitN(msg, ": ", 3); len(parts) == 3 {
		assert.NotEqual(t, parts[0], parts[1], "a label said twice: %q", line)
	}
}

// Errors that named the program or the command twice; each case failed
// before.
func TestErrorsNameTheProgramOnce(t *testing.T) {
	// A save file that holds no game: --load finds it but nothing in it.
	data := t.TempDir()
	db, err := store.Open(filepath.Join(data, "gameai.db"))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		// "stackless: gameai: gameai: DIR/gameai.db holds no saved game"
		{[]string{"demo", "gameai", "--load", "--data", data}, exitFailure, "holds no saved game"},
		{[]string{"demo", "gameai", "--load", "--data", data, "--http", "127.0.0.1:0"}, exitFailure, "holds no saved game"},
		// The game's checks named its options without the "--" of their
		// flags: "dt must be ...", "pass fewer, or save-every 0".
		{[]string{"demo", "gameai", "--dt", "2s", "--data", data}, exitUsage, "gameai: bad options: --dt must be more than 0 and at most 1s, got 2s"},
		{[]string{"demo", "gameai", "--entities", "1000001", "--data", data}, exitUsage, "--entities 1000001: a game of more than 1000000 entities cannot be saved: pass fewer, or --save-every 0 to play without saving"},
		{[]string{"demo", "gameai", "--size", "9000", "--data", data}, exitUsage, "--size must be 16 to 8192 pixels, got 9000"},
		// "stackless: stackless inspect takes FILE|DIR, got 0 arg(s)"
		{[]string{"inspect"}, exitUsage, "inspect takes FILE|DIR, got 0"},
		{[]string{"checkpoint", "export", "a", "b", "c"}, exitUsage, "checkpoint export takes"},
		// cobra's: `unknown command "x" for "stackless demo gameai"`
		{[]string{"demo", "gameai", "x"}, exitUsage, `demo gameai takes no arguments, got ["x"]`},
		// cobra's: `unknown command "chekpoint" for "stackless"`
		{[]string{"chekpoint"}, exitUsage, `unknown command "chekpoint" (did you mean checkpoint?); the commands are: `},
		{[]string{"cluster", "stauts"}, exitUsage, `(did you mean status?); cluster's commands are: `},
		// cobra's help printed "Unknown help topic" and the root's help,
		// and exited 0.
		{[]string{"help", "demo", "gamai"}, exitUsage, "no help topic \"demo gamai\": give a command"},
		// `"stackless checkpoint" needs a command`
		{[]string{"checkpoint"}, exitUsage, "checkpoint needs a command: export, ls, rm"},
		{nil, exitUsage, "give a command: bench,"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, tc.args...)
			assert.Equal(t, tc.code, code, errOut)
			assert.Contains(t, errOut, tc.want)
			assertNamedOnce(t, errOut)
		})
	}
}

// help shows a command's help.
func TestHelpCommand(t *testing.T) {
	assert.Contains(t, runOK(t, "help", "demo", "gameai"), "stackless demo gameai [flags]")
	assert.Contains(t, runOK(t, "help"), "Available Commands")
	code, out, _ := run(t, "__complete", "help", "cluster", "st")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "status\t")
}

// gen's errors read "stackless: stackless gen: ...".
func TestGenErrorsNameTheProgramOnce(t *testing.T) {
	t.Chdir(t.TempDir()) // no go.mod here or above
	code, _, errOut := run(t, "gen")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, "stackless: gen: ")
	assert.Contains(t, errOut, "is not inside a Go module")
	assertNamedOnce(t, errOut)

	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "nosuch"))
	code, _, errOut = run(t, "gen")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, "(TMPDIR) does not exist")
	assertNamedOnce(t, errOut)
}

// Every command given arguments it does not take, or a flag it does not
// know, names itself once and exits 2; --help works everywhere.
func TestEveryCommandRefusesStrayArguments(t *testing.T) {
	var walk func(c *cobra.Command)
	var leaves [][]string
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "gen" { // help takes topics; gen takes any package patterns
				continue
			}
			walk(sub)
		}
		if path := strings.Fields(c.CommandPath())[1:]; len(path) > 0 {
			leaves = append(leaves, path)
		}
	}
	walk(NewRoot())
	require.Greater(t, len(leaves), 20)
	for _, path := range leaves {
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			// Five arguments: more than any command here takes, except
			// checkpoint rm (FILE GEN...), which fails on the missing FILE.
			args := append(append([]string{}, path...), "no-such-1", "2", "3", "4", "5")
			code, out, errOut := run(t, args...)
			if path[len(path)-1] != "rm" {
				assert.Equal(t, exitUsage, code, errOut)
			}
			assert.Empty(t, out)
			assertNamedOnce(t, errOut)

			code, _, errOut = run(t, append(append([]string{}, path...), "--no-such-flag")...)
			assert.Equal(t, exitUsage, code, errOut)
			assert.Contains(t, errOut, "unknown flag: --no-such-flag")
			assertNamedOnce(t, errOut)

			assert.Contains(t, runOK(t, append(append([]string{}, path...), "--help")...), "Usage:")
		})
	}
}

// A value pflag cannot parse said Go's parser's words ("strconv.ParseInt:
// parsing "1e6": invalid syntax"); now what the flag wants.
func TestBadFlagValuesSayWhatTheyWant(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "gameai", "--entities", "1e6"}, `--entities "1e6": want a whole number, at least 2`},
		{[]string{"demo", "gameai", "--entities", "99999999999999999999"}, `--entities "99999999999999999999": want a smaller number: it does not fit in 64 bits`},
		{[]string{"demo", "gameai", "--dt", "5"}, `--dt "5": want a duration with its unit, such as 100ms, 2s or 1m30s`},
		{[]string{"checkpoint", "export", "a", "b", "--gen", "-1"}, `--gen "-1": want a whole number, 1 or more`},
		{[]string{"version", "-o", "xml"}, `invalid argument "xml" for "-o, --output" flag: unknown output format "xml": must be one of table, json`},
	} {
		code, _, errOut := run(t, tc.args...)
		assert.Equal(t, exitUsage, code, errOut)
		assert.Equal(t, "stackless: "+tc.want, strings.SplitN(errOut, "\n", 2)[0])
		assert.NotContains(t, errOut, "strconv.")
	}
}
