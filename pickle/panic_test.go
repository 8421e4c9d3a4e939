package pickle_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// touchy encodes itself, and panics on a negative count and on bytes that
// are not its own: a method of the program that does not check its input.
type touchy struct{ N int }

func (x touchy) MarshalMsgpack() ([]byte, error) {
	if x.N < 0 {
		panic("touchy: negative count")
	}
	return msgpack.Marshal(x.N)
}

func (x *touchy) UnmarshalMsgpack(b []byte) error {
	if len(b) != 1 {
		panic("touchy: not one byte")
	}
	return msgpack.Unmarshal(b, &x.N)
}

type holdsTouchy struct{ T touchy }

func (h *holdsTouchy) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

type holdsTouchyV1 struct{ N int }

func (h *holdsTouchyV1) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

func state(b tasklet.Behavior) *scheduler.TaskletState {
	return &scheduler.TaskletState{ID: 3, Behavior: b, State: tasklet.Runnable, Chosen: -1}
}

// A panic in the program's own methods fails the one save or load, naming
// the tasklet, instead of killing the program.
func TestPanicsInMethodsAreErrors(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("touchy", 2, &holdsTouchy{}, pickle.Upgrade(1, func(old *holdsTouchyV1) (tasklet.Behavior, error) {
		if old.N < 0 {
			panic("upgrade: negative")
		}
		return &holdsTouchy{T: touchy{N: old.N}}, nil
	})))

	_, err := r.DumpTasklet(state(&holdsTouchy{T: touchy{N: -1}}))
	require.ErrorIs(t, err, pickle.ErrPanic)
	assert.ErrorContains(t, err, "tasklet t3 (kind touchy)")
	assert.ErrorContains(t, err, "touchy: negative count")

	good, err := r.DumpTasklet(state(&holdsTouchy{T: touchy{N: 5}}))
	require.NoError(t, err, "the registry saves again after a panic")
	rec, err := r.LoadTasklet(good)
	require.NoError(t, err)
	assert.Equal(t, 5, rec.Behavior.(*holdsTouchy).T.N)

	// The count 5 is one byte; 300 is three, which UnmarshalMsgpack panics on.
	big, err := r.DumpTasklet(state(&holdsTouchy{T: touchy{N: 300}}))
	require.NoError(t, err)
	_, err = r.LoadTasklet(big)
	require.ErrorIs(t, err, pickle.ErrPanic)
	assert.ErrorIs(t, err, pickle.ErrCorrupt, "a decoding method's panic is taken for damaged bytes")
	assert.ErrorContains(t, err, "touchy: not one byte")

	old := pickle.NewRegistry()
	require.NoError(t, old.Register("touchy", 1, &holdsTouchyV1{}))
	v1, err := old.DumpTasklet(state(&holdsTouchyV1{N: -2}))
	require.NoError(t, err)
	_, err = r.LoadTasklet(v1)
	require.ErrorIs(t, err, pickle.ErrPanic)
	assert.ErrorIs(t, err, pickle.ErrKindVersion)
	assert.ErrorContains(t, err, "upgrade: negative")
	assert.False(t, errors.Is(err, pickle.ErrCorrupt), "the record is fine; the upgrade is not")
}

// nilErr is an error whose Error method dereferences its receiver.
type nilErr struct{ Msg string }

func (e *nilErr) Error() string { return e.Msg }

type holdsErr struct{ Err pickle.Boxed[error] }

func (h *holdsErr) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// An error variable holding a nil pointer (not a nil error) fails its save
// with what it holds and what to do, not with a nil dereference.
func TestANilPointerInAnErrorFailsItsSaveSayingSo(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("holds-err", 1, &holdsErr{}))
	var typedNil *nilErr
	_, err := r.DumpTasklet(state(&holdsErr{Err: pickle.Boxed[error]{V: typedNil}}))
	require.ErrorIs(t, err, pickle.ErrPanic)
	assert.ErrorContains(t, err, "tasklet t3 (kind holds-err)")
	assert.ErrorContains(t, err, "an error of type *pickle_test.nilErr: its Error method panicked")
	assert.ErrorContains(t, err, "is not a nil error")

	out, err := r.DumpTasklet(state(&holdsErr{Err: pickle.Boxed[error]{V: &nilErr{Msg: "lost"}}}))
	require.NoError(t, err)
	rec, err := r.LoadTasklet(out)
	require.NoError(t, err)
	assert.EqualError(t, rec.Behavior.(*holdsErr).Err.V, "lost")
}
