package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stackless-go/stackless/internal/fsmode"
)

// Replaceable returns an error when something other than a regular file
// (or a symbolic link, which the rename replaces, not its target) is at
// path: renaming over it would replace a device (run as root, a picture
// written to /dev/full made it a file), a FIFO or a directory's name.
func Replaceable(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0 {
		return nil // a missing path is created; another error shows at the write
	}
	return fmt.Errorf("%s is %s, not a regular file, and is not replaced: give the path of a file", path, fsmode.Describe(fi.Mode()))
}

// WriteFile writes data to path with permissions perm, replacing the file
// there only when every byte is on disk. On failure path is unchanged and
// no temporary file is left; the error names path.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	if err := Replaceable(path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, Failed(err, "", path))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", path, Failed(err, tmp, path))
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is in the folder's data: until that reaches the disk a
	// power cut can bring back the old file (or none).
	if d, derr := os.Open(dir); derr == nil {
		derr = d.Sync()
		d.Close()
		if derr != nil && !errors.Is(derr, syscall.EINVAL) { // some file systems cannot sync a folder
			return fmt.Errorf("sync its folder: %w", derr) // the deferred wrap names path
		}
	}
	return nil
}

// Failed rewrites err, from writing path (through tmp, a temporary file
// beside it, which may be ""), for a reader who asked for path and whose
// caller's message names it: an fs.PathError on tmp (removed by then;
// "write .x.tmp-123: no space left on device" named a file nobody could
// find), on os.CreateTemp's pattern for it, or on path itself ("open X:
// open X: ...") loses its name, keeping its operation; it stays in the
// chain, for errors.As. A full disk, a read-only file system or a folder
// this user may not write in says so and what to do.
func Failed(err error, tmp, path string) error {
	err = Unnamed(err, tmp, path)
	var pe *fs.PathError
	errors.As(err, &pe)
	switch {
	case DiskFull(err):
		return fmt.Errorf("%w: the disk (or a quota or file size limit) is full; %s is unchanged and no temporary file is left: free space and try again", err, path)
	case ReadOnly(err):
		what := "the folder " + filepath.Dir(path)
		if pe != nil && pe.Path == path && pe.Op != "mkdir" {
			what = "the file" // the caller names it
		}
		if errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("%w: %s is on a read-only file system, so nothing was written: write to a writable folder instead", err, what)
		}
		return fmt.Errorf("%w: this user may not write to %s (its permissions), so nothing was written: write to a writable folder instead, or change the permissions", err, what)
	}
	return err
}

// MkdirAll is fsmode.MkdirAll (which names a dangling link or a file in
// the way) whose error, once the caller names path, says what Failed says
// of a write there: a read-only file system, permissions, a full disk.
func MkdirAll(path string, perm os.FileMode) error {
	if err := fsmode.MkdirAll(path, perm); err != nil {
		return Failed(err, "", path)
	}
	return nil
}

// Unnamed is err without the name of path, tmp or os.CreateTemp's pattern
// for it, when an fs.PathError in it gives one (see Failed), for a caller
// whose message names path.
func Unnamed(err error, tmp, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && (pe.Path == path || pe.Path == tmp || besidePattern(pe.Path, path)) {
		return renamed{strings.Replace(err.Error(), pe.Op+" "+pe.Path+": ", pe.Op+": ", 1), err}
	}
	return err
}

// besidePattern reports whether name is a temporary file beside path
// (".base.tmp-123", ".base.new-123"), as os.CreateTemp's errors give it
// before the caller learns its name.
func besidePattern(name, path string) bool {
	return filepath.Dir(name) == filepath.Dir(path) && strings.HasPrefix(filepath.Base(name), "."+filepath.Base(path)+".")
}

// renamed is an error shown as msg, which drops a name its caller gives.
type renamed struct {
	msg string
	err error
}

func (e renamed) Error() string { return e.msg }
func (e renamed) Unwrap() error { return e.err }

// ReadOnly reports whether err says a write was refused: a read-only file
// system (a read-only mount), or permissions (a folder not writable by
// this user; root is refused only by the former).
func ReadOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// DiskFull reports whether err says the disk, a quota or the file size
// limit is full, by its errno or, where a library dropped it, by its text.
func DiskFull(err error) bool {
	for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG} {
		if errors.Is(err, e) || strings.HasSuffix(err.Error(), e.Error()) {
			return true
		}
	}
	return false
}
