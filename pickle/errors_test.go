package pickle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// codeErr is an error type a program registers with RegisterValue.
type codeErr struct {
	Code int
	Path string
}

func (e *codeErr) Error() string { return fmt.Sprintf("%s: code %d", e.Path, e.Code) }

var errQuota = errors.New("quota exceeded")

// errorRegistry knows errQuota as a sentinel and codeErr as a value type.
func errorRegistry(t *testing.T) *Registry {
	r := NewRegistry()
	r.RegisterError("test.quota", errQuota)
	require.NoError(t, RegisterValue[codeErr](r, "test.codeErr"))
	return r
}

func roundTrip(t *testing.T, r *Registry, err error) error {
	t.Helper()
	b, e := r.AppendError(nil, err)
	require.NoError(t, e)
	got, e := r.LoadError(b)
	require.NoError(t, e)
	if err != nil {
		assert.Equal(t, err.Error(), got.Error(), "the message comes back as it was")
	}
	return got
}

// A restored error keeps what errors.Is and errors.As find in it: a
// sentinel or an error of a registered type, itself or wrapped at any
// depth, alone or joined.
func TestARestoredErrorKeepsItsChain(t *testing.T) {
	r := errorRegistry(t)
	pe := &codeErr{Code: 7, Path: "/srv/a"}

	got := roundTrip(t, r, fmt.Errorf("job 3: %w", channel.ErrClosed))
	assert.ErrorIs(t, got, channel.ErrClosed)

	got = roundTrip(t, r, fmt.Errorf("outer: %w", fmt.Errorf("middle: %w", errQuota)))
	assert.ErrorIs(t, got, errQuota)
	assert.NotErrorIs(t, got, channel.ErrClosed)

	got = roundTrip(t, r, errors.Join(tasklet.ErrKilled, fmt.Errorf("x: %w", errQuota)))
	assert.ErrorIs(t, got, tasklet.ErrKilled)
	assert.ErrorIs(t, got, errQuota)

	got = roundTrip(t, r, pe)
	back, ok := got.(*codeErr)
	require.True(t, ok, "an error of a registered type comes back as that type, got %T", got)
	assert.Equal(t, pe, back)

	got = roundTrip(t, r, fmt.Errorf("open: %w", fmt.Errorf("try 2: %w", pe)))
	var as *codeErr
	require.True(t, errors.As(got, &as), "errors.As finds a wrapped error of a registered type")
	assert.Equal(t, pe, as)

	got = roundTrip(t, r, fmt.Errorf("both: %w and %w", pe, errQuota))
	assert.ErrorIs(t, got, errQuota)
	assert.True(t, errors.As(got, &as))

	// A sentinel keeps its identity only, what it wraps included.
	assert.Same(t, errQuota, roundTrip(t, r, errQuota))
}

// An error that wraps nothing a save can keep is written as it always
// was, [name, message], and saves of that form still load.
func TestATextErrorKeepsTheTwoFieldForm(t *testing.T) {
	r := errorRegistry(t)
	for _, err := range []error{errors.New("plain"), fmt.Errorf("w: %w", errors.New("inner")), channel.ErrClosed} {
		b, e := r.AppendError(nil, err)
		require.NoError(t, e)
		want, e := msgpack.Marshal([]string{r.errorName(err), err.Error()})
		require.NoError(t, e)
		assert.Equal(t, want, b, "%v", err)
	}
	old, e := msgpack.Marshal([]string{"closed", "a closed channel"})
	require.NoError(t, e)
	got, e := r.LoadError(old)
	require.NoError(t, e)
	assert.Same(t, channel.ErrClosed, got)
}

