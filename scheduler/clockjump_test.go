package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
)

// fixedClock reads one time, for restores with a clock far from the world's.
type fixedClock time.Duration

func (c fixedClock) Now() time.Duration { return time.Duration(c) }

// A world restored with a clock behind its own time was taken: restored
// with WithClock(NewRealClock(0)), a world saved 10 hours in made its
// sleepers wait 10 hours more. A clock far ahead (days later) wakes them
// at once, in deadline order.
func TestRestoreWithAClockFarFromTheWorlds(t *testing.T) {
	s := scheduler.New()
	rec := &record{}
	late := s.Spawn(&prog{Code: []instr{{Kind: iSleep, D: 3 * time.Second}}, Rec: rec})
	early := s.Spawn(&prog{Code: []instr{{Kind: iSleep, D: time.Second}}, Rec: rec})
	require.NoError(t, s.Tick())
	s.Clock().(*scheduler.VirtualClock).Advance(10 * time.Hour)
	w := s.World()

	for _, c := range []scheduler.Clock{scheduler.NewRealClock(0), fixedClock(10*time.Hour - time.Millisecond)} {
		_, err := scheduler.Restore(copyWorld(w, &record{}), scheduler.WithClock(c))
		require.ErrorIs(t, err, scheduler.ErrInvalidRestore)
		assert.ErrorContains(t, err, "before the world's time 10h0m0s")
		assert.ErrorContains(t, err, "NewRealClock(w.Clock)")
	}

	r, err := scheduler.Restore(copyWorld(w, &record{}), scheduler.WithClock(scheduler.NewRealClock(w.Clock)))
	require.NoError(t, err, "a wall clock going on from the save")
	assert.GreaterOrEqual(t, r.Now(), w.Clock)

	ahead := &record{}
	r, err = scheduler.Restore(copyWorld(w, ahead), scheduler.WithClock(fixedClock(1000*time.Hour)))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.Run(ctx), "every deadline has passed: nothing waits")
	at := fmt.Sprintf("@%v ", 1000*time.Hour)
	assert.Equal(t, []string{early.String() + at + "sleep 1s done", early.String() + at + "exit",
		late.String() + at + "sleep 3s done", late.String() + at + "exit"}, ahead.Log)
}
