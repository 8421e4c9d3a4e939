package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// outputFormat is the value of the persistent -o/--output flag.
type outputFormat string

const (
	formatTable outputFormat = "table"
	formatJSON  outputFormat = "json"
)

// outputFormats are the accepted values of -o, in the order help lists them.
var outputFormats = []string{string(formatTable), string(formatJSON)}

func (f *outputFormat) String() string { return string(*f) }
func (f *outputFormat) Type() string   { return "format" }

// Set accepts one of outputFormats, in any case.
func (f *outputFormat) Set(s string) error {
	for _, v := range outputFormats {
		if strings.EqualFold(s, v) {
			*f = outputFormat(v)
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: must be one of %s", s, strings.Join(outputFormats, ", "))
}

func addOutputFlag(root *cobra.Command) {
	f := formatTable
	root.PersistentFlags().VarP(&f, "output", "o", "output format: "+strings.Join(outputFormats, "|"))
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
}

// outputOf is the output format chosen for cmd's tree.
func outputOf(cmd *cobra.Command) outputFormat {
	if fl := cmd.Flag("output"); fl != nil {
		return outputFormat(fl.Value.String())
	}
	return formatTable
}

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether w is a terminal, where progress output is
// welcome. It asks the terminal driver (x/term): /dev/null is a character
// device too, and the file mode alone took it for a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// formatFloat prints a measurement with about four significant digits, as
// go test does.
func formatFloat(x float64) string {
	switch y := math.Abs(x); {
	case y == 0 || y >= 999.95:
		return fmt.Sprintf("%.0f", x)
	case y >= 99.995:
		return fmt.Sprintf("%.1f", x)
	case y >= 9.9995:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}

// humanFloat prints x with three significant digits and no trailing zeros:
// 3, 7.6, 98.1, 0.25.
func humanFloat(x float64) string {
	var s string
	switch y := math.Abs(x); {
	case y >= 99.95:
		s = fmt.Sprintf("%.0f", x)
	case y >= 9.995:
		s = fmt.Sprintf("%.1f", x)
	default:
		s = fmt.Sprintf("%.2f", x)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// humanDuration prints a time in nanoseconds in the unit that suits it:
// 8.6 ns, 1.23 µs, 250 ms, 1.5 s.
func humanDuration(ns float64) string {
	switch y := math.Abs(ns); {
	case y >= 999.5e6:
		return humanFloat(ns/1e9) + " s"
	case y >= 999.5e3:
		return humanFloat(ns/1e6) + " ms"
	case y >= 999.5:
		return humanFloat(ns/1e3) + " µs"
	}
	return humanFloat(ns) + " ns"
}
