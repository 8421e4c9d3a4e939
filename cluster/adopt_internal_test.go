package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRecord(t *testing.T) {
	r, err := parseRecord("w3.json", []byte(`{"node":3,"pid":42,"network":"unix","addr":"d/sock/w3"}`))
	require.NoError(t, err)
	assert.Equal(t, workerRecord{Node: 3, Pid: 42, Network: "unix", Addr: "d/sock/w3"}, r)
	r, err = parseRecord("w3.json", []byte(`{"node":3,"pid":42,"start":123456,"network":"unix","addr":"d/sock/w3"}`))
	require.NoError(t, err)
	assert.Equal(t, uint64(123456), r.Start)
	for name, b := range map[string]string{
		"w3.json":          `{"node":4,"pid":42}`, // another node's
		"w0.json":          `{"node":0}`,
		"w3.tmp":           `{"node":3}`,
		".w3.1.tmp":        `{"node":3}`,
		".w3.json.tmp-123": `{"node":3}`,     // atomicfile's temporary name
		"w61440.json":      `{"node":61440}`, // a client's number
		"wx.json":          `{}`,
		"w5.json":          `{"node":5,"pid":-1}`,
		"w6.json":          `{"node":`,
		"w7.json":          ``,
		"w8.json":          `[1,2]`,
		"w9.json.json":     `{"node":9}`,
		"w10.json":         `{"node":10,"pid":1,"start":-5}`,
	} {
		_, err := parseRecord(name, []byte(b))
		assert.Error(t, err, "%s: %s", name, b)
	}
}

// FuzzParseRecord: a worker record is read from disk at start; no bytes
// may crash the coordinator, and what is accepted names its own node.
func FuzzParseRecord(f *testing.F) {
	f.Add("w3.json", []byte(`{"node":3,"pid":42,"network":"unix","addr":"d/sock/w3"}`))
	f.Add("w1.json", []byte(`{"node":1}`))
	f.Add("w2.json", []byte(`{"node":`))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		r, err := parseRecord(name, b)
		if err != nil {
			return
		}
		n, ok := nodeOfName(name[:len(name)-len(".json")])
		if !ok || r.Node != n || r.Pid < 0 {
			t.Fatalf("accepted %q %q as %+v", name, b, r)
		}
	})
}
