package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

type idle struct{ N int }

func (i *idle) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// registerForTest registers a spawner for one test, so the tests also pass
// when run again in the same process (go test -count=N).
func registerForTest(t *testing.T, kind string, fn Spawner) {
	t.Helper()
	require.NoError(t, RegisterSpawner(kind, fn))
	t.Cleanup(func() {
		spawners.Lock()
		delete(spawners.m, kind)
		spawners.Unlock()
	})
}

func TestRegisterSpawnerRefusesMistakes(t *testing.T) {
	ok := func(map[string]string) (tasklet.Behavior, error) { return &idle{}, nil }
	registerForTest(t, "test.spawner.once", ok)
	for _, tc := range []struct {
		name string
		kind string
		fn   Spawner
	}{
		{"empty kind", "", ok},
		{"space in kind", "a b", ok},
		{"equals in kind", "a=b", ok},
		{"nil function", "test.spawner.nil", nil},
		{"duplicate", "test.spawner.once", ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Error(t, RegisterSpawner(tc.kind, tc.fn))
		})
	}
	assert.Contains(t, Spawners(), "test.spawner.once")
	assert.NotContains(t, Spawners(), "test.spawner.nil")
}

func TestBuildUnknownKindNamesTheKnownOnes(t *testing.T) {
	registerForTest(t, "test.spawner.known", func(map[string]string) (tasklet.Behavior, error) { return &idle{}, nil })
	_, err := build("test.spawner.missing", nil)
	require.ErrorIs(t, err, ErrUnknownSpawner)
	assert.Contains(t, err.Error(), "test.spawner.known")
}

func TestBuildPassesArgs(t *testing.T) {
	registerForTest(t, "test.spawner.args", func(args map[string]string) (tasklet.Behavior, error) {
		n, err := ArgInt(args, "n", 1)
		return &idle{N: n}, err
	})
	b, err := build("test.spawner.args", map[string]string{"n": "7"})
	require.NoError(t, err)
	assert.Equal(t, 7, b.(*idle).N)
	_, err = build("test.spawner.args", map[string]string{"n": "seven"})
	assert.ErrorContains(t, err, "n=\"seven\"")
}

func TestArgParsers(t *testing.T) {
	args := map[string]string{"i": "-3", "u": "12", "c": "ch42", "c2": "43", "bad": "x"}
	i, err := ArgInt(args, "i", 0)
	require.NoError(t, err)
	assert.Equal(t, -3, i)
	d, err := ArgInt(args, "missing", 9)
	require.NoError(t, err)
	assert.Equal(t, 9, d)
	u, err := ArgUint(args, "u", 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(12), u)
	_, err = ArgUint(args, "i", 0)
	assert.Error(t, err, "a negative number is no uint")
	c, err := ArgChan(args, "c")
	require.NoError(t, err)
	assert.Equal(t, channel.ID(42), c)
	c2, err := ArgChan(args, "c2")
	require.NoError(t, err)
	assert.Equal(t, channel.ID(43), c2)
	_, err = ArgChan(args, "bad")
	assert.Error(t, err)
	_, err = ArgChan(args, "missing")
	assert.ErrorContains(t, err, NewChannelArg)
	assert.Equal(t, "x", ArgString(args, "bad", "d"))
	assert.Equal(t, "d", ArgString(args, "missing", "d"))
}

func TestParseNewChannel(t *testing.T) {
	for _, tc := range []struct {
		in      string
		cap     int
		ok, err bool
	}{
		{"@chan", 0, true, false},
		{"@chan:8", 8, true, false},
		{"@chan:-1", 0, true, true},
		{"@chan:x", 0, true, true},
		{"@channel", 0, false, false},
		{"ch3", 0, false, false},
	} {
		c, ok, err := parseNewChannel(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.err, err != nil, tc.in)
		if !tc.err {
			assert.Equal(t, tc.cap, c, tc.in)
		}
	}
}

func TestParseIDs(t *testing.T) {
	id, err := ParseTaskletID(tasklet.ID(1<<48 | 5).String())
	require.NoError(t, err)
	assert.Equal(t, tasklet.ID(1<<48|5), id)
	_, err = ParseTaskletID("t0")
	assert.Error(t, err)
	ch, err := ParseChannelID(channel.ID(2<<48 | 1).String())
	require.NoError(t, err)
	assert.Equal(t, channel.ID(2<<48|1), ch)
}

func TestCheckArgsNamesTheUnknownOnes(t *testing.T) {
	assert.NoError(t, CheckArgs(map[string]string{"a": "1"}, "a", "b"))
	assert.NoError(t, CheckArgs(nil, "a"))
	err := CheckArgs(map[string]string{"z": "1", "a": "2", "y": "3"}, "a", "b")
	assert.EqualError(t, err, "unknown argument y, z: this kind takes a, b")
}
