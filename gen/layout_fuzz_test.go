package gen

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hand-edited layout records that gen could not have written: each made
// gen crash (a point numbered -1 indexed Points[-2]; live sets shorter
// than the points indexed past their end) or allocate without bound (a
// point numbered 2e9 made a slice of 2e9 names). They are refused as
// damaged, with what is wrong.
func TestDamagedLayoutRecordsAreRefused(t *testing.T) {
	for rec, want := range map[string]string{
		`{"kind":"k","version":1,"frame":"F","points":["t.Recv"],"names":{"x":-1},"fields":[]}`:         `point "x" numbered -1`,
		`{"kind":"k","version":1,"frame":"F","points":["t.Recv"],"names":{"x":2000000000},"fields":[]}`: `point "x" numbered 2000000000`,
		`{"kind":"k","version":1,"frame":"F","points":["t.Recv","t.Send"],"live":[[]],"fields":[]}`:     "live sets of 1 points, not 2",
		`{"kind":"k","version":0,"frame":"F","points":[],"fields":[]}`:                                  "version 0",
		`{"kind":"k","version":1,"frame":"F x","points":[],"fields":[]}`:                                "not a Go name",
		`{"kind":"k","version":1,"frame":"F","points":[],"fields":[["A","int\n}"]]}`:                    "no Go type",
		`{"kind":"k","version":1,"frame":"F","points":[],"fields":[],"imports":{"x":"a\"b"}}`:           "import x",
		`{"kind":"k","version":1,"frame":"F","points":[],"fields":[["A","int"],["A","string"]]}`:        "field A twice",
		`{"kind":"k","version":1,"frame":"F","points":["t.Recv"],"names":{"x":1,"y":1},"fields":[]}`:    "point 1 named both",
	} {
		_, err := parseLayouts([]byte(layoutPrefix + rec))
		require.Error(t, err, rec)
		assert.Contains(t, err.Error(), want, rec)
	}
}

// FuzzLayouts: any text in a generated file is refused or read into
// records that gen's own uses of old records take without a panic, and a
// record compared with itself shows no change.
func FuzzLayouts(f *testing.F) {
	files, err := filepath.Glob("../examples/*/*_stackless.go")
	require.NoError(f, err)
	more, err := filepath.Glob("../examples/*/*/*_stackless.go")
	require.NoError(f, err)
	for _, path := range append(files, more...) {
		b, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(string(b))
	}
	f.Add(layoutPrefix + `{"kind":"k","version":1,"frame":"F","points":["t.Recv",""],"names":{"x":1},"live":[["A"],[]],"fields":[["A","map[string]int"]]}`)
	f.Add(layoutPrefix + `{"kind":"k","version":1,"frame":"F","points":["t.Recv"],"names":{"x":-1},"fields":[]}`)
	f.Fuzz(func(t *testing.T, text string) {
		recs, err := parseLayouts([]byte(text))
		if err != nil {
			return
		}
		for i := range recs {
			r := &recs[i]
			assert.Empty(t, diffLayout(*r, *r), "a record against itself")
			assert.NotNil(t, oldTop(recs, r.Kind))
			// Number points named as the record names them, as a new
			// run of gen does, and lay them out as layouts does.
			names := slices.Sorted(func(yield func(string) bool) {
				for n := range r.Names {
					if !yield(n) {
						return
					}
				}
			})
			pts := []layoutPoint{{N: 1, What: "t.Recv"}}
			for _, n := range names {
				pts = append(pts, layoutPoint{N: len(pts) + 1, What: "t.Send", Name: n})
			}
			pcs := number(pts, r)
			top := 0
			for _, pc := range pcs[1:] {
				require.Positive(t, pc)
				top = max(top, pc)
			}
			require.LessOrEqual(t, top, len(r.Points)+len(pts), "numbers stay near the points")
		}
	})
}
