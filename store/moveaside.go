package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MoveAside renames the file at path, a database Open refused as damaged
// or not a database, to "<path>.bad-<UTC time>" in the same folder and
// returns the new name, so that a new database can start at path while the
// old bytes are kept for a backup restore or a post-mortem (`stackless
// inspect` reads what is left of it). It refuses a file another process
// holds open as a database. Callers offer it behind an explicit choice
// (`cluster up --fresh`); Open never moves or overwrites a file.
func MoveAside(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("store: move %s aside: %w", path, err)
	}
	defer f.Close()
	if err := lockExclusive(f); err != nil {
		return "", fmt.Errorf("%w: %s is held open by %s, so it is not moved aside; stop that process first", ErrLocked, path, holder(path))
	}
	base := path + ".bad-" + time.Now().UTC().Format("20060102T150405Z")
	to := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
		to = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("store: move %s aside: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return to, fmt.Errorf("store: moved %s aside to %s, but syncing the folder failed: %w", path, to, err)
	}
	return to, nil
}
