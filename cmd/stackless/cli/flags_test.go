package cli

import (
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
)

// walk calls fn for every command of the tree, root first.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// Help shows each flag's value as one word: pflag takes a backquoted word
// in a usage string as the value's name, so "made by `stackless cluster
// certs`" showed as "--tls stackless cluster certs".
func TestFlagValueNames(t *testing.T) {
	walk(NewRoot(), func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			name, usage := pflag.UnquoteUsage(f)
			assert.False(t, strings.ContainsFunc(name, unicode.IsSpace), "%s --%s: value name %q", c.CommandPath(), f.Name, name)
			assert.NotContains(t, usage, "`", "%s --%s", c.CommandPath(), f.Name)
		})
		assert.NotContains(t, c.Flags().FlagUsages(), "`", c.CommandPath())
	})
}
