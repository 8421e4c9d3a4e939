// Package atomicfile writes a file whole or not at all: the bytes go to a
// temporary file in the same folder, which replaces the target only once
// it is complete. os.WriteFile truncates the old file first, so a full
// disk or a crash left an empty or cut file in its place (a generated
// file losing the layout records gen checks versions against, a picture
// of zero bytes over the last good one).
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
		return fmt.Errorf("write %s: %w", path, err)
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
	return os.Rename(tmp, path)
}

// Failed rewrites err, from writing tmp in place of path, for a reader:
// the temporary name (removed by then; "write .x.tmp-123: no space left
// on device" named a file nobody could find) is dropped, as the caller
// names path, and a full disk says so and what to do.
func Failed(err error, tmp, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == tmp {
		err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	if DiskFull(err) {
		return fmt.Errorf("%w: the disk (or a quota or file size limit) is full; %s is unchanged and no temporary file is left: free space and try again", err, path)
	}
	return err
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
