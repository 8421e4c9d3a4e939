package cluster

// Adopting the workers a coordinator that died left running. Local
// workers outlive their coordinator (worker_adopt.go) and leave a record
// in DIR/run. A new coordinator of the folder looks for them before it
// starts any worker: it dials each one's socket (the link is authenticated
// with the cluster secret, so only a worker of this cluster answers), asks
// it who it is, and adopts them all, without a rollback, when they are a
// whole cluster: every one had been running, each logical node is hosted
// once, and every worker's routing table is the one the hosts give. The
// coordinator then re-links the pairs whose link is missing, pushes the
// routing table, resumes them and checkpoints. When they are not a whole
// cluster (a worker died meanwhile, one was still starting, --fresh), it
// stops the ones that live and restores the newest checkpoint, and says why
// in the log and in Status.Note. Records and sockets nobody answers on are
// removed. The workers of other machines, found in the members bucket,
// are adopted with them (adopt_members.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stackless-go/stackless/internal/fsmode"
	"github.com/stackless-go/stackless/store"
)

// adoptTimeout bounds the talk with one worker found at start.
const adoptTimeout = 5 * time.Second

// orphan is a live worker found at start.
type orphan struct {
	rec    workerRecord
	resp   adoptResp
	silent error  // linked, but it did not answer (it is stopped, not adopted)
	start  uint64 // its process's start time (procStart), so that a pid reused is never killed
	// member is its key in the members bucket when it was found there: a
	// worker of another machine or folder ("": one of this folder).
	member string
}

// adoptOrphans adopts the workers a coordinator that died left running,
// and reports whether the cluster now runs on them. The caller holds c.op.
func (c *Coordinator) adoptOrphans(ctx context.Context) bool {
	found, gone := c.findOrphans(ctx)
	if len(found) == 0 {
		if len(gone) > 0 {
			c.setNote(fmt.Sprintf("the workers an earlier coordinator left (%s) were gone; started from the newest checkpoint", strings.Join(gone, ", ")))
		}
		return false
	}
	why := ""
	switch {
	case c.cfg.Fresh:
		why = "--fresh discards them"
	case len(gone) > 0:
		why = strings.Join(gone, ", ") + " died meanwhile"
	default:
		why = wholeCluster(found)
	}
	for _, o := range found {
		if o.silent != nil {
			why = fmt.Sprintf("worker %d (pid %d) did not answer: %v", o.resp.Node, o.resp.Pid, o.silent)
		}
	}
	if why == "" {
		err := c.takeOver(ctx, found)
		if err == nil {
			return true
		}
		why = err.Error()
	}
	c.stopOrphans(found)
	c.setNote(fmt.Sprintf("could not adopt the %d worker(s) a coordinator that died left running: %s; they were stopped and the newest checkpoint restored", len(found), why))
	c.log.Warn("cluster: could not adopt the workers a coordinator that died left running; restoring the newest checkpoint", "workers", len(found), "why", why)
	return false
}

func (c *Coordinator) setNote(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.note = s
}

