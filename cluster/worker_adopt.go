package cluster

// A worker outlives its coordinator. A local one leaves a record in
// DIR/run (node, pid, socket) while it runs; every worker with NATS keeps
// its entry in the members bucket. When its link to the coordinator drops
// it runs on (resuming itself if a checkpoint that will never end had
// paused it), keeps its links to the other workers, and waits for the next
// leader to dial it and adopt it: a coordinator of the same folder
// (adopt.go), or one on any machine that finds it in the members bucket
// (adopt_members.go). The new coordinator dials, not the worker, so the
// two never race to make the same link. A local worker nobody adopts
// within OrphanAfter exits: what it did since the newest checkpoint is
// lost, and the next `cluster up` restores that checkpoint, so exiting
// loses nothing a restart would keep. A worker that joined through NATS
// joins again, empty, instead. One that joined a coordinator's address
// (--join, no NATS) has no other leader to wait for: it joins again at
// once.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/stackless-go/stackless/internal/atomicfile"
)

// DefaultOrphanAfter is how long a local worker runs on without a
// coordinator before it exits (Config.OrphanAfter).
const DefaultOrphanAfter = 10 * time.Minute

// workerRecord is a running local worker's file in DIR/run.
type workerRecord struct {
	Node    uint16 `json:"node"`
	Pid     int    `json:"pid"`
	Start   uint64 `json:"start,omitempty"` // the process's start time (procStart), to tell it from a reused or damaged pid
	Network string `json:"network"`
	Addr    string `json:"addr"`
}

// live reports whether r's pid is a live process: the worker that wrote r,
// or, once that died, any process that took its pid.
func (r workerRecord) live() bool { return r.Pid != 0 && pidAlive(r.Pid) }

// writerRuns reports whether the worker that wrote r still runs under its
// pid (told by its start time where the system gives one: wroteRecord).
func (r workerRecord) writerRuns() bool { return r.live() && wroteRecord(r) }

// writeRecord leaves this worker's record in DIR/run (replaced whole, so a
// reader never sees half of one).
func (w *worker) writeRecord(network, addr string) error {
	l := dirLayout{w.cfg.Dir}
	if err := os.MkdirAll(l.Run(), 0o700); err != nil {
		return fmt.Errorf("cluster: worker %d: %w", w.node, err)
	}
	b, err := json.Marshal(workerRecord{Node: w.node, Pid: os.Getpid(), Start: procStart(os.Getpid()), Network: network, Addr: addr})
	if err != nil {
		return fmt.Errorf("cluster: worker %d: %w", w.node, err)
	}
	path := l.Record(w.node)
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("cluster: worker %d: its record: %w", w.node, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("cluster: worker %d: its record: %w", w.node, err)
	}
	w.record, w.recordFile = path, fi
	return nil
}

// watchCoordinator follows the link to the coordinator. A --join worker
// stops when it drops (it joins again); a local one, or one that joined
// through NATS, runs on until a new leader links to it, or stops with
// ErrOrphaned after orphanAfter.
func (w *worker) watchCoordinator() {
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	var lostAt time.Time
	for {
		select {
		case <-w.handler.Done():
			return
		case <-tk.C:
		}
		linked := slices.Contains(w.n.Peers(), coordNode)
		switch {
		case linked && !lostAt.IsZero():
			lostAt = time.Time{}
			w.log.Warn("cluster: a new coordinator adopted this worker")
		case linked:
		case w.cfg.remote() && !w.cfg.joinsOverNATS():
			w.stop(ErrCoordinatorLost)
			return
		case lostAt.IsZero():
			lostAt = time.Now()
			w.dropHeld()
			if w.cfg.remote() {
				w.log.Warn("cluster: the coordinator is gone; running on until the next leader (a `stackless cluster up` on these NATS servers) adopts this worker",
					"join_again_after", w.orphanAfter)
			} else {
				w.keepOutput()
				w.log.Warn("cluster: the coordinator is gone; running on until `stackless cluster up` on the same folder (or the next leader on these NATS servers) adopts this worker",
					"exit_after", w.orphanAfter)
			}
			if w.integrated.Load() {
				// A checkpoint the coordinator never finished may have paused it.
				go func() {
					_, _ = w.do(w.handler, func() (any, error) {
						w.setPaused(false)
						return nil, nil
					})
				}()
			}
		case time.Since(lostAt) >= w.orphanAfter && w.cfg.remote():
			w.log.Error("cluster: no leader adopted this worker; joining again, empty (the newest checkpoint holds its world)",
				"waited", w.orphanAfter)
			w.stop(ErrOrphaned)
			return
		case time.Since(lostAt) >= w.orphanAfter:
			w.log.Error("cluster: no coordinator adopted this worker; exiting (the next `stackless cluster up` restores the newest checkpoint)",
				"waited", w.orphanAfter)
			// The socket of the coordinator that died goes too, unless a
			// new one listens there meanwhile.
			_ = removeStaleSocket(dirLayout{w.cfg.Dir}.Coordinator())
			w.stop(ErrOrphaned)
			return
		}
	}
}

// adopt answers a new coordinator: who this worker is and how it is linked.
// Markers of a checkpoint the old coordinator never finished are dropped.
func (w *worker) adopt(ctx context.Context, _ none) (adoptResp, error) {
	return doTyped(ctx, w, func() (adoptResp, error) {
		w.takeMarkers()
		clear(w.marks)
		routes := w.n.Routes()
		var peers []uint16
		for _, p := range w.n.Peers() {
			if _, alias := routes[p]; !alias && p != coordNode && p < firstClient && p != w.node {
				peers = append(peers, p)
			}
		}
		w.routeMu.Lock()
		table := maps.Clone(w.routeTable)
		w.routeMu.Unlock()
		return adoptResp{Node: w.node, Hosts: slices.Clone(w.hosts), Pid: os.Getpid(), Host: w.host,
			HostID: w.ready.HostID, Unix: w.ready.Unix, TCP: w.ready.TCP,
			Marker: w.marker, Peers: peers, Routes: table, Integrated: w.integrated.Load(), Epoch: w.epoch, Store: w.ready.Store,
			Rejoins: w.cfg.remote()}, nil
	})
}

// keepOutput sends this worker's output, which went to the coordinator
// that died, to DIR/log/wN.log from now on (appended).
func (w *worker) keepOutput() {
	path := dirLayout{w.cfg.Dir}.Log(w.node)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close() // the descriptors 1 and 2 keep it open
	_ = redirectOutput(f)
}
