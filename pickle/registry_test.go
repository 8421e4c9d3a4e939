package pickle_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// countKind and funcKind are behaviors whose state is not a struct.
type countKind int

func (countKind) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

type funcKind func()

func (funcKind) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// Beacon is a behavior with a value receiver: both Beacon and *Beacon are
// behaviors.
type Beacon struct{ Ch channel.ID }

func (Beacon) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// OtherPoint competes with Point for a value name.
type OtherPoint struct{ X, Y, Z int }

func TestRegisterRefusesWhatCannotBeAState(t *testing.T) {
	noop := func(*GuardV1) (tasklet.Behavior, error) { return nil, nil }
	for _, tc := range []struct {
		name  string
		kind  string
		proto tasklet.Behavior
		opts  []pickle.KindOption
		says  string
	}{
		{"empty name", "", &Prog{}, nil, "empty kind name"},
		{"nil behavior", "nil", nil, nil, "nil behavior"},
		{"an int", "count", countKind(0), nil, "not a struct"},
		{"a pointer to an int", "count", new(countKind), nil, "not a struct"},
		{"a func", "func", funcKind(nil), nil, "not a struct"},
		{"an upgrade from the current version", "guard", &GuardV2{}, []pickle.KindOption{pickle.Upgrade(2, noop)}, "makes no sense"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pickle.NewRegistry()
			err := r.Register(tc.kind, 2, tc.proto, tc.opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.says)
			assert.Empty(t, r.Kinds(), "nothing was registered")
		})
	}
}

func TestRegisterConflicts(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("prog", 1, &Prog{}))
	require.NoError(t, r.Register("prog", 1, &Prog{}), "registering the same kind again is harmless")

	err := r.Register("prog", 1, &Relay{})
	require.Error(t, err, "one name, two types")
	assert.Contains(t, err.Error(), `"prog"`)
	assert.Contains(t, err.Error(), "*pickle_test.Prog", "the error names the type that has the name")

	err = r.Register("program", 1, &Prog{})
	require.Error(t, err, "one type, two names")
	assert.Contains(t, err.Error(), `"prog"`)

	require.NoError(t, r.Register("beacon", 1, &Beacon{}))
	err = r.Register("beacon", 1, Beacon{})
	require.Error(t, err, "a struct kind and a pointer kind of the same struct are different kinds")
	assert.Contains(t, err.Error(), "*pickle_test.Beacon")

	// The refused registrations changed nothing: both kinds still round-trip.
	for _, b := range []tasklet.Behavior{&Prog{Name: "x"}, &Beacon{Ch: 4}} {
		rec, err := r.DumpTasklet(&scheduler.TaskletState{ID: 1, Behavior: b, State: tasklet.Runnable})
		require.NoError(t, err)
		got, err := r.LoadTasklet(rec)
		require.NoError(t, err)
		assert.Equal(t, b, got.Behavior)
	}
	assert.Equal(t, "prog", r.KindName(&Prog{}))
	assert.Empty(t, r.KindName(&Relay{}))
}

func TestRegisterValueConflicts(t *testing.T) {
	// Run it many times: the check of a name and its pointer name once
	// depended on map order.
	for i := range 20 {
		r := pickle.NewRegistry()
		require.NoError(t, r.Register("prog", 1, &Prog{}))
		require.NoError(t, pickle.RegisterValue[Point](r, "point"))
		require.NoError(t, pickle.RegisterValue[Point](r, "point"), "registering the same value type again is harmless")

		err := pickle.RegisterValue[OtherPoint](r, "point")
		require.Error(t, err, "round %d", i)
		assert.Contains(t, err.Error(), "pickle_test.Point", "the error names the type that has the name")
		err = pickle.RegisterValue[OtherPoint](r, "int")
		require.Error(t, err, "a built-in name")
		assert.Contains(t, err.Error(), `"int"`)

		// Nothing of OtherPoint got in, not even under "*point".
		s := scheduler.New()
		ch := s.NewChannel(2)
		s.PostLocal(ch, &Point{1, 2})
		s.PostLocal(ch, Point{3, 4})
		b, err := r.DumpWorld(s.World())
		require.NoError(t, err)
		w, err := r.LoadWorld(b)
		require.NoError(t, err)
		assert.Equal(t, []any{&Point{1, 2}, Point{3, 4}}, w.Channels[0].Buffer, "round %d", i)
		_, err = r.DumpTasklet(&scheduler.TaskletState{ID: 1, Behavior: &Prog{}, State: tasklet.Runnable, Value: &OtherPoint{}})
		require.ErrorIs(t, err, pickle.ErrUnregistered, "round %d", i)
	}
}

