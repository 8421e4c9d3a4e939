// Package cli is the stackless command-line interface: a cobra command tree
// in noun-verb form (`stackless demo pingpong`, `stackless bench`,
// `stackless version`). It is thin: it parses flags, calls the stackless
// packages and prints.
//
// One call builds and runs the whole CLI, so a program can embed it (for
// instance to register its own behaviors first):
//
//	func main() { cli.Main() }
//
// [Execute] builds the tree with [NewRoot], runs it on os.Args and returns
// the exit code; tests drive a tree from NewRoot with SetArgs, SetOut and
// SetErr.
//
// # Conventions
//
//   - Every command uses RunE; errors are printed once, by Execute, as
//     "stackless: <error>" on stderr.
//   - Exit codes: 0 success, 1 the command failed, 2 usage error (unknown
//     command or flag, a group such as `stackless cluster` without its
//     command, bad argument or flag value), 130 interrupted by Ctrl-C
//     (SIGINT), 143 stopped by SIGTERM before the command finished. A
//     foreground service (`stackless cluster up`, `stackless worker`,
//     `stackless observe`) that
//     shuts down cleanly on SIGTERM exits 0, as systemd, docker and kill
//     expect of a stopped service, and 130 on Ctrl-C; one whose shutdown
//     lost something exits 1. Execute's context carries the signal as its
//     cause; a service returns stoppedCleanly(ctx).
//   - Messages and help name only commands that exist, with `stackless ...`
//     in backquotes; TestCommandsNamedInTextExist checks them all, and the
//     README's.
//   - The persistent flag -o/--output selects table (default, for people) or
//     json (for programs). Commands whose output is a stream of text still
//     honour json by collecting it into one document.
//   - Results go to stdout; progress goes to stderr and only when stderr is
//     a terminal. Nothing is ever coloured, so NO_COLOR is honoured as is.
//   - Shell completion comes from cobra's `completion` command.
//   - The persistent flag --log-format (text or json) sets how every
//     command's log/slog records are written to stderr; --http ADDR on
//     `stackless observe`, `cluster up` and the gameai and longtask demos
//     serves the web observer (package observe).
//
// # Adding a command
//
// Put each command group in its own file with an unexported constructor
// (func newInspectCmd() *cobra.Command) and add it to the list in
// [NewRoot]; demos go in demo_<name>.go and are added in newDemoCmd. A
// command that only groups others gets RunE: groupRunE. Give every numeric
// flag its least value with atLeast (checked before RunE; a test fails for
// one without). In a flag's usage, a backquoted word names its value
// (`DIR`, `FILE`): quote nothing else there. Return usageErrorf for a bad
// argument found inside RunE so it exits with 2; any other error exits
// with 1. Read the output format with outputOf(cmd) and print JSON with
// writeJSON.
package cli
