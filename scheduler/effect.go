package scheduler

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/stackless-go/stackless/tasklet"
)

// Effects are I/O as a suspension: a tasklet returns t.Do(name, req) (or
// selects on tasklet.DoCase), the scheduler runs the function registered as
// name on a bounded pool of goroutines it owns, and the tasklet resumes with
// the response or the error, delivered through the scheduler's inbox like a
// posted value. The scheduler's own goroutine never waits on an effect, and
// Run does not report a deadlock while one is in flight.
//
// Each call has an idempotency key (EffectKey): the tasklet and the step
// that made the call. A scheduler is deterministic, so a tasklet restored
// from a checkpoint and run again makes the same calls at the same steps,
// with the same keys: a call in flight at a checkpoint is issued again with
// its key, and with a Journal every call whose result was recorded gets
// that result without running the function again.

// Sentinel errors of effects; test with errors.Is.
var (
	// ErrUnknownEffect is delivered to a tasklet that asks for an effect no
	// registry of this scheduler names.
	ErrUnknownEffect = errors.New("unknown effect")
	// ErrEffectPanic is delivered when the effect's function panicked.
	ErrEffectPanic = errors.New("effect panicked")
	// ErrEffectRequest is delivered when the request has another type than
	// the one the effect was registered with.
	ErrEffectRequest = errors.New("effect request of the wrong type")
	// ErrEffectInFlight refuses to move a tasklet that waits on an effect:
	// the effect runs on this node and its result comes back here.
	ErrEffectInFlight = errors.New("tasklet waits on an effect in flight")
	// ErrEffectFailed wraps an effect's error, live or replayed from a
	// journal (which keeps the error's text and what the journal's codec
	// keeps of its chain, not its Go type).
	ErrEffectFailed = errors.New("effect failed")
)

// ReplayedError is the error of an effect call answered from the journal:
// the call failed in an earlier run (before a crash or a rollback), and the
// journal keeps that outcome so that the call is not made again. It reads
// exactly as the live call's error did, so a re-executed tasklet sees the
// same text, and wraps ErrEffectFailed. errors.As tells a program that a
// failure it reports happened in an earlier run: a transient one (a server
// that was down) then needs the run started over to be tried again.
//
// Cause is the earlier call's error as the journal brought it back: with
// store's journal, its message and the sentinels and error types of its
// chain that are registered with pickle (RegisterError, RegisterValue), so
// errors.Is and errors.As match a replayed failure as they matched the
// live one; nil if the journal kept the text only.
type ReplayedError struct {
	Effect string
	Key    EffectKey
	Text   string // the earlier call's error
	Cause  error
}

func (e *ReplayedError) Error() string {
	return fmt.Sprintf("scheduler: effect %q (key %v): %v: %s", e.Effect, e.Key, ErrEffectFailed, e.Text)
}

// Unwrap gives ErrEffectFailed, and the cause when the journal kept one.
func (e *ReplayedError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrEffectFailed}
	}
	return []error{ErrEffectFailed, e.Cause}
}

// EffectKey is the idempotency key of one effect call: the tasklet, the
// step at which it asked (its Steps count, which a checkpoint saves) and the
// select case. It is deterministic: a tasklet restored and run again asks
// for the same call with the same key. Give it to the outside system (an
// HTTP Idempotency-Key header, a unique row key) so it can tell a repeated
// call from a new one.
type EffectKey struct {
	Tasklet tasklet.ID
	Step    uint64
	Case    int
}

func (k EffectKey) String() string { return fmt.Sprintf("%v-s%d-c%d", k.Tasklet, k.Step, k.Case) }

// EffectFunc is a registered effect: it runs on a pool goroutine, with a
// context that ends when the waiting tasklet stops waiting (killed, or
// another case of its select fired).
type EffectFunc[Req, Resp any] func(ctx context.Context, key EffectKey, req Req) (Resp, error)

// Effects is a registry of effects by name. Register them before the
// scheduler runs; a registry may serve several schedulers.
type Effects struct {
	m map[string]*effectDef
}

type effectDef struct {
	name  string
	limit int // most calls running at once (0: only the pool's size)
	run   func(ctx context.Context, key EffectKey, req any) (any, error)
}

// NewEffects returns an empty registry.
func NewEffects() *Effects { return &Effects{m: map[string]*effectDef{}} }

// EffectOption configures one registered effect.
type EffectOption func(*effectDef)

// EffectLimit lets at most n calls of the effect run at once (a server's
// connection limit, a database pool); the others wait, in call order.
func EffectLimit(n int) EffectOption { return func(d *effectDef) { d.limit = max(n, 0) } }

