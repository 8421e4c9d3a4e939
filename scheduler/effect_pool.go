package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/stackless-go/stackless/tasklet"
)

// The pool's bookkeeping (what is queued, what runs, who waits) lives on
// the scheduler's goroutine and needs no lock. Calls given a slot go into a
// buffered channel that worker goroutines drain; a worker that finds it
// empty ends, so a scheduler that is dropped leaves nothing behind, and one
// under load keeps its workers busy without starting a goroutine per call.
// Outcomes come back through one locked list and one inbox item per batch:
// many calls that end together cost the scheduler a single wake-up.

type effectPool struct {
	s       *Scheduler
	reg     *Effects
	size    int
	journal Journal
	ctx     context.Context

	running int
	jobs    chan *effectCall // calls given a slot (capacity: size, so a send never blocks)
	live    atomic.Int32     // worker goroutines
	defs    map[*effectDef]*defState
	held    int           // calls in the defs' blocked lists
	queue   []*effectCall // waiting for a slot, in call order (from head)
	head    int
	calls   map[tasklet.ID]*effectCall // issued, neither delivered nor cancelled, chained by next

	mu        sync.Mutex
	done      []effectDone
	spare     []effectDone
	signalled bool
	drainFn   func(*Scheduler)
}

// defState is one effect's share of the pool.
type defState struct {
	running int
	blocked []*effectCall // took the global queue's head while at the limit
}

type effectCall struct {
	key    EffectKey
	def    *effectDef
	seq    uint32 // the tasklet's wait when it asked
	req    any
	ctx    context.Context
	cancel context.CancelFunc
	res    any    // written by the call's goroutine before it reports
	err    error  // idem
	text   string // the text of the function's own error, for the journal
	cause  error  // that error
	off    bool   // cancelled (scheduler goroutine only)
	ds     *defState
	next   *effectCall // another call of the same tasklet (a select with several)
}

type effectDone struct {
	c                *effectCall
	release, deliver bool
}

func newEffectPool(s *Scheduler, reg *Effects, cfg EffectConfig) *effectPool {
	p := &effectPool{s: s, reg: reg, size: cfg.Workers, journal: cfg.Journal, ctx: cfg.Context,
		defs: map[*effectDef]*defState{}, calls: map[tasklet.ID]*effectCall{}}
	if p.size <= 0 {
		p.size = DefaultEffectWorkers
	}
	p.jobs = make(chan *effectCall, p.size)
	if p.ctx == nil {
		p.ctx = context.Background()
	}
	if p.reg == nil {
		p.reg = NewEffects()
	}
	if v := reflect.ValueOf(p.journal); p.journal != nil && v.Kind() == reflect.Pointer && v.IsNil() {
		p.journal = nil // a nil *store.Journal passed as a Journal: no journal
	}
	p.drainFn = func(*Scheduler) { p.drain() }
	return p
}

// checkEffect is the part of a select that looks at an effect case before
// anything blocks: an effect nobody registered, or a request the value
// check refuses, completes the select at once with the error.
func (s *Scheduler) checkEffect(t *rec, cs *tasklet.Case) error {
	if s.fx == nil {
		return fmt.Errorf("scheduler: tasklet %v asks for effect %q: %w: this scheduler runs no effects (pass scheduler.WithEffects)", t.ID(), cs.Effect, ErrUnknownEffect)
	}
	if s.fx.reg.m[cs.Effect] == nil {
		return fmt.Errorf("scheduler: tasklet %v asks for effect %q: %w (registered: %v); register it with scheduler.RegisterEffect", t.ID(), cs.Effect, ErrUnknownEffect, s.fx.reg.Names())
	}
	if s.checkValue != nil {
		if err := s.checkValue(cs.Value); err != nil {
			return fmt.Errorf("scheduler: tasklet %v asks for effect %q: the request cannot be saved: %w", t.ID(), cs.Effect, err)
		}
	}
	return nil
}

