package cli

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// damagedBeyond saves a world of 120 entities and damages every tasklet
// record after the first keep, so decoding one of those shows up as a
// decode_error: a table of keep rows must never touch them.
func damagedBeyond(t *testing.T, keep int) (cp *store.Checkpoint, good, bad uint64) {
	path := filepath.Join(t.TempDir(), "many.snapshot")
	s := scheduler.New()
	testworld.Entities(s, 120)
	require.NoError(t, store.SaveFile(path, testworld.Registry(), s))
	cp, err := store.ReadFile(path)
	require.NoError(t, err)
	n := 0
	for i, r := range cp.Records {
		if r.Key[0] != 't' {
			continue
		}
		_, id, err := pickle.ParseKey(r.Key)
		require.NoError(t, err)
		if n++; n <= keep {
			good = id
			continue
		}
		bad = id
		cp.Records[i].Value = []byte{0xc1, 0xc1, 0xc1}
	}
	return cp, good, bad
}

func TestInspectDecodesOnlyTheRowsItShows(t *testing.T) {
	cp, good, bad := damagedBeyond(t, 10)

	v := &worldView{keep: 10}
	require.NoError(t, fillWorld(v, cp))
	assert.Equal(t, 120, v.nTasklets, "every record is counted")
	assert.Equal(t, 120, v.nChannels)
	require.Len(t, v.Tasklets, 10)
	require.Len(t, v.Channels, 10)
	for _, tv := range v.Tasklets {
		assert.Empty(t, tv.Problem, "t%d: only the first 10 tasklets are decoded", tv.ID)
	}

	all := &worldView{}
	require.NoError(t, fillWorld(all, cp))
	require.Len(t, all.Tasklets, 120, "without a limit every record is decoded")
	damaged := 0
	for _, tv := range all.Tasklets {
		if tv.Problem != "" {
			damaged++
		}
	}
	assert.Equal(t, 110, damaged, "a damaged record is listed and does not stop the others")

	one := &worldView{only: good}
	require.NoError(t, fillWorld(one, cp))
	require.Len(t, one.Tasklets, 1)
	assert.Equal(t, good, one.Tasklets[0].ID)
	assert.Empty(t, one.Tasklets[0].Problem)
	assert.Empty(t, one.Channels, "--tasklet decodes no channel")

	one = &worldView{only: bad}
	require.NoError(t, fillWorld(one, cp))
	require.Len(t, one.Tasklets, 1)
	assert.NotEmpty(t, one.Tasklets[0].Problem, "the damaged one is the one decoded")
}
