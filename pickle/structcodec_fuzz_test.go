package pickle

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// fuzzed are the types FuzzStructCodec reads every input into.
var fuzzed = []reflect.Type{
	reflect.TypeFor[scScalars](), reflect.TypeFor[scNamed](), reflect.TypeFor[scLists](),
	reflect.TypeFor[scTagged](), reflect.TypeFor[scEmbeds](), reflect.TypeFor[scV1](), reflect.TypeFor[scSmall](),
}

// FuzzStructCodec: any bytes Scan accepts read the same through a plan as
// through msgpack, into a new value and over a filled-in one: both fail, or
// both give the same value, which the plan writes as msgpack does. The plan
// never panics. (It relies on Scan, as LoadTasklet does, to bound lengths.)
func FuzzStructCodec(f *testing.F) {
	for _, typ := range fuzzed {
		for _, fill := range []bool{false, true} {
			v := reflect.New(typ)
			if fill {
				fillProbe(v.Elem(), 3)
			}
			b, err := marshalCompact(v.Interface())
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if ScanAll(b, Limits{}) != nil {
			return
		}
		for _, typ := range fuzzed {
			sp := planFor(typ)
			require.NotNil(t, sp, "%v", typ)
			byPlan, errPlan := planUnmarshal(sp, b)
			byMsgpack, errMsgpack := msgpackUnmarshal(typ, b)
			require.Equal(t, errMsgpack == nil, errPlan == nil, "%v: msgpack: %v; plan: %v", typ, errMsgpack, errPlan)
			if errPlan != nil {
				continue
			}
			assert.True(t, sameValue(byPlan, byMsgpack), "%v: read %+v, msgpack reads %+v", typ, byPlan.Elem(), byMsgpack.Elem())
			want, err := marshalCompact(byMsgpack.Interface())
			require.NoError(t, err)
			assert.Equal(t, want, sp.append(nil, byPlan.UnsafePointer()), "%v: writes what it read differently", typ)

			// Over a filled-in value, as repeated keys do within one.
			overPlan, overMsgpack := reflect.New(typ), reflect.New(typ)
			fillProbe(overPlan.Elem(), 5)
			fillProbe(overMsgpack.Elem(), 5)
			c := cursor{b: b}
			sp.decode(&c, overPlan.UnsafePointer())
			errMsgpack = msgpack.Unmarshal(b, overMsgpack.Interface())
			require.Equal(t, errMsgpack == nil, c.err == nil, "%v over a value: msgpack: %v; plan: %v", typ, errMsgpack, c.err)
			assert.True(t, sameValue(overPlan, overMsgpack), "%v over a value: read %+v, msgpack reads %+v", typ, overPlan.Elem(), overMsgpack.Elem())
		}
	})
}
