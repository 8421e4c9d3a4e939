package cluster

import (
	"context"
	"fmt"
	"sync"
)

// A consistent cluster checkpoint is a barrier between steps:
//
//  1. PAUSE: every worker stops stepping at a step boundary and reports how
//     many messages its scheduler has sent so far.
//  2. FLUSH, in rounds: every worker sends a marker to every peer after all
//     it has sent, waits for every peer's marker (links are FIFO, so by then
//     every message a peer sent before its marker is in the inbox), then
//     applies its inbox with Scheduler.Drain, which may send more messages
//     (a drained request answers at once). Rounds repeat until one in which
//     no worker sent anything: then no message is in flight anywhere.
//  3. SNAPSHOT: every world is pickled; the coordinator stores them all in
//     one generation.
//  4. RESUME.
//
// markers is a worker's record of the markers its peers sent.
type markers struct {
	mu     sync.Mutex
	got    map[uint32]map[uint16]bool // round → peers whose marker arrived
	notify chan struct{}              // closed and replaced at every arrival
}

func newMarkers() *markers {
	return &markers{got: map[uint32]map[uint16]bool{}, notify: make(chan struct{})}
}

// arrive records the marker of round from peer.
func (m *markers) arrive(round uint32, peer uint16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.got[round] == nil {
		m.got[round] = map[uint16]bool{}
	}
	m.got[round][peer] = true
	close(m.notify)
	m.notify = make(chan struct{})
}

// wait blocks until every one of peers sent its marker of round, then
// forgets that round and the ones before it.
func (m *markers) wait(ctx context.Context, round uint32, peers []uint16) error {
	for {
		m.mu.Lock()
		missing := -1
		for _, p := range peers {
			if !m.got[round][p] {
				missing = int(p)
				break
			}
		}
		if missing < 0 {
			for r := range m.got {
				if r <= round {
					delete(m.got, r)
				}
			}
			m.mu.Unlock()
			return nil
		}
		ch := m.notify
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cluster: flush round %d: no marker from node %d: %w", round, missing, ctx.Err())
		}
	}
}

// reset forgets every marker (a new checkpoint starts at round 1 again).
func (m *markers) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.got)
}

// flushRounds runs FLUSH rounds until one moves no message. round runs one
// round on every worker at once and returns each worker's count of
// messages sent so far (after its drain); before holds the counts reported
// at PAUSE. It returns how many rounds it took.
func flushRounds(ctx context.Context, maxRounds int, before map[uint16]uint64,
	round func(ctx context.Context, r uint32) (map[uint16]uint64, error)) (int, error) {
	prev := before
	for r := 1; r <= maxRounds; r++ {
		sent, err := round(ctx, uint32(r))
		if err != nil {
			return r, err
		}
		quiet := len(sent) == len(prev)
		for n, c := range sent {
			if p, ok := prev[n]; !ok || p != c {
				quiet = false
			}
		}
		if quiet {
			return r, nil
		}
		prev = sent
	}
	return maxRounds, fmt.Errorf("cluster: checkpoint barrier: messages still moving after %d flush rounds (a tasklet pair keeps answering each other while paused?); "+
		"nothing was stored: a periodic checkpoint tries again at its next interval, or run `stackless cluster checkpoint`", maxRounds)
}