// RegisterEffect registers fn as the effect name. Req and Resp must be
// types package pickle can encode (registered with pickle's RegisterValue
// if they are structs), so a pending call and its result are plain data.
// A request of another type than Req reaches the tasklet as
// ErrEffectRequest without calling fn.
func RegisterEffect[Req, Resp any](r *Effects, name string, fn EffectFunc[Req, Resp], opts ...EffectOption) error {
	if name == "" {
		return errors.New("scheduler: register effect: empty name; give the effect a name tasklets can ask for")
	}
	if _, dup := r.m[name]; dup {
		return fmt.Errorf("scheduler: register effect %q: registered twice; use another name", name)
	}
	d := &effectDef{name: name}
	d.run = func(ctx context.Context, key EffectKey, req any) (any, error) {
		q, ok := req.(Req)
		if !ok && (req != nil || !nilable(reflect.TypeFor[Req]())) {
			return nil, fmt.Errorf("scheduler: effect %q (key %v): %w: got %T, want %v", name, key, ErrEffectRequest, req, reflect.TypeFor[Req]())
		}
		return fn(ctx, key, q)
	}
	for _, o := range opts {
		o(d)
	}
	r.m[name] = d
	return nil
}

// nilable reports whether a nil request converts to t's zero value.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map, reflect.Func, reflect.Chan:
		return true
	}
	return false
}

// Names lists the registered effects.
func (r *Effects) Names() []string {
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	return out
}

// DefaultEffectWorkers is the pool's size when WithEffects is given none.
const DefaultEffectWorkers = 64

// EffectConfig sets how a scheduler runs effects.
type EffectConfig struct {
	// Workers is the most effect calls running at once (goroutines of the
	// pool); 0 means DefaultEffectWorkers.
	Workers int
	// Journal, if set, makes each result durable before the tasklet sees it
	// and answers repeated calls (same key) from it: see Journal.
	Journal Journal
	// Context is the parent of every call's context (default
	// context.Background()); ending it cancels every call.
	Context context.Context
}

// WithEffects lets tasklets of the scheduler call the effects of reg.
func WithEffects(reg *Effects, cfg EffectConfig) Option {
	return func(s *Scheduler) { s.fx = newEffectPool(s, reg, cfg) }
}

// EffectResult is a call's outcome as a journal keeps it: the effect's
// name, its response, or its error: the text, and the error itself for a
// journal that can keep more of it (store's keeps what pickle does).
type EffectResult struct {
	Effect string
	Req    any // the request: a re-executed tasklet that asks otherwise at this key gets no answer from here
	Resp   any
	Err    string // "" when the call succeeded
	Cause  error  // the function's own error, or nil; a journal may leave it nil
}

// Journal keeps effect results across crashes and restores. Lookup and
// Record are called from pool goroutines, concurrently.
type Journal interface {
	// Lookup returns the recorded result of key, if there is one.
	Lookup(key EffectKey) (EffectResult, bool, error)
	// Record makes the result of key durable and then calls done with nil
	// (or with the error that kept it from being stored); the tasklet sees
	// the result only after done. Record must not block for long: group
	// the records of many calls into one write.
	Record(key EffectKey, res EffectResult, done func(error))
}

// InFlightEffects lists the keys of the calls tasklets wait on, in tasklet
// order: the calls a checkpoint taken now saves as pending.
func (s *Scheduler) InFlightEffects() []EffectKey {
	var out []EffectKey
	s.tasks.each(func(t *rec) {
		if t.State() != tasklet.Blocked {
			return
		}
		var one [1]tasklet.Case
		for i, c := range t.casesIn(&one) {
			if c.Dir == tasklet.DirDo {
				out = append(out, EffectKey{Tasklet: t.ID(), Step: t.Steps(), Case: i})
			}
		}
	})
	return out
}

// EffectPassed reports whether a checkpoint of the scheduler taken now
// makes the journal entry of key unnecessary: its tasklet is past the step
// that made the call, or has ended. A tasklet that does not exist yet (a
// restored world that has not reached it again) keeps its entries. Call it
// between steps, when the checkpoint is taken.
func (s *Scheduler) EffectPassed(key EffectKey) bool {
	if t := s.tasks.get(uint64(key.Tasklet)); t != nil {
		return t.Steps() > key.Step
	}
	id := key.Tasklet
	return id.Node() == s.node && id != 0 && uint64(id)&(1<<tasklet.NodeBits-1) <= s.nextT
}
