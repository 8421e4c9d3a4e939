package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// makeFolder creates dir and its missing parents for a new database, 0700
// because a checkpoint holds a program's whole state, and syncs the folder
// that holds the topmost new one so the new entries survive a crash. Open
// used to leave this to bbolt, whose error ("open data/world.db: no such
// file or directory") did not say that only the folder was missing.
func makeFolder(dir string) error {
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	if top == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return syncDir(filepath.Dir(top))
}
