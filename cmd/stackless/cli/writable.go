package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/internal/atomicfile"
)

// withWritableHint wraps a command's RunE so that a write refused by a
// read-only file system or by permissions names the flags that choose
// where the command writes: the error itself says which file and why.
func withWritableHint(run func(*cobra.Command, []string) error, flags string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if err == nil || !atomicfile.ReadOnly(err) {
			return err
		}
		return fmt.Errorf("%w (%s)", err, flags)
	}
}