func TestKindNameAndKinds(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("zeta", 3, &Relay{}))
	require.NoError(t, r.Register("alpha", 1, Burst{}))
	require.NoError(t, r.Register("mid", 7, &Prog{}))

	assert.Equal(t, "zeta", r.KindName(&Relay{}))
	assert.Equal(t, "alpha", r.KindName(Burst{}))
	assert.Empty(t, r.KindName(&Burst{}), "the pointer of a struct kind is another type")
	assert.Empty(t, r.KindName(&Worker{}))
	assert.Empty(t, r.KindName(nil))

	var got []string
	for _, k := range r.Kinds() {
		got = append(got, fmt.Sprintf("%s@%d", k.Name, k.Version))
	}
	assert.Equal(t, []string{"alpha@1", "mid@7", "zeta@3"}, got, "by name")

	k, err := r.KindOf(&Prog{})
	require.NoError(t, err)
	assert.Equal(t, "mid", k.Name)
	assert.Equal(t, uint32(7), k.Version)

	// Scheduler errors name kinds through KindName.
	s := scheduler.New(scheduler.WithKindNames(r.KindName))
	assert.Equal(t, "zeta", s.KindOf(&Relay{}))
	assert.Equal(t, "*pickle_test.Worker", s.KindOf(&Worker{}), "unregistered: the Go type")
}

func TestWritingATaskletWithoutBehaviorIsAnError(t *testing.T) {
	r := progRegistry(t)
	_, err := r.DumpTasklet(&scheduler.TaskletState{ID: 4, State: tasklet.Runnable})
	require.ErrorIs(t, err, pickle.ErrUnregistered)
	assert.Contains(t, err.Error(), "t4")

	// A record read with Inspect has no behavior, only fields.
	b, err := r.DumpTasklet(&scheduler.TaskletState{ID: 4, Behavior: &Prog{Name: "p"}, State: tasklet.Runnable})
	require.NoError(t, err)
	rec, err := pickle.NewRegistry().Inspect(b)
	require.NoError(t, err)
	_, err = r.DumpTasklet(&rec.TaskletState)
	require.ErrorIs(t, err, pickle.ErrUnregistered)
	assert.Contains(t, err.Error(), "Inspect")
}

// manyErrors is an error of an uncomparable type; holder is a comparable
// type holding an uncomparable value. Neither can be a map key.
type manyErrors []error

func (m manyErrors) Error() string { return fmt.Sprintf("%d errors", len(m)) }

type holder struct{ v any }

func (h holder) Error() string { return "held" }

func TestUncomparableErrorsAreSaved(t *testing.T) {
	r := progRegistry(t)
	for _, err := range []error{manyErrors{errSentinel, tasklet.ErrKilled}, holder{v: []int{1}}} {
		ts := &scheduler.TaskletState{ID: 1, Behavior: &Prog{}, State: tasklet.Runnable, Err: err,
			Cases: []tasklet.Case{tasklet.SendCase(2, channel.Bomb{Err: err})}}
		b, e := r.DumpTasklet(ts)
		require.NoError(t, e, "%T", err)
		rec, e := r.LoadTasklet(b)
		require.NoError(t, e)
		assert.EqualError(t, rec.Err, err.Error(), "the message survives")
		assert.NotErrorIs(t, rec.Err, errSentinel, "only registered sentinels keep their identity")
		assert.EqualError(t, rec.Cases[0].Value.(channel.Bomb).Err, err.Error())
	}
}

func TestInspectNeedsNoRegistration(t *testing.T) {
	old := progRegistry(t)
	b, err := old.DumpTasklet(&scheduler.TaskletState{ID: 7, State: tasklet.Blocked, Steps: 3, Wait: 2, Chosen: -1,
		Behavior: &Prog{Name: "seen", PC: 2, Log: []string{"a", "b"}},
		Cases:    []tasklet.Case{tasklet.RecvCase(1), tasklet.TimeoutCase(5)}})
	require.NoError(t, err)

	empty := pickle.NewRegistry()
	_, err = empty.LoadTasklet(b)
	require.ErrorIs(t, err, pickle.ErrUnknownKind)
	assert.Contains(t, err.Error(), `"prog"`)
	assert.Contains(t, err.Error(), "pickle.Register")

	rec, err := empty.Inspect(b)
	require.NoError(t, err)
	assert.Nil(t, rec.Behavior)
	assert.Equal(t, "prog", rec.Kind)
	assert.Equal(t, uint32(1), rec.Version)
	assert.Equal(t, tasklet.ID(7), rec.ID)
	assert.Equal(t, tasklet.Blocked, rec.State)
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(1), tasklet.TimeoutCase(5)}, rec.Cases)
	assert.Equal(t, "seen", rec.Fields["Name"])
	assert.EqualValues(t, 2, rec.Fields["PC"])
	assert.Equal(t, []any{"a", "b"}, rec.Fields["Log"])

	// A value of an unregistered type is shown by its wire name and fields,
	// never as something it is not.
	b, err = old.DumpTasklet(&scheduler.TaskletState{ID: 8, State: tasklet.Runnable, Behavior: &Prog{}, Value: Point{1, 2}})
	require.NoError(t, err)
	rec, err = empty.Inspect(b)
	require.NoError(t, err)
	require.IsType(t, pickle.Opaque{}, rec.Value)
	assert.Equal(t, "point", rec.Value.(pickle.Opaque).Type)
}

