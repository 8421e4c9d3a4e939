package pickle

// Reading and writing one behavior through its plan or through msgpack.

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
)

type scEntity struct { // internal/testworld's Entity, which store.BenchmarkRestore restores
	In   channel.ID
	HP   int32
	Seen int32
	X, Y float32
}

var benchBehaviors = []struct {
	name string
	v    any
}{
	{"guard", &scGuard{HP: 100, Name: "north-gate", Eyes: 1<<48 | 42, Route: []int{3, 1, 4, 1}}},
	{"entity", &scEntity{In: 1<<48 | 7, HP: 100, X: 12, Y: 99}},
}

// BenchmarkBehaviorDecode: op = reading one behavior's msgpack bytes into a
// new struct, through its plan or through msgpack (as before plans).
func BenchmarkBehaviorDecode(b *testing.B) {
	for _, bb := range benchBehaviors {
		typ := reflect.TypeOf(bb.v).Elem()
		sp := planFor(typ)
		in, err := marshalCompact(bb.v)
		require.NoError(b, err)
		b.Run(bb.name+"/plan", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := planUnmarshal(sp, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bb.name+"/msgpack", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := msgpackUnmarshal(typ, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBehaviorEncode: op = appending one behavior's msgpack bytes to a
// reused buffer, through its plan or through msgpack.
func BenchmarkBehaviorEncode(b *testing.B) {
	for _, bb := range benchBehaviors {
		sp := planFor(reflect.TypeOf(bb.v).Elem())
		p := reflect.ValueOf(bb.v).UnsafePointer()
		b.Run(bb.name+"/plan", func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = sp.append(buf[:0], p)
			}
		})
		b.Run(bb.name+"/msgpack", func(b *testing.B) {
			w := &appendWriter{b: make([]byte, 0, 256)}
			e := msgpack.NewEncoder(w)
			e.UseCompactInts(true)
			b.ReportAllocs()
			for b.Loop() {
				w.b = w.b[:0]
				if err := e.Encode(bb.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
