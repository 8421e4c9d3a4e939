package cli

// The flags that name a cluster on NATS servers: --nats URL[,URL], --creds
// FILE and --name NAME. With them the commands that drive a cluster reach
// its leader wherever it runs, and checkpoint and inspect read its
// generations, with no cluster directory.

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackless-go/stackless/cluster"
)

// natsFlags name a cluster on NATS.
type natsFlags struct{ url, creds, name string }

// add registers --nats, --creds and --name (withURL false: --name only,
// for a command that has --nats and --creds already).
func (f *natsFlags) add(fs *pflag.FlagSet, withURL bool) {
	if withURL {
		fs.StringVar(&f.url, "nats", "", "reach the cluster through these NATS servers (`URL[,URL]`) instead of a cluster directory")
		isAddress(fs, "nats", addrNATS)
		fs.StringVar(&f.creds, "creds", "", "credentials `FILE` for --nats: a .creds file (user JWT and seed) or an nkey seed file (such as DIR/nats.seed)")
	}
	fs.StringVar(&f.name, "name", cluster.DefaultName, "the cluster's `NAME` on NATS: it prefixes its buckets and subjects, so clusters can share an account")
}

// check refuses, as usage errors, a bad name and --creds without --nats.
func (f *natsFlags) check() error {
	if f.name == "" { // the library reads "" as the default: given on the command line, it is a slip
		return usageErrorf("--name is empty: give the cluster's name on NATS, or leave --name out for %q", cluster.DefaultName)
	}
	if err := cluster.ValidateName(f.name); err != nil {
		return usageErrorf("--name: %v", err)
	}
	if f.creds != "" && f.url == "" {
		return usageErrorf("--creds goes with --nats URL")
	}
	return nil
}

// ref is how a message names the cluster for the user to type again.
func (f *natsFlags) ref() string {
	s := "--nats " + f.url
	if f.creds != "" {
		s += " --creds " + f.creds
	}
	if f.name != cluster.DefaultName {
		s += " --name " + f.name
	}
	return s
}

// targetArgs checks the arguments of a command whose first one is FILE|DIR
// unless --nats names the cluster: then that one is left out. rest is the
// number of arguments after it (at least rest with more).
func targetArgs(f *natsFlags, rest int, more bool) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := f.check(); err != nil {
			return err
		}
		want := rest
		if f.url == "" {
			want++
		}
		switch {
		case f.url == "" && len(args) > 0 && args[0] == "": // it read as ": no such file"
			return usageErrorf("the FILE|DIR argument is empty: give the path of a snapshot file, a checkpoint database or a cluster directory")
		case len(args) == want, more && len(args) > want:
			return nil
		case f.url != "" && !more && len(args) == want+1:
			return usageErrorf("with --nats give no FILE|DIR (%q): the generations are those of cluster %s on the NATS servers", args[0], f.name)
		}
		hint := ""
		if f.url == "" && len(args) == 0 {
			hint = "; give FILE|DIR (a snapshot file, a checkpoint database or a cluster directory), or --nats URL --creds FILE for a cluster on NATS"
		}
		return usageErrorf("%s takes %s, got %d arg(s)%s", commandName(cmd), strings.TrimPrefix(cmd.Use, cmd.Name()+" "), len(args), hint)
	}
}

// split returns the FILE|DIR argument ("" with --nats) and the others.
func (f *natsFlags) split(args []string) (string, []string) {
	if f.url != "" {
		return "", args
	}
	return args[0], args[1:]
}
