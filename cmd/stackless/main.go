// Command stackless is the command-line tool of the stackless platform:
// demos, benchmarks and, as they land, inspection, checkpoints and the
// cluster. All of it lives in package cli.
package main

import "github.com/stackless-go/stackless/cmd/stackless/cli"

func main() { cli.Main() }
