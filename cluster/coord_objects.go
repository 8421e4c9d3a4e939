package cluster

// Worlds in the Object Store, the coordinator's side: at a checkpoint each
// worker stores its own world (the coordinator only names the objects,
// collects their sizes and digests and commits the manifest), and at a
// restore each worker reads its own. The worlds never travel through the
// coordinator's links, which a checkpoint of many tasklets would fill.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// restorePrefix names the objects of worlds a restore changed (rehomed or
// merged); they live only while the workers start.
const restorePrefix = "restore/"

// snapshotAll takes generation gen of every worker's world in two phases:
// each paused worker pickles its world (the cut), then cut runs (it resumes
// the workers), then the worlds are stored while the workers run. A worker
// with a NATS connection holds its pickled world and stores it itself; the
// world of one without comes back in its reply and is stored here. On an
// error, what was stored is removed and the held worlds are let go.
func (c *Coordinator) snapshotAll(ctx context.Context, ws []*workerRef, gen uint64, cut func()) (*manifest, error) {
	m := &manifest{Format: snapshotFormat, Kind: headerKind, Gen: gen, Time: time.Now().UTC()}
	var mu sync.Mutex
	blobs := map[uint16][]byte{} // the worlds of workers that do not store them
	err := c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		if !w.Store {
			blob, err := callRaw(ctx, c.fc, w.Node, kindWSnapshot, nil)
			mu.Lock()
			blobs[w.Node] = blob
			mu.Unlock()
			return err
		}
		name := objectName(gen, w.Node)
		var part worldPart
		if err := call(ctx, c.fc, w.Node, kindWSnapshot, snapReq{Gen: gen, Object: name}, &part); err != nil {
			return err
		}
		if part.Object != name || part.Size < 0 {
			return fmt.Errorf("cluster: worker %d pickled its world as %q (%d bytes), not %q", w.Node, part.Object, part.Size, name)
		}
		return nil
	})
	if err == nil {
		cut()
		err = c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
			part, err := c.storeWorld(ctx, w, gen, blobs[w.Node])
			if err != nil {
				return err
			}
			mu.Lock()
			m.Worlds = append(m.Worlds, manifestWorld{Node: w.Node, Hosts: slices.Clone(w.Hosts), Object: part.Object, Size: part.Size, SHA256: part.SHA256})
			mu.Unlock()
			return nil
		})
	}
	if err != nil {
		c.dropHeld(ws, gen)
		names := make([]manifestWorld, len(ws))
		for i, w := range ws {
			names[i] = manifestWorld{Object: objectName(gen, w.Node)}
		}
		c.gs.dropObjects(names)
		return nil, fmt.Errorf("generation %d not committed, its objects removed: %w", gen, err)
	}
	slices.SortFunc(m.Worlds, func(a, b manifestWorld) int { return int(a.Node) - int(b.Node) })
	return m, nil
}

// storeWorld stores worker w's world of generation gen: the worker stores
// the one it holds, or, for a worker that does not store (blob), this
// coordinator does.
func (c *Coordinator) storeWorld(ctx context.Context, w *workerRef, gen uint64, blob []byte) (worldPart, error) {
	name := objectName(gen, w.Node)
	if w.Store {
		var part worldPart
		if err := call(ctx, c.fc, w.Node, kindWStore, storeReq{Gen: gen, Object: name}, &part); err != nil {
			return part, err
		}
		if part.Object != name || part.Size < 0 {
			return part, fmt.Errorf("cluster: worker %d stored its world as %q (%d bytes), not %q", w.Node, part.Object, part.Size, name)
		}
		return part, nil
	}
	if err := retryJS(ctx, objAttempt, func(ctx context.Context) error {
		_, err := c.gs.obj.PutBytes(ctx, name, blob)
		return noRoom(err)
	}); err != nil {
		return worldPart{}, fmt.Errorf("cluster: store the world of worker %d as %s: %w", w.Node, name, err)
	}
	sum := sha256.Sum256(blob)
	return worldPart{Object: name, Size: int64(len(blob)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// dropHeld tells the workers to let go of a world they hold for gen (a
// checkpoint that failed): its memory, not only the next checkpoint, frees it.
func (c *Coordinator) dropHeld(ws []*workerRef, gen uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		if !w.Store {
			return nil
		}
		return call(ctx, c.fc, w.Node, kindWStore, storeReq{Gen: gen, Object: objectName(gen, w.Node), Drop: true}, nil)
	})
}

// stageWorlds says where the worker of each placement reads its world: the
// generation's own object when its world is the stored one, or an object
// under restorePrefix holding the world as the restore changed it. The
// returned function removes those.
func (c *Coordinator) stageWorlds(ctx context.Context, snap *clusterSnapshot, ps []placement, worlds [][]byte) ([]*worldPart, func(), error) {
	parts := make([]*worldPart, len(ps))
	var staged []manifestWorld
	cleanup := func() {
		if len(staged) > 0 {
			c.gs.dropObjects(staged)
		}
	}
	for i, p := range ps {
		blob := worlds[i]
		if blob == nil {
			continue
		}
		part := &worldPart{Size: int64(len(blob))}
		parts[i] = part
		if w := p.Worlds; snap.Gen != 0 && len(w) == 1 && w[0].SHA256 != "" && len(blob) > 0 && len(blob) == len(w[0].Blob) && &blob[0] == &w[0].Blob[0] {
			// The world as stored (prepareWorlds passes it on untouched).
			part.Object, part.SHA256 = objectName(snap.Gen, w[0].Node), w[0].SHA256
			continue
		}
		sum := sha256.Sum256(blob)
		part.SHA256 = hex.EncodeToString(sum[:])
		part.Object = fmt.Sprintf("%sw%d", restorePrefix, p.Node)
		if err := retryJS(ctx, objAttempt, func(ctx context.Context) error {
			_, err := c.gs.obj.PutBytes(ctx, part.Object, blob)
			return noRoom(err)
		}); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("cluster: restore generation %d: store the world of worker %d: %w", snap.Gen, p.Node, err)
		}
		staged = append(staged, manifestWorld{Object: part.Object})
	}
	return parts, cleanup, nil
}

// dropStaged removes worlds a restore staged that are still there (left by
// a coordinator that died while restoring).
func (c *Coordinator) dropStaged(ctx context.Context) {
	infos, err := c.gs.listObjects(ctx)
	if err != nil {
		return
	}
	for _, o := range infos {
		if len(o.Name) > len(restorePrefix) && o.Name[:len(restorePrefix)] == restorePrefix {
			_ = c.gs.deleteObject(ctx, o.Name)
		}
	}
}

// deleteObject deletes object name (gone already is no fault), in
// bounded attempts: a delete is the same done twice, and one a server
// never answered held the checkpoint or restore that asked for it.
func (g *genStore) deleteObject(ctx context.Context, name string) error {
	return retryJS(ctx, jsAttempt, func(ctx context.Context) error {
		if err := g.obj.Delete(ctx, name); !errors.Is(err, jetstream.ErrObjectNotFound) {
			return err
		}
		return nil
	})
}

// listObjects lists the objects of the checkpoint bucket (none is no
// fault), in bounded attempts.
func (g *genStore) listObjects(ctx context.Context) ([]*jetstream.ObjectInfo, error) {
	infos, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) ([]*jetstream.ObjectInfo, error) { return g.obj.List(ctx) })
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	return infos, err
}
