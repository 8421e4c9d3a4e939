// Package tasklet defines the unit of work of stackless: a microthread whose
// whole continuation is an explicit Go value.
//
// A tasklet's code is a [Behavior]: a value whose exported fields are its
// entire state and whose Step method runs to the next suspension point and
// returns an [Op] saying what it does next (continue, yield, receive, send,
// select, sleep, pause, exit, fail). Between two steps the tasklet is plain
// data, so every suspension point is a serialization point.
//
// The step context [T] is how a behavior talks to the scheduler: it builds
// Ops (t.Recv, t.Send, t.Yield...), reads what the last suspension delivered
// (t.Value, t.Err, t.Chosen) and spawns tasklets or makes channels.
//
// An error delivered to a tasklet (kill, throw, a closed channel, an error
// sent on a channel) must be read with t.Err during the step that receives
// it; a step that ignores it ends the tasklet with that error, the way an
// uncaught exception ends a Stackless tasklet. A tasklet that reads
// [ErrKilled] and returns anything but Exit or Fail survives the kill.
//
// A tasklet can also be written as straight-line code: a function of a
// [Flow] that calls t.Recv, t.Send and the other blocking methods where a
// Behavior returns an Op. `stackless gen` lowers it into a Behavior (the
// same data, saved like a hand-written one); unlowered, [Goroutine] runs it
// on a goroutine of its own, for debugging, and it cannot be saved.
//
// A T is the scheduler's record of the tasklet, seen from its behavior: its
// methods are only those a behavior uses. The rest of the record (state,
// deliveries, waits) is kept by package scheduler through internal/core,
// the only package of stackless this one imports. Package scheduler runs
// tasklets and package pickle serializes them.
package tasklet
