// Package fsmode says in words what kind of file a path is, so that a
// command given a directory, a FIFO or a device where it needs a regular
// file says so, instead of reporting the file's size ("is empty") or mode
// bits ("mode 0755 is open to group or others"), or blocking on a FIFO.
package fsmode

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Describe names the kind of file mode m is, with an article: "a
// directory", "a named pipe (FIFO)", "a regular file", ...
func Describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a unix socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// NotRegularError is returned by Regular for a path that exists but is not
// a regular file (after following symbolic links).
type NotRegularError struct {
	Path string
	Mode fs.FileMode
	What string // what the caller needs, such as "the cluster secret"
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file: %s must be a regular file", e.Path, Describe(e.Mode), e.What)
}

// Regular stats path (following symbolic links) and returns its info when
// it is a regular file, a *NotRegularError naming what (the file the caller
// expects) when it is anything else, and Stat's error when it is missing
// or unreadable. Checking before opening keeps a FIFO from blocking the
// open.
func Regular(path, what string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Mode: fi.Mode(), What: what}
	}
	return fi, nil
}

// MkdirAll is os.MkdirAll whose error says why when a part of path is not
// a directory: a symbolic link to nothing (mkdir says only "file exists")
// or a file.
func MkdirAll(path string, perm fs.FileMode) error {
	err := os.MkdirAll(path, perm)
	if err == nil {
		return nil
	}
	// The deepest part that exists is the one in the way.
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		fi, lerr := os.Lstat(p)
		if lerr == nil {
			if fi.Mode()&fs.ModeSymlink != 0 {
				if _, serr := os.Stat(p); serr != nil {
					target, _ := os.Readlink(p)
					return fmt.Errorf("%s is a symbolic link to %s, which does not exist: create that directory or give another path (%w)", p, target, err)
				}
			} else if !fi.IsDir() {
				return fmt.Errorf("%s is %s, not a directory: give another path (%w)", p, Describe(fi.Mode()), err)
			}
			return err
		}
		if filepath.Dir(p) == p {
			return err
		}
	}
}

// ReadSmall reads the file at path, which holds a few bytes (a secret, a
// seed, an address, a record): one larger than max is refused unread, so a
// damaged file of gigabytes is an error, not an allocation of gigabytes.
// what names the file in the error.
func ReadSmall(path, what string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s is over %d bytes, more than %s ever holds: it is damaged, or not the file meant", path, max, what)
	}
	return b, nil
}
