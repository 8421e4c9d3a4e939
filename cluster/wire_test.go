package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/store"
)

// tableCaller serves kindChunk from a blob table, as a remote node would.
type tableCaller struct {
	b     *blobs
	calls int
}

func (c *tableCaller) Call(_ context.Context, _ uint16, kind string, payload []byte) ([]byte, error) {
	c.calls++
	if kind != kindChunk {
		return nil, ipc.ErrNoHandler
	}
	return c.b.chunk(payload)
}

func TestRepliesRoundTripInlineAndInChunks(t *testing.T) {
	for _, size := range []int{0, 10, inlineMax, inlineMax + 1, 3*chunkSize + 17} {
		b := &blobs{}
		body := bytes.Repeat([]byte{7}, size)
		body = append(body, byte(size))
		reply, err := b.wrap(body)
		require.NoError(t, err)
		c := &tableCaller{b: b}
		got, err := unwrap(context.Background(), c, 1, reply)
		require.NoError(t, err, "size %d", size)
		assert.Equal(t, body, got, "size %d", size)
		wantCalls := 0
		if len(body) > inlineMax {
			wantCalls = (len(body) + chunkSize - 1) / chunkSize
		}
		assert.Equal(t, wantCalls, c.calls, "size %d: chunks pulled", size)
		assert.Empty(t, b.m, "a fully read blob is forgotten")
	}
}

func TestUnwrapRefusesBadReplies(t *testing.T) {
	ref := func(size int) []byte {
		j, _ := json.Marshal(blobRef{ID: 1, Size: size})
		return append([]byte{tagBlob}, j...)
	}
	b := &blobs{}
	b.put([]byte("short")) // blob 1 holds 5 bytes
	for _, tc := range []struct {
		name  string
		reply []byte
	}{
		{"empty", nil},
		{"unknown tag", []byte("Xabc")},
		{"bad descriptor", []byte("B{")},
		{"negative size", ref(-1)},
		{"over the limit", ref(maxBlob + 1)},
		{"peer sends less than it announced", ref(50)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := unwrap(context.Background(), &tableCaller{b: b}, 1, tc.reply)
			assert.Error(t, err)
		})
	}
}

func TestChunkRefusesUnknownBlobsAndOffsets(t *testing.T) {
	b := &blobs{}
	r := b.put([]byte("abc"))
	_, err := b.chunk([]byte(`{"id":99,"off":0}`))
	assert.ErrorContains(t, err, "unknown or expired")
	_, err = b.chunk([]byte(`{"id":` + jsonNum(r.ID) + `,"off":4}`))
	assert.ErrorContains(t, err, "offset 4")
	_, err = b.chunk([]byte(`not json`))
	assert.ErrorIs(t, err, errWire)
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestDecodeJSONRefusesTrailingData(t *testing.T) {
	var v struct{ A int }
	require.NoError(t, decodeJSON([]byte(`{"A":1}`), &v))
	assert.ErrorIs(t, decodeJSON([]byte(`{"A":1}{"A":2}`), &v), errWire)
}

func TestRemoteErrorsKeepTheirSentinels(t *testing.T) {
	for _, s := range wireSentinels {
		err := remoteErr(&ipc.RemoteError{Node: 3, Kind: "k", Msg: "cluster: something: " + s.Error()})
		assert.ErrorIs(t, err, s)
		assert.Contains(t, err.Error(), "worker 3")
	}
	plain := remoteErr(&ipc.RemoteError{Node: 3, Kind: "k", Msg: "boom"})
	assert.False(t, errors.Is(plain, store.ErrNotFound))
	assert.Equal(t, "worker 3: boom", plain.Error())
	other := errors.New("x")
	assert.Equal(t, other, remoteErr(other))
}

// Each hop adds where it failed once: a worker's error relayed by the
// coordinator to a client read "node 0: node 1: cluster: ...".
func TestRemoteErrorsAddContextOnce(t *testing.T) {
	w := remoteErr(&ipc.RemoteError{Node: 1, Kind: "k", Msg: "cluster: kill t5: " + ErrNoTasklet.Error()})
	assert.Equal(t, "worker 1: cluster: kill t5: "+ErrNoTasklet.Error(), w.Error())
	relayed := remoteErr(&ipc.RemoteError{Node: coordNode, Kind: "k", Msg: w.Error()})
	assert.Equal(t, w.Error(), relayed.Error(), "the coordinator adds nothing: clients talk to it")
	assert.ErrorIs(t, relayed, ErrNoTasklet)
	again := remoteErr(&ipc.RemoteError{Node: 1, Kind: "k", Msg: w.Error()})
	assert.Equal(t, w.Error(), again.Error(), "a worker is named once")
	assert.Equal(t, "cluster: migrate t5 to worker 9: no such worker",
		remoteErr(&ipc.RemoteError{Node: coordNode, Kind: "k", Msg: "cluster: migrate t5 to worker 9: no such worker"}).Error())
}

// FuzzUnwrap feeds the reply decoder arbitrary replies and chunks: it must
// return an error or a body of the announced size, never panic or pull
// more than the limit.
func FuzzUnwrap(f *testing.F) {
	f.Add([]byte("I{}"), []byte(nil))
	f.Add([]byte(`B{"id":1,"size":3}`), []byte("abc"))
	f.Add([]byte(`B{"id":1,"size":1073741824}`), []byte("a"))
	f.Fuzz(func(t *testing.T, reply, chunk []byte) {
		c := chunkCaller(chunk)
		body, err := unwrap(context.Background(), c, 1, reply)
		if err != nil || len(reply) == 0 || reply[0] != tagBlob {
			return
		}
		var ref blobRef
		if decodeJSON(reply[1:], &ref) == nil && len(body) != ref.Size {
			t.Fatalf("body of %d bytes for a %d-byte blob", len(body), ref.Size)
		}
	})
}

// chunkCaller answers every chunk request with the same bytes.
type chunkCaller []byte

func (c chunkCaller) Call(context.Context, uint16, string, []byte) ([]byte, error) {
	if len(c) == 0 {
		return nil, errors.New("no more")
	}
	return c, nil
}