// A restored error prints as the saved one beside other operands (fmt.Sprint
// spaces operands that are not of a string kind) and is an error of its
// own, as errors.New's are.
func TestARestoredErrorPrintsAsTheSavedOne(t *testing.T) {
	r := errorRegistry(t)
	var loaded []error
	for _, err := range []error{errors.New("plain"), errors.New("plain"), errors.Join(errors.New("a"), errors.New("b"))} {
		b, e := r.AppendError(nil, err)
		require.NoError(t, e)
		got, e := r.LoadError(b)
		require.NoError(t, e)
		assert.Equal(t, fmt.Sprint(err, 2, err), fmt.Sprint(got, 2, got))
		loaded = append(loaded, got)
	}
	assert.True(t, loaded[0] != loaded[1], "two errors with one message are two errors")
}

// A program that does not register the sentinel or the type gets the
// message and what it does know: loading never fails for it.
func TestAnErrorLoadsWhereItsTypesAreUnknown(t *testing.T) {
	r := errorRegistry(t)
	err := fmt.Errorf("a: %w; b: %w; c: %w", errQuota, &codeErr{Code: 1}, channel.ErrClosed)
	b, e := r.AppendError(nil, err)
	require.NoError(t, e)
	got, e := NewRegistry().LoadError(b)
	require.NoError(t, e)
	assert.Equal(t, err.Error(), got.Error())
	assert.ErrorIs(t, got, channel.ErrClosed)
	assert.NotErrorIs(t, got, errQuota)

	b, e = r.AppendError(nil, &codeErr{Code: 2, Path: "p"})
	require.NoError(t, e)
	got, e = NewRegistry().LoadError(b)
	require.NoError(t, e)
	assert.Equal(t, "p: code 2", got.Error())
}

// loop is an error whose Unwrap returns itself; tree joins two of itself.
type loop struct{}

func (loop) Error() string   { return "loop" }
func (loop) Unwrap() error   { return fmt.Errorf("again: %w", loop{}) }
func (tree) Error() string   { return "tree" }
func (tree) Unwrap() []error { return []error{tree{}, errQuota, tree{}} }

type tree struct{}

// Chains that never end are walked to a bound, and a restored chain saves
// as it loaded.
func TestAnEndlessChainSavesWithinBounds(t *testing.T) {
	r := errorRegistry(t)
	got := roundTrip(t, r, loop{})
	assert.Equal(t, "loop", got.Error())
	got = roundTrip(t, r, tree{})
	assert.ErrorIs(t, got, errQuota)

	err := fmt.Errorf("x: %w", errors.Join(errQuota, &codeErr{Code: 3}))
	b1, e := r.AppendError(nil, err)
	require.NoError(t, e)
	back, e := r.LoadError(b1)
	require.NoError(t, e)
	b2, e := r.AppendError(nil, back)
	require.NoError(t, e)
	assert.Equal(t, b1, b2, "a restored chain saves the same bytes")
}

// The new forms refuse what they cannot be: a value that is no error, more
// causes than are ever written, a wrong length.
func TestACorruptErrorIsRefused(t *testing.T) {
	r := errorRegistry(t)
	bad := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		return b
	}
	causes := make([]any, maxCauses+1)
	for i := range causes {
		causes[i] = "test.quota"
	}
	for name, b := range map[string][]byte{
		"self not an error": bad([]any{"", "m", []any{"int", 5}, nil}),
		"too many causes":   bad([]any{"", "m", nil, causes}),
		"three fields":      bad([]any{"", "m", nil}),
		"causes not array":  bad([]any{"", "m", nil, "x"}),
	} {
		_, err := r.LoadError(b)
		assert.ErrorIs(t, err, ErrCorrupt, name)
	}
}

// Errors sent on a channel (SendErr) go through the same forms.
func TestASentErrorKeepsItsChain(t *testing.T) {
	r := errorRegistry(t)
	b, err := r.AppendValue(nil, channel.Bomb{Err: fmt.Errorf("worker 2: %w", errQuota)})
	require.NoError(t, err)
	v, err := r.LoadValue(b)
	require.NoError(t, err)
	bomb, ok := v.(channel.Bomb)
	require.True(t, ok)
	assert.ErrorIs(t, bomb.Err, errQuota)
	assert.Equal(t, "worker 2: quota exceeded", bomb.Err.Error())
}

