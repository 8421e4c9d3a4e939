package cluster

// The worker's side of a consistent checkpoint: pause, flush rounds,
// snapshot, resume (the protocol is described in barrier.go).

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/stackless-go/stackless/scheduler"
)

// drainWait bounds how long a flush round waits for its peers' markers.
const drainWait = 10 * time.Second

// sent counts the frames this worker's node has queued to its worker peers
// (not to the coordinator, and a routed name's link only once).
func (w *worker) sent() uint64 {
	routes := w.n.Routes()
	var n uint64
	for _, l := range w.n.Stats().PerLink {
		if _, alias := routes[l.Peer]; alias || l.Peer == coordNode || l.Peer >= firstClient {
			continue
		}
		n += l.FramesOut
	}
	return n
}

func (w *worker) pause(ctx context.Context, _ none) (sentResp, error) {
	return doTyped(ctx, w, func() (sentResp, error) {
		w.setPaused(true)
		// Sends parked for credit wait at their channels' homes from here
		// on, where the homes' snapshots hold them (ipc/creditwait.go).
		w.n.ReleaseCreditWaits()
		return sentResp{Sent: w.sent()}, nil
	})
}

func (w *worker) resume(ctx context.Context, _ none) (none, error) {
	return doTyped(ctx, w, func() (none, error) {
		w.setPaused(false)
		w.integrated.Store(true)
		return none{}, nil
	})
}

// markerValue packs a barrier marker: checkpoint epoch, round, sender.
func markerValue(epoch uint16, round uint32, from uint16) uint64 {
	return uint64(epoch)<<32 | uint64(uint16(round))<<16 | uint64(from)
}

// mark posts this round's marker to every peer's marker channel. A POST
// travels in its link's order with everything sent before it, and is
// applied by the peer's scheduler in that order.
func (w *worker) mark(ctx context.Context, req markReq) (none, error) {
	return doTyped(ctx, w, func() (none, error) {
		if !w.paused {
			return none{}, fmt.Errorf("cluster: worker %d: flush round %d while running", w.node, req.Round)
		}
		w.epoch = req.Epoch
		for _, p := range req.Peers {
			if p.Node == w.node {
				continue
			}
			if err := w.n.Post(p.Marker, markerValue(req.Epoch, req.Round, w.node)); err != nil {
				return none{}, fmt.Errorf("cluster: worker %d: marker to worker %d: %w", w.node, p.Node, err)
			}
		}
		return none{}, nil
	})
}

// drain applies the inbox until every peer's marker of this round has come
// through it, then reports the frames sent so far.
func (w *worker) drain(ctx context.Context, req markReq) (sentResp, error) {
	return doTyped(ctx, w, func() (sentResp, error) {
		deadline := time.Now().Add(drainWait)
		pause := 20 * time.Microsecond
		for {
			w.s.Drain()
			w.takeMarkers()
			missing := -1
			for _, p := range req.Peers {
				if p.Node != w.node && !w.marks[markerValue(req.Epoch, req.Round, p.Node)] {
					missing = int(p.Node)
					break
				}
			}
			if missing < 0 {
				break
			}
			// The marker was read from the link but its batch is not yet in
			// the inbox: the reader hands it over in a moment.
			if time.Now().After(deadline) || ctx.Err() != nil {
				return sentResp{}, fmt.Errorf("cluster: worker %d: flush round %d: no marker from worker %d within %v", w.node, req.Round, missing, drainWait)
			}
			if !slices.Contains(w.n.Peers(), coordNode) {
				// The coordinator died mid-checkpoint: the markers may never
				// come, and a new coordinator must get answers.
				return sentResp{}, fmt.Errorf("cluster: worker %d: flush round %d: the coordinator is gone", w.node, req.Round)
			}
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			pause = min(2*pause, 5*time.Millisecond)
		}
		for m := range w.marks {
			if uint16(m>>32) != req.Epoch || uint32(uint16(m>>16)) <= uint32(uint16(req.Round)) {
				delete(w.marks, m)
			}
		}
		return sentResp{Sent: w.sent()}, nil
	})
}

func (w *worker) takeMarkers() {
	for {
		v, ok, err := w.s.TryRecv(w.marker)
		if err != nil || !ok {
			return
		}
		if m, ok := v.(uint64); ok {
			w.marks[m] = true
		}
	}
}

