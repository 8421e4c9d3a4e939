package tasklet_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stackless-go/stackless/tasklet"
)

// behaviorMethods is everything a behavior author may call on the T its
// Step receives. The scheduler's access to the record (states, deliveries,
// waits, marks) lives in internal/core; a method of it that reappears on T
// is a method every behavior author reads about in godoc and may misuse.
var behaviorMethods = []string{
	// who am I
	"ID", "Steps",
	// what the last suspension delivered
	"Value", "Err", "Chosen",
	// the Op that ends the step
	"Continue", "Yield", "Recv", "Send", "SendErr", "Select", "Do", "Sleep", "Pause", "Exit", "Fail",
	// operations that do not end the step
	"TrySend", "TryRecv", "TryRecvMany", "Spawn", "NewChannel", "Close", "Now", "Host",
	// flags the tasklet sets on itself
	"Atomic", "SetAtomic", "BlockTrap", "SetBlockTrap",
}

func TestTShowsOnlyBehaviorMethods(t *testing.T) {
	typ := reflect.TypeFor[*tasklet.T]()
	var got []string
	for i := range typ.NumMethod() {
		got = append(got, typ.Method(i).Name)
	}
	want := slices.Clone(behaviorMethods)
	slices.Sort(want)
	assert.Equal(t, want, got, "tasklet.T's exported methods; a scheduler-side method belongs in internal/core")

	// The record's fields are the scheduler's too: none may be reachable.
	rec := reflect.TypeFor[tasklet.T]()
	for i := range rec.NumField() {
		assert.False(t, rec.Field(i).IsExported(), "field %s of tasklet.T is exported", rec.Field(i).Name)
	}
}
