package cluster

// Reads that decide something go to the stream's leader. A KV bucket made
// by nats.go allows direct gets, which any replica answers (the one on the
// client's server first) from what it has applied so far: right after a
// commit or a renewal, a follower may still answer with the value before it
// (seen: a fifth of the reads right after a put on three servers). The
// manifests and the lease decide what a restore loads and who leads, so
// their Get asks the stream's leader instead ($JS.API.STREAM.MSG.GET, which
// only the leader answers), for buckets made by any version alike: the
// bucket's config is not changed, so handles of older versions that use
// direct gets keep working on it. The generation list and the world
// objects are read through consumers any replica may serve: the list is
// completed from the leader (newerGens), and a world not found yet is
// asked for again for a while (objectLag).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// leaderKV is a KV bucket whose Get is answered by its stream's leader;
// everything else is the bucket's own.
type leaderKV struct {
	jetstream.KeyValue
	nc *nats.Conn
}

// readFromLeader wraps kv (on nc) so that its Get reads through the leader.
func readFromLeader(kv jetstream.KeyValue, nc *nats.Conn) jetstream.KeyValue {
	if _, ok := kv.(leaderKV); ok || kv == nil {
		return kv
	}
	return leaderKV{KeyValue: kv, nc: nc}
}

// msgGetReply is the JetStream API's answer to STREAM.MSG.GET.
type msgGetReply struct {
	Message *struct {
		Subject string    `json:"subject"`
		Seq     uint64    `json:"seq"`
		Header  []byte    `json:"hdrs,omitempty"`
		Data    []byte    `json:"data,omitempty"`
		Time    time.Time `json:"time"`
	} `json:"message,omitempty"`
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     uint16 `json:"err_code"`
		Description string `json:"description"`
	} `json:"error,omitempty"`
}

// jsErrNoMessage is JetStream's error code for "no message found".
const jsErrNoMessage = 10037

// Get reads the newest value of key from the stream's leader:
// jetstream.ErrKeyNotFound when it has none or it was deleted.
func (k leaderKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	bucket := k.Bucket()
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	m, err := k.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, err
	}
	var r msgGetReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return nil, fmt.Errorf("cluster: read %s from the leader of bucket %s: the answer does not decode: %w", key, bucket, err)
	}
	switch {
	case r.Error != nil && r.Error.ErrCode == jsErrNoMessage:
		return nil, jetstream.ErrKeyNotFound
	case r.Error != nil:
		// A 503 (no leader for now) passes as natsTransient says.
		return nil, fmt.Errorf("cluster: read %s from the leader of bucket %s: %w", key, bucket,
			&jetstream.APIError{Code: r.Error.Code, ErrorCode: jetstream.ErrorCode(r.Error.ErrCode), Description: r.Error.Description})
	case r.Message == nil:
		return nil, fmt.Errorf("cluster: read %s from the leader of bucket %s: an answer with no message", key, bucket)
	}
	op := jetstream.KeyValuePut
	if len(r.Message.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(r.Message.Header)
		if err != nil {
			return nil, fmt.Errorf("cluster: read %s from the leader of bucket %s: headers: %w", key, bucket, err)
		}
		switch strings.ToUpper(h.Get("KV-Operation")) {
		case "DEL", "PURGE":
			op = jetstream.KeyValueDelete
		}
	}
	if op != jetstream.KeyValuePut {
		return nil, jetstream.ErrKeyNotFound
	}
	return leaderEntry{bucket: bucket, key: key, value: r.Message.Data, rev: r.Message.Seq, created: r.Message.Time}, nil
}

// leaderEntry is a value read through the leader.
type leaderEntry struct {
	bucket, key string
	value       []byte
	rev         uint64
	created     time.Time
}

func (e leaderEntry) Bucket() string                  { return e.bucket }
func (e leaderEntry) Key() string                     { return e.key }
func (e leaderEntry) Value() []byte                   { return e.value }
func (e leaderEntry) Revision() uint64                { return e.rev }
func (e leaderEntry) Created() time.Time              { return e.created }
func (e leaderEntry) Delta() uint64                   { return 0 }
func (e leaderEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }

// newerProbe bounds the generations newerGens asks the leader for.
const newerProbe = 32

// newerGens appends to listed (sorted) the generations committed above
// its newest, up to the generation counter, read from the leader (at most
// newerProbe of them: a listing lags by a few commits, not by more).
// Numbers taken by checkpoints that failed have no manifest and are passed
// over.
func (g *genStore) newerGens(ctx context.Context, listed []uint64) ([]uint64, error) {
	var e jetstream.KeyValueEntry
	err := retryJS(ctx, jsAttempt, func(ctx context.Context) (err error) {
		e, err = g.kv.Get(ctx, genKey)
		return err
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return listed, nil // no generation number handed out yet
	}
	if err != nil {
		return nil, fmt.Errorf("read the generation counter: %w", err)
	}
	last, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: the generation counter %q in %s is not a number", ErrSnapshot, e.Value(), g.names.Manifests)
	}
	from := uint64(1)
	if len(listed) > 0 {
		from = listed[len(listed)-1] + 1
	}
	if last >= newerProbe && from < last-newerProbe+1 {
		from = last - newerProbe + 1
	}
	for gen := from; gen <= last; gen++ {
		err := retryJS(ctx, jsAttempt, func(ctx context.Context) error {
			_, err := g.kv.Get(ctx, manifestKey(gen))
			return err
		})
		switch {
		case err == nil:
			listed = append(listed, gen)
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return nil, fmt.Errorf("read the manifest of generation %d: %w", gen, err)
		}
	}
	return listed, nil
}

// objectLag is how long an object that a committed manifest names, but
// that is not found, is asked for again before the generation is taken
// for damaged: the object's reads are answered by any replica (unlike the
// manifest's, jsleader.go), and one may not have applied it yet.
var objectLag = 2 * time.Second

// errLagging marks a read that may come from a replica behind the leader.
var errLagging = errors.New("not found yet: the replica may lag")
