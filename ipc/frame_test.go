package ipc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// sampleMessages has one message of every kind but MIGRATE (whose record
// needs a registry; see TestMigrateMessageRoundTrip).
func sampleMessages() []message {
	id := tasklet.ID(2<<tasklet.NodeBits | 7)
	ch := channel.ID(1<<tasklet.NodeBits | 3)
	return []message{
		{Kind: kOp, Tasklet: id, Seq: 9, Epoch: 2, Cases: []scheduler.RemoteCase{
			{Index: 0, Case: tasklet.RecvCase(ch)},
			{Index: 2, Case: tasklet.SendCase(ch+1, "hello")},
			{Index: 3, Case: tasklet.SendCase(ch+2, channel.Bomb{Err: channel.ErrClosed})},
		}},
		{Kind: kOp, Tasklet: id, Seq: 1 << 31, Cases: []scheduler.RemoteCase{{Index: -1, Case: tasklet.SendCase(ch, -12345)}}},
		{Kind: kDone, Tasklet: id, Seq: 4, Idx: -1, Chan: ch, Recv: true, Node: 1, Value: 3.5},
		{Kind: kDone, Tasklet: id, Seq: 4, Idx: 2, Chan: ch, Node: 1, Err: channel.ErrClosed},
		{Kind: kCancel, Tasklet: id, Seq: 5, Node: 3},
		{Kind: kClose, Chan: ch},
		{Kind: kPost, Chan: ch, Value: Result{Name: "r", Got: []int{1, 2}}},
		{Kind: kReturn, Chan: ch, Value: int64(-1 << 40)},
		{Kind: kMigrated, Tasklet: id, Epoch: 7},
		{Kind: kMigrated, Tasklet: id, Epoch: 7, Text: "stale"},
		{Kind: kRedirect, Tasklet: id, Seq: 3, Node: 4, Epoch: 8},
		{Kind: kRedirected, Tasklet: id, Seq: 3},
		{Kind: kSettled, Tasklet: id},
		{Kind: kPing, ID: 1 << 40},
		{Kind: kPong, ID: 0},
		{Kind: kControl, ID: 5, Text: "spawn", Payload: []byte{0, 1, 2}},
		{Kind: kReply, ID: 5, Payload: bytes.Repeat([]byte("x"), 70000)},
		{Kind: kReply, ID: 6, Text: "no such tasklet", Idx: replyOK},
		{Kind: kReply, ID: 7, Idx: replyBusy},
		{Kind: kPut, Chan: ch, Value: "v"},
		{Kind: kGrant, Chan: ch, Idx: maxGrant},
		{Kind: kGrant, Chan: ch},
		{Kind: kPuts, Chan: ch, Values: []any{1, -1 << 40, "two", []byte{3}, 4.5, nil, Result{Name: "r"}}},
		{Kind: kWaiting, Chan: ch, Idx: 1023},
		{Kind: kWaiting, Chan: ch},
		{Kind: kFence, ID: 3},
		{Kind: kFenced, ID: 1 << 40},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	reg := testRegistry()
	for _, m := range sampleMessages() {
		t.Run(m.Kind.String(), func(t *testing.T) {
			body, err := appendMessage(nil, reg, &m)
			require.NoError(t, err)
			var got message
			var cases scratch
			require.NoError(t, decodeMessage(body, reg, &got, &cases))
			assert.Equal(t, m, got)
		})
	}
}

func TestMigrateMessageRoundTrip(t *testing.T) {
	reg := testRegistry()
	p := &Prog{Name: "p", Code: []Instr{recv(5)}, Got: []int{1}, Waiting: true}
	ts := scheduler.TaskletState{ID: 3<<tasklet.NodeBits | 1, Behavior: p, State: tasklet.Blocked, Wait: 4,
		Cases: []tasklet.Case{tasklet.RecvCase(5)}, Plain: true}
	raw, err := reg.DumpTasklet(&ts)
	require.NoError(t, err)
	timers := []scheduler.TimerState{{At: time.Second, Case: 1, Tasklet: ts.ID}}
	body, err := appendMessage(nil, reg, &message{Kind: kMigrate, Epoch: 3, Flag: true, Raw: raw, Timers: timers})
	require.NoError(t, err)
	var got message
	var cases scratch
	require.NoError(t, decodeMessage(body, reg, &got, &cases))
	assert.Equal(t, ts.ID, got.Tasklet)
	assert.Equal(t, uint64(3), got.Epoch)
	assert.True(t, got.Flag)
	assert.Equal(t, timers, got.Timers)
	require.NotNil(t, got.Record)
	assert.Equal(t, p, got.Record.Behavior)
	assert.Equal(t, ts.Cases, got.Record.Cases)

	// A record this program cannot load is a refusal, not a broken link.
	other := testRegistry()
	unknown := scheduler.TaskletState{ID: 9, Behavior: &Hopper{}, State: tasklet.Runnable}
	raw, err = other.DumpTasklet(&unknown)
	require.NoError(t, err)
	body, err = appendMessage(nil, reg, &message{Kind: kMigrate, Epoch: 1, Raw: raw})
	require.NoError(t, err)
	lean := pickle.NewRegistry() // knows no kinds
	require.NoError(t, decodeMessage(body, lean, &got, &cases))
	assert.Equal(t, tasklet.ID(9), got.Tasklet)
	assert.ErrorContains(t, got.Err, "ipctest.hopper")
	assert.Nil(t, got.Record)
}

func TestFrameReader(t *testing.T) {
	frame := func(body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	small, big := []byte{0x91, 0x01}, bytes.Repeat([]byte{0xc0}, 3*bufSize) // big: read past the bufio buffer
	stream := append(append(frame(small), frame(big)...), frame(small)...)
	fr := newFrameReader(bufio.NewReaderSize(bytes.NewReader(stream), bufSize), 4*bufSize)
	for i, want := range [][]byte{small, big, small} {
		got, err := fr.next()
		require.NoError(t, err, "frame %d", i)
		assert.Equal(t, want, got, "frame %d", i)
	}

	bad := []struct {
		name   string
		stream []byte
		max    int
		want   error
		reason string
	}{
		{"over the limit", binary.BigEndian.AppendUint32(nil, 1025), 1024, ErrFrameTooLarge, "1025 bytes"},
		{"4 GiB announced", []byte{0xff, 0xff, 0xff, 0xff}, DefaultMaxFrame, ErrFrameTooLarge, "4294967295"},
		{"empty frame", []byte{0, 0, 0, 0}, 1024, ErrBadFrame, "empty"},
		{"cut in the header", []byte{0, 0}, 1024, ErrBadFrame, "header"},
		{"cut in the body", append(binary.BigEndian.AppendUint32(nil, 100), make([]byte, 10)...), 1024, ErrBadFrame, "truncated"},
		{"cut in a big body", append(binary.BigEndian.AppendUint32(nil, 3*bufSize), make([]byte, bufSize)...), 4 * bufSize, ErrBadFrame, "truncated"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			fr := newFrameReader(bufio.NewReaderSize(bytes.NewReader(tc.stream), bufSize), tc.max)
			_, err := fr.next()
			require.ErrorIs(t, err, tc.want)
			assert.ErrorContains(t, err, tc.reason)
			if tc.want == ErrFrameTooLarge {
				assert.True(t, fr.big == nil, "nothing was allocated for the body")
			}
		})
	}
}

func TestEncodeRefusesWhatCannotTravel(t *testing.T) {
	reg := testRegistry()
	_, err := appendMessage(nil, reg, &message{Kind: kPost, Chan: 1, Value: struct{ X int }{1}})
	assert.ErrorContains(t, err, "not registered")
	b, start := beginFrame([]byte("kept"))
	b = append(b, make([]byte, 100)...)
	b, err = endFrame(b, start, 50)
	assert.ErrorIs(t, err, ErrFrameTooLarge)
	assert.Equal(t, []byte("kept"), b, "a dropped frame leaves the queue as it was")
}

// rawPeer links a hand-driven connection to n: the test side passes the
// handshake as node `self` and then writes whatever it likes.
func rawPeer(t *testing.T, n *Node, self uint16) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := n.Connect(a)
		errc <- err
	}()
	require.NoError(t, b.SetDeadline(time.Now().Add(waitTime)))
	_, err := handshake(b, bufio.NewReader(b), self, testSecret, nil)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	require.NoError(t, b.SetDeadline(time.Time{}))
	t.Cleanup(func() { b.Close() })
	return b
}

