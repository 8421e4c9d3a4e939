package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// walk calls fn for every command of the tree, root first.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// Help shows each flag's value as one word: pflag takes a backquoted word
// in a usage string as the value's name, so "made by `stackless cluster
// certs`" showed as "--tls stackless cluster certs".
func TestFlagValueNames(t *testing.T) {
	walk(NewRoot(), func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			name, usage := pflag.UnquoteUsage(f)
			assert.False(t, strings.ContainsFunc(name, unicode.IsSpace), "%s --%s: value name %q", c.CommandPath(), f.Name, name)
			assert.NotContains(t, usage, "`", "%s --%s", c.CommandPath(), f.Name)
		})
		assert.NotContains(t, c.Flags().FlagUsages(), "`", c.CommandPath())
	})
}

// validArgs are positional arguments each command accepts, so that a test
// reaches its flag checks; the paths do not exist and the cluster
// directory holds no cluster, so nothing runs if a check is missing.
func validArgs(t *testing.T, path string) []string {
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "missing")
	switch path {
	case "stackless cluster up":
		return []string{"--data", tmp}
	case "stackless cluster spawn":
		return []string{"work", "--cluster", tmp}
	case "stackless cluster migrate", "stackless cluster kill", "stackless cluster throw":
		return []string{"t1", "--cluster", tmp}
	case "stackless cluster status", "stackless cluster down", "stackless cluster ps",
		"stackless cluster checkpoint", "stackless cluster restore":
		return []string{"--cluster", tmp}
	case "stackless inspect", "stackless checkpoint ls":
		return []string{missing}
	case "stackless checkpoint rm":
		return []string{missing, "1"}
	case "stackless checkpoint export":
		return []string{missing, filepath.Join(tmp, "out.snapshot")}
	case "stackless demo longtask", "stackless demo gameai":
		return []string{"--data", missing}
	case "stackless worker":
		return []string{"--cluster", tmp}
	}
	return nil
}

// Every numeric flag has a least value, and a value below it is a usage
// error (exit 2) naming the flag, before anything runs: --checkpoint-every
// -5s and cluster restore -n 0 were taken. The cases are made from the
// bounds themselves, so a new flag is covered once it has one.
func TestEveryNumericFlagHasABound(t *testing.T) {
	type flagCase struct {
		cmd  *cobra.Command
		flag *pflag.Flag
	}
	var cases []flagCase
	walk(NewRoot(), func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) { // its own and its persistent ones
			if _, ok := numeric(f, "0"); !ok {
				return // not a number
			}
			if !assert.NotEmpty(t, f.Annotations[minAnnotation], "%s --%s has no least value: call atLeast", c.CommandPath(), f.Name) {
				return
			}
			cases = append(cases, flagCase{c, f})
		})
	})
	require.NotEmpty(t, cases)
	for _, fc := range cases {
		path := fc.cmd.CommandPath()
		if len(fc.cmd.Commands()) > 0 { // a persistent flag of a group: try it on a subcommand
			fc.cmd = fc.cmd.Commands()[0]
		}
		min, _ := numeric(fc.flag, fc.flag.Annotations[minAnnotation][0])
		bad := strconv.FormatFloat(min-1, 'f', -1, 64)
		if fc.flag.Value.Type() == "duration" {
			bad = time.Duration(min - 1).String()
			if min == 1 { // more than 0: 0 and below are refused
				bad = "-5s"
			}
		}
		if strings.HasPrefix(fc.flag.Value.Type(), "uint") && min == 0 {
			continue // cannot be given a negative value at all
		}
		t.Run(path+" --"+fc.flag.Name+"="+bad, func(t *testing.T) {
			args := append(strings.Fields(strings.TrimPrefix(fc.cmd.CommandPath(), "stackless")), validArgs(t, fc.cmd.CommandPath())...)
			code, out, errOut := run(t, append(args, "--"+fc.flag.Name+"="+bad)...)
			assert.Equal(t, exitUsage, code, "stdout: %s\nstderr: %s", out, errOut)
			assert.Contains(t, errOut, "--"+fc.flag.Name+" must be", "the message names the flag")
		})
	}
}

// Every FILE or DIR flag given as an empty string is a usage error naming
// the flag: `cluster up --data ""` exited 1 from the library, `demo
// longtask --data ""` ran on the default directory.
func TestEveryPathFlagRefusesAnEmptyValue(t *testing.T) {
	n := 0
	walk(NewRoot(), func(c *cobra.Command) {
		if !c.Runnable() {
			return
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if what, _ := pflag.UnquoteUsage(f); f.Value.Type() != "string" || (what != "FILE" && what != "DIR") {
				return
			}
			n++
			path := c.CommandPath()
			t.Run(path+" --"+f.Name, func(t *testing.T) {
				args := append(strings.Fields(strings.TrimPrefix(path, "stackless")), validArgs(t, path)...)
				code, out, errOut := run(t, append(args, "--"+f.Name+"= ")...)
				assert.Equal(t, exitUsage, code, "stdout: %s\nstderr: %s", out, errOut)
				assert.Contains(t, errOut, "--"+f.Name, "the message names the flag")
			})
		})
	})
	assert.Greater(t, n, 20, "the FILE and DIR flags were found")
}

// A DIR flag naming something that is not a directory, and a FILE flag
// naming a directory, are usage errors saying what the path is: `--cluster
// FIFO` said "stat FIFO/secret: not a directory" (exit 1).
func TestPathFlagsOfTheWrongKind(t *testing.T) {
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	file := filepath.Join(tmp, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cluster", "status", "--cluster", fifo}, "--cluster " + fifo + " is a named pipe (FIFO), not a directory"},
		{[]string{"cluster", "up", "--data", file}, "--data " + file + " is a regular file, not a directory"},
		{[]string{"demo", "longtask", "--data", file}, "--data " + file + " is a regular file, not a directory"},
		{[]string{"cluster", "ps", "--secret", tmp}, "--secret " + tmp + " is a directory: give a file"},
		{[]string{"demo", "gameai", "--data", tmp, "--render", tmp + "/nope/w.png"}, "--render " + tmp + "/nope/w.png: the folder " + tmp + "/nope does not exist"},
	} {
		code, out, errOut := run(t, tc.args...)
		assert.Equal(t, exitUsage, code, "%v: stdout: %s\nstderr: %s", tc.args, out, errOut)
		assert.Contains(t, errOut, tc.want, tc.args)
	}
}

// A value at the bound is taken (the check is not off by one).
func TestFlagBoundsAcceptTheLeastValue(t *testing.T) {
	code, _, errOut := run(t, "demo", "pingpong", "-n", "0")
	assert.Equal(t, exitOK, code, errOut)
	code, _, errOut = run(t, "inspect", filepath.Join(t.TempDir(), "missing"), "--limit", "0", "--lock-timeout", "1ms")
	assert.Equal(t, exitFailure, code, "a missing file, not a bad flag: %s", errOut)
	assert.Contains(t, errOut, "no such file")
}
