package ipc

import (
	"slices"
	"sync/atomic"
)

// Stats is a node's traffic since it started, for introspection.
type Stats struct {
	Links     int         // live links
	FramesIn  uint64      // frames received, on every link so far
	FramesOut uint64      // frames queued to send
	BytesIn   uint64      // bytes received, length prefixes included
	BytesOut  uint64      // bytes written
	PerLink   []LinkStats // live links, by peer

	// Pending is the accepted connections in their handshake now, over
	// all listeners, and PendingPeak the most there were at once; each
	// listener holds at most WithMaxPending of them.
	Pending, PendingPeak int
	// Refused counts new connections closed at once, over a cap of
	// pending ones; Evicted pending ones closed to make room for newer
	// ones, because they had not got past their first flight (see
	// WithMaxPending); AcceptFailed accepts that failed (EMFILE, ...) and
	// were tried again after a pause.
	Refused, Evicted, AcceptFailed uint64
}

// LinkStats is one live link's traffic.
type LinkStats struct {
	Peer    uint16
	Network string // "unix", "tcp", or "conn" for Connect
	Remote  string // the peer's address
	// SharedMemory says the link's frames travel through shared-memory
	// rings (a unix socket link between two Linux processes, see
	// WithSharedMemory); its socket then only tells when the peer is gone.
	SharedMemory bool
	FramesIn     uint64
	FramesOut    uint64
	BytesIn      uint64
	BytesOut     uint64
}

type linkCounters struct{ framesIn, framesOut, bytesIn, bytesOut atomic.Uint64 }

func (c *linkCounters) add(l *link) {
	c.framesIn.Add(l.framesIn.Load())
	c.framesOut.Add(l.queuedFrames())
	c.bytesIn.Add(l.bytesIn.Load())
	c.bytesOut.Add(l.bytesOut.Load())
}

// Stats reports the node's traffic. Safe from any goroutine.
func (n *Node) Stats() Stats {
	st := Stats{
		Pending: int(n.admission.now.Load()), PendingPeak: int(n.admission.peak.Load()),
		Refused: n.admission.refused.Load(), Evicted: n.admission.evicted.Load(), AcceptFailed: n.admission.failed.Load(),
		FramesIn: n.closedStats.framesIn.Load(), FramesOut: n.closedStats.framesOut.Load(),
		BytesIn: n.closedStats.bytesIn.Load(), BytesOut: n.closedStats.bytesOut.Load(),
	}
	for _, l := range n.links.Load().links() {
		ls := LinkStats{Peer: l.peer, Network: l.network, Remote: l.remote, SharedMemory: l.shm != nil,
			FramesIn: l.framesIn.Load(), FramesOut: l.queuedFrames(), BytesIn: l.bytesIn.Load(), BytesOut: l.bytesOut.Load()}
		st.PerLink = append(st.PerLink, ls)
		st.FramesIn += ls.FramesIn
		st.FramesOut += ls.FramesOut
		st.BytesIn += ls.BytesIn
		st.BytesOut += ls.BytesOut
	}
	st.Links = len(st.PerLink)
	slices.SortFunc(st.PerLink, func(a, b LinkStats) int { return int(a.Peer) - int(b.Peer) })
	return st
}