func TestBadFramesCloseTheLinkAndTheNodeGoesOn(t *testing.T) {
	c := newCluster(t, 2, clusterConfig{nodeOpts: []Option{WithMaxFrame(1 << 20)}})
	frame := func(body ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	deep := append(bytes.Repeat([]byte{0x91}, pickle.DefaultMaxDepth+1), 0xc0)
	cases := []struct {
		name, reason string
		bytes        []byte
		close        bool // close the connection after writing
	}{
		{"oversize", "frame too large", []byte{0xff, 0xff, 0xff, 0xff}, false},
		{"just over the limit", "frame too large", binary.BigEndian.AppendUint32(nil, 1<<20+1), false},
		{"truncated", "truncated frame", append(binary.BigEndian.AppendUint32(nil, 100), 0x95, 1, 2), true},
		{"garbage", "never-used format byte", frame(0xc1), false},
		{"array32 bomb", "exceeds", frame(0xdd, 0xff, 0xff, 0xff, 0xff), false},
		{"bin32 bomb", "exceeds", frame(0x92, 0x05, 0xc6, 0xff, 0xff, 0xff, 0xff), false},
		{"deep nesting", "nested", frame(deep...), false},
		{"unknown kind", "message kind", frame(0x91, 99), false},
		{"wrong field count", "fields", frame(0x92, byte(kCancel), 1), false},
		{"value of an unregistered type", "not registered", frame(append([]byte{0x93, byte(kPost), 0x01, 0x92, 0xa4}, "nope\xc0"...)...), false},
		{"empty", "empty frame", []byte{0, 0, 0, 0}, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			peer := uint16(100 + i)
			conn := rawPeer(t, c.nodes[0], peer)
			_, err := conn.Write(tc.bytes)
			require.NoError(t, err)
			if tc.close {
				conn.Close()
			}
			line := c.logs.wait(t, "link closed", "node=1", fmt.Sprint("peer=", peer))
			assert.Contains(t, line, tc.reason)
			assert.True(t, strings.HasPrefix(line, "WARN"), "a misbehaving peer is a warning: %s", line)
			assert.NotContains(t, c.nodes[0].Peers(), peer)
		})
	}
	// The node still works with its healthy peer.
	ch := c.ch(0, 0)
	c.prog(1, "s", send(ch, 1))
	c.prog(0, "r", recv(ch))
	assert.Equal(t, []int{1}, c.collect(2)["r"].Got)
}

