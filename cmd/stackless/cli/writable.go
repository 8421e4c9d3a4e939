package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/internal/atomicfile"
)

// writePlace is a flag that chooses where a command writes: its hint
// ("--data DIR") and the folder it names once the flags are parsed ("" when
// unset).
type writePlace struct {
	hint   string
	folder func() string
}

// withWritableHint wraps a command's RunE so that a write refused by a
// read-only file system or by permissions names the flag that chose the
// place: the error itself says which file and why. A refusal elsewhere (a
// port below 1024, a certificate folder, a file the user named) gets no
// hint: moving --data would not help.
func withWritableHint(run func(*cobra.Command, []string) error, places ...writePlace) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if err == nil || !atomicfile.ReadOnly(err) {
			return err
		}
		failed := failedPath(err)
		if failed == "" {
			return err
		}
		var hints []string
		for _, p := range places {
			if dir := p.folder(); dir != "" && within(failed, dir) {
				hints = append(hints, p.hint)
			}
		}
		if len(hints) == 0 {
			return err
		}
		return fmt.Errorf("%w (%s)", err, strings.Join(hints, ", "))
	}
}

// failedPath is the file an error is about: the path of the innermost
// fs.PathError, or the new name of an os.LinkError (a rename); "" when it
// names none.
func failedPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.New
	}
	return ""
}

// within reports whether path is dir or lies under it, both taken as
// absolute paths (one may be relative, the other not).
func within(path, dir string) bool {
	ap, err1 := filepath.Abs(path)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
