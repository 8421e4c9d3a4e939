package scheduler

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// burst runs t in a plain Run until it switches out, then goes straight on
// with the next runnable tasklet, for up to 256 switches, as long as no
// posted input, failure or checkpoint needs the outer loop. It is exec
// without the watchdog: the loop every switch of a plain Run goes through,
// so it carries no per-step checks it does not need.
func (s *Scheduler) burst(t *rec) {
	limit := 255
	if s.ckpt.fn != nil {
		limit = 0 // the checkpoint check lives in the outer loop
	}
	n := 0
	for ; ; n++ {
		if s.onSchedule != nil {
			s.current = nil
			s.switchHook(s.prev, t.ID())
		}
		s.current = t
		for run := 1; ; run++ {
			// t.Step, by hand: the inliner will not, and the call costs
			// a tenth of a rendezvous.
			c := t.c()
			c.BeginStep()
			op := c.Behavior().Step(t.T())
			s.steps++
			var cont bool
			if c.Erred() || !s.plain && (!s.plainRecv || op.Kind() == tasklet.OpSend) {
				// A channel hook, value check (of a send) or tracking, or
				// a delivered error, maybe unread: the general path, exec's.
				unread := c.EndStep()
				s.touch(t)
				if unread != nil {
					s.unread(t, unread)
					break
				}
				cont = s.apply(t, op)
			} else {
				// EndStep: no error to check, and each path below clears
				// the value, or the receive's wait replaces it (WaitOn).
				switch op.Kind() { // Send, Recv and Exit without apply's call
				case tasklet.OpSend:
					c.ClearValue()
					if op.Chan() == s.fillID {
						// A fan-in's send (fanin.go), by hand: the inliner
						// will not, and the call costs a fifth of the send.
						// (Never a send while tracking: fillCh is set only
						// while plain holds; noFill when there is none.)
						c := s.fillCh
						switch c.SendQuick(op.Value()) {
						case channel.SendBuffered:
							c.NoteBomb(op.Value()) // SendQuick's and WaitToSend's caller's part
							s.chanOps++
							t.SetChosen(-1)
							cont = true
						case channel.SendBlocks:
							s.chanOps++
							if t.BlockTrap() {
								cont = s.sendWaits(t, c, op.Value())
								break
							}
							// sendWaits, by hand: a third of the senders of a
							// fan-in block, and the call cost them 15
							// instructions of frame and arguments.
							c.NoteBomb(op.Value())
							t.WaitOn(c, true)
							if seq := t.NextWait(); !c.WaitToSend(t.T(), seq, op.Value()) {
								c.PushSender(channel.Waiter{T: t.T(), Seq: seq, Case: -1, Value: op.Value()})
							}
							t.SetState(tasklet.Blocked)
						default:
							cont = s.opSend(t, op.Chan(), op.Value())
						}
						break
					}
					// opSend's default rendezvous without its call (a fifth
					// of a ping-pong value): the last channel, a lone plain
					// receiver takes the value and runs next.
					if c := s.lastCh; c != nil && c.ID() == op.Chan() {
						if rt := c.TakeDirect(); rt != nil {
							s.chanOps++ // handOff and runReceiver, by hand
							t.SetChosen(-1)
							r := recOf(rt)
							deliver(r, op.Value())
							r.NextWait()
							r.SetChosen(-1)
							r.SetState(tasklet.Runnable)
							s.next = r
							if !s.runq.hold(t) { // pushBehind, inlined
								if s.runq.room() {
									s.runq.storeBack(t)
								} else {
									s.runq.pushBack(t)
								}
							}
							break
						}
						s.chanOps++
						cont = s.sendOn(t, c, op.Value())
						break
					}
					cont = s.opSend(t, op.Chan(), op.Value())
				case tasklet.OpRecv:
					// opRecv's wait on an empty channel without its call.
					if c := s.lastCh; c != nil && c.ID() == op.Chan() && c.Quiet() && !t.BlockTrap() {
						s.chanOps++ // waitRecv, by hand, the channel's slot free
						t.WaitOn(c, false)
						c.WaitQuiet(t.T(), t.NextWait())
						t.SetState(tasklet.Blocked)
						break
					}
					// recvReady's buffered value without opRecv's and its
					// calls: a stream's consumer, no sender to move into
					// the buffer, not closed (so nothing to drop). Half the
					// instructions of the consumer's receive.
					if c := s.lastCh; c != nil && c.ID() == op.Chan() && !c.HasSenders() && !c.Closed() {
						if v, ok := c.BufPop(); ok {
							s.chanOps++
							deliver(t, v) // replaces the value: no ClearValue
							t.SetChosen(-1)
							cont = true
							break
						}
					}
					c.ClearValue()
					if c := s.lastCh; c != nil && c.ID() == op.Chan() && c.Len() == 0 && !c.HasSenders() && !c.Closed() && !t.BlockTrap() {
						s.chanOps++ // waitRecv, by hand
						t.WaitOn(c, false)
						if seq := t.NextWait(); !c.WaitAlone(t.T(), seq) {
							c.PushReceiver(channel.Waiter{T: t.T(), Seq: seq, Case: -1})
						}
						t.SetState(tasklet.Blocked)
						break
					}
					cont = s.opRecv(t, op.Chan())
				case tasklet.OpSleep:
					c.ClearValue()
					s.sleep(t, op.Duration())
				default:
					c.ClearValue()
					if op.Kind() == tasklet.OpExit { // every tasklet's last step, without apply's call
						s.finish(t, nil)
					} else {
						cont = s.apply(t, op)
					}
				}
			}
			if len(s.immediate) != 0 {
				s.frontNext()
				if cont {
					s.runq.pushFront(t)
				}
				s.queueImmediate()
				break
			}
			if !cont {
				break
			}
			if run >= s.sliceRun {
				s.runq.pushBack(t)
				break
			}
		}
		s.prev = t.ID()
		if n == limit {
			break
		}
		if s.inboxN.Load() != 0 || len(s.failed) != 0 {
			break
		}
		if t = s.next; t != nil {
			s.next = nil
			continue
		}
		if t = s.runq.first; t != nil { // popFront's first case, without its ring
			s.runq.first = nil
			continue
		}
		if s.runq.n == 0 && !s.runq.refill() {
			// Every tasklet waits: a virtual clock jumps to the next timer
			// here, as idle would, without a trip through the outer loop;
			// a tasklet woken alone runs without one through the run queue.
			s.runq.release()
			if s.vclock == nil {
				break
			}
			if t = s.jumpAlone(); t != nil {
				continue
			}
			if !s.jumpSlow() {
				break
			}
		}
		t = s.runq.popRing()
	}
	s.switches += uint64(n) + 1 // once a burst, not once a switch
	s.current = nil
	s.frontNext()
}
