package ipc

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
)

func TestControlCalls(t *testing.T) {
	c := newCluster(t, 2)
	b := c.nodes[1]
	b.Handle("echo", func(p []byte) ([]byte, error) { return append([]byte("echo:"), p...), nil })
	b.Handle("fail", func([]byte) ([]byte, error) { return nil, errors.New("no such tasklet") })
	b.Handle("panic", func([]byte) ([]byte, error) { panic("handler bug") })
	b.Handle("big", func(p []byte) ([]byte, error) { return make([]byte, 100_000), nil })
	a := c.nodes[0]
	ctx := testCtx(t)

	out, err := a.Call(ctx, 2, "echo", []byte("hi"))
	require.NoError(t, err)
	assert.Equal(t, "echo:hi", string(out))

	out, err = a.Call(ctx, 2, "big", nil)
	require.NoError(t, err)
	assert.Len(t, out, 100_000)

	_, err = a.Call(ctx, 2, "fail", nil)
	var re *RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, RemoteError{Node: 2, Kind: "fail", Msg: "no such tasklet"}, *re)

	_, err = a.Call(ctx, 2, "panic", nil)
	require.ErrorAs(t, err, &re)
	assert.Contains(t, re.Msg, "handler bug")

	_, err = a.Call(ctx, 2, "nope", nil)
	assert.ErrorIs(t, err, ErrNoHandler)

	out, err = b.Call(ctx, 2, "echo", []byte("self"))
	require.NoError(t, err)
	assert.Equal(t, "echo:self", string(out), "a call to the node itself runs here")

	_, err = a.Call(ctx, 9, "echo", nil)
	assert.ErrorIs(t, err, ErrNoRoute)

	b.Handle("echo", nil)
	_, err = a.Call(ctx, 2, "echo", nil)
	assert.ErrorIs(t, err, ErrNoHandler)
}

func TestControlCallsRunConcurrentlyAndAreBounded(t *testing.T) {
	c := newCluster(t, 2, clusterConfig{nodeOpts: []Option{WithMaxControl(2)}})
	entered, release := make(chan struct{}, 2), make(chan struct{})
	c.nodes[1].Handle("block", func([]byte) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return []byte("done"), nil
	})
	results := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.nodes[0].Call(testCtx(t), 2, "block", nil)
			results <- err
		}()
	}
	<-entered
	<-entered // both run at once
	_, err := c.nodes[0].Call(testCtx(t), 2, "block", nil)
	assert.ErrorContains(t, err, "too many control calls")
	close(release)
	for range 2 {
		assert.NoError(t, <-results)
	}
}

func TestACallFailsWhenItsLinkGoesDown(t *testing.T) {
	c := newCluster(t, 2)
	entered, release := make(chan struct{}), make(chan struct{})
	c.nodes[1].Handle("block", func([]byte) ([]byte, error) {
		close(entered)
		<-release
		return nil, nil
	})
	defer close(release)
	errc := make(chan error, 1)
	go func() {
		_, err := c.nodes[0].Call(testCtx(t), 2, "block", nil)
		errc <- err
	}()
	<-entered
	c.nodes[0].link(2).close(errors.New("cut by the test"))
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, ErrLinkDown)
	case <-time.After(waitTime):
		t.Fatal("the call did not fail")
	}
}

// The timeout is 50 intervals: with 4 (20 ms) a loaded machine (a load of
// 20 on 2 cores) left a healthy link silent that long in 1 run of 50, once
// before the other end's side of the link was even up.
func TestKeepalive(t *testing.T) {
	c := newCluster(t, 2, clusterConfig{nodeOpts: []Option{WithKeepalive(5*time.Millisecond, 250*time.Millisecond)}})
	// A healthy link answers PINGs and stays up for many intervals.
	c.waitFor("keepalive traffic", func() bool { return c.nodes[0].Stats().FramesIn >= 20 })
	assert.Equal(t, []uint16{2}, c.nodes[0].Peers())

	// A peer that authenticates and then says nothing is dropped.
	rawPeer(t, c.nodes[0], 7)
	line := c.logs.wait(t, "link closed", "peer=7")
	assert.Contains(t, line, "keepalive: nothing received for")
	assert.Equal(t, []uint16{2}, c.nodes[0].Peers())
}

func TestAControlHandlerRunsAfterWhatWasSentBeforeIt(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(1, 1000)
	s := c.scheds[1]
	c.nodes[1].Handle("len", func([]byte) ([]byte, error) {
		got := make(chan int, 1)
		s.Do(func(s *scheduler.Scheduler) { got <- s.Channel(ch).Len() })
		return []byte{byte(<-got)}, nil
	})
	want := 0
	for k := 1; k <= 20; k++ {
		for i := range k {
			require.NoError(t, c.nodes[0].Post(ch, i))
		}
		want += k
		out, err := c.nodes[0].Call(testCtx(t), 2, "len", nil)
		require.NoError(t, err)
		assert.Equal(t, want, int(out[0]), "the posts sent before the call are in the channel")
	}
}
