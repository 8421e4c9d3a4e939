//go:build linux

package ipc

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
)

// withAddrKey makes a node count a peer under the address key says.
func withAddrKey(key func(net.Addr) netip.Addr) Option {
	return func(c *config) { c.keyOf = key }
}

// floodTime bounds a flood test's run: its end is the flood's, whose pace
// is the machine's.
const floodTime = 2 * time.Minute

// A few thousand connections that never send a byte are capped, in all
// and per address, and a real peer links during the flood as fast as
// without it, whether the flood comes from one other address, from many,
// or from the peer's own address. (The flood's connections all come from
// 127.0.0.1; the node's address hook counts them under the addresses each
// case names.)
func TestFloodIsCappedAndPeersStillGetIn(t *testing.T) {
	const (
		maxPending = 64
		perAddr    = 16
		total      = 2000
	)
	certs := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, GenerateCerts(certs, nil))
	cfg, err := LoadTLSConfig(certs)
	require.NoError(t, err)
	cases := []struct {
		name    string
		network string
		key     func(port int) netip.Addr // the flood's address; the zero Addr: its real one
		peak    int                       // the most pending connections the caps allow here
	}{
		// perAddr + 2: the flood's address is capped at perAddr, and the real
		// peers' own address holds one or two: a peer's place is given back
		// once the node's side of its link is up, which can come after the
		// peer saw its call answered and the next peer dialed (18 seen in CI).
		{"tcp from another address", "tcp", func(int) netip.Addr { return netip.MustParseAddr("192.0.2.1") }, perAddr + 2},
		{"tcp from many addresses", "tcp", func(p int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(p % 32)}) }, maxPending},
		{"tcp from the peer's own address", "tcp", func(int) netip.Addr { return netip.Addr{} }, perAddr},
		{"unix socket", "unix", nil, maxPending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogSink()
			f := newFlooder(tc.network, "") // made before the node: its hook reads f
			s := scheduler.New(scheduler.WithNode(1))
			// The default handshake timeout: the flood's silent connections
			// make room by eviction, not by timing out, and a 1 s one cut real
			// peers' TLS handshakes when the machine was loaded.
			n := NewNode(s, testRegistry(), WithSecret(testSecret), WithTLS(cfg), WithLogger(logs.logger()),
				WithMaxPending(maxPending), WithMaxPendingPerAddr(perAddr),
				withAddrKey(func(a net.Addr) netip.Addr {
					if port, ok := f.isFlood(a); ok && tc.key != nil {
						if k := tc.key(port); k.IsValid() {
							return k
						}
					}
					return addrKey(a)
				}))
			t.Cleanup(func() { n.Close() })
			n.Handle("echo", func(p []byte) ([]byte, error) { return p, nil })
			addr := filepath.Join(tempDir(t), "n1.sock")
			if tc.network == "tcp" {
				addr = "127.0.0.1:0"
			}
			// The flood's pace is the machine's: at a load of 35 on 2 cores its
			// 2,000 connections took over 10 s, so the listener and
			// the real peers get floodTime, a bound for a hang only.
			ctx, cancel := context.WithTimeout(context.Background(), floodTime)
			defer cancel()
			require.NoError(t, n.Listen(ctx, tc.network, addr))
			addr = n.Addrs()[0].String()
			f.addr = addr
			f.run(total, 5) // 1,000 a second at most
			defer f.halt()

			waitUntil(t, "the flood fills the caps", func() bool { st := n.Stats(); return st.Refused+st.Evicted > 0 }, func() string {
				return fmt.Sprintf("%+v opened=%d ended=%d", n.Stats(), f.opened.Load(), f.ended.Load())
			})
			var worst time.Duration
			peers := 0
			tk := time.NewTicker(50 * time.Millisecond)
			defer tk.Stop()
			for ; f.opened.Load()+f.failed.Load() < total; peers++ { // a real peer every 50 ms while the flood goes on
				took, err := legitPeer(ctx, tc.network, addr, uint16(10+peers), WithTLS(cfg))
				require.NoError(t, err, "a real peer during the flood (%d connections opened, %d failed: %v)", f.opened.Load(), f.failed.Load(), f.lastErr.Load())
				worst = max(worst, took)
				select {
				case <-tk.C:
				case <-ctx.Done():
					t.Fatalf("the flood did not end: %d connections of %d opened, %d failed (%v)", f.opened.Load(), total, f.failed.Load(), f.lastErr.Load())
				}
			}
			st := n.Stats()
			f.halt()
			t.Logf("%d flood connections opened; the node refused %d at once and evicted %d, at most %d pending at once; %d real peers linked and called in %v at worst",
				f.opened.Load(), st.Refused, st.Evicted, st.PendingPeak, peers, worst.Round(time.Millisecond))
			assert.Positive(t, peers, "real peers linked during the flood")
			assert.LessOrEqual(t, st.PendingPeak, tc.peak, "pending connections stay under the caps")
			assert.Less(t, worst, 5*time.Second, "real peers are not held up (0.7 s at worst when measured alone)")
			waitUntil(t, "the flood's connections are gone", func() bool { return n.Stats().Pending == 0 })
		})
	}
}

// A connection in its handshake costs a few KiB, not the 64 KiB read
// buffer of a link: nothing large is allocated before the peer is
// authenticated.
func TestPendingConnectionsAreSmall(t *testing.T) {
	const conns = 200
	logs := newLogSink()
	n := lone(t, 1, logs, WithSecret(testSecret), WithMaxPending(2*conns))
	require.NoError(t, n.Listen(testCtx(t), "unix", filepath.Join(tempDir(t), "n1.sock")))
	addr := n.Addrs()[0].String()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f := newFlooder("unix", addr)
	f.run(conns, conns)
	defer f.halt()
	waitUntil(t, "every connection is in its handshake", func() bool { return n.Stats().Pending == conns })
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc+after.StackInuse) - int64(before.HeapAlloc+before.StackInuse)) / conns
	t.Logf("%d B of heap and stack per connection in its handshake (both ends)", per)
	assert.Less(t, per, int64(32<<10), "a link's 64 KiB buffer must wait for the peer to be authenticated")
}