func TestMaxRecord(t *testing.T) {
	big := &scheduler.TaskletState{ID: 1, State: tasklet.Runnable, Behavior: &Prog{Name: strings.Repeat("x", 300)}}
	small := &scheduler.TaskletState{ID: 2, State: tasklet.Runnable, Behavior: &Prog{Name: "y"}}
	free := progRegistry(t)
	bigRec, err := free.DumpTasklet(big)
	require.NoError(t, err)
	smallRec, err := free.DumpTasklet(small)
	require.NoError(t, err)
	require.Greater(t, len(bigRec), 300)
	require.Less(t, len(smallRec), 100)

	limited := progRegistry(t)
	limited.SetMaxRecord(len(bigRec) - 1)

	_, err = limited.DumpTasklet(big)
	require.ErrorIs(t, err, pickle.ErrTooLarge, "on encode")
	assert.Contains(t, err.Error(), fmt.Sprintf("%d bytes, the limit is %d", len(bigRec), len(bigRec)-1))
	assert.Contains(t, err.Error(), "SetMaxRecord")
	_, err = limited.DumpTasklet(small)
	assert.NoError(t, err)

	for name, dec := range decoders(limited) {
		if name == "LoadWorld" || name == "LoadHeader" {
			continue // bounded as a world (below, and TestHeaderIsBoundedAsAWorld)
		}
		err := dec(bigRec)
		assert.ErrorIs(t, err, pickle.ErrTooLarge, "%s on decode", name)
	}
	_, err = limited.LoadTasklet(smallRec)
	assert.NoError(t, err)

	limited.SetMaxRecord(len(bigRec))
	_, err = limited.LoadTasklet(bigRec)
	assert.NoError(t, err, "a record of exactly the limit is fine")

	// A world blob is many records: the record limit bounds each of them,
	// the world limit the whole blob. (A cluster worker of half a million
	// tasklets packs a 77 MB world; under the record limit it could never
	// be checkpointed.)
	s := scheduler.New()
	for range 20 {
		s.Spawn(&Prog{Name: "y"})
	}
	limited = pickle.NewRegistry() // a short list of kinds keeps the header small
	require.NoError(t, limited.Register("prog", 1, &Prog{}))
	limited.SetMaxRecord(200)
	blob, err := limited.DumpWorld(s.World())
	require.NoError(t, err, "each record is small")
	require.Greater(t, len(blob), 200, "the blob is over the record limit")
	w, err := limited.LoadWorld(blob)
	require.NoError(t, err)
	assert.Len(t, w.Tasklets, 20)
	_, _, err = limited.SplitWorld(blob)
	require.NoError(t, err)

	s.Spawn(&Prog{Name: strings.Repeat("x", 300)})
	_, err = limited.DumpWorld(s.World())
	require.ErrorIs(t, err, pickle.ErrTooLarge, "a record over the record limit is refused in a world too")
	assert.Contains(t, err.Error(), "SetMaxRecord")

	limited.SetMaxWorld(len(blob) - 1)
	_, err = limited.DumpWorld(w)
	require.ErrorIs(t, err, pickle.ErrTooLarge, "on encode")
	assert.Contains(t, err.Error(), "SetMaxWorld")
	_, err = limited.LoadWorld(blob)
	require.ErrorIs(t, err, pickle.ErrTooLarge, "on decode")
	_, _, err = limited.SplitWorld(blob)
	require.ErrorIs(t, err, pickle.ErrTooLarge, "on split")
	limited.SetMaxWorld(len(blob))
	_, err = limited.LoadWorld(blob)
	assert.NoError(t, err, "a world of exactly the limit is fine")
}

