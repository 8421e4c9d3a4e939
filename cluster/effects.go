package cluster

// Effects in the cluster: a worker runs the effects (scheduler.Do) of the
// tasklets it hosts, on its own pool, with the registry its program
// registered them in, the way kinds and spawners are registered: every
// process of a cluster runs the same program, so registering in an init
// function gives every worker the same effects.
//
// What a rollback does to them: a call in flight when a checkpoint was
// taken is saved as pending and issued again, with the same idempotency
// key, by the worker that restores the tasklet; a call made after the
// checkpoint is made again by the re-executed tasklet, with the same key
// (the scheduler is deterministic). So without a journal an effect is
// at-least-once: the function must deduplicate by its key. With the
// cluster's journal (journal.go, on by default) the re-executed calls
// whose results were journaled are answered from it; only the calls in
// flight at a kill run again.

import (
	"github.com/stackless-go/stackless/scheduler"
)

var defaultEffects = scheduler.NewEffects()

// DefaultEffects is the registry workers run effects from when their
// WorkerConfig names none: register effects in it from an init function
// (MustRegisterEffect), as kinds are registered with pickle.MustRegister.
func DefaultEffects() *scheduler.Effects { return defaultEffects }

// MustRegisterEffect registers fn as effect name in DefaultEffects, for
// init functions; it panics when the name is empty or taken (a programming
// error found at start). Register Req and Resp with pickle when they are
// structs, so a pending call can be checkpointed.
func MustRegisterEffect[Req, Resp any](name string, fn scheduler.EffectFunc[Req, Resp], opts ...scheduler.EffectOption) {
	if err := scheduler.RegisterEffect(defaultEffects, name, fn, opts...); err != nil {
		panic(err)
	}
}
