package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the module's root, from this package's folder.
const repoRoot = "../../.."

// backquoted finds `stackless ...` in messages, help and docs.
var backquoted = regexp.MustCompile("`(?:bin/)?stackless( [^`\n]*)?`")

// checkMention checks that a command line such as "stackless cluster down
// --cluster DIR" names commands and flags that exist: each word that is not
// a flag or a placeholder (FILE, %s, KIND...) must be a subcommand, until a
// command without subcommands takes the rest as its arguments.
func checkMention(root *cobra.Command, line string) error {
	toks := strings.Fields(line)
	if len(toks) == 0 || strings.TrimPrefix(toks[0], "bin/") != "stackless" {
		return fmt.Errorf("%q: not a stackless command line", line)
	}
	cur, i, alternatives := root, 1, false
	for ; i < len(toks); i++ {
		tok := strings.Trim(toks[i], "[]")
		if !isWord(tok) {
			break
		}
		next := (*cobra.Command)(nil)
		for _, alt := range strings.Split(tok, "|") { // "gameai|longtask|pingpong"
			if next = subcommand(cur, alt); next == nil {
				break
			}
		}
		if next == nil {
			if len(cur.Commands()) > 0 {
				return fmt.Errorf("%q: %q has no command %q", line, cur.CommandPath(), tok)
			}
			break // an argument
		}
		alternatives = alternatives || strings.Contains(tok, "|")
		cur = next
	}
	if alternatives {
		return nil // the flags that follow belong to one of several commands
	}
	for _, tok := range toks[i:] {
		tok = strings.Trim(tok, "[]")
		name, _, _ := strings.Cut(strings.TrimLeft(tok, "-"), "=")
		switch {
		case name == "help" || name == "h" || name == "version":
		case strings.HasPrefix(tok, "--"):
			if cur.Flags().Lookup(name) == nil && cur.InheritedFlags().Lookup(name) == nil {
				return fmt.Errorf("%q: %q has no flag --%s", line, cur.CommandPath(), name)
			}
		case strings.HasPrefix(tok, "-") && len(name) == 1:
			if cur.Flags().ShorthandLookup(name) == nil && cur.InheritedFlags().ShorthandLookup(name) == nil {
				return fmt.Errorf("%q: %q has no flag -%s", line, cur.CommandPath(), name)
			}
		}
	}
	return nil
}

// isWord reports whether tok could name a command: lower-case letters,
// digits, dashes and "|" between alternatives; not a flag, a placeholder
// (FILE, N), a path or a format verb.
func isWord(tok string) bool {
	if tok == "" || !unicode.IsLower(rune(tok[0])) {
		return false
	}
	for _, r := range tok {
		if !unicode.IsLower(r) && !unicode.IsDigit(r) && r != '-' && r != '|' {
			return false
		}
	}
	return true
}

func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	if name == "help" && len(c.Commands()) > 0 {
		return c // cobra's help command
	}
	return nil
}

// fullRoot is the tree as Execute runs it, with cobra's completion command.
func fullRoot() *cobra.Command {
	root := NewRoot()
	root.InitDefaultCompletionCmd()
	return root
}

func TestCheckMention(t *testing.T) {
	root := fullRoot()
	for _, ok := range []string{
		"stackless cluster down --cluster DIR",
		"stackless cluster status --cluster %s",
		"stackless cluster spawn KIND",
		"stackless checkpoint ls data/longtask.db",
		"bin/stackless demo gameai|longtask|pingpong [flags]",
		"stackless inspect FILE [--gen N] [--limit N]",
		"stackless cluster restore -n 2",
		"stackless worker --cluster DIR --node N | --join HOST:PORT ...",
		"stackless cluster",
	} {
		assert.NoError(t, checkMention(root, ok), ok)
	}
	for _, bad := range []string{
		"stackless down --cluster DIR",
		"stackless status",
		"stackless spawn KIND",
		"stackless cluster stop",
		"stackless demo gameai|chess",
		"stackless cluster up --dir DIR",
		"stackless cluster restore -x 2",
	} {
		assert.Error(t, checkMention(root, bad), bad)
	}
}

// Every `stackless ...` command line in the code's messages and comments,
// in the help of every command and in the README and docs names commands
// and flags that exist: messages said `stackless down --cluster DIR` and
// `stackless status`.
func TestCommandsNamedInTextExist(t *testing.T) {
	root := fullRoot()
	check := func(where, line string) {
		t.Helper()
		assert.NoError(t, checkMention(root, line), where)
	}
	// Go source: messages, help text, doc comments.
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range backquoted.FindAllStringSubmatch(string(b), -1) {
			check(path, strings.TrimSpace("stackless"+m[1]))
		}
		return nil
	})
	require.NoError(t, err)

	// Help: examples, long texts and flag usages, as built.
	walk(root, func(c *cobra.Command) {
		for _, l := range strings.Split(c.Example, "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "stackless ") {
				check(c.CommandPath()+" example", l)
			}
		}
		for _, m := range backquoted.FindAllStringSubmatch(c.Long+c.Short+c.Flags().FlagUsages(), -1) {
			check(c.CommandPath()+" help", strings.TrimSpace("stackless"+m[1]))
		}
	})

	// Markdown: inline code and the lines of code blocks.
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	require.NoError(t, err)
	mentions := 0
	for _, md := range append(docs, filepath.Join(repoRoot, "README.md")) {
		b, err := os.ReadFile(md)
		require.NoError(t, err)
		block := false
		for n, l := range strings.Split(string(b), "\n") {
			where := fmt.Sprintf("%s:%d", md, n+1)
			if strings.HasPrefix(l, "```") {
				block = !block
				continue
			}
			if block {
				cmd, _, _ := strings.Cut(l, " #")
				if f := strings.Fields(cmd); len(f) > 0 && (f[0] == "stackless" || f[0] == "bin/stackless") {
					check(where, cmd)
					mentions++
				}
				continue
			}
			for _, m := range backquoted.FindAllStringSubmatch(l, -1) {
				check(where, strings.TrimSpace("stackless"+m[1]))
				mentions++
			}
		}
	}
	assert.Greater(t, mentions, 20, "the README's commands were read")
}