// findOrphans links to every worker that has a record or a socket in the
// folder and answers. The others are described in gone (their files are
// removed).
func (c *Coordinator) findOrphans(ctx context.Context) (found []orphan, gone []string) {
	recs := map[uint16]workerRecord{}
	if entries, err := os.ReadDir(c.layout.Run()); err == nil {
		for _, e := range entries {
			path := filepath.Join(c.layout.Run(), e.Name())
			r, err := readRecord(path)
			if err != nil {
				c.log.Info("cluster: removing a file that is not a worker record", "file", path, "why", err)
				_ = os.Remove(path) // a partial write or a stranger
				continue
			}
			if r.live() && !r.writerRuns() {
				// Stopped without an answer, the worker of this record is
				// killed by its pid: a pid that is not the worker's (the
				// record damaged, or the pid reused) is not trusted.
				why := "it names a process that is not the worker that wrote it (a damaged record, or a reused pid)"
				if r.Start == 0 {
					why = "it has no start time to tell the worker by (an older version wrote it)"
				}
				c.log.Warn("cluster: a worker record's pid is not trusted: "+why+"; that process is left alone, and the worker is looked for by its socket",
					"file", path, "pid", r.Pid)
				r.Pid = 0
			}
			recs[r.Node] = r
		}
	}
	if entries, err := os.ReadDir(c.layout.Sockets()); err == nil {
		for _, e := range entries {
			if n, ok := nodeOfName(e.Name()); ok {
				if _, has := recs[n]; !has {
					recs[n] = workerRecord{Node: n}
				}
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(recs)) {
		r := recs[n]
		o, err := c.reach(ctx, r)
		if err != nil && o.resp.Pid == 0 && pidAlive(r.Pid) && listening(c.layout.Worker(n)) {
			// Its process runs and its socket takes connections, but the
			// handshake failed: a worker stopped (SIGSTOP) or hung. Taken
			// for gone, it kept its socket, and its replacement could not
			// start ("another process is listening"): the cluster stayed
			// down. It is stopped (killed) with the others instead.
			o = orphan{rec: r, resp: adoptResp{Node: n, Pid: r.Pid}, start: r.Start, silent: fmt.Errorf("%s, but its socket takes connections: %w", procState(r.Pid), err)}
		}
		if err != nil && o.resp.Pid != 0 {
			// Linked and authenticated, but it did not answer: a worker of
			// this cluster that cannot be adopted; it is stopped with the
			// others, so it does not hold its socket.
			found = append(found, o)
			continue
		}
		if err != nil {
			if r.Pid != 0 {
				gone = append(gone, fmt.Sprintf("worker %d (pid %d)", n, r.Pid))
			}
			c.log.Info("cluster: a worker left by an earlier coordinator is gone", "node", n, "pid", r.Pid, "why", err)
			_ = os.Remove(c.layout.Record(n))
			_ = removeStaleSocket(c.layout.Worker(n))
			continue
		}
		found = append(found, o)
	}
	found = append(found, c.findMembers(ctx, slices.Sorted(maps.Keys(recs)))...)
	return found, gone
}

// reach links to the worker of record r and asks it who it is.
func (c *Coordinator) reach(ctx context.Context, r workerRecord) (orphan, error) {
	if r.Pid != 0 && !pidAlive(r.Pid) {
		return orphan{}, fmt.Errorf("pid %d is not running", r.Pid)
	}
	ctx, cancel := context.WithTimeout(ctx, adoptTimeout)
	defer cancel()
	peer, err := c.n.Dial(ctx, "unix", c.layout.Worker(r.Node))
	if err != nil {
		return orphan{}, err
	}
	if peer != r.Node {
		return orphan{}, fmt.Errorf("socket %s is node %d", c.layout.Worker(r.Node), peer)
	}
	var resp adoptResp
	if err := call(ctx, c.fc, r.Node, kindWAdopt, none{}, &resp); err != nil {
		if r.Pid == 0 {
			return orphan{}, err
		}
		return orphan{rec: r, resp: adoptResp{Node: r.Node, Pid: r.Pid}, start: r.Start, silent: err}, err
	}
	if resp.Node != r.Node || (r.Pid != 0 && resp.Pid != r.Pid) {
		return orphan{}, fmt.Errorf("it says it is node %d, pid %d", resp.Node, resp.Pid)
	}
	return orphan{rec: r, resp: resp, start: procStart(resp.Pid)}, nil
}

// maxRecord bounds the size of a worker record read at start.
const maxRecord = 4 << 10

// readRecord reads and parses the worker record at path.
func readRecord(path string) (workerRecord, error) {
	b, err := fsmode.ReadSmall(path, "a worker record", maxRecord)
	if err != nil {
		return workerRecord{}, err
	}
	return parseRecord(filepath.Base(path), b)
}

// parseRecord decodes the worker record in file name ("wN.json"),
// checking it names the same node and a possible pid.
func parseRecord(name string, b []byte) (workerRecord, error) {
	var r workerRecord
	n, ok := nodeOfName(strings.TrimSuffix(name, ".json"))
	if !ok || !strings.HasSuffix(name, ".json") {
		return r, fmt.Errorf("%q is not named wN.json", name)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("worker record %s: %w", name, err)
	}
	if r.Node != n || r.Pid < 0 {
		return r, fmt.Errorf("worker record %s: node %d, pid %d", name, r.Node, r.Pid)
	}
	return r, nil
}

// nodeOfName parses "wN".
func nodeOfName(s string) (uint16, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "w"))
	if !strings.HasPrefix(s, "w") || err != nil || n < 1 || n > maxWorkerNode {
		return 0, false
	}
	return uint16(n), true
}

