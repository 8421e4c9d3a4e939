package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// Control calls between the coordinator, the workers and clients travel as
// ipc control messages (authenticated links, length-limited frames). A
// request is JSON. A reply is one tag byte and a body: 'I' and the body
// inline, or 'B' and a blob descriptor when the body is larger than
// inlineMax; the caller then pulls the body in chunks with kindChunk, so no
// frame is ever larger than about a chunk whatever the size of a world.

const (
	inlineMax = 1 << 20 // larger reply bodies go through the blob table
	chunkSize = 1 << 20
	// maxBlob bounds a body a caller accepts (a world, a ps listing).
	maxBlob = 1 << 30
	// blobTTL is how long an unread blob is kept.
	blobTTL = time.Minute
)

const (
	tagInline = 'I'
	tagBlob   = 'B'
)

// errWire wraps replies that do not decode.
var errWire = errors.New("cluster: bad control reply")

// blobRef names a body waiting in a blob table.
type blobRef struct {
	ID   uint64 `json:"id"`
	Size int    `json:"size"`
}

// chunkReq asks for body bytes [Off, Off+chunkSize).
type chunkReq struct {
	ID  uint64 `json:"id"`
	Off int    `json:"off"`
}

// blobs holds reply bodies until their caller has pulled them.
type blobs struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*blob
}

type blob struct {
	data    []byte
	expires time.Time
}

func (b *blobs) put(data []byte) blobRef {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[uint64]*blob{}
	}
	now := time.Now()
	for id, x := range b.m {
		if now.After(x.expires) {
			delete(b.m, id)
		}
	}
	b.next++
	b.m[b.next] = &blob{data: data, expires: now.Add(blobTTL)}
	return blobRef{ID: b.next, Size: len(data)}
}

// chunk serves one chunk; the blob is forgotten once its last chunk is read.
func (b *blobs) chunk(req []byte) ([]byte, error) {
	var c chunkReq
	if err := decodeJSON(req, &c); err != nil {
		return nil, err
	}
	out, _, err := b.part(c.ID, c.Off, chunkSize)
	return out, err
}

// part returns up to n bytes of blob id from off, and whether they are its
// last (the blob is then forgotten).
func (b *blobs) part(id uint64, off, n int) ([]byte, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	x := b.m[id]
	if x == nil {
		return nil, false, fmt.Errorf("cluster: blob %d is unknown or expired (read it within %v)", id, blobTTL)
	}
	if off < 0 || off > len(x.data) {
		return nil, false, fmt.Errorf("cluster: blob %d: offset %d outside its %d bytes", id, off, len(x.data))
	}
	end := min(off+n, len(x.data))
	out := x.data[off:end]
	if end == len(x.data) {
		delete(b.m, id)
	}
	return out, end == len(x.data), nil
}

// wrap turns a handler's body into a reply.
func (b *blobs) wrap(body []byte) ([]byte, error) { return b.wrapAt(body, inlineMax) }

// wrapAt is wrap with bodies larger than inline going through the table.
func (b *blobs) wrapAt(body []byte, inline int) ([]byte, error) {
	if len(body) <= inline {
		out := make([]byte, 0, len(body)+1)
		return append(append(out, tagInline), body...), nil
	}
	ref, err := json.Marshal(b.put(body))
	if err != nil {
		return nil, err
	}
	return append([]byte{tagBlob}, ref...), nil
}

// caller is the part of ipc.Node a control client needs.
type caller interface {
	Call(ctx context.Context, node uint16, kind string, payload []byte) ([]byte, error)
}

// unwrap returns a reply's body, pulling it from node's blob table if
// needed.
func unwrap(ctx context.Context, c caller, node uint16, reply []byte) ([]byte, error) {
	if len(reply) == 0 {
		return nil, fmt.Errorf("%w from node %d: empty", errWire, node)
	}
	switch reply[0] {
	case tagInline:
		return reply[1:], nil
	case tagBlob:
	default:
		return nil, fmt.Errorf("%w from node %d: tag %q", errWire, node, reply[0])
	}
	var ref blobRef
	if err := decodeJSON(reply[1:], &ref); err != nil {
		return nil, fmt.Errorf("%w from node %d: %w", errWire, node, err)
	}
	if ref.Size < 0 || ref.Size > maxBlob {
		return nil, fmt.Errorf("%w from node %d: a %d-byte body (the limit is %d)", errWire, node, ref.Size, maxBlob)
	}
	// Memory grows with the bytes that came, not with what was announced;
	// every chunk but the last must be full.
	body := make([]byte, 0, min(ref.Size, 4*chunkSize))
	for len(body) < ref.Size {
		req, _ := json.Marshal(chunkReq{ID: ref.ID, Off: len(body)})
		part, err := c.Call(ctx, node, kindChunk, req)
		if err != nil {
			return nil, fmt.Errorf("cluster: pull a %d-byte reply from node %d: %w", ref.Size, node, err)
		}
		if want := min(chunkSize, ref.Size-len(body)); len(part) != want {
			return nil, fmt.Errorf("%w from node %d: a chunk of %d bytes at offset %d of %d (want %d)", errWire, node, len(part), len(body), ref.Size, want)
		}
		body = append(body, part...)
	}
	return body, nil
}

