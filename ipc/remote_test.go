package ipc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

func realClocks(int) scheduler.Clock { return scheduler.NewRealClock(0) }

func TestMixedSelectTimeoutWithdrawsTheRemoteReceive(t *testing.T) {
	// Virtual clocks: an idle node jumps to its next timer, so the timeout
	// fires while x (on the other node) is still empty.
	c := newCluster(t, 2)
	x := c.ch(0, 0)
	c.prog(1, "sel", sel(SelCase{Ch: x}, SelCase{Timeout: time.Second}))
	res := c.collect(1)
	assert.Equal(t, []string{"chosen:1"}, res["sel"].Log)
	c.waitBalance(x, 0) // the CANCEL reached x's home
}

func TestMixedSelectRemoteReceiveBeatsTheTimeout(t *testing.T) {
	c := newCluster(t, 2, clusterConfig{clocks: realClocks})
	x := c.ch(0, 0)
	c.prog(1, "sel", sel(SelCase{Ch: x}, SelCase{Timeout: time.Minute}))
	c.waitBalance(x, -1)
	require.NoError(t, c.nodes[1].Post(x, 9))
	res := c.collect(1)
	assert.Equal(t, []int{9}, res["sel"].Got)
	assert.Equal(t, []string{"chosen:0"}, res["sel"].Log)
}

func TestMixedSelectOverThreeNodes(t *testing.T) {
	c := newCluster(t, 3)
	a, b, local := c.ch(0, 0), c.ch(1, 0), c.ch(2, 0)
	c.prog(2, "sel", sel(SelCase{Ch: a}, SelCase{Ch: b}, SelCase{Ch: local}))
	c.waitBalance(a, -1)
	c.waitBalance(b, -1)
	c.prog(1, "feed", send(b, 3))
	res := c.collect(2)
	assert.Equal(t, []int{3}, res["sel"].Got)
	assert.Equal(t, []string{"chosen:1"}, res["sel"].Log)
	c.waitBalance(a, 0)
	assert.Zero(t, c.balance(local))
}

func TestMixedSelectWithARemoteSendIsRefused(t *testing.T) {
	c := newCluster(t, 2)
	x, y := c.ch(0, 0), c.ch(1, 0)
	c.prog(1, "sel", sel(SelCase{Ch: y}, SelCase{Send: true, Ch: x, Val: 1}))
	res := c.collect(1)
	require.Len(t, res["sel"].Log, 2)
	assert.Contains(t, res["sel"].Log[0], ErrRemoteSelect.Error())
	assert.Equal(t, "chosen:1", res["sel"].Log[1], "the refused case is the one chosen")
	assert.Zero(t, c.balance(x), "nothing was sent to x's node")
	assert.Zero(t, c.balance(y), "the local case was withdrawn")
}

// gate blocks node i's scheduler until the returned function is called
// with what to run on it before it goes on.
func (c *cluster) gate(i int) (release func(then func(s *scheduler.Scheduler))) {
	entered, open := make(chan struct{}), make(chan func(*scheduler.Scheduler))
	c.scheds[c.at(i)].Do(func(s *scheduler.Scheduler) {
		close(entered)
		if fn := <-open; fn != nil {
			fn(s)
		}
	})
	<-entered
	return func(then func(*scheduler.Scheduler)) { open <- then }
}

func TestStaleDoneGivesTheValueBack(t *testing.T) {
	// A mixed select on node 1 waits on x (node 0) and y (local). Node 1 is
	// held while node 0 gives x's value to it; then y fires first on node
	// 1, so the DONE that arrives is stale: its value must go back to x.
	c := newCluster(t, 2)
	x, y := c.ch(0, 1), c.ch(1, 0)
	c.prog(1, "sel", sel(SelCase{Ch: x}, SelCase{Ch: y}))
	c.waitBalance(x, -1)
	release := c.gate(1)
	require.NoError(t, c.nodes[0].Post(x, 7))
	c.waitBalance(x, 0) // node 0 completed the remote wait; its DONE waits at node 1
	release(func(s *scheduler.Scheduler) { s.PostLocal(y, 8) })
	res := c.collect(1)
	assert.Equal(t, []int{8}, res["sel"].Got)
	assert.Equal(t, []string{"chosen:1"}, res["sel"].Log)
	c.prog(0, "late", recv(x))
	assert.Equal(t, []int{7}, c.collect(1)["late"].Got, "the value the stale DONE carried is back in x")
}

func TestKillOfARemotelyBlockedTasklet(t *testing.T) {
	c := newCluster(t, 2)
	x := c.ch(0, 0)
	id := c.prog(1, "r", recv(x))
	c.waitBalance(x, -1)
	c.on(1, func(s *scheduler.Scheduler) { require.NoError(t, s.Kill(id, false)) })
	c.waitBalance(x, 0)
	assert.Equal(t, []string{"err:" + tasklet.ErrKilled.Error()}, c.collect(1)["r"].Log)
	c.waitFor("the killed tasklet to end", func() bool { return c.tasklets(1) == 0 })
}

