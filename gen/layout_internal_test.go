package gen

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The version check between two layout records, case by case: only what
// would resume an old save wrongly is a change. A record written before
// live fields were recorded is compared field by field, as it was then.
func TestDiffLayout(t *testing.T) {
	rec := func(s string) layoutRec {
		var r layoutRec
		require.NoError(t, json.Unmarshal([]byte(s), &r))
		return r
	}
	base := `{"frame":"F","points":["t.Recv","t.Send"],"names":{"wait":1},"live":[["A","B"],["A"]],"fields":[["A","int"],["B","string"]]}`
	for _, c := range []struct {
		name, old, new string
		want           []string
	}{
		{"same", base, base, nil},
		{"new point after the others", base,
			`{"frame":"F","points":["t.Recv","t.Send","t.Yield"],"names":{"wait":1},"live":[["A","B"],["A"],["A","C"]],"fields":[["A","int"],["B","string"],["C","int"]]}`, nil},
		{"field dropped", base,
			`{"frame":"F","points":["t.Recv","t.Send"],"names":{"wait":1},"live":[["A"],["A"]],"fields":[["A","int"]]}`, nil},
		{"point gone", base,
			`{"frame":"F","points":["t.Recv"],"names":{"wait":1},"live":[["A","B"]],"fields":[["A","int"],["B","string"]]}`,
			[]string{"F: point 2 (t.Send) is gone"}},
		{"point replaced", base,
			`{"frame":"F","points":["t.Recv","t.Sleep"],"names":{"wait":1},"live":[["A","B"],["A"]],"fields":[["A","int"],["B","string"]]}`,
			[]string{"F: point 2 was t.Send, is t.Sleep"}},
		{"name moved to another point", base,
			`{"frame":"F","points":["t.Recv","t.Send"],"names":{"wait":2},"live":[["A","B"],["A"]],"fields":[["A","int"],["B","string"]]}`,
			[]string{"F: point 1 was t.Recv named wait, is t.Recv"}}, // naming point 2 is fine: saves there stay there
		{"field newly read", base,
			`{"frame":"F","points":["t.Recv","t.Send"],"names":{"wait":1},"live":[["A","B"],["A","B"]],"fields":[["A","int"],["B","string"]]}`,
			[]string{"F: after point 2 (t.Send) the code reads field B string, which saves at that point do not hold"}},
		{"field type changed", base,
			`{"frame":"F","points":["t.Recv","t.Send"],"names":{"wait":1},"live":[["A","B"],["A"]],"fields":[["A","int64"],["B","string"]]}`,
			[]string{"F: field A was int, is int64"}},
		{"old record without live fields", `{"frame":"F","points":["t.Recv"],"fields":[["A","int"]]}`,
			`{"frame":"F","points":["t.Recv","t.Send"],"live":[["A"],["A","B"]],"fields":[["A","int"],["B","int"]]}`,
			[]string{"F: field B int is new"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, diffLayout(rec(c.old), rec(c.new)))
		})
	}
}

// Named points keep their old numbers; the others fill the free ones in
// order.
func TestNumber(t *testing.T) {
	pts := []layoutPoint{{N: 1}, {N: 2, Name: "b"}, {N: 3}, {N: 4, Name: "new"}}
	assert.Equal(t, []int{0, 1, 2, 3, 4}, number(pts, nil), "no old layout: in order")
	old := &layoutRec{Names: map[string]int{"b": 4, "gone": 1}}
	assert.Equal(t, []int{0, 1, 4, 2, 3}, number(pts, old))
	assert.False(t, identity(number(pts, old)))
	assert.Contains(t, resumeDispatch(number(pts, old)), "case 4:\n_rs = 2\n")
}
