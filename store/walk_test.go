package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// walked collects what Walk hands over, copied: the slices are only valid
// during the callback.
func walked(t *testing.T, db *DB, gen uint64) (*Checkpoint, error) {
	t.Helper()
	var cp *Checkpoint
	err := db.Walk(gen, func(c *Checkpoint) error {
		require.Nil(t, cp, "start is called once")
		require.Empty(t, c.Records, "start gets the checkpoint without records")
		cp = c
		return nil
	}, func(k, v []byte) error {
		require.NotNil(t, cp, "start comes before the records")
		cp.Records = append(cp.Records, Record{Key: slices.Clone(k), Value: slices.Clone(v)})
		return nil
	})
	return cp, err
}

func TestWalkGivesWhatLoadGives(t *testing.T) {
	db := openTest(t, WithKeep(0))
	saves := []struct {
		base    uint64
		records model
		deleted []string
	}{
		{0, model{"a": "1", "b": "1", "c": "1"}, nil},
		{1, model{"b": "2", "d": "2"}, []string{"c"}},
		{2, model{"c": "3"}, []string{"d", "a"}},
		{3, nil, []string{"b", "c"}}, // empty
		{0, model{"q": "5"}, nil},
	}
	for i, s := range saves {
		_, err := db.Save(&Checkpoint{Base: s.base, Meta: []byte(fmt.Sprint("meta", i+1)), Records: recordsOf(s.records), Deleted: keys(s.deleted...)})
		require.NoError(t, err)
	}
	for gen := uint64(1); gen <= uint64(len(saves)); gen++ {
		want, err := db.Load(gen)
		require.NoError(t, err)
		got, err := walked(t, db, gen)
		require.NoError(t, err, "gen %d", gen)
		assert.Equal(t, want.Gen, got.Gen)
		assert.Equal(t, want.Time, got.Time)
		assert.Equal(t, want.Meta, got.Meta)
		assert.Equal(t, modelOf(t, want), modelOf(t, got), "gen %d: the resolved records, in key order", gen)
	}

	err := db.Walk(99, func(*Checkpoint) error { t.Fatal("start called for a missing generation"); return nil },
		func(k, v []byte) error { return nil })
	require.ErrorIs(t, err, ErrNotFound)
}

func TestWalkStopsAtTheCallersError(t *testing.T) {
	db := openTest(t)
	_, err := db.Save(&Checkpoint{Records: recordsOf(model{"a": "1", "b": "2", "c": "3"})})
	require.NoError(t, err)

	stop := errors.New("seen enough")
	var seen []string
	err = db.Walk(1, func(*Checkpoint) error { return nil }, func(k, v []byte) error {
		seen = append(seen, string(k))
		if bytes.Equal(k, []byte("b")) {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, []string{"a", "b"}, seen, "no record after the error")

	err = db.Walk(1, func(*Checkpoint) error { return stop }, func(k, v []byte) error {
		t.Fatal("a record after start failed")
		return nil
	})
	require.ErrorIs(t, err, stop)
}

func TestWalkCallbackPanicGoesOn(t *testing.T) {
	db := openTest(t)
	_, err := db.Save(&Checkpoint{Records: recordsOf(model{"a": "1"})})
	require.NoError(t, err)
	assert.PanicsWithValue(t, "caller bug", func() {
		_ = db.Walk(1, func(*Checkpoint) error { return nil }, func(k, v []byte) error { panic("caller bug") })
	}, "a callback's panic is the caller's, not damage of the file")
	got, err := walked(t, db, 1)
	require.NoError(t, err, "the DB is still usable")
	assert.Equal(t, model{"a": "1"}, modelOf(t, got))
}