func TestKillThatRacesADoneGivesTheValueBack(t *testing.T) {
	c := newCluster(t, 2)
	x := c.ch(0, 1)
	id := c.prog(1, "r", recv(x))
	c.waitBalance(x, -1)
	release := c.gate(1)
	require.NoError(t, c.nodes[0].Post(x, 5))
	c.waitBalance(x, 0)
	release(func(s *scheduler.Scheduler) { require.NoError(t, s.Kill(id, false)) })
	c.prog(0, "late", recv(x))
	res := c.collect(2)
	assert.Equal(t, []string{"err:" + tasklet.ErrKilled.Error()}, res["r"].Log, "the kill won")
	assert.Equal(t, []int{5}, res["late"].Got, "the value the stale DONE carried is back in x")
}

func TestPost(t *testing.T) {
	c := newCluster(t, 3)
	x := c.ch(0, 0)
	c.prog(2, "r", recv(x), recv(x))
	c.waitBalance(x, -1)
	require.NoError(t, c.nodes[1].Post(x, 1), "to the home of x")
	require.NoError(t, c.nodes[0].Post(x, 2), "to a local channel")
	assert.ElementsMatch(t, []int{1, 2}, c.collect(1)["r"].Got) // two posters: no order between them

	err := c.nodes[1].Post(x, struct{ Unregistered int }{1})
	assert.ErrorContains(t, err, "not registered")
}

func TestNoRoute(t *testing.T) {
	c := newCluster(t, 2, clusterConfig{noLinks: true})
	x := c.ch(0, 0)
	p := newProbe(x)
	c.spawn(1, p)
	assert.ErrorIs(t, p.wait(t).Err, ErrNoRoute)
	assert.ErrorIs(t, c.nodes[1].Post(x, 1), ErrNoRoute)
	assert.ErrorIs(t, c.nodes[1].CloseChannel(x), ErrNoRoute)
}

// probe does one receive (or, with Send, one send of V, whatever its
// type) and reports what its next step sees on a Go channel, which works
// without any link. It never migrates.
type probe struct {
	Ch     channel.ID
	Send   bool
	V      any
	report chan probeResult
	issued bool
}

type probeResult struct {
	V   any
	Err error
}

func newProbe(ch channel.ID) *probe { return &probe{Ch: ch, report: make(chan probeResult, 1)} }

func (p *probe) Step(t *tasklet.T) tasklet.Op {
	if p.issued {
		p.report <- probeResult{t.Value(), t.Err()}
		return t.Exit()
	}
	p.issued = true
	if p.Send {
		return t.Send(p.Ch, p.V)
	}
	return t.Recv(p.Ch)
}

func (p *probe) wait(t *testing.T) probeResult {
	t.Helper()
	select {
	case r := <-p.report:
		return r
	case <-time.After(waitTime):
		t.Fatal("the probe got no outcome")
		return probeResult{}
	}
}

func TestAValueThatCannotBeEncodedFailsTheSend(t *testing.T) {
	c := newCluster(t, 2)
	x := c.ch(0, 0)
	p := newProbe(x)
	p.Send, p.V = true, struct{ Secret int }{1}
	c.spawn(1, p)
	assert.ErrorContains(t, p.wait(t).Err, "not registered")
	assert.Zero(t, c.balance(x))
}

func TestLinkLossWakesWaitersOnBothSides(t *testing.T) {
	c := newCluster(t, 2)
	x, y := c.ch(0, 0), c.ch(1, 0)
	p1, p0 := newProbe(x), newProbe(y)
	c.spawn(1, p1) // waits at node 0 for a tasklet of node 1
	c.spawn(0, p0) // and the other way round
	c.waitBalance(x, -1)
	c.waitBalance(y, -1)
	c.nodes[0].link(2).close(errors.New("cut by the test"))
	for _, p := range []*probe{p0, p1} {
		assert.ErrorIs(t, p.wait(t).Err, ErrLinkDown)
	}
	c.waitBalance(x, 0)
	c.waitBalance(y, 0)
	c.logs.wait(t, "link closed", "cut by the test")
}

func TestOpsFromManyTaskletsInterleave(t *testing.T) {
	// Many tasklets on two nodes exchange values through channels homed
	// on both; every value arrives exactly once.
	const pairs, n = 20, 30
	c := newCluster(t, 2)
	var names []string
	for p := range pairs {
		ch := c.ch(p%2, p%3)
		c.prog(p+1, fmt.Sprint("s", p), sendRange(ch, 1, n)...)
		c.prog(p, fmt.Sprint("r", p), recvN(ch, n)...)
		names = append(names, fmt.Sprint("r", p))
	}
	res := c.collect(2 * pairs)
	for _, name := range names {
		assert.Equal(t, ints(1, n), res[name].Got, name)
	}
	st := c.nodes[0].Stats()
	assert.Equal(t, 1, st.Links)
	assert.Positive(t, st.FramesIn)
	assert.Positive(t, st.FramesOut)
	assert.Positive(t, st.BytesIn)
	assert.Positive(t, st.BytesOut)
	assert.True(t, strings.HasPrefix(st.PerLink[0].Network, "conn"))
}
