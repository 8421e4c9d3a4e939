package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/internal/memlimit"
)

// Exit codes of Execute.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitHungUp      = 129 // 128 + SIGHUP
	exitInterrupted = 130 // 128 + SIGINT
	exitTerminated  = 143 // 128 + SIGTERM
)

// NewRoot returns the whole stackless command tree. Each call builds a new,
// independent tree.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "stackless",
		Short: "Stackless-style microthreads for Go: demos, benchmarks and tools",
		Long: `stackless runs and inspects tasklets: tiny cooperative microthreads whose
whole continuation is explicit data, so they can be saved, moved and resumed.

Output is plain text (-o table) or JSON (-o json) and never coloured, so
NO_COLOR is always honoured. Progress is shown on stderr only when stderr is
a terminal.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          groupRunE,
		// Else cobra refuses an unknown command itself, naming the program
		// twice and not listing the commands.
		Args: cobra.ArbitraryArgs,
		// Runs before every command: bad numeric flag values are usage errors.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return checkFlags(cmd) },
	}
	root.SetVersionTemplate("stackless {{.Version}}\n")
	addOutputFlag(root)
	addLogFlag(root)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{badFlagValue(err)} })
	root.SetHelpCommand(newHelpCmd())

	// Command groups, one file each. Add new ones here.
	root.AddCommand(
		newVersionCmd(),
		newDemoCmd(),
		newBenchCmd(),
		newInspectCmd(),
		newCheckpointCmd(),
		newClusterCmd(),
		newWorkerCmd(),
		newGenCmd(),
		newObserveCmd(),
	)
	return root
}

// Execute runs the command line in os.Args and returns the exit code: 0 on
// success, 1 when the command failed, 2 for a usage error, 128+N when
// signal N stopped it (129 SIGHUP, 130 Ctrl-C, 143 SIGTERM; 0 for a foreground service
// that shut down cleanly on SIGTERM, see [stoppedCleanly]). Errors are
// printed once to stderr as "stackless: <error>".
func Execute() int {
	memlimit.GuideGC() // under ulimit -v or a cgroup limit, collect before the limit kills
	// signal.NotifyContext would lose which signal it was, and a service
	// exits 0 on SIGTERM but 130 on Ctrl-C: the signal is the context's
	// cause.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	// A closed terminal (an ssh session that dropped) sends SIGHUP, whose
	// default ended the process at once: a game lost its play since the
	// last autosave, a coordinator left its workers orphaned. It now stops
	// a command as Ctrl-C does. Not under nohup: Notify would undo the
	// ignoring that nohup asked for.
	if !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(sigs, syscall.SIGHUP)
	}
	defer signal.Stop(sigs)
	if signalHook != nil {
		signalHook("ready")
	}
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-ctx.Done():
			return
		}
		cancel(signalCause{sig})
		// A command stops at its next look at ctx, and some steps do not
		// look: reading a large generation (inspect took 10 s on 100,000
		// tasklets), waiting for a lock (--lock-timeout), a final
		// checkpoint. A second interrupt was caught too and did nothing;
		// now it ends the process at once, as by default. Every store is
		// crash safe, so nothing is lost that kill -9 would not lose.
		signal.Stop(sigs)
		if signalHook != nil {
			signalHook("armed")
		}
	}()
	return execute(ctx, NewRoot())
}

// signalCause is the cause of Execute's context when a signal ended it.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "stopped by " + c.sig.String() }

// stopSignal returns the signal that ended ctx, or nil when none did (ctx
// still runs, or it was cancelled otherwise, as tests do).
func stopSignal(ctx context.Context) os.Signal {
	var sc signalCause
	if errors.As(context.Cause(ctx), &sc) {
		return sc.sig
	}
	return nil
}

// stoppedCleanly is what a foreground service (`cluster up`, `worker`)
// returns once it shut down cleanly because ctx ended: nil after SIGTERM,
// the normal stop of systemd, docker and kill, so the exit is 0; ctx's
// error otherwise, so Ctrl-C exits 130 as a shell expects of an
// interrupted command. A shutdown that lost something returns its own
// error instead, and exits 1.
func stoppedCleanly(ctx context.Context) error {
	if stopSignal(ctx) == syscall.SIGTERM {
		return nil
	}
	return ctx.Err()
}

// signalHook, when set (by tests), is told "ready" once Execute takes
// interrupts, and "armed" once it took one and a second would end the
// process.
var signalHook func(event string)

// Main runs the stackless CLI and exits the process with its exit code. It
// is the one call a program needs to become the stackless command.
func Main() { os.Exit(Execute()) }

// execute runs root and turns its outcome into an exit code, printing the
// error to root's stderr.
func execute(ctx context.Context, root *cobra.Command) int {
	// cobra adds its completion group only inside Execute; added here, it
	// gets the groups' RunE, so `completion` without a shell (or with an
	// unknown one) is a usage error instead of help and exit 0.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" && c.RunE == nil && c.Run == nil {
			c.RunE = groupRunE
			c.Args = cobra.ArbitraryArgs
		}
	}
	markRunErrors(root) // here, so commands added after NewRoot are covered
	// cobra ignores the errors of what it writes itself (help, usage,
	// version): `stackless --help > /dev/full` printed nothing and exited 0.
	out := &checkedWriter{w: root.OutOrStdout()}
	root.SetOut(out)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil && out.err != nil {
		err = runError{fmt.Errorf("writing the output: %w", out.err)}
	}
	if err == nil {
		return exitOK
	}
	w := root.ErrOrStderr()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		switch stopSignal(ctx) {
		case syscall.SIGTERM:
			fmt.Fprintln(w, "stackless: terminated (SIGTERM)")
			return exitTerminated
		case syscall.SIGHUP:
			fmt.Fprintln(w, "stackless: hung up (SIGHUP: the terminal closed); run it under nohup, tmux or a service manager to keep it running")
			return exitHungUp
		}
		fmt.Fprintln(w, "stackless: interrupted")
		return exitInterrupted
	}
	fmt.Fprintf(w, "stackless: %v\n", err)
	if isUsageError(err) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitFailure
}

// checkedWriter keeps the first error of the writes through it.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// usageError marks an error as the user's mistake in calling a command.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf reports a bad argument or flag value found inside RunE: the
// command exits with 2 instead of 1.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// runError marks an error returned by a command's own code (RunE and its
// hooks), as opposed to cobra rejecting the command line.
type runError struct{ err error }

func (e runError) Error() string { return e.err.Error() }
func (e runError) Unwrap() error { return e.err }

// isUsageError reports whether err is a usage error: one marked as such, or
// any error cobra returned before a command's code ran (unknown command,
// bad flag, wrong number of arguments, missing required flag).
func isUsageError(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return true
	}
	var re runError
	return !errors.As(err, &re)
}

// markRunErrors wraps the code of every command in the tree so that its
// errors can be told apart from cobra's usage errors.
func markRunErrors(c *cobra.Command) {
	wrap := func(fn func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
		if fn == nil {
			return nil
		}
		return func(cmd *cobra.Command, args []string) error {
			err := fn(cmd, args)
			var ue usageError
			if err == nil || errors.As(err, &ue) {
				return err
			}
			return runError{err}
		}
	}
	c.PersistentPreRunE = wrap(c.PersistentPreRunE)
	c.PreRunE = wrap(c.PreRunE)
	c.RunE = wrap(c.RunE)
	c.PostRunE = wrap(c.PostRunE)
	c.PersistentPostRunE = wrap(c.PersistentPostRunE)
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
}

// groupRunE is the RunE of a command that only groups others (and of the
// root): without a subcommand, or with an argument that is no subcommand, it
// is a usage error (exit 2) naming the subcommands; cobra would otherwise
// print help and exit 0. `--help` still prints the help and exits 0.
func groupRunE(cmd *cobra.Command, args []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if len(args) > 0 {
		hint := ""
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
		}
		if !cmd.HasParent() {
			return usageErrorf("unknown command %q%s; the commands are: %s", args[0], hint, strings.Join(names, ", "))
		}
		return usageErrorf("unknown command %q%s; %s's commands are: %s", args[0], hint, commandName(cmd), strings.Join(names, ", "))
	}
	if !cmd.HasParent() {
		return usageErrorf("give a command: %s", strings.Join(names, ", "))
	}
	return usageErrorf("%s needs a command: %s", commandName(cmd), strings.Join(names, ", "))
}

// commandName names cmd in an error: its path without the program's name,
// which the "stackless: " before every error already says.
func commandName(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// noArgs is cobra.NoArgs with a message that says what is wrong: cobra's
// read 'unknown command "x" for "stackless demo gameai"', which is no
// command, and named the program twice.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", commandName(cmd), args)
	}
	return nil
}

// newHelpCmd is cobra's help command, but a topic that names no command is
// a usage error: cobra printed "Unknown help topic" and the root's help
// and exited 0 (and, with the root taking arguments, only the help).
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help shows the help of any command: stackless help cluster up.",
		// Completes command names, as cobra's help did.
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			parent, _, err := cmd.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, c := range parent.Commands() {
				if c.IsAvailableCommand() && strings.HasPrefix(c.Name(), toComplete) {
					names = append(names, cobra.CompletionWithDesc(c.Name(), c.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageErrorf("no help topic %q: give a command, such as `stackless help cluster up`; `stackless --help` lists them", strings.Join(args, " "))
			}
			return target.Help()
		},
	}
}
