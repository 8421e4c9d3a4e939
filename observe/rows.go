package observe

import (
	"context"
	"sync"
	"time"
)

// RowSource is a Source whose tasklet rows are too costly to read with
// every overview: a cluster's ps gathers every tasklet of every worker
// (about 2 s for 100,000 tasklets on 4 workers, measured), while its
// overview reads the workers' counts only. The tasklets table asks Rows
// instead of taking Overview.Tasklets.
type RowSource interface {
	Rows(ctx context.Context) ([]Tasklet, error)
}

// rowsMaxAge is how old the rows may be before a request starts a fresh
// read.
const rowsMaxAge = time.Second

// rowsTimeout bounds a read in the background: ps of a big cluster takes
// longer than one request may wait.
const rowsTimeout = time.Minute

// rowCache serves the last rows at once and reads fresh ones in the
// background (one read at a time), so that a page never waits for a slow
// read once there was a first one; the first read, and the first after an
// action changed the tasklets, is waited for.
type rowCache struct {
	read func(context.Context) ([]Tasklet, error)

	mu      sync.Mutex
	rows    []Tasklet
	at      time.Time
	have    bool   // rows holds a read's result
	reading bool   // a background read runs
	gen     uint64 // counts invalidations: a read begun before one is stale
}

func (c *rowCache) get(ctx context.Context) ([]Tasklet, error) {
	c.mu.Lock()
	if !c.have {
		gen := c.gen
		c.mu.Unlock()
		rows, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.store(gen, rows)
		c.mu.Unlock()
		return rows, nil
	}
	rows := c.rows
	if time.Since(c.at) >= rowsMaxAge && !c.reading {
		c.reading = true
		go c.refresh(c.gen)
	}
	c.mu.Unlock()
	return rows, nil
}

func (c *rowCache) refresh(gen uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), rowsTimeout)
	defer cancel()
	rows, err := c.read(ctx)
	// One critical section: were reading cleared before the rows are
	// stored, a request in between would see old rows and no read, and
	// start a second one.
	c.mu.Lock()
	c.reading = false
	if err == nil { // a failed read keeps the last rows; the next request tries again
		c.store(gen, rows)
	}
	c.mu.Unlock()
}

// store keeps rows read since invalidation gen; rows a read began before
// a later invalidation may predate the action and are dropped. c.mu held.
func (c *rowCache) store(gen uint64, rows []Tasklet) {
	if gen != c.gen {
		return
	}
	c.rows, c.at, c.have = rows, time.Now(), true
}

// invalidate makes the next get wait for a fresh read (after a kill or a
// migration, whose page shows the change at once).
func (c *rowCache) invalidate() {
	c.mu.Lock()
	c.have = false
	c.gen++
	c.mu.Unlock()
}