// decodeJSON decodes one JSON value, refusing trailing data.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", errWire, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the JSON value", errWire)
	}
	return nil
}

// call runs control kind on node with req as JSON and decodes the reply's
// body into resp (nil: ignore it).
func call(ctx context.Context, c caller, node uint16, kind string, req, resp any) error {
	body, err := callRaw(ctx, c, node, kind, req)
	if err != nil || resp == nil {
		return err
	}
	if err := decodeJSON(body, resp); err != nil {
		return fmt.Errorf("cluster: %s on node %d: %w", kind, node, err)
	}
	return nil
}

// callRaw is call returning the reply's body as is.
func callRaw(ctx context.Context, c caller, node uint16, kind string, req any) ([]byte, error) {
	var payload []byte
	if req != nil {
		var err error
		if payload, err = json.Marshal(req); err != nil {
			return nil, fmt.Errorf("cluster: %s: %w", kind, err)
		}
	}
	reply, err := c.Call(ctx, node, kind, payload)
	if err != nil {
		return nil, remoteErr(err)
	}
	return unwrap(ctx, c, node, reply)
}

// remoteErr keeps an ipc.RemoteError's own message readable (it is the
// handler's error, already saying what and where) and lets callers test it
// with errors.Is against the sentinels a handler may have wrapped.
func remoteErr(err error) error {
	var re *ipc.RemoteError
	if !errors.As(err, &re) {
		return err
	}
	return newHandlerError(re.Node, re.Msg)
}

// newHandlerError is the error message msg of node's handler, matched to
// the sentinel it names.
func newHandlerError(node uint16, msg string) error {
	e := &handlerError{node: node, msg: msg}
	for _, s := range wireSentinels {
		if strings.Contains(msg, s.Error()) {
			e.is = s
			break
		}
	}
	return e
}

// wireSentinels are the errors a control reply keeps across the wire.
var wireSentinels = []error{ErrUnknownSpawner, ErrNoTasklet, ErrClosed, store.ErrNotFound, store.ErrEmpty, ErrSnapshot, ErrFenced, scheduler.ErrEffectInFlight, ErrStoreBroken}

// handlerError is the error of a control handler on another node.
type handlerError struct {
	node uint16
	msg  string
	is   error
}

// Error is the handler's own message, which says what failed ("cluster:
// ..."). A worker's gets "worker N: " once; the coordinator's gets nothing,
// as the coordinator is who every client talks to. A reply relayed through
// the coordinator read "node 0: node 1: cluster: ...".
func (e *handlerError) Error() string {
	if e.node == coordNode {
		return e.msg
	}
	prefix := fmt.Sprintf("worker %d: ", e.node)
	if strings.HasPrefix(e.msg, prefix) {
		return e.msg
	}
	return prefix + e.msg
}
func (e *handlerError) Unwrap() error { return e.is }

// handler is a control handler returning a body.
type handler func(ctx context.Context, req []byte) ([]byte, error)

// jsonHandler adapts a typed function to a handler.
func jsonHandler[Req, Resp any](fn func(ctx context.Context, req Req) (Resp, error)) handler {
	return func(ctx context.Context, b []byte) ([]byte, error) {
		var req Req
		if len(b) > 0 {
			if err := decodeJSON(b, &req); err != nil {
				return nil, err
			}
		}
		resp, err := fn(ctx, req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

// serve registers h on node under kind; bodies are wrapped for transport.
// ctx bounds every handler's work.
func serve(ctx context.Context, n *ipc.Node, b *blobs, kind string, h handler) {
	n.Handle(kind, func(payload []byte) ([]byte, error) {
		body, err := h(ctx, payload)
		if err != nil {
			return nil, err
		}
		return b.wrap(body)
	})
}

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

// none is the empty request or reply.
type none struct{}