// issue starts (or queues) the effect cases of t's select, which has just
// blocked with wait seq.
func (p *effectPool) issue(t *rec, seq uint32, cases []tasklet.Case) {
	for i := range cases {
		if cases[i].Dir != tasklet.DirDo {
			continue
		}
		key := EffectKey{Tasklet: t.ID(), Step: t.Steps(), Case: i}
		def := p.reg.m[cases[i].Effect]
		if def == nil { // a restored call whose effect is not registered here
			p.s.Complete(t.ID(), seq, i, nil, fmt.Errorf("scheduler: tasklet %v waits on effect %q (key %v): %w; register it before restoring", t.ID(), cases[i].Effect, key, ErrUnknownEffect))
			return
		}
		c := &effectCall{key: key, def: def, seq: seq, req: cases[i].Value, ds: p.state(def)}
		c.next = p.calls[key.Tasklet]
		p.calls[key.Tasklet] = c
		p.s.holds.Add(1)
		p.queue = append(p.queue, c)
	}
	p.dispatch()
}

// reissue issues again the calls tasklets of a restored world wait on,
// with their keys, in tasklet order.
func (p *effectPool) reissue() {
	var waiting []*rec
	p.s.tasks.each(func(t *rec) {
		var one [1]tasklet.Case
		if t.State() == tasklet.Blocked && slices.ContainsFunc(t.casesIn(&one), func(c tasklet.Case) bool { return c.Dir == tasklet.DirDo }) {
			waiting = append(waiting, t)
		}
	})
	slices.SortFunc(waiting, func(a, b *rec) int { return cmp.Compare(a.ID(), b.ID()) })
	for _, t := range waiting {
		p.issue(t, t.WaitSeq(), t.Cases())
	}
}

func (p *effectPool) state(d *effectDef) *defState {
	ds := p.defs[d]
	if ds == nil {
		ds = &defState{}
		p.defs[d] = ds
	}
	return ds
}

// dispatch starts queued calls while slots are free: first those held back
// by their effect's limit, then the queue in call order.
func (p *effectPool) dispatch() {
	for _, ds := range p.defs {
		if p.held == 0 {
			break
		}
		for len(ds.blocked) > 0 && p.running < p.size {
			c := ds.blocked[0]
			if !c.off && c.def.limit > 0 && ds.running >= c.def.limit {
				break
			}
			ds.blocked = ds.blocked[1:]
			p.held--
			if !c.off {
				p.start(c, ds)
			}
		}
	}
	for p.head < len(p.queue) && p.running < p.size {
		c := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		if c.off {
			continue
		}
		ds := c.ds
		if c.def.limit > 0 && ds.running >= c.def.limit || len(ds.blocked) > 0 {
			ds.blocked = append(ds.blocked, c)
			p.held++
			continue
		}
		p.start(c, ds)
	}
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	}
}

func (p *effectPool) start(c *effectCall, ds *defState) {
	p.running++
	ds.running++
	c.ctx, c.cancel = context.WithCancel(p.ctx)
	p.jobs <- c
	if int(p.live.Load()) < p.running {
		p.live.Add(1)
		go p.worker()
	}
}

// worker runs calls until none is waiting. A call handed over just as it
// decided to end is seen by its second look (the scheduler checked live
// before the decrement) or starts a new worker (after it).
func (p *effectPool) worker() {
	for {
		select {
		case c := <-p.jobs:
			p.work(c)
			continue
		default:
		}
		p.live.Add(-1)
		if len(p.jobs) == 0 {
			return
		}
		p.live.Add(1)
	}
}

// work runs one call on a pool goroutine: from the journal if it holds the
// key for the same effect and request, else the function, whose result the
// journal records before the tasklet sees it. (A tasklet re-executed after
// a restore may ask otherwise at the same key when its inputs came in
// another order: then the call runs again and its new result replaces the
// old.)
func (p *effectPool) work(c *effectCall) {
	if j := p.journal; j != nil {
		r, ok, err := j.Lookup(c.key)
		switch {
		case err != nil:
			c.err = fmt.Errorf("scheduler: effect %q (key %v): reading the journal: %w; the effect was not run", c.def.name, c.key, err)
			p.report(c, true, true)
			return
		case ok && r.Effect == c.def.name && reflect.DeepEqual(r.Req, c.req):
			c.res, c.err = r.Resp, replayed(c, r)
			p.report(c, true, true)
			return
		}
	}
	c.res, c.err = p.call(c)
	if p.journal == nil || c.ctx.Err() != nil {
		p.report(c, true, true)
		return
	}
	res := EffectResult{Effect: c.def.name, Req: c.req, Resp: c.res}
	if c.err != nil {
		res.Resp, res.Err, res.Cause = nil, c.text, c.cause
		if res.Err == "" {
			res.Err = c.err.Error()
		}
	}
	p.report(c, true, false)
	p.journal.Record(c.key, res, func(err error) {
		if err != nil {
			c.res, c.err = nil, fmt.Errorf("scheduler: effect %q (key %v) ran but its result could not be journaled: %w", c.def.name, c.key, err)
		}
		p.report(c, false, true)
	})
}

