package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/gen"
)

func newGenCmd() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "gen [packages]",
		Short: "Lower straight-line tasklets (tasklet.Flow functions) into saveable behaviors",
		Long: `gen lowers every function of the given packages (default ".") whose first
parameter is a *tasklet.Flow into a state-machine behavior, written to
FILE_stackless.go next to each FILE.go that holds one. A function marked

	//stackless:tasklet kind=NAME version=N
	func Guard(t *tasklet.Flow, eyes channel.ID) error

becomes the behavior GuardTasklet, the constructor NewGuard(eyes) and the
kind NAME registered with pickle.Default; its blocking calls (t.Recv,
t.Send, t.Select, t.Sleep, t.Yield, t.Pause, and calls of other flow
functions of the package) are its suspension points, and the locals that
live across them are the behavior's exported fields, so it is saved,
restored and migrated like a hand-written behavior.

What cannot be lowered exactly is refused with file:line:col, the construct
and how to fix it, and gen exits 1 without writing anything: go, defer,
recover, goto, Go channel operations, the address of a local that lives
across a suspension, a live local whose type cannot be saved, suspending
inside a closure, a range over a channel or function (or over a map the
loop assigns), a call of a flow through a func value, a malformed
//stackless:point, and syntax gen does not know (the README lists every
case). Flow functions may call themselves and each other.

Versions. The generated file records each frame's layout: its suspension
points by number (PC, what a save resumes at), their names, the fields read
after each, and the fields' types. Regenerating under the same version= is
refused, with what changed, only when an old save would resume wrongly: a
point gone or now another one, a field newly read after a point, a field
whose type changed; new points and code changed between points pass. With
version= raised, the old layout is kept as GuardTaskletV1 (registered with
pickle.Upgrade) and FILE_upgrade_vN.go gets, once, a skeleton upgradeGuardVN
that maps the points named in both layouts and fails on the others until
you write them.

Named points. Unnamed points are numbered in source order. Write

	//stackless:point NAME

on the line before a suspension point to keep its number (and so old saves
at it) across edits around it. A bad name, a name used twice in a function,
or a comment not followed by exactly one suspension point is refused.

The generated code keeps your statements: live locals become fields, each
suspension sets PC and returns the Op, and a dispatch at the top of each
block jumps back to the point on resume. A tasklet no other flow calls is
lowered into Step itself; a called function gets a step that also returns
whether it finished, and its results.

Use it from go generate:

	//go:generate go run github.com/stackless-go/stackless/cmd/stackless gen

With --check, nothing is written and gen exits 1 when a generated file is
missing or stale.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			wd, err := os.Getwd()
			if err != nil {
				return fmt.Errorf("gen: %w", err)
			}
			files, err := gen.Generate(wd, args...)
			if err != nil {
				var re *gen.RefusedError
				if errors.As(err, &re) {
					return fmt.Errorf("gen refused %d construct(s); nothing was written:\n%w", len(re.Refusals), err)
				}
				return err
			}
			if len(files) == 0 {
				// Said, so that a wrong directory or a missing mark does not
				// pass for a run that generated what it should.
				fmt.Fprintf(cmd.OutOrStdout(), "gen: no flow function (first parameter *tasklet.Flow) in %s: nothing to generate\n", strings.Join(patternsOr(args), " "))
				return nil
			}
			if check {
				var stale []string
				for _, f := range files {
					old, err := os.ReadFile(f.Path)
					if (f.Content == nil) != os.IsNotExist(err) || (f.Content != nil && string(old) != string(f.Content)) {
						stale = append(stale, f.Path)
					}
				}
				if len(stale) > 0 {
					return fmt.Errorf("gen --check: stale or missing generated files (run `stackless gen`): %v", stale)
				}
				return nil
			}
			changed, err := gen.Write(files)
			for _, c := range changed {
				fmt.Fprintln(cmd.OutOrStdout(), "wrote", c)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; fail when a generated file is stale")
	return cmd
}

// patternsOr is the packages gen was given, "." when none.
func patternsOr(args []string) []string {
	if len(args) == 0 {
		return []string{"."}
	}
	return args
}
