package cli

import "github.com/spf13/cobra"

// newDemoCmd groups the runnable demos, one file each (demo_<name>.go).
func newDemoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a demo program",
		Long:  "Run one of the example programs of stackless in this process.",
		RunE:  groupRunE,
	}
	// Demos. Add new ones here.
	cmd.AddCommand(
		newDemoPingPongCmd(),
		newDemoLongtaskCmd(),
		newDemoGameAICmd(),
	)
	return cmd
}