// snapReq asks a paused worker to pickle its world and hold it, as
// Object of generation Gen, until the coordinator, once every worker has
// pickled its own and all run again, asks it to store it (storeReq): the
// workers pause for the pickling, not for the store's writes (2 of the 2.3
// s of a checkpoint of a million tasklets). A worker with no NATS
// connection (one that joined with --join) is asked with an empty request
// and returns its world in the reply, for the coordinator to store.
type snapReq struct {
	Gen    uint64 `json:"gen"`
	Object string `json:"object"`
}

// heldWorld is a world pickled for generation gen and not yet stored.
type heldWorld struct {
	gen    uint64
	object string
	blob   []byte
}

// storeReq asks a worker to store the world it holds for Gen as Object,
// or, with Drop, to let it go (a checkpoint that failed elsewhere).
type storeReq struct {
	Gen    uint64 `json:"gen"`
	Object string `json:"object"`
	Drop   bool   `json:"drop,omitempty"`
}

// snapshot pickles the world of the paused worker (without its marker
// channel, which belongs to this process only), and holds it for storeHeld
// or, asked with an empty request, returns it.
func (w *worker) snapshot(ctx context.Context, body []byte) ([]byte, error) {
	var req snapReq
	if len(body) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return nil, err
		}
		if req.Object != objectName(req.Gen, w.node) {
			return nil, fmt.Errorf("cluster: worker %d: asked to store its world as %q, not its object of generation %d (%s)", w.node, req.Object, req.Gen, objectName(req.Gen, w.node))
		}
		if w.nats == nil {
			return nil, fmt.Errorf("cluster: worker %d: asked to store its world, but it has no NATS connection", w.node)
		}
	}
	blob, err := doTyped(ctx, w, func() ([]byte, error) {
		if !w.paused {
			return nil, fmt.Errorf("cluster: worker %d: snapshot while running", w.node)
		}
		wd := w.s.World()
		wd.Channels = slices.DeleteFunc(wd.Channels, func(c scheduler.ChannelState) bool { return c.ID == w.marker })
		b, err := w.reg.DumpWorld(wd)
		if err != nil {
			return nil, fmt.Errorf("cluster: worker %d: pickle its world: %w", w.node, err)
		}
		return b, nil
	})
	if err != nil || len(body) == 0 {
		return blob, err
	}
	w.heldMu.Lock()
	w.held = &heldWorld{gen: req.Gen, object: req.Object, blob: blob}
	w.heldMu.Unlock()
	return marshal(worldPart{Object: req.Object, Size: int64(len(blob))})
}

// dropHeld lets go of a world held for a checkpoint whose coordinator is
// gone: only the coordinator that asked for it stores it (a new one takes
// a checkpoint of its own), and a pickled world can weigh as much as the
// worker's tasklets, held until the next checkpoint otherwise.
func (w *worker) dropHeld() {
	w.heldMu.Lock()
	if h := w.held; h != nil {
		w.log.Warn("cluster: the coordinator went before storing this worker's world; it is let go (the next checkpoint takes it again)",
			"gen", h.gen, "bytes", len(h.blob))
		w.held = nil
	}
	w.heldMu.Unlock()
}

// storeHeld stores the world held for req.Gen (snapshot checked that this
// worker has a NATS connection), or drops it.
func (w *worker) storeHeld(ctx context.Context, req storeReq) (worldPart, error) {
	w.heldMu.Lock()
	h := w.held
	if h != nil && h.gen == req.Gen {
		w.held = nil // one store of it, and its memory goes with it
	}
	w.heldMu.Unlock()
	if req.Drop {
		return worldPart{}, nil
	}
	if h == nil || h.gen != req.Gen || h.object != req.Object {
		return worldPart{}, fmt.Errorf("cluster: worker %d: asked to store its world of generation %d as %q, but it holds none (a newer checkpoint replaced it, or the worker restarted)", w.node, req.Gen, req.Object)
	}
	part, err := w.nats.putWorld(ctx, h.object, h.blob)
	if err != nil {
		return worldPart{}, fmt.Errorf("cluster: worker %d: checkpoint generation %d: %w", w.node, h.gen, err)
	}
	return part, nil
}
