package pickle

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type scMarked struct {
	Kept  int
	Cache []int  `stackless:"-"`
	Skip  string `msgpack:"-"`
}

// A field tagged `stackless:"-"` keeps the struct plan (no fallback to
// msgpack for the whole behavior) and is left out by plan and msgpack alike.
func TestStructPlanSkipsFieldsTaggedNotSaved(t *testing.T) {
	sp, why := buildPlan(reflect.TypeFor[scMarked]())
	require.NotNil(t, sp, why)
	v := &scMarked{Kept: 7, Cache: []int{1}, Skip: "s"}
	want, err := marshalCompact(v)
	require.NoError(t, err)
	got := sp.append(nil, reflect.ValueOf(v).UnsafePointer())
	assert.Equal(t, want, got)
	var back map[string]any
	require.NoError(t, newDecoder(bytesReader(got)).Decode(&back))
	assert.Equal(t, map[string]any{"Kept": int8(7)}, back, "only the saved field is written")
}

func bytesReader(b []byte) msgpackReader { return bytes.NewReader(b) }
