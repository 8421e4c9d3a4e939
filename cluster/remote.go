package cluster

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// remoteOps is the scheduler.Remote side of an ipc node.
type remoteOps interface {
	scheduler.Remote
}

// mergedRemote sits between the scheduler and the ipc node of a worker that
// hosts merged logical nodes (a checkpoint of more workers restored onto
// fewer). The scheduler knows the merged nodes' channels are local; the ipc
// node decides by a channel's home number and would send their cases to a
// node that does not exist. Before the ipc node sees the cases of a wait,
// the cases on merged channels are replaced by a stand-in on this node's
// own number, which the ipc node counts as local: it keeps its checks (a
// select that sends on a remote channel must not mix homes) and sends
// operations only to the truly remote homes. Case indices are unchanged.
type mergedRemote struct {
	remoteOps
	s      *scheduler.Scheduler
	self   uint16
	merged map[uint16]bool // hosted logical nodes other than self
	buf    []tasklet.Case  // scheduler goroutine only
}

func newMergedRemote(r remoteOps, s *scheduler.Scheduler, hosts []uint16) *mergedRemote {
	m := &mergedRemote{remoteOps: r, s: s, self: s.Node(), merged: map[uint16]bool{}}
	for _, h := range hosts {
		if h != m.self {
			m.merged[h] = true
		}
	}
	return m
}

// standIn is a channel ID on this node's own number (sequence 0, which no
// channel has); only its home is ever read.
func (m *mergedRemote) standIn() channel.ID { return channel.ID(uint64(m.self) << tasklet.NodeBits) }

func (m *mergedRemote) rewrite(cases []tasklet.Case) []tasklet.Case {
	touched := false
	for i := range cases {
		if m.merged[cases[i].Chan.Node()] && (cases[i].Dir == tasklet.DirRecv || cases[i].Dir == tasklet.DirSend) {
			if !touched {
				m.buf = append(m.buf[:0], cases...)
				touched = true
			}
			m.buf[i].Chan, m.buf[i].Value = m.standIn(), nil
		}
	}
	if !touched {
		return cases
	}
	return m.buf
}

// Op implements scheduler.Remote. A case on a merged node's channel that
// this scheduler does not hold (closed and drained, as the scheduler drops
// such channels) completes at once with channel.ErrClosed, as it would on
// the channel's own node.
func (m *mergedRemote) Op(t tasklet.ID, wait uint32, cases []tasklet.Case) {
	for i, c := range cases {
		if (c.Dir == tasklet.DirRecv || c.Dir == tasklet.DirSend) && m.merged[c.Chan.Node()] && m.s.Channel(c.Chan) == nil {
			idx := i
			if wt, ok := m.s.WaitOf(t); ok && wt.Plain {
				idx = -1
			}
			m.s.Complete(t, wait, idx, nil, channel.ErrClosed)
			return
		}
	}
	m.remoteOps.Op(t, wait, m.rewrite(cases))
	clear(m.buf) // drop the values it held
}

// Cancel implements scheduler.Remote.
func (m *mergedRemote) Cancel(t tasklet.ID, wait uint32, cases []tasklet.Case) {
	m.remoteOps.Cancel(t, wait, m.rewrite(cases))
	clear(m.buf)
}

// CloseRemote implements scheduler.Remote. A merged node's channel that
// this scheduler does not hold was closed and drained: closing it again
// does nothing, as on its own node. The ipc node must not see it (it
// would send the close to a node that does not exist).
func (m *mergedRemote) CloseRemote(ch channel.ID) error {
	if m.merged[ch.Node()] {
		return nil
	}
	return m.remoteOps.CloseRemote(ch)
}