// A world's header lists every runnable tasklet and every timer, so it
// grows with the world: it is bounded as a world (SetMaxWorld), not as a
// record. A million sleepers made a 26 MB header, and no checkpoint of
// them could be taken ("record too large").
func TestHeaderIsBoundedAsAWorld(t *testing.T) {
	s := scheduler.New()
	for range 300 {
		s.Spawn(&Prog{Name: "y"}) // runnable: a run-queue entry each
	}
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("prog", 1, &Prog{}))
	r.SetMaxRecord(200)
	h, err := r.DumpHeader(s.World())
	require.NoError(t, err)
	require.Greater(t, len(h), 200, "the header is over the record limit")
	got, err := r.LoadHeader(h)
	require.NoError(t, err)
	assert.Len(t, got.RunQueue, 300)
	blob, err := r.DumpWorld(s.World())
	require.NoError(t, err)
	w, err := r.LoadWorld(blob)
	require.NoError(t, err)
	assert.Len(t, w.RunQueue, 300)
	meta, recs, err := r.EncodeWorld(s.World())
	require.NoError(t, err)
	w, err = r.DecodeWorld(meta, recs)
	require.NoError(t, err)
	assert.Len(t, w.Tasklets, 300)

	r.SetMaxWorld(len(h) - 1)
	_, err = r.DumpHeader(s.World())
	require.ErrorIs(t, err, pickle.ErrTooLarge, "on encode")
	assert.Contains(t, err.Error(), "SetMaxWorld")
	_, err = r.LoadHeader(h)
	require.ErrorIs(t, err, pickle.ErrTooLarge, "on decode")
}

func TestKindProblemsOfAWorldAreReportedTogether(t *testing.T) {
	s := scheduler.New()
	for range 7 {
		s.Spawn(&Prog{})
	}
	s.Spawn(&GuardV1{HP: 1})
	oldGuard := pickle.NewRegistry()
	require.NoError(t, oldGuard.Register("prog", 1, &Prog{}))
	require.NoError(t, oldGuard.Register("guard", 1, &GuardV1{}))
	b, err := oldGuard.DumpWorld(s.World())
	require.NoError(t, err)

	// The new program has neither "prog" nor an upgrade for "guard".
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("guard", 2, &GuardV2{}))
	_, err = r.LoadWorld(b)
	require.ErrorIs(t, err, pickle.ErrUnknownKind)
	assert.Contains(t, err.Error(), "and 3 more tasklets with kind problems", "five are shown")
	assert.Equal(t, 5, strings.Count(err.Error(), `"prog"`))

	r = progRegistry(t) // knows "prog" and upgrades "guard" from 1
	w, err := r.LoadWorld(b)
	require.NoError(t, err)
	assert.Equal(t, &GuardV2{Health: 10}, w.Tasklets[7].Behavior)
}

func TestUpgradeFailures(t *testing.T) {
	old := pickle.NewRegistry()
	require.NoError(t, old.Register("guard", 1, &GuardV1{}))
	b, err := old.DumpTasklet(&scheduler.TaskletState{ID: 3, Behavior: &GuardV1{HP: -1}, State: tasklet.Runnable})
	require.NoError(t, err)

	errNegative := errors.New("negative HP")
	fails := pickle.NewRegistry()
	require.NoError(t, fails.Register("guard", 2, &GuardV2{}, pickle.Upgrade(1, func(o *GuardV1) (tasklet.Behavior, error) {
		return nil, errNegative
	})))
	_, err = fails.LoadTasklet(b)
	require.ErrorIs(t, err, errNegative, "the upgrade's own error")
	require.ErrorIs(t, err, pickle.ErrKindVersion, "and a version problem, not damage")
	assert.NotErrorIs(t, err, pickle.ErrCorrupt)
	assert.Contains(t, err.Error(), `kind "guard" from version 1 to 2`)
	assert.Contains(t, err.Error(), "t3")

	wrongType := pickle.NewRegistry()
	require.NoError(t, wrongType.Register("guard", 2, &GuardV2{}, pickle.Upgrade(1, func(o *GuardV1) (tasklet.Behavior, error) {
		return &GuardV1{}, nil
	})))
	_, err = wrongType.LoadTasklet(b)
	require.ErrorIs(t, err, pickle.ErrKindVersion)
	assert.Contains(t, err.Error(), "returned *pickle_test.GuardV1, want *pickle_test.GuardV2")

	// A program two versions on keeps an upgrade from each old version
	// (version 3 reuses the struct of version 2 to keep the test short).
	type GuardV3 = GuardV2
	v2 := pickle.NewRegistry()
	require.NoError(t, v2.Register("guard", 2, &GuardV2{}))
	b2, err := v2.DumpTasklet(&scheduler.TaskletState{ID: 4, Behavior: &GuardV2{Health: 5}, State: tasklet.Runnable})
	require.NoError(t, err)
	v3 := pickle.NewRegistry()
	require.NoError(t, v3.Register("guard", 3, &GuardV3{},
		pickle.Upgrade(1, func(o *GuardV1) (tasklet.Behavior, error) { return &GuardV3{Health: o.HP * 100}, nil }),
		pickle.Upgrade(2, func(o *GuardV2) (tasklet.Behavior, error) { return &GuardV3{Health: o.Health * 10}, nil })))
	for _, tc := range []struct {
		rec  []byte
		want int
	}{{b, -100}, {b2, 50}} {
		rec, err := v3.LoadTasklet(tc.rec)
		require.NoError(t, err)
		assert.Equal(t, &GuardV3{Health: tc.want}, rec.Behavior)
	}
}
