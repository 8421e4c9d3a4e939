package scheduler

import (
	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

// A send to another node's channel that cannot go at once waits as a
// one-case select, so that the value travels with the case. A record that
// never selected waits in it carried (core.Carrier): the case is shared by
// every sender on the channel and the value sits in the record, so the
// wait allocates nothing and parking the send writes nothing outside the
// record (it took an ext and a case buffer of the tasklet's own, 112
// bytes, kept for good). The readers of a blocked tasklet's cases (Cases,
// casesIn, World, WorldView) put the value back. A plain receive from
// another node's channel points its wait at an ID the scheduler keeps,
// where it took 8 bytes of its own each time.

type carrier = core.Carrier[tasklet.Host, tasklet.Case]

// remoteChan is what the scheduler keeps for a channel of another node
// that its tasklets wait on: the carrier of its sends (made at the first)
// and the ID a plain receive's wait points to (rec.WaitOn), so neither
// wait allocates once the channel has one.
type remoteChan struct {
	send carrier
	id   uint64
}

// remoteChans are the scheduler's remoteChans, by channel. A program that
// waits on more remote channels than maxRemoteChans starts over (a
// remoteChan lives on in the records that wait on it): one that waits on
// ever new ones (another node's inbox for each of 100,000 actors) makes a
// remoteChan a channel, 16 bytes, and a carrier a channel sent on, 112.
type remoteChans struct {
	last *remoteChan
	by   map[tasklet.ChanID]*remoteChan
}

const maxRemoteChans = 4096

// remoteChan returns what the scheduler keeps for remote channel ch.
func (s *Scheduler) remoteChan(ch tasklet.ChanID) *remoteChan {
	rc := &s.rchans
	if rc.last != nil && rc.last.id == uint64(ch) {
		return rc.last
	}
	c, ok := rc.by[ch]
	if !ok {
		if rc.by == nil || len(rc.by) >= maxRemoteChans {
			rc.by = make(map[tasklet.ChanID]*remoteChan)
		}
		c = &remoteChan{id: uint64(ch)}
		rc.by[ch] = c
	}
	rc.last = c
	return c
}

// waitRemoteSend blocks t in a send of v on remote channel id and hands
// the send to the remote (opSend's, past the credit it did not find).
func (s *Scheduler) waitRemoteSend(t *rec, id tasklet.ChanID, v any) {
	if t.c().Shares() {
		rc := s.remoteChan(id)
		if rc.send == (carrier{}) {
			rc.send = core.NewCarrier(s.host, tasklet.SendCase(id, nil))
		}
		t.c().WaitCarried(rc.send, v)
	} else {
		t.WaitSelect()
		t.c().SetSelectOne(tasklet.SendCase(id, v))
	}
	s.blockRemote(t, tasklet.SendCase(id, v))
}

// waitRemoteRecv blocks t in a plain receive on remote channel id.
func (s *Scheduler) waitRemoteRecv(t *rec, id tasklet.ChanID) {
	t.c().WaitOn(&s.remoteChan(id).id, false)
	s.blockRemote(t, tasklet.RecvCase(id))
}

// blockRemote blocks t in the wait its caller recorded, of the one case cs
// on another node's channel, and hands cs to the remote in a scheduler
// buffer (Remote.Op keeps no case).
func (s *Scheduler) blockRemote(t *rec, cs tasklet.Case) {
	seq := t.NextWait()
	t.SetState(tasklet.Blocked)
	s.oneCase[0] = cs
	s.remote.Op(t.ID(), seq, s.oneCase[:])
	s.oneCase[0] = tasklet.Case{}
}

// carried is the case of a blocked tasklet's carried wait, with its value.
func (r *rec) carried() (cs tasklet.Case, ok bool) {
	if r.State() != tasklet.Blocked {
		return cs, false
	}
	cs, v, ok := r.c().Carried()
	cs.Value = v
	return cs, ok
}
