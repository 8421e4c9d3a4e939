package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every flag that takes an address is checked before anything runs, and a
// bad port is a usage error naming the flag and the port: --http :99999
// asked for TLS, cluster up --http 127.0.0.1:70000 started the cluster
// and demo longtask its run before failing at the listen.
func TestEveryAddressFlagIsChecked(t *testing.T) {
	type flagCase struct {
		cmd  *cobra.Command
		flag *pflag.Flag
	}
	var cases []flagCase
	walk(NewRoot(), func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(f)
			if name != "HOST:PORT" && name != "URL[,URL]" {
				return
			}
			if assert.NotEmpty(t, f.Annotations[addrAnnotation], "%s --%s takes an address and is not checked: call isAddress", c.CommandPath(), f.Name) {
				cases = append(cases, flagCase{c, f})
			}
		})
	})
	require.GreaterOrEqual(t, len(cases), 10)
	for _, fc := range cases {
		c := fc.cmd
		if len(c.Commands()) > 0 {
			c = c.Commands()[0]
		}
		bad := "127.0.0.1:99999"
		if fc.flag.Annotations[addrAnnotation][0] == addrNATS {
			bad = "nats://127.0.0.1:99999"
		}
		t.Run(c.CommandPath()+" --"+fc.flag.Name, func(t *testing.T) {
			pos := validArgs(t, c.CommandPath())
			if bad == "nats://127.0.0.1:99999" && len(pos) > 0 && strings.HasPrefix(pos[0], "/") {
				pos = pos[1:] // with --nats, the cluster is on NATS: no FILE|DIR
			}
			args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "stackless")), pos...)
			code, out, errOut := run(t, append(args, "--"+fc.flag.Name, bad)...)
			assert.Equal(t, exitUsage, code, "stdout: %s\nstderr: %s", out, errOut)
			assert.Contains(t, errOut, "--"+fc.flag.Name+" ")
			assert.Contains(t, errOut, "port 99999 is invalid; a port is a number from")
		})
	}
}

func TestCheckAddress(t *testing.T) {
	for _, tc := range []struct {
		use, value, want string // want "" = accepted
	}{
		{addrListen, "", ""},
		{addrListen, "127.0.0.1:0", ""},
		{addrListen, ":8080", ""},
		{addrListen, "[::1]:65535", ""},
		{addrListen, "localhost:http", ""},
		{addrListen, ":99999", `":99999": port 99999 is invalid; a port is a number from 0 to 65535 (0 picks a free one)`},
		{addrListen, ":-1", "port -1 is invalid"},
		{addrListen, "127.0.0.1:abc", `port "abc" is not a number`},
		{addrListen, "127.0.0.1", "is not HOST:PORT"},
		{addrListen, "127.0.0.1:", `port "" is not a number`},
		{addrDial, "10.0.0.5:7070", ""},
		{addrDial, ":7070", "names no host"},
		{addrDial, "10.0.0.5:0", "port 0 is invalid; a port is a number from 1 to 65535"},
		// A malformed host asked for TLS (--http) or failed at the dial.
		{addrListen, "a b:1", `"a b" is not a host name or IP address`},
		{addrListen, "256.1.1.1:80", `"256.1.1.1" is not an IP address`},
		{addrDial, "node_1.lan:7070", ""},
		{addrDial, "[fe80::1%eth0]:7070", ""},
		{addrDial, "-x.lan:7070", "is not a host name"},
		{addrDial, "a..b:7070", "is not a host name"},
		{addrNATS, "nats://a:4222,b:4223, nats://c", ""},
		{addrNATS, "nats://a:4222,nats://b:70000", `"nats://b:70000": port 70000 is invalid`},
		{addrNATS, "nats://:4222", "names no host"},
		{addrNATS, "nats://a:4222,", "an empty NATS URL"},
		{addrNATS, "nats://a:x", "is not a NATS URL"},
	} {
		err := checkAddress(tc.use, tc.value)
		if tc.want == "" {
			assert.NoError(t, err, "%s %q", tc.use, tc.value)
		} else {
			assert.ErrorContains(t, err, tc.want, "%s %q", tc.use, tc.value)
		}
	}
}

// An --http that needs TLS, or an --http-tls folder that does not load,
// was refused by observe.Start only once cluster up had started the
// cluster (and demo longtask its run), and the message named --tls, the
// flag of the cluster's links.
func TestHTTPNeedsTLSIsCheckedBeforeAnythingStarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	code, _, errOut := run(t, "cluster", "up", "--data", dir, "-n", "1", "--http", "0.0.0.0:0")
	assert.Equal(t, exitUsage, code, errOut)
	assert.Contains(t, errOut, "--http 0.0.0.0:0: a non-loopback address needs TLS: give --http-tls DIR")
	assert.NoDirExists(t, dir, "the cluster was started")

	data := filepath.Join(t.TempDir(), "lt")
	empty := t.TempDir()
	code, _, errOut = run(t, "demo", "longtask", "--data", data, "--docs", "5", "--http", "0.0.0.0:0", "--http-tls", empty)
	assert.Equal(t, exitFailure, code, errOut)
	assert.Contains(t, errOut, "--http-tls "+empty+": ")
	assert.Contains(t, errOut, "stackless cluster certs")
	assert.NoDirExists(t, data, "the run was started")
}
