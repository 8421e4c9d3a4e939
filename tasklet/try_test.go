package tasklet_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stackless-go/stackless/tasklet"
)

// plainHost is a Host that cannot run channel operations inside a step.
type plainHost struct{ tasklet.Host }

// pollHost is a Host that can, and records what it was asked.
type pollHost struct {
	tasklet.Host
	sent []any
	recv []tasklet.ChanID
}

func (h *pollHost) TrySend(ch tasklet.ChanID, v any) (bool, error) {
	h.sent = append(h.sent, v)
	return ch == 1, nil
}

func (h *pollHost) TryRecv(ch tasklet.ChanID) (any, bool, error) {
	h.recv = append(h.recv, ch)
	if ch == 1 {
		return "value", true, nil
	}
	return nil, false, errors.New("nothing")
}

func (h *pollHost) TryRecvMany(ch tasklet.ChanID, dst []any) (int, error) {
	h.recv = append(h.recv, ch)
	if ch == 1 {
		return copy(dst, []any{"a", "b", "c"}), nil
	}
	return 0, errors.New("nothing")
}

func TestTryNeedsAPoller(t *testing.T) {
	tk := newTOn(nil, plainHost{})
	ok, err := tk.TrySend(1, "x")
	assert.False(t, ok)
	assert.ErrorIs(t, err, tasklet.ErrNoPoll)
	v, ok, err := tk.TryRecv(1)
	assert.Nil(t, v)
	assert.False(t, ok)
	assert.ErrorIs(t, err, tasklet.ErrNoPoll)
	n, err := tk.TryRecvMany(1, make([]any, 4))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, tasklet.ErrNoPoll)
}

func TestTryGoesToThePoller(t *testing.T) {
	h := &pollHost{}
	tk := newTOn(nil, h)
	ok, err := tk.TrySend(1, "a")
	assert.True(t, ok)
	assert.NoError(t, err)
	ok, err = tk.TrySend(2, "b")
	assert.False(t, ok)
	assert.NoError(t, err)
	assert.Equal(t, []any{"a", "b"}, h.sent)

	v, ok, err := tk.TryRecv(1)
	assert.Equal(t, "value", v)
	assert.True(t, ok)
	assert.NoError(t, err)
	_, ok, err = tk.TryRecv(3)
	assert.False(t, ok)
	assert.EqualError(t, err, "nothing")
	assert.Equal(t, []tasklet.ChanID{1, 3}, h.recv)
}

func TestTryRecvManyGoesToThePoller(t *testing.T) {
	h := &pollHost{}
	tk := newTOn(nil, h)
	dst := make([]any, 2)
	n, err := tk.TryRecvMany(1, dst)
	assert.NoError(t, err)
	assert.Equal(t, []any{"a", "b"}, dst[:n], "no more than dst holds")
	n, err = tk.TryRecvMany(3, dst)
	assert.Zero(t, n)
	assert.EqualError(t, err, "nothing")
	assert.Equal(t, []tasklet.ChanID{1, 3}, h.recv)
}
