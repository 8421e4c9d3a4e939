package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Version is the stackless version. Release builds set it with
//
//	go build -ldflags "-X github.com/stackless-go/stackless/cmd/stackless/cli.Version=v1.2.3"
//
// Left at "dev", the module version from the build info is used when there
// is one (go install ...@version).
var Version = "dev"

func version() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}

type versionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Commit  string `json:"commit,omitempty"`
}

func currentVersion() versionInfo {
	v := versionInfo{Version: version(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v.Commit = s.Value
			}
		}
	}
	return v
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the stackless version, the Go version and the platform",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			if outputOf(cmd) == formatJSON {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "stackless\t%s\n", v.Version)
			fmt.Fprintf(tw, "go\t%s\n", v.Go)
			fmt.Fprintf(tw, "platform\t%s/%s\n", v.OS, v.Arch)
			if v.Commit != "" {
				fmt.Fprintf(tw, "commit\t%s\n", v.Commit)
			}
			return tw.Flush()
		},
	}
}
