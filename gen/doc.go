// Package gen is the generator behind `stackless gen`: it lowers
// straight-line tasklets, functions written against the blocking
// [tasklet.Flow], into hand-written-style Behaviors (a struct whose exported
// fields are the live locals and a PC, and a Step that switches on it), so
// that what users write as ordinary Go is saved, migrated and upgraded like
// any other tasklet, at the speed of a hand-written state machine.
//
// A function is a tasklet when it is marked
//
//	//stackless:tasklet kind=NAME version=N
//
// and its first parameter is `t *tasklet.Flow` and its only result error.
// Any other function of the same package whose first parameter is a
// *tasklet.Flow may suspend too. Methods may be flows (the receiver is the
// frame's first field) and flows may be variadic (the call packs the
// elements as Go does). A call to one becomes a frame: a field of
// the caller's struct holding the callee's own struct, one per function
// called, zeroed when it returns and left out of saves while it is not on
// the stack (omitempty, with an IsZero that says PC 0). Of a frame on the
// stack, a save keeps only the fields the code after its point reads: its
// DeadFields method (pickle.DeadFielder) names the others by PC, such as a
// caller's copy of a value it handed to the callee and takes back from its
// result. A slice or map parameter that the callee never assigns, handed a
// local at every call, is linked instead: left out of saves and set from
// the caller's local on each step into the callee, so that caller and
// callee share one array or map after a restore as they do in Go.
//
// The lowering keeps the function's structure (its ifs, loops and switches
// stay Go statements) and adds a resume dispatch at the top of each block
// that contains a suspension point, so code between points runs exactly as
// written. What it cannot lower exactly (a goroutine, an address of a
// saved local, a Go channel operation, a call through a func value, a
// defer in a loop, ...) it refuses, with a position, the construct, and how to fix it,
// rather than write code
// that compiles but behaves differently. Two saved locals over one array
// or map (b := a[1:], a range's row, a slice handed to a function that is
// not linked) come back from a restore as two, so gen refuses them where
// an element may be written through either after a point, and always for
// a map (alias.go, shared.go); read only, they are saved as two copies,
// as in any behavior. A function literal over saved locals reads and
// writes the frame's fields, so it is accepted where it cannot outlive its
// statement: called at once, ranged over, or handed to a function that only
// calls it (sort.Slice, slices.SortFunc, strings.Map, a function of the
// package that does nothing else with it), directly or through a local
// used only so (closure.go).
//
// A frame holds its callees' frames by value, except where a call closes a
// cycle (recursion): there the callee's frame is a pointer, made by the
// first call that deep and kept, zeroed (left out of saves by IsZero), for
// the next, so each level of a recursion nests one frame deeper
// (markRecursion).
//
// A defer statement arms a bit of the frame's mask and stores the call's
// arguments in fields; the frame runs the armed calls, the last first, at
// every return and when its step panics, so a save taken between the
// defer and the return keeps them (defer.go).
//
// A range over a map with a point inside walks the keys it took when the
// loop started (sorted when ordered), looking each up as its iteration
// starts, which is what Go's range allows and a save can hold.
//
// A save resumes by point number, so the generated file records each
// frame's layout (points, their names, the fields read after each) and the
// next run compares against it: under the same version= it refuses only
// what would resume an old save wrongly, and a point named with
// //stackless:point keeps its number across edits around it, so saves at it
// survive them.
package gen
