package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackless-go/stackless/internal/fsmode"
)

// Every numeric flag (counts, numbers, durations) carries the least value
// it accepts, and checkFlags refuses a smaller one before the command's
// code runs: a flag such as --checkpoint-every -5s used to be taken, and
// quietly meant "never". TestEveryNumericFlagHasABound keeps it so.

// minAnnotation is the pflag annotation holding a flag's least value, in
// the flag's own syntax ("1", "0s", "1ns").
const minAnnotation = "stackless_min"

// atLeast gives flag name of fs its least accepted value. A default below
// it (such as 0 for "as many as now") stays allowed: only a value the user
// gives is checked.
func atLeast(fs *pflag.FlagSet, name, min string) {
	if err := fs.SetAnnotation(name, minAnnotation, []string{min}); err != nil {
		panic(fmt.Sprintf("cli: atLeast: %v", err)) // a typo in a flag name: caught by every test
	}
}

// checkFlags refuses, as a usage error, a value given to one of cmd's flags
// that is below its bound.
func checkFlags(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil {
			return
		}
		if err = checkAddressFlag(f); err != nil { // addrflags.go
			return
		}
		if err = checkPathFlag(f); err != nil {
			return
		}
		mins := f.Annotations[minAnnotation]
		if !f.Changed || len(mins) == 0 {
			return
		}
		v, ok := numeric(f, f.Value.String())
		m, mok := numeric(f, mins[0])
		if !ok || !mok {
			err = fmt.Errorf("cli: flag --%s of type %s has bound %q: not a number", f.Name, f.Value.Type(), mins[0])
			return
		}
		if v < m {
			name := "--" + f.Name
			if f.Shorthand != "" {
				name = "-" + f.Shorthand + "/" + name // as the user may have typed either
			}
			err = usageErrorf("%s must be %s, got %s", name, describeMin(f, m), f.Value.String())
		}
	})
	if err == nil {
		err = checkHTTPFlags(cmd) // observe.go
	}
	return err
}

// checkPathFlag refuses, as usage errors, a FILE or DIR flag given empty
// or blank (`--data ""` failed in the library with exit 1, or read as the
// default), a DIR that exists and is not a directory (`--cluster FIFO`
// said "stat FIFO/secret: not a directory") and a FILE that is one.
func checkPathFlag(f *pflag.Flag) error {
	if !f.Changed || f.Value.Type() != "string" {
		return nil
	}
	what, _ := pflag.UnquoteUsage(f)
	if what != "FILE" && what != "DIR" {
		return nil
	}
	v := f.Value.String()
	switch {
	case strings.TrimSpace(v) == "" && f.DefValue != "":
		return usageErrorf("--%s is empty: give a %s, or leave --%s out for %q", f.Name, what, f.Name, f.DefValue)
	case strings.TrimSpace(v) == "":
		return usageErrorf("--%s is empty: give a %s, or leave --%s out", f.Name, what, f.Name)
	}
	st, err := os.Stat(v)
	switch {
	case what == "FILE" && errors.Is(err, fs.ErrNotExist):
		// An output file in a folder that is not there failed only at the
		// end of its command: `demo gameai --render /nope/w.png` played
		// the whole game first.
		if _, derr := os.Stat(filepath.Dir(v)); errors.Is(derr, fs.ErrNotExist) {
			return usageErrorf("--%s %s: the folder %s does not exist: create it, or give a %s in a folder that does", f.Name, v, filepath.Dir(v), what)
		}
		return nil
	case err != nil: // missing or unreadable: the command says which, as it knows what it needs
		return nil
	case what == "DIR" && !st.IsDir():
		return usageErrorf("--%s %s is %s, not a directory: give a directory", f.Name, v, fsmode.Describe(st.Mode()))
	case what == "FILE" && st.IsDir():
		return usageErrorf("--%s %s is a directory: give a file", f.Name, v)
	}
	return nil
}

// numeric reads s in the syntax of f's type as a number to compare:
// nanoseconds for a duration.
func numeric(f *pflag.Flag, s string) (float64, bool) {
	switch f.Value.Type() {
	case "duration":
		d, err := time.ParseDuration(s)
		return float64(d), err == nil
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		x, err := strconv.ParseFloat(s, 64)
		return x, err == nil
	}
	return 0, false
}

// describeMin says which values a flag takes: "0 or more", "more than 0",
// "1 or more", "at least 16".
func describeMin(f *pflag.Flag, m float64) string {
	if f.Value.Type() == "duration" {
		switch {
		case m == 0:
			return "0 or more"
		case m == 1:
			return "more than 0"
		}
		return "at least " + time.Duration(m).String()
	}
	if m == 0 || m == 1 {
		return strconv.FormatFloat(m, 'f', -1, 64) + " or more"
	}
	return "at least " + strconv.FormatFloat(m, 'f', -1, 64)
}

// badFlagValue says what a value pflag could not parse should have been,
// instead of Go's parser's words: `invalid argument "1e6" for "--entities"
// flag: strconv.ParseInt: parsing "1e6": invalid syntax`. Other errors
// come back as they are.
func badFlagValue(err error) error {
	if m := negativeArg.FindStringSubmatch(err.Error()); m != nil {
		// pflag reads "-1" as the shorthand flag -1 and says "unknown
		// shorthand flag: '1' in -1", which does not say what was wrong.
		return fmt.Errorf("%s is not a flag, and this command takes no negative numbers (a file name that starts with \"-\" goes after \"--\")", m[1])
	}
	var ive *pflag.InvalidValueError
	if !errors.As(err, &ive) {
		return err
	}
	f, v := ive.GetFlag(), ive.GetValue()
	var want string
	switch t := f.Value.Type(); {
	case t == "duration":
		want = "a duration with its unit, such as 100ms, 2s or 1m30s"
	case strings.HasPrefix(t, "uint"):
		want = "a whole number, 0 or more"
	case strings.HasPrefix(t, "int"):
		want = "a whole number"
	case strings.HasPrefix(t, "float"):
		want = "a number"
	default:
		return err // the value's own parser says what it wants
	}
	if mins := f.Annotations[minAnnotation]; len(mins) > 0 && !strings.HasPrefix(want, "a duration") {
		if m, ok := numeric(f, mins[0]); ok {
			want = strings.TrimSuffix(want, ", 0 or more") + ", " + describeMin(f, m)
		}
	}
	if errors.Is(err, strconv.ErrRange) {
		want = "a smaller number: it does not fit in " + strconv.Itoa(8*typeBytes(f.Value.Type())) + " bits"
	}
	return fmt.Errorf("--%s %s: want %s", f.Name, strconv.Quote(v), want)
}

// negativeArg matches pflag's error for a negative number given as an
// argument.
var negativeArg = regexp.MustCompile(`^unknown shorthand flag: '[0-9]' in (-[0-9][0-9.eE+-]*)$`)

// typeBytes is the size of a pflag numeric type's values.
func typeBytes(t string) int {
	for _, n := range []string{"8", "16", "32"} {
		if strings.HasSuffix(t, n) {
			b, _ := strconv.Atoi(n)
			return b / 8
		}
	}
	return 8 // int, uint, int64, uint64 (on 64-bit platforms)
}