// proofAndMore sends the bytes of more together with the handshake's
// second write, the PROOF, as a peer that starts talking at once may.
type proofAndMore struct {
	net.Conn
	writes int
	more   []byte
}

func (c *proofAndMore) Write(p []byte) (int, error) {
	if c.writes++; c.writes == 2 {
		n, err := c.Conn.Write(append(append([]byte(nil), p...), c.more...))
		return min(n, len(p)), err
	}
	return c.Conn.Write(p)
}

// Frames that come in with the PROOF, read ahead by the handshake, reach
// the link.
func TestFramesReadAheadByTheHandshakeReachTheLink(t *testing.T) {
	logs := newLogSink()
	n := lone(t, 1, logs, WithSecret(testSecret), WithKeepalive(0, 0))
	ping, start := beginFrame(nil)
	ping, err := appendMessage(ping, testRegistry(), &message{Kind: kPing, ID: 77})
	require.NoError(t, err)
	ping, err = endFrame(ping, start, DefaultMaxFrame)
	require.NoError(t, err)
	a, b := net.Pipe()
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := n.Connect(a)
		errc <- err
	}()
	require.NoError(t, b.SetDeadline(time.Now().Add(waitTime)))
	r := bufio.NewReader(b)
	_, err = handshake(&proofAndMore{Conn: b, more: ping}, r, 2, testSecret, nil)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	body, err := newFrameReader(r, DefaultMaxFrame).next()
	require.NoError(t, err, "the node answers the PING sent with the PROOF")
	var m message
	var cases scratch
	require.NoError(t, decodeMessage(body, testRegistry(), &m, &cases))
	assert.Equal(t, kPong, m.Kind)
	assert.EqualValues(t, 77, m.ID)
}
