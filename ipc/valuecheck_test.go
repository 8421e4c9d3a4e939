package ipc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// odd is a value type no registry knows.
type odd struct{ A int }

// oddSender sends an odd value on Ch and reports the error its send got.
type oddSender struct {
	Name        string
	Ch, Results channel.ID
	PC          int
}

func (o *oddSender) Step(t *tasklet.T) tasklet.Op {
	switch o.PC {
	case 0:
		o.PC = 1
		return t.Send(o.Ch, odd{A: 1})
	case 1:
		o.PC = 2
		msg := ""
		if err := t.Err(); err != nil {
			msg = err.Error()
		}
		return t.Send(o.Results, Result{Name: o.Name, Log: []string{msg}})
	}
	return t.Exit()
}

// A node's scheduler checks values with the node's registry: a value that
// could not cross to a peer, or be part of a checkpoint, fails at the send,
// on a local channel as on a remote one.
func TestNodeRefusesUnregisteredValuesAtTheSend(t *testing.T) {
	c := newCluster(t, 2)
	local, remote := c.ch(0, 1), c.ch(1, 1)
	c.spawn(0, &oddSender{Name: "local", Ch: local, Results: c.resCh})
	c.spawn(0, &oddSender{Name: "remote", Ch: remote, Results: c.resCh})
	got := c.collect(2)
	for _, name := range []string{"local", "remote"} {
		require.Len(t, got[name].Log, 1, name)
		msg := got[name].Log[0]
		assert.Contains(t, msg, "type not registered", name)
		assert.Contains(t, msg, "ipc.odd", "%s: the error names the Go type", name)
		assert.Contains(t, msg, "pickle.RegisterValue[ipc.odd]", "%s: and how to register it", name)
	}
	for i, ch := range []channel.ID{local, remote} {
		c.on(i, func(s *scheduler.Scheduler) { assert.Zero(t, s.Channel(ch).Len(), "the value went nowhere") })
	}
}
