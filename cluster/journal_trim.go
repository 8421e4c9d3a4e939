package cluster

// Trimming the effect journal. An entry is needed as long as a restore of
// a kept generation can re-execute its call: its tasklet, in that
// generation, has not yet passed the call's step. Steps only grow, and
// every kept generation is at least as new as the oldest kept one, so the
// leader, after each checkpoint, deletes the entries whose tasklet is past
// the call's step in the oldest kept generation, or has ended by then (its
// creating node had handed out its ID, and no world holds it). A tasklet
// the oldest generation does not know yet keeps its entries. Deleting
// purges the entry's subject from the bucket's stream, so nothing (no
// delete marker) is left behind.

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// genSummary is what trimming needs of a generation: each tasklet's steps
// and each node's last tasklet number.
type genSummary struct {
	gen   uint64
	steps map[tasklet.ID]uint64
	next  map[uint16]uint64
}

// summarize reads the worlds of s: each header, and the ID and steps at
// the head of each tasklet record. It decoded every world whole, every
// behavior of a million tasklets after each checkpoint.
func summarize(reg *pickle.Registry, s *clusterSnapshot) (*genSummary, error) {
	g := &genSummary{gen: s.Gen, steps: map[tasklet.ID]uint64{}, next: map[uint16]uint64{}}
	for _, w := range s.Worlds {
		if len(w.Blob) == 0 {
			continue
		}
		err := reg.WalkWorld(w.Blob, func(meta []byte) error {
			h, err := reg.LoadHeader(meta)
			if err == nil {
				g.next[h.Node] = h.NextTasklet
			}
			return err
		}, func(key, value []byte) error {
			if tag, _, err := pickle.ParseKey(key); err != nil || tag != 't' {
				return err
			}
			id, steps, err := pickle.TaskletSteps(value)
			g.steps[id] = steps
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("the world of node %d in generation %d: %w", w.Node, s.Gen, err)
		}
	}
	return g, nil
}

// passed reports whether a restore of this generation (or a newer one)
// can no longer reach the call of key.
func (g *genSummary) passed(key scheduler.EffectKey) bool {
	if s, ok := g.steps[key.Tasklet]; ok {
		return s > key.Step
	}
	n, ok := g.next[key.Tasklet.Node()]
	return ok && key.Tasklet != 0 && uint64(key.Tasklet)&(1<<tasklet.NodeBits-1) <= n
}

// journalTrimmer is the leader's side of the journal.
type journalTrimmer struct {
	kv     jetstream.KeyValue
	stream jetstream.Stream
	subj   string // the bucket's subject prefix
	reg    *pickle.Registry

	mu     sync.Mutex // one trim at a time
	oldest *genSummary
}

// trimParallel is how many purges are in flight at once.
const trimParallel = 16

// trim deletes the entries generation oldest (the oldest kept) makes
// unnecessary; load reads that generation when it is not the cached one.
// It returns how many entries it deleted and how many it kept.
func (t *journalTrimmer) trim(ctx context.Context, oldest uint64, load func(context.Context, uint64) (*clusterSnapshot, error)) (deleted, kept int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The keys first: with none (no tasklet calls effects), the oldest
	// generation need not be read. It was, after every checkpoint: 118 MB
	// fetched and a million behaviors decoded by the coordinator each time.
	// Listed in bounded attempts: a listing whose consumer a server never
	// answered for held the trim (and the next ones) for minutes.
	var keys []string
	err = retryJS(ctx, jsAttempt, func(ctx context.Context) error {
		keys = keys[:0]
		kl, err := t.kv.ListKeys(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = kl.Stop() }()
		for k := range kl.Keys() {
			keys = append(keys, k)
		}
		return ctx.Err() // the listing ends early when ctx does
	})
	if errors.Is(err, jetstream.ErrNoKeysFound) || (err == nil && len(keys) == 0) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("list the journal's keys: %w", err)
	}
	if t.oldest == nil || t.oldest.gen != oldest {
		s, err := load(ctx, oldest)
		if err != nil {
			return 0, 0, err
		}
		if t.oldest, err = summarize(t.reg, s); err != nil {
			return 0, 0, err
		}
	}
	var gone []string
	for _, k := range keys {
		key, perr := parseJournalKey(k)
		if perr == nil && !t.oldest.passed(key) {
			kept++
			continue
		}
		gone = append(gone, k) // passed, or a key no lookup can reach
	}
	return t.purge(ctx, gone), kept, nil
}

// purge removes the subjects of keys from the bucket's stream, a few
// requests in flight at once; it returns how many went.
func (t *journalTrimmer) purge(ctx context.Context, keys []string) int {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		n    int
		next = make(chan string)
	)
	for range min(trimParallel, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				err := retryJS(ctx, jsAttempt, func(ctx context.Context) error {
					return t.stream.Purge(ctx, jetstream.WithPurgeSubject(t.subj+k))
				})
				if err == nil {
					mu.Lock()
					n++
					mu.Unlock()
				}
			}
		}()
	}
	for _, k := range keys {
		select {
		case next <- k:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return n
}

// forget empties the journal: a cluster that starts without a checkpoint
// hands out tasklet IDs from the start again, and an old entry must not
// answer a new tasklet's call.
func (t *journalTrimmer) forget(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.oldest = nil
	// A purge is the same done twice: one never answered is sent again.
	return retryJS(ctx, jsAttempt, func(ctx context.Context) error { return t.stream.Purge(ctx) })
}
