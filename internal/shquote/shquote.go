// Package shquote quotes a word for a POSIX shell, so that a command an
// error or hint prints can be copied and run as it stands even when a path
// in it holds spaces, quotes or other characters the shell interprets.
package shquote

import "strings"

// Quote returns s as one shell word: unchanged when it holds only
// characters no shell interprets, else in single quotes.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, unsafe) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func unsafe(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("-_./:=@%+,", r)
}
