// Package atomicfile writes a file whole or not at all: the bytes go to a
// temporary file in the same folder, which replaces the target only once
// it is complete. os.WriteFile truncates the old file first, so a full
// disk or a crash left an empty or cut file in its place (a generated
// file losing the layout records gen checks versions against, a picture
// of zero bytes over the last good one).
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
			err = fmt.Errorf("write %s: %w", path, err)
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
