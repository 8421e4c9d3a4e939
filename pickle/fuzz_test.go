package pickle_test

// Fuzz targets for every decoder of untrusted bytes, their seeds
// (fuzz_seeds_test.go), and the unit tests that hold the hostile seeds to
// their promises (fuzz_promises_test.go): rejected with ErrMalformed, and
// decoded with allocation bounded by the input's size.
// The hostile seeds are also committed under testdata/fuzz/<Target>/ so that
// plain `go test` runs them; TestFuzzCorpusIsCommitted keeps those files in
// step with the record format (go test ./pickle -run TestFuzzCorpus -update-fuzz-corpus).

import (
	"flag"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

var updateCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the committed hostile seeds under testdata/fuzz")

// Mixed is a kind with a field of every shape msgpack decodes differently.
type Mixed struct {
	F32  float32
	F64  float64
	I8   int8
	U64  uint64
	S    string
	B    []byte
	M    map[string]int
	T    time.Time
	P    *Point
	Arr  [3]int16
	Pts  []Point
	Nest struct {
		A []string
		B map[string][]int
	}
	Any any `stackless:",loose"`
	D   time.Duration
	Ch  channel.ID
}

func (m *Mixed) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// fuzzRegistry is shared by the fuzz targets: it knows every kind of these
// tests (including "guard" at version 2 with an upgrade from 1) and Mixed.
var fuzzRegistry = sync.OnceValue(func() *pickle.Registry {
	r := must(newProgRegistry())
	if err := r.Register("mixed", 1, &Mixed{}); err != nil {
		panic(err)
	}
	return r
})

// ---- canonical forms for round-trip checks ----

var sentinels = []error{tasklet.ErrKilled, channel.ErrClosed, tasklet.ErrBlockTrap, errSentinel}

var errorType = reflect.TypeFor[error]()

// canon renders a state so that equal states read the same: maps in key
// order, pointers followed, floats by their bits (a NaN equals itself),
// types named wherever an interface holds a value, errors by message and
// sentinel identity.
func canon(v any) string {
	var b strings.Builder
	canonValue(&b, reflect.ValueOf(v))
	return b.String()
}

func canonValue(b *strings.Builder, v reflect.Value) {
	if !v.IsValid() {
		b.WriteString("nil")
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if v.Type().Implements(errorType) || v.Elem().Type().Implements(errorType) {
			err := v.Elem().Interface().(error)
			fmt.Fprintf(b, "error(%T %d %q)", err, slices.Index(sentinels, err), err.Error())
			return
		}
		fmt.Fprintf(b, "(%v)", v.Elem().Type())
		canonValue(b, v.Elem())
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("&")
		canonValue(b, v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			fmt.Fprintf(b, "time(%d %s)", t.UnixNano(), t.Location())
			return
		}
		b.WriteString("{")
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fmt.Fprintf(b, "%s:", v.Type().Field(i).Name)
				canonValue(b, v.Field(i))
				b.WriteString(" ")
			}
		}
		b.WriteString("}")
	case reflect.Map:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		entries := make([]string, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			entries = append(entries, canon(it.Key().Interface())+":"+canon(it.Value().Interface()))
		}
		slices.Sort(entries)
		fmt.Fprintf(b, "map%v", entries)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("[")
		for i := range v.Len() {
			canonValue(b, v.Index(i))
			b.WriteString(" ")
		}
		b.WriteString("]")
	case reflect.Float32, reflect.Float64:
		fmt.Fprintf(b, "f%x", math.Float64bits(v.Float()))
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v.Interface())
	}
}

// ---- fuzz targets ----

func addSeeds(f *testing.F, bases func(bool) [][]byte) {
	valid := bases(true)
	hostile, _ := hostileFor(valid)
	for _, b := range valid {
		f.Add(b)
	}
	for _, s := range hostile {
		f.Add(s.b)
	}
}

// FuzzLoadTasklet: LoadTasklet and the inspectors never panic, and a record
// they accept re-encodes to a record that loads to the same state.
func FuzzLoadTasklet(f *testing.F) {
	addSeeds(f, validTasklets)
	f.Fuzz(func(t *testing.T, b []byte) {
		reg := fuzzRegistry()
		_, _ = reg.Inspect(b)
		_, _ = reg.InspectTasklet(b)
		rec, err := reg.LoadTasklet(b)
		if err != nil {
			return
		}
		kind, err := reg.KindOf(rec.Behavior)
		require.NoError(t, err, "a loaded behavior is of a registered kind")
		again, err := reg.DumpTasklet(&rec.TaskletState)
		require.NoError(t, err, "an accepted record re-encodes")
		rec2, err := reg.LoadTasklet(again)
		require.NoError(t, err, "a re-encoded record loads")
		assert.Equal(t, kind.Version, rec2.Version, "written at the current version")
		assert.Equal(t, rec.Kind, rec2.Kind)
		assert.Equal(t, canon(rec.TaskletState), canon(rec2.TaskletState), "round trip changed the state")
	})
}

// FuzzLoadChannel: LoadChannel and InspectChannel never panic, and accepted
// records round-trip.
func FuzzLoadChannel(f *testing.F) {
	addSeeds(f, validChannels)
	f.Fuzz(func(t *testing.T, b []byte) {
		reg := fuzzRegistry()
		_, _ = reg.InspectChannel(b)
		cs, err := reg.LoadChannel(b)
		if err != nil {
			return
		}
		again, err := reg.DumpChannel(cs)
		require.NoError(t, err, "an accepted record re-encodes")
		cs2, err := reg.LoadChannel(again)
		require.NoError(t, err, "a re-encoded record loads")
		assert.Equal(t, canon(cs), canon(cs2), "round trip changed the channel")
	})
}

// FuzzLoadWorld: LoadHeader and LoadWorld never panic, accepted input
// round-trips, and scheduler.Restore takes or refuses a loaded world without
// panicking.
func FuzzLoadWorld(f *testing.F) {
	addSeeds(f, validWorlds)
	f.Fuzz(func(t *testing.T, b []byte) {
		reg := fuzzRegistry()
		if h, err := reg.LoadHeader(b); err == nil {
			again, err := reg.DumpHeader(&h.World)
			require.NoError(t, err)
			h2, err := reg.LoadHeader(again)
			require.NoError(t, err)
			assert.Equal(t, canon(h.World), canon(h2.World), "round trip changed the header")
		}
		walked := map[tasklet.ID]uint64{}
		walkErr := reg.WalkWorld(b, func([]byte) error { return nil }, func(key, value []byte) error {
			if tag, _, err := pickle.ParseKey(key); err == nil && tag == 't' {
				if id, steps, err := pickle.TaskletSteps(value); err == nil {
					walked[id] = steps
				}
			}
			return nil
		})
		w, err := reg.LoadWorld(b)
		if err != nil {
			return
		}
		require.NoError(t, walkErr, "a world that loads walks")
		require.Len(t, walked, len(w.Tasklets))
		for _, ts := range w.Tasklets {
			assert.Equal(t, ts.Steps, walked[ts.ID], "the steps of tasklet %v, walked", ts.ID)
		}
		want := canon(w)
		again, err := reg.DumpWorld(w)
		require.NoError(t, err, "an accepted world re-encodes")
		w2, err := reg.LoadWorld(again)
		require.NoError(t, err, "a re-encoded world loads")
		assert.Equal(t, want, canon(w2), "round trip changed the world")
		_, _ = scheduler.Restore(w)
	})
}
