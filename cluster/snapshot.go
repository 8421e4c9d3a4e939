package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stackless-go/stackless/store"
)

// snapshotFormat is the version of the cluster header in a generation.
const snapshotFormat = 1

// ErrSnapshot wraps every problem with the cluster header or the records of
// a stored generation.
var ErrSnapshot = errors.New("not a valid cluster checkpoint")

// clusterSnapshot is one consistent cluster checkpoint: the world of every worker,
// taken at one barrier, and what is needed to route between them.
type clusterSnapshot struct {
	Gen      uint64        // the generation (set by save and load)
	Time     time.Time     // when it was taken
	NextNode uint16        // the next logical node number to hand out
	Worlds   []storedWorld // one per worker, by Node
}

// storedWorld is the pickled world of one worker (pickle.DumpWorld) and the
// logical nodes it hosts: its own node, plus the nodes merged into it when a
// checkpoint of more workers was restored onto fewer.
type storedWorld struct {
	Node  uint16   // the node number of the worker's scheduler
	Hosts []uint16 // logical nodes whose tasklets and channels live here, Node included
	Blob  []byte   // pickle.DumpWorld
	// SHA256 is the digest of Blob from the manifest it was loaded by
	// ("" when not loaded from the store).
	SHA256 string
}

// header is the generation's Meta: the snapshot without the world blobs.
type header struct {
	Format   int           `json:"format"`
	Kind     string        `json:"kind"`
	NextNode uint16        `json:"next_node"`
	Worlds   []headerWorld `json:"worlds"`
}

type headerWorld struct {
	Node  uint16   `json:"node"`
	Hosts []uint16 `json:"hosts"`
}

const headerKind = "stackless-cluster"

// worldKey is the record key of the world of node n.
func worldKey(n uint16) []byte { return binary.BigEndian.AppendUint16([]byte{'w'}, n) }

// Routes maps every logical node of the snapshot to the node of the world
// that hosts it.
func (s *clusterSnapshot) Routes() map[uint16]uint16 {
	r := map[uint16]uint16{}
	for _, w := range s.Worlds {
		for _, l := range w.Hosts {
			r[l] = w.Node
		}
	}
	return r
}

// validate checks what a decoder cannot: unique nodes, every world hosting
// itself, no logical node hosted twice, and NextNode above them all.
func (s *clusterSnapshot) validate() error {
	seen := map[uint16]bool{}
	for _, w := range s.Worlds {
		if w.Node == 0 {
			return fmt.Errorf("%w: world of node 0 (node 0 is the coordinator's)", ErrSnapshot)
		}
		if !slices.Contains(w.Hosts, w.Node) {
			return fmt.Errorf("%w: world of node %d does not host its own node (hosts %v)", ErrSnapshot, w.Node, w.Hosts)
		}
		for _, l := range w.Hosts {
			if l == 0 || seen[l] {
				return fmt.Errorf("%w: logical node %d is zero or hosted twice", ErrSnapshot, l)
			}
			seen[l] = true
			if l >= s.NextNode {
				return fmt.Errorf("%w: logical node %d is not below next_node %d", ErrSnapshot, l, s.NextNode)
			}
		}
	}
	return nil
}

// decodeSnapshot turns a stored generation back into a clusterSnapshot, checking
// the header against the records.
func decodeSnapshot(cp *store.Checkpoint) (*clusterSnapshot, error) {
	var h header
	dec := json.NewDecoder(bytes.NewReader(cp.Meta))
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrSnapshot, err)
	}
	if h.Kind != headerKind {
		return nil, fmt.Errorf("%w: header kind %q (this is a %q database?)", ErrSnapshot, h.Kind, headerKind)
	}
	if h.Format != snapshotFormat {
		return nil, fmt.Errorf("%w: header format %d; this build reads format %d", ErrSnapshot, h.Format, snapshotFormat)
	}
	recs := map[string][]byte{}
	for _, r := range cp.Records {
		recs[string(r.Key)] = r.Value
	}
	s := &clusterSnapshot{Time: cp.Time, NextNode: h.NextNode}
	for _, hw := range h.Worlds {
		blob, ok := recs[string(worldKey(hw.Node))]
		if !ok {
			return nil, fmt.Errorf("%w: no record for the world of node %d", ErrSnapshot, hw.Node)
		}
		delete(recs, string(worldKey(hw.Node)))
		s.Worlds = append(s.Worlds, storedWorld{Node: hw.Node, Hosts: hw.Hosts, Blob: blob})
	}
	if len(recs) > 0 {
		return nil, fmt.Errorf("%w: %d record(s) the header does not list", ErrSnapshot, len(recs))
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// StoredWorld is one worker's part of a stored cluster checkpoint: its
// node, the logical nodes it hosts, and its world (pickle.DumpWorld; split
// it with Registry.SplitWorld to read it without the kinds).
type StoredWorld struct {
	Node  uint16
	Hosts []uint16
	World []byte
}

// IsCheckpoint reports whether a generation's Meta is the header of a
// cluster checkpoint (a single-process checkpoint's is a pickled world
// header), so that tools reading any database tell the two apart.
func IsCheckpoint(meta []byte) bool {
	var h struct {
		Kind string `json:"kind"`
	}
	return len(meta) > 0 && meta[0] == '{' && json.Unmarshal(meta, &h) == nil && h.Kind == headerKind
}

// DecodeCheckpoint returns the worker worlds of a stored cluster
// generation (Checkpoints.Load, or a snapshot file exported from one),
// checked as a restore checks them. Errors wrap ErrSnapshot.
func DecodeCheckpoint(cp *store.Checkpoint) ([]StoredWorld, error) {
	s, err := decodeSnapshot(cp)
	if err != nil {
		return nil, err
	}
	out := make([]StoredWorld, len(s.Worlds))
	for i, w := range s.Worlds {
		out[i] = StoredWorld{Node: w.Node, Hosts: w.Hosts, World: w.Blob}
	}
	return out, nil
}
