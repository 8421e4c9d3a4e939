package cluster

// Fencing: every command a coordinator sends a worker ("w." kinds) carries
// the epoch of its leadership lease (lease.go) in a prefix of the payload;
// a worker remembers the highest epoch it has seen and refuses a command
// of a lower one with ErrFenced. A coordinator that lost its lease without
// knowing it yet (paused, cut off) can therefore not pause, snapshot,
// migrate or stop the workers the new leader drives.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// fenceMagic starts a fenced payload; a JSON payload never starts with 0.
var fenceMagic = []byte{0, 'F', 'E'}

const fenceLen = 3 + 8

// ErrFenced is returned by a worker to a command from a coordinator whose
// lease epoch is older than one it has seen: a deposed leader.
var ErrFenced = errors.New("command from a deposed coordinator refused")

// fencedCaller prefixes every worker command with the caller's epoch.
type fencedCaller struct {
	n     caller
	epoch func() uint64
}

func (f fencedCaller) Call(ctx context.Context, node uint16, kind string, payload []byte) ([]byte, error) {
	if e := f.epoch(); e > 0 && strings.HasPrefix(kind, "w.") {
		p := make([]byte, 0, fenceLen+len(payload))
		p = append(p, fenceMagic...)
		p = binary.BigEndian.AppendUint64(p, e)
		payload = append(p, payload...)
	}
	return f.n.Call(ctx, node, kind, payload)
}

// fence is a worker's record of the newest epoch it obeyed.
type fence struct {
	mu  sync.Mutex
	max uint64
}

// check strips the epoch off a command and refuses a stale one; an
// unfenced payload passes unchanged.
func (f *fence) check(kind string, payload []byte) ([]byte, error) {
	if len(payload) < fenceLen || !bytes.HasPrefix(payload, fenceMagic) {
		return payload, nil
	}
	e := binary.BigEndian.Uint64(payload[len(fenceMagic):fenceLen])
	f.mu.Lock()
	defer f.mu.Unlock()
	if e < f.max {
		return nil, fmt.Errorf("cluster: %s: %w: its epoch is %d, the leader's is %d", kind, ErrFenced, e, f.max)
	}
	f.max = e
	return payload[fenceLen:], nil
}

// epoch is the newest epoch the worker obeyed.
func (f *fence) epoch() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.max
}
