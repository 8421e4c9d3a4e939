package cli

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// logFormat is --log-format: how the logs of every command (workers,
// coordinators, the observer) are written to stderr. Text reads well on a
// terminal; JSON is for log collectors. Every logger uses the same keys:
// node, tasklet, kind, generation, peer.
type logFormat string

const (
	logText logFormat = "text"
	logJSON logFormat = "json"
)

func (f *logFormat) String() string { return string(*f) }
func (f *logFormat) Type() string   { return "format" }
func (f *logFormat) Set(s string) error {
	switch logFormat(s) {
	case logText, logJSON:
		*f = logFormat(s)
		return nil
	}
	return fmt.Errorf("want text or json, got %q", s)
}

func addLogFlag(root *cobra.Command) {
	f := logText
	root.PersistentFlags().Var(&f, "log-format", "log format on stderr: text or json")
	_ = root.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// envLogFormat carries --log-format to the processes a command starts
// (the workers of cluster up), which inherit the environment.
const envLogFormat = "STACKLESS_LOG_FORMAT"

// logger is the command's logger at level (default info), in the format
// --log-format asks for (or, when not given, $STACKLESS_LOG_FORMAT).
func logger(cmd *cobra.Command, level ...slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if len(level) > 0 {
		opts.Level = level[0]
	}
	format := os.Getenv(envLogFormat)
	if f := cmd.Flag("log-format"); f != nil && (f.Changed || format == "") {
		format = f.Value.String()
	}
	if format == string(logJSON) {
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts))
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts))
}