// replayed is the error of a journaled result: a *ReplayedError, which
// reads as the live call's error did.
func replayed(c *effectCall, r EffectResult) error {
	if r.Err == "" {
		return nil
	}
	return &ReplayedError{Effect: c.def.name, Key: c.key, Text: r.Err, Cause: r.Cause}
}

// call runs the effect's function; a panic becomes the call's error.
func (p *effectPool) call(c *effectCall) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("scheduler: effect %q (key %v): %w: %v\n%s", c.def.name, c.key, ErrEffectPanic, r, debug.Stack())
		}
	}()
	res, err = c.def.run(c.ctx, c.key, c.req)
	if err != nil && !errors.Is(err, ErrEffectRequest) {
		c.text, c.cause = err.Error(), err
		err = fmt.Errorf("scheduler: effect %q (key %v): %w: %w", c.def.name, c.key, ErrEffectFailed, err)
	}
	return res, err
}

// report hands an outcome to the scheduler's goroutine: release frees the
// call's slot, deliver wakes its tasklet.
func (p *effectPool) report(c *effectCall, release, deliver bool) {
	p.mu.Lock()
	p.done = append(p.done, effectDone{c: c, release: release, deliver: deliver})
	wake := !p.signalled
	p.signalled = true
	p.mu.Unlock()
	if wake {
		p.s.enqueue(inboxItem{fn: p.drainFn})
	}
}

// drain takes the reported outcomes on the scheduler's goroutine.
func (p *effectPool) drain() {
	p.mu.Lock()
	items := p.done
	p.done, p.spare = p.spare[:0], nil
	p.signalled = false
	p.mu.Unlock()
	for i, d := range items {
		c := d.c
		if d.release {
			p.running--
			c.ds.running--
		}
		if d.deliver {
			c.cancel()
			if !c.off {
				p.forget(c)
				p.s.Complete(c.key.Tasklet, c.seq, c.key.Case, c.res, c.err)
			}
		}
		items[i] = effectDone{}
	}
	p.mu.Lock()
	if p.spare == nil {
		p.spare = items[:0]
	}
	p.mu.Unlock()
	p.dispatch()
}

// cancelWait withdraws the effect cases of t's wait that did not fire: the
// tasklet was killed, or another case of its select completed.
func (p *effectPool) cancelWait(t *rec, fired int) {
	for i, cs := range t.Cases() {
		if cs.Dir != tasklet.DirDo || i == fired {
			continue
		}
		c := p.find(EffectKey{Tasklet: t.ID(), Step: t.Steps(), Case: i})
		if c == nil {
			continue
		}
		p.forget(c)
		if c.cancel != nil {
			c.cancel()
		}
	}
}

// find returns the call of key that is still issued, or nil.
func (p *effectPool) find(key EffectKey) *effectCall {
	for c := p.calls[key.Tasklet]; c != nil; c = c.next {
		if c.key == key {
			return c
		}
	}
	return nil
}

// forget marks c over (delivered or cancelled) and unlinks it.
func (p *effectPool) forget(c *effectCall) {
	c.off = true
	p.s.holds.Add(-1)
	head := p.calls[c.key.Tasklet]
	if head == c {
		if c.next == nil {
			delete(p.calls, c.key.Tasklet)
		} else {
			p.calls[c.key.Tasklet] = c.next
		}
		return
	}
	for x := head; x != nil; x = x.next {
		if x.next == c {
			x.next = c.next
			return
		}
	}
}

// busy reports whether t waits on an effect in flight.
func (p *effectPool) busy(t *rec) bool {
	if t.State() != tasklet.Blocked {
		return false
	}
	var one [1]tasklet.Case
	for i, cs := range t.casesIn(&one) {
		if cs.Dir == tasklet.DirDo && p.find(EffectKey{Tasklet: t.ID(), Step: t.Steps(), Case: i}) != nil {
			return true
		}
	}
	return false
}
