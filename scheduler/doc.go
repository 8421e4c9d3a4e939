// Package scheduler runs tasklets: it keeps the run queue, the timers and
// the clock, applies the Op each step returns to the channels, and reports
// what went wrong (a failed or panicking tasklet, a deadlock). It is the
// only code that changes tasklets and channels, always on one goroutine:
// no locks and no allocation on the path of a switch or a message.
//
// # The run loop
//
// A Scheduler owns its tasklets and channels. The host (the goroutine that
// owns the scheduler, Stackless's main tasklet) drives it:
//
//   - Run steps tasklets in strict round robin until every one has finished,
//     a tasklet fails with no error handler set, nothing can run any more (a
//     *DeadlockError naming every blocked tasklet), or ctx ends.
//   - RunBudget is Run under a watchdog that counts steps (Stackless
//     run(timeout)): per tasklet per switch or in all, interrupting hard (the
//     victim is returned, paused) or soft (at the next switch). Atomic
//     tasklets are never interrupted.
//   - Tick gives every runnable tasklet one step: the step of a game loop.
//   - Recv and Send let the host itself wait on a channel, as Stackless's
//     main tasklet does with ch.receive() and ch.send(): the host queues on
//     the channel with the tasklets and the scheduler runs them until the
//     transfer completes. RunNext makes a chosen tasklet the next to step
//     (Stackless tasklet.run()).
//
// A step returns an Op: Yield goes to the back of the run queue, Recv and
// Send rendezvous on a channel (who runs next follows the channel's
// preference, as in Stackless), Select waits for the first ready case,
// Sleep waits on the clock, Pause leaves the queue until Insert, Exit and
// Fail finish. Kill and Throw deliver an error to a tasklet's next step.
// Spawn appends at the back, as Stackless does; WithDepthFirst puts new
// tasklets (and partners woken while the caller goes on) at the front, as
// Go runs a new goroutine next, so a tree of spawns keeps few alive. The
// record of a tasklet that ended serves the next Spawn.
//
// Other goroutines talk to a running scheduler only through Post, Do and
// Hold, which queue their input for the scheduler's goroutine to take
// between steps.
//
// # Failures
//
// A panic in a step ends only that tasklet, with a *TaskletError; a step
// that leaves a delivered error unread ends its tasklet with that error.
// Failures go to the error handler (WithErrorHandler), called once each
// between steps, or else are returned by Run, RunBudget, Tick, Recv or
// Send. A panic in the schedule hook is reported as a *HookError and the
// switch goes on.
//
// # Determinism
//
// The same world and the same outside input give the same schedule: the
// run queue, channel queues and timers are ordered, select takes the first
// ready case, and nothing depends on map order or wall time. The default
// clock is virtual: when nothing is runnable, Run jumps it to the next
// timer, so sleeps and timeouts are instant and reproducible (games, tests,
// replays); WithClock(NewRealClock(0)) uses wall time instead. Timers fire
// by deadline, ties in the order they were set, from a hierarchical timing
// wheel (timers.go): setting one is O(1), it is moved once or twice, and it
// fires from a sorted window of the next 4 ms of timers, where a heap of
// every timer cost a cache miss per level.
//
// # Effects
//
// A tasklet does I/O with an effect: a function registered by name
// (RegisterEffect) that WithEffects lets the scheduler run on a bounded
// pool of goroutines while the tasklet waits (t.Do, or tasklet.DoCase in a
// select). Run waits for calls in flight; killing the tasklet or another
// select case firing cancels the call's context. Each call has a
// deterministic idempotency key (EffectKey); a call in flight at a
// checkpoint is issued again with its key on restore, and a Journal
// (store.Journal) answers repeated calls with their recorded results.
//
// # The world as data
//
// World returns the whole state as plain data (tasklets, channels with
// their queues and buffers, run queue order, timers) for package pickle;
// Restore builds a scheduler from it, refusing (ErrInvalidRestore) a world
// whose queues, waits, timers and ID counters disagree, or whose channels
// queue waiters beside what they wait for (a receiver beside buffered
// values, a sender beside room, anyone on a closed channel), so that a
// world it accepts runs and saves again. Emigrate and Immigrate move one
// tasklet between nodes, and Remote carries operations on channels of other
// nodes (package ipc implements it). WithChangeTracking records what changed
// for incremental checkpoints, and WithCheckpoint takes them between steps.
//
// # Big worlds
//
// A world of millions of tasklets is built from fresh memory, and on Linux
// each fresh 4 KiB page is a fault. The scheduler puts the records, ID
// table pages and run-queue spill of a world being built (past 131,072
// tasklets, while no more than an eighth of their records were let go
// without reuse) in chunks, on transparent huge pages (2 MiB a fault) or
// small ones, whichever has faulted in faster in this process (a VM whose
// host takes back free memory makes huge pages the dear ones); behaviors
// made with Make come from such chunks too. A chunk stays while anything
// in it is referenced, and what is left of them goes when Run or Tick
// returns with no tasklet left.
// ReserveHeap, called once before building the world, readies the whole
// heap it will take on huge pages, behaviors from &B{} and channels too,
// and puts every chunk after it on huge pages.
package scheduler
