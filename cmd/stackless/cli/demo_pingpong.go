package cli

import (
	"bytes"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/examples/pingpong/game"
	"github.com/stackless-go/stackless/scheduler"
)

type pingPongResult struct {
	Demo       string   `json:"demo"`
	Rallies    int      `json:"rallies"`
	PingHits   int      `json:"ping_hits"`
	PongHits   int      `json:"pong_hits"`
	Steps      uint64   `json:"steps"`
	Transcript []string `json:"transcript"`
}

func newDemoPingPongCmd() *cobra.Command {
	var n int
	cmd := &cobra.Command{
		Use:   "pingpong",
		Short: "Two tasklets bounce a ball over two unbuffered channels",
		Long: `Two tasklets, Ping and Pong, bounce a ball over two unbuffered channels
n times, printing every hit; Ping then closes the channel and ends the game.
They are straight-line Go lowered by stackless gen (examples/pingpong/game).`,
		Example: "  stackless demo pingpong -n 3\n  stackless demo pingpong -n 3 -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 0 {
				return usageErrorf("-n must be 0 or more, got %d", n)
			}
			asJSON := outputOf(cmd) == formatJSON
			out := cmd.OutOrStdout()
			var transcript bytes.Buffer
			if asJSON {
				out = &transcript
			}
			s := scheduler.New()
			score, err := game.Play(cmd.Context(), s, game.Setup(s, n), out)
			if err != nil {
				return err // names pingpong already
			}
			if !asJSON {
				return nil
			}
			return writeJSON(cmd.OutOrStdout(), pingPongResult{
				Demo: "pingpong", Rallies: score.Rallies, PingHits: score.Ping, PongHits: score.Pong,
				Steps:      s.Steps(),
				Transcript: strings.Split(strings.TrimSuffix(transcript.String(), "\n"), "\n"),
			})
		},
	}
	cmd.Flags().IntVarP(&n, "rallies", "n", 10, "number of rallies")
	atLeast(cmd.Flags(), "rallies", "0")
	return cmd
}