// wholeCluster says why the workers found are not one whole running
// cluster ("" when they are).
func wholeCluster(found []orphan) string {
	routes := map[uint16]uint16{}
	for _, o := range found {
		if !o.resp.Integrated {
			return fmt.Sprintf("worker %d had not started running", o.resp.Node)
		}
		for _, h := range o.resp.Hosts {
			if w, dup := routes[h]; dup {
				return fmt.Sprintf("logical node %d is hosted by both worker %d and worker %d", h, w, o.resp.Node)
			}
			routes[h] = o.resp.Node
		}
	}
	for _, o := range found {
		for l, p := range o.resp.Routes {
			if routes[l] != p {
				return fmt.Sprintf("worker %d expects logical node %d on worker %d, which is gone", o.resp.Node, l, p)
			}
		}
		if len(o.resp.Routes) != len(routes) {
			return fmt.Sprintf("worker %d routes %d logical nodes, the workers found host %d", o.resp.Node, len(o.resp.Routes), len(routes))
		}
	}
	return ""
}

// takeOver makes the workers found this coordinator's: records them,
// re-links missing pairs, pushes the routing table, resumes and
// checkpoints them. The caller holds c.op.
func (c *Coordinator) takeOver(ctx context.Context, found []orphan) error {
	next := uint16(1)
	var epoch uint16
	var snap *clusterSnapshot
	if s, err := c.loadNewest(ctx); err == nil {
		snap = s
		next = s.NextNode
	} else if !errors.Is(err, store.ErrEmpty) {
		return err
	}
	local := 0
	c.mu.Lock()
	for _, o := range found {
		r := o.resp
		w := &workerRef{Node: r.Node, Hosts: r.Hosts, Local: true, Adopted: true, HostID: r.HostID,
			Unix: r.Unix, TCP: r.TCP, Marker: r.Marker, Pid: r.Pid, Start: o.start, Host: r.Host, Store: r.Store, Ready: true}
		if o.member != "" {
			// Another machine's (or folder's): watched by its link only.
			w.Local, w.Adopted, w.Member, w.Dialed, w.Foreign = false, false, o.member, true, !r.Rejoins
		} else {
			local++
		}
		c.workers[r.Node] = w
		for _, h := range r.Hosts {
			c.routes[h] = r.Node
			next = max(next, h+1)
		}
		epoch = max(epoch, r.Epoch)
	}
	c.nextNode, c.epoch, c.localN, c.adopted = next, epoch, local, len(found)
	if local == 0 {
		c.localN = c.cfg.Workers // a rollback starts -n local workers
	}
	if snap != nil {
		c.lastGen, c.lastAt = snap.Gen, snap.Time
	}
	c.mu.Unlock()
	fail := func(err error) error {
		c.mu.Lock()
		c.workers, c.routes, c.adopted = map[uint16]*workerRef{}, map[uint16]uint16{}, 0
		c.mu.Unlock()
		return err
	}
	// Re-link pairs whose link is gone: the larger node dials the smaller.
	nodes := make([]uint16, len(found))
	for i, o := range found {
		nodes[i] = o.resp.Node
	}
	for _, o := range found {
		var dial []peerAddr
		for _, n := range nodes {
			if n < o.resp.Node && !slices.Contains(o.resp.Peers, n) {
				w := c.workers[n]
				dial = append(dial, peerAddr{Node: n, HostID: w.HostID, Unix: w.Unix, TCP: w.TCP, Marker: w.Marker})
			}
		}
		if len(dial) == 0 {
			continue
		}
		if err := call(ctx, c.fc, o.resp.Node, kindWPeers, peersReq{Peers: dial}, nil); err != nil {
			return fail(fmt.Errorf("re-link worker %d: %w", o.resp.Node, err))
		}
	}
	if err := c.pushRoutes(ctx); err != nil {
		return fail(fmt.Errorf("push the routing table: %w", err))
	}
	if err := c.forAll(ctx, c.readyWorkers(), func(ctx context.Context, w *workerRef) error {
		return call(ctx, c.fc, w.Node, kindWResume, none{}, nil)
	}); err != nil {
		return fail(fmt.Errorf("resume: %w", err))
	}
	note := fmt.Sprintf("adopted %d worker(s) a coordinator that died left running (nodes %v); no rollback", len(found), nodes)
	if local > 0 {
		note += fmt.Sprintf("; the output of this machine's is in %s", filepath.Dir(c.layout.Log(1)))
	}
	if local < len(found) {
		note += fmt.Sprintf("; %d of them on other machines, found in the members bucket %s", len(found)-local, c.gs.names.Members)
	}
	if local > 0 && local != c.cfg.Workers {
		note += fmt.Sprintf("; -n %d does not apply to them (use `stackless cluster restore --workers N` to change the count)", c.cfg.Workers)
	}
	c.setNote(note)
	c.log.Info("cluster: "+note, "generation", c.lastGen)
	if _, err := c.checkpointLocked(ctx, true); err != nil {
		c.log.Warn("cluster: checkpoint after adopting the workers failed", "err", err) // the monitor sees a fault, if any
	}
	return nil
}