// FuzzLoadError: any bytes load or are refused, and what loads saves and
// loads again with the same message and the same sentinels.
func FuzzLoadError(f *testing.F) {
	r := NewRegistry()
	r.RegisterError("test.quota", errQuota)
	if err := RegisterValue[codeErr](r, "test.codeErr"); err != nil {
		f.Fatal(err)
	}
	for _, err := range []error{nil, errors.New("plain"), channel.ErrClosed, fmt.Errorf("w: %w", errQuota),
		&codeErr{Code: 1, Path: "p"}, fmt.Errorf("a %w b %w", &codeErr{}, tasklet.ErrKilled)} {
		b, e := r.AppendError(nil, err)
		if e != nil {
			f.Fatal(e)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := r.LoadError(b)
		if err != nil || got == nil {
			return
		}
		b2, err := r.AppendError(nil, got)
		if err != nil {
			t.Fatalf("loaded %x as %v, which does not save: %v", b, got, err)
		}
		again, err := r.LoadError(b2)
		if err != nil {
			t.Fatalf("saved %v as %x, which does not load: %v", got, b2, err)
		}
		if again.Error() != got.Error() {
			t.Fatalf("message %q came back as %q", got.Error(), again.Error())
		}
		for _, s := range []error{errQuota, channel.ErrClosed, tasklet.ErrKilled} {
			if errors.Is(got, s) != errors.Is(again, s) {
				t.Fatalf("errors.Is(%v, %v) changed in a second round trip", got, s)
			}
		}
	})
}

// both says it is io.EOF and fs.ErrClosed by an Is method of its own.
type both struct{}

func (both) Error() string        { return "both" }
func (both) Is(target error) bool { return target == io.EOF || target == fs.ErrClosed }

// The standard library's sentinels that programs test for come back too,
// also where only an Is method says so (a syscall.Errno is fs.ErrNotExist):
// a missing file, an ended stream, a deadline.
func TestStandardSentinelsSurviveASave(t *testing.T) {
	r := NewRegistry()
	_, missing := os.Open(filepath.Join(t.TempDir(), "none"))
	require.Error(t, missing)
	got := roundTrip(t, r, fmt.Errorf("load config: %w", missing))
	assert.ErrorIs(t, got, fs.ErrNotExist)
	assert.NotErrorIs(t, got, fs.ErrExist)

	assert.ErrorIs(t, roundTrip(t, r, fmt.Errorf("header: %w", io.EOF)), io.EOF)
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	assert.ErrorIs(t, roundTrip(t, r, context.Cause(ctx)), context.DeadlineExceeded)

	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pw.Close()
	defer pr.Close()
	require.NoError(t, pr.SetReadDeadline(time.Now().Add(-time.Second)))
	_, late := pr.Read(make([]byte, 1))
	assert.ErrorIs(t, roundTrip(t, r, late), os.ErrDeadlineExceeded)

	got = roundTrip(t, r, both{})
	assert.ErrorIs(t, got, io.EOF)
	assert.ErrorIs(t, got, fs.ErrClosed)
	first, err := r.AppendError(nil, both{})
	require.NoError(t, err)
	for range 20 {
		again, err := r.AppendError(nil, both{})
		require.NoError(t, err)
		require.Equal(t, first, again, "one error saves the same bytes each time")
	}
}

// panicky's Is panics: the save fails with ErrPanic, and the registry
// still works after it.
type panicky struct{}

func (panicky) Error() string { return "panicky" }
func (panicky) Is(error) bool { panic("Is broke") }
func (panicky) Unwrap() error { return io.EOF }

func TestAPanickingIsMethodFailsOnlyItsSave(t *testing.T) {
	r := NewRegistry()
	_, err := r.AppendError(nil, fmt.Errorf("x: %w", panicky{}))
	require.ErrorIs(t, err, ErrPanic)
	r.RegisterError("test.after", errQuota) // would wait forever on a lock left held
	got := roundTrip(t, r, fmt.Errorf("y: %w", errQuota))
	assert.ErrorIs(t, got, errQuota)
}
