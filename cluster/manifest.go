package cluster

// The manifest of a generation in JetStream: what commits it. It is read
// back from a bucket anyone with the credentials can write, so it is
// decoded strictly (fuzzed: FuzzManifest) and every world it names is
// checked against its size and SHA-256 digest before it is used.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stackless-go/stackless/store"
)

// maxManifest bounds a manifest's size (one KV value).
const maxManifest = 1 << 20

// manifest lists the worlds of one committed generation.
type manifest struct {
	Format   int             `json:"format"`
	Kind     string          `json:"kind"`
	Gen      uint64          `json:"gen"`
	Time     time.Time       `json:"time"`
	NextNode uint16          `json:"next_node"`
	Worlds   []manifestWorld `json:"worlds"`
}

// manifestWorld is one worker's world: where it is and what it must be.
type manifestWorld struct {
	Node   uint16   `json:"node"`
	Hosts  []uint16 `json:"hosts"`
	Object string   `json:"object"`
	Size   int64    `json:"size"`
	SHA256 string   `json:"sha256"`
}

func (m *manifest) encode() ([]byte, error) { return json.Marshal(m) }

// decodeManifest parses and checks a manifest: known fields only, this
// format, a generation, a world per node with its own object name.
// Errors wrap ErrSnapshot.
func decodeManifest(b []byte) (*manifest, error) {
	if len(b) > maxManifest {
		return nil, fmt.Errorf("%w: manifest of %d bytes, over %d", ErrSnapshot, len(b), maxManifest)
	}
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest does not decode: %v", ErrSnapshot, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest has bytes after its end", ErrSnapshot)
	}
	if m.Kind != headerKind {
		return nil, fmt.Errorf("%w: manifest kind %q, not %q", ErrSnapshot, m.Kind, headerKind)
	}
	if m.Format > snapshotFormat {
		// Not damage: passing over it would resume an older generation, and
		// the retention would then delete the newer ones.
		return nil, fmt.Errorf("%w: %w: manifest format %d, written by a newer stackless; this build reads format %d: run the stackless that wrote it",
			ErrSnapshot, store.ErrVersion, m.Format, snapshotFormat)
	}
	if m.Format != snapshotFormat {
		return nil, fmt.Errorf("%w: manifest format %d; this build reads format %d", ErrSnapshot, m.Format, snapshotFormat)
	}
	if m.Gen == 0 {
		return nil, fmt.Errorf("%w: manifest of generation 0", ErrSnapshot)
	}
	if len(m.Worlds) == 0 {
		return nil, fmt.Errorf("%w: manifest lists no world", ErrSnapshot)
	}
	s := clusterSnapshot{NextNode: m.NextNode}
	for _, w := range m.Worlds {
		if w.Object != objectName(m.Gen, w.Node) {
			return nil, fmt.Errorf("%w: the world of node %d is object %q, not %q", ErrSnapshot, w.Node, w.Object, objectName(m.Gen, w.Node))
		}
		if w.Size < 0 {
			return nil, fmt.Errorf("%w: the world of node %d has size %d", ErrSnapshot, w.Node, w.Size)
		}
		if d, err := hex.DecodeString(w.SHA256); err != nil || len(d) != sha256.Size {
			return nil, fmt.Errorf("%w: the world of node %d has no valid SHA-256 digest (%q)", ErrSnapshot, w.Node, w.SHA256)
		}
		s.Worlds = append(s.Worlds, storedWorld{Node: w.Node, Hosts: w.Hosts})
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// check verifies a world's bytes against the manifest.
func (w manifestWorld) check(blob []byte) error {
	if int64(len(blob)) != w.Size {
		return fmt.Errorf("%w: %d bytes, the manifest says %d", ErrSnapshot, len(blob), w.Size)
	}
	sum := sha256.Sum256(blob)
	if hex.EncodeToString(sum[:]) != w.SHA256 {
		return fmt.Errorf("%w: its SHA-256 digest is not the manifest's (the object was changed or damaged)", ErrSnapshot)
	}
	return nil
}