// stopOrphans stops workers found at start that are not adopted.
func (c *Coordinator) stopOrphans(found []orphan) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ws := make([]*workerRef, len(found))
	for i, o := range found {
		ws[i] = &workerRef{Node: o.resp.Node, Pid: o.resp.Pid, Start: o.start, Member: o.member, Foreign: !o.resp.Rejoins}
	}
	_ = c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		if w.Member != "" {
			// Another machine's: told to join again (or, a local worker of
			// another folder, to stop); its pid is not one of this host's.
			_ = call(ctx, c.fc, w.Node, kindWStop, stopReq{Rejoin: !w.Foreign}, nil)
			return nil
		}
		_ = call(ctx, c.fc, w.Node, kindWStop, stopReq{}, nil)
		if err := stopPid(w.Pid, w.Start, stopGrace); err != nil {
			c.log.Warn("cluster: stop a worker left running", "node", w.Node, "pid", w.Pid, "err", err)
		}
		removeRecord(c.layout.Record(w.Node))
		_ = removeStaleSocket(c.layout.Worker(w.Node))
		return nil
	})
}

// stopPid waits up to grace for process pid (an adopted worker, told to
// stop) to end, then kills it. The wait polls: the process is not this
// one's child, so there is nothing to wait on. A start time (procStart)
// other than 0 must be the process's: a pid reused meanwhile is another
// process, left alone.
func stopPid(pid int, start uint64, grace time.Duration) error {
	killed := false
	deadline := time.Now().Add(grace)
	pause := time.Millisecond
	for pidAlive(pid) && (start == 0 || procStart(pid) == start) {
		if time.Now().After(deadline) {
			if killed {
				return fmt.Errorf("cluster: pid %d still runs %v after SIGKILL", pid, grace)
			}
			if err := killPid(pid); err != nil {
				return fmt.Errorf("cluster: kill pid %d: %w", pid, err)
			}
			killed, deadline = true, time.Now().Add(grace)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
	return nil
}

// removeStaleSocket removes a socket file nobody listens on.
func removeStaleSocket(path string) error {
	if listening(path) {
		return fmt.Errorf("cluster: %s has a listener", path)
	}
	return removeSocket(path)
}

// listening reports whether a process listens on the unix socket path.
func listening(path string) bool {
	c, err := (&net.Dialer{Timeout: time.Second}).Dial("unix", path)
	if err == nil {
		c.Close()
	}
	return err == nil
}
