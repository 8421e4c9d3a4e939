package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ListQuery asks for one page of the cluster's tasklets, in ID order. The
// workers filter and cut the page, so that a look at a cluster of a
// million tasklets moves a page, not the million, and holds off
// checkpoints and migrations for one round of requests only.
type ListQuery struct {
	After  tasklet.ID `json:"after,omitempty"`  // only IDs above it: the last ID of the page before
	Offset int        `json:"offset,omitempty"` // skip this many matches first (at most MaxListWindow with Limit)
	Limit  int        `json:"limit"`            // at most this many tasklets, 1 to MaxListLimit
	Kind   string     `json:"kind,omitempty"`   // only this kind
	State  string     `json:"state,omitempty"`  // only this state (runnable, blocked, sleeping, paused)
	Worker uint16     `json:"worker,omitempty"` // only this worker's
	Text   string     `json:"text,omitempty"`   // only those with it in their ID, kind, state or op (any case)
}

// TaskletList is a page of tasklets.
type TaskletList struct {
	Tasklets []TaskletView `json:"tasklets"`
	Matched  int           `json:"matched"` // the tasklets above After that the filters keep, this page's included
	Total    int           `json:"total"`   // every tasklet of the workers asked
}

// ListWait bounds each worker's part of a page: the coordinator holds off
// checkpoints meanwhile, and a stopped worker would hold them off until
// the caller gave up. A worker filters a million tasklets in well under
// a second.
var ListWait = 10 * time.Second

const (
	// MaxListLimit bounds a page: about a megabyte of JSON.
	MaxListLimit = 10_000
	// MaxListWindow bounds Offset+Limit: each worker sends its first
	// Offset+Limit matches, since any of them may be on the page. Deeper
	// pages are read with After.
	MaxListWindow = 100_000
)

func (q ListQuery) check() error {
	switch {
	case q.Limit < 1 || q.Limit > MaxListLimit:
		return fmt.Errorf("cluster: list: limit %d: give 1 to %d a page, and the last ID of a page as After for the next", q.Limit, MaxListLimit)
	case q.Offset < 0:
		return fmt.Errorf("cluster: list: offset %d is negative", q.Offset)
	case q.Offset+q.Limit > MaxListWindow:
		return fmt.Errorf("cluster: list: offset %d is too deep (offset and limit at most %d): page on with After, the last ID of a page", q.Offset, MaxListWindow)
	}
	return nil
}

// keeps reports whether v passes the query's filters (After aside).
// text is q.Text in lower case.
func (q ListQuery) keeps(v *TaskletView, text string) bool {
	if (q.Kind != "" && v.Kind != q.Kind) || (q.State != "" && v.State != q.State) || (q.Worker != 0 && v.Worker != q.Worker) {
		return false
	}
	return text == "" || strings.Contains(v.ID.String(), text) || strings.Contains(v.State, text) ||
		strings.Contains(v.Op, text) || strings.Contains(strings.ToLower(v.Kind), text)
}

// list is a worker's part of a page: its first q.Offset+q.Limit matches
// above q.After, and its counts.
func (w *worker) list(ctx context.Context, q ListQuery) (TaskletList, error) {
	if q.Offset < 0 || q.Limit < 1 || q.Offset+q.Limit > MaxListWindow {
		return TaskletList{}, fmt.Errorf("cluster: list on worker %d: offset %d and limit %d: the two are at most %d", w.node, q.Offset, q.Limit, MaxListWindow)
	}
	return doTyped(ctx, w, func() (TaskletList, error) {
		want, text := q.Offset+q.Limit, strings.ToLower(q.Text)
		out := TaskletList{Tasklets: []TaskletView{}, Total: w.s.Len()}
		if q.Worker != 0 && q.Worker != w.node {
			return out, nil // asked for the total alone
		}
		if q.Kind == "" && q.State == "" && text == "" {
			// Unfiltered: the page alone is read, the rest counted.
			out.Matched = w.s.CountAfter(q.After)
			for in := range w.s.After(q.After) {
				if len(out.Tasklets) == want {
					break
				}
				out.Tasklets = append(out.Tasklets, w.listed(in))
			}
			return out, nil
		}
		for in := range w.s.After(q.After) {
			v := w.listed(in)
			if !q.keeps(&v, text) {
				continue
			}
			out.Matched++
			if len(out.Tasklets) < want {
				out.Tasklets = append(out.Tasklets, v)
			}
		}
		return out, nil
	})
}

func (w *worker) listed(in scheduler.Info) TaskletView {
	return TaskletView{ID: in.ID, Kind: in.Kind, Worker: w.node, State: in.State.String(), Steps: in.Steps, Op: in.Op}
}

// List returns one page of the cluster's tasklets, in ID order. It holds
// off migrations and the balancer while it asks the workers, so a tasklet
// on the move is never listed twice or missed on a page; paging on with
// After lists no tasklet twice either, since IDs only grow.
func (c *Coordinator) List(ctx context.Context, q ListQuery) (TaskletList, error) {
	if err := q.check(); err != nil {
		return TaskletList{}, err
	}
	c.op.Lock()
	defer c.op.Unlock()
	ws := c.readyWorkers()
	switch {
	case len(ws) == 0:
		// Not an empty list: the tasklets are in the checkpoint.
		c.mu.Lock()
		state := c.stateLocked()
		c.mu.Unlock()
		return TaskletList{}, fmt.Errorf("cluster: list: no worker is ready (%s; see `stackless cluster status`)", state)
	case q.Worker != 0 && !slices.ContainsFunc(ws, func(w *workerRef) bool { return w.Node == q.Worker }):
		return TaskletList{}, fmt.Errorf("cluster: list: worker %d is not ready or not in the cluster (see `stackless cluster status`)", q.Worker)
	}
	wq := q
	wq.Offset, wq.Limit = 0, q.Offset+q.Limit
	out := TaskletList{Tasklets: []TaskletView{}}
	var mu sync.Mutex
	err := c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		var part TaskletList
		wctx, cancel := context.WithTimeout(ctx, ListWait)
		defer cancel()
		if err := call(wctx, c.fc, w.Node, kindWList, wq, &part); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return fmt.Errorf("cluster: list: worker %d (pid %d) did not answer within %v: a stopped, hung or overloaded process (see `stackless cluster status`)", w.Node, w.Pid, ListWait)
			}
			return fmt.Errorf("cluster: list: worker %d: %w", w.Node, err)
		}
		mu.Lock()
		out.Tasklets = append(out.Tasklets, part.Tasklets...)
		out.Matched += part.Matched
		out.Total += part.Total
		mu.Unlock()
		return nil
	})
	if err != nil {
		return TaskletList{}, err
	}
	slices.SortFunc(out.Tasklets, func(a, b TaskletView) int { return cmp.Compare(a.ID, b.ID) })
	from := min(q.Offset, len(out.Tasklets))
	out.Tasklets = out.Tasklets[from:min(from+q.Limit, len(out.Tasklets))]
	return out, nil
}

// Pages reads the tasklets q keeps through list (an API's List), a page of
// q.Limit at a time (MaxListLimit when 0), each page going on after the
// last ID of the one before. It ends after the last page, or with an
// error.
func Pages(ctx context.Context, list func(context.Context, ListQuery) (TaskletList, error), q ListQuery) iter.Seq2[TaskletList, error] {
	return func(yield func(TaskletList, error) bool) {
		q.Offset = 0
		if q.Limit == 0 {
			q.Limit = MaxListLimit
		}
		for {
			page, err := list(ctx, q)
			if !yield(page, err) || err != nil {
				return
			}
			n := len(page.Tasklets)
			if n == 0 || n == page.Matched { // Matched counts this page's too
				return
			}
			q.After = page.Tasklets[n-1].ID
		}
	}
}

// listAll reads every tasklet the query keeps, a page at a time.
func listAll(ctx context.Context, list func(context.Context, ListQuery) (TaskletList, error), q ListQuery) ([]TaskletView, error) {
	var out []TaskletView
	for page, err := range Pages(ctx, list, q) {
		if err != nil {
			return out, err
		}
		out = append(out, page.Tasklets...)
	}
	return out, nil
}

// PS lists every tasklet of the cluster, by ID, a page of MaxListLimit at
// a time (see List): no tasklet is listed twice, and none that lived
// throughout is missed.
func (c *Coordinator) PS(ctx context.Context) ([]TaskletView, error) {
	return listAll(ctx, c.List, ListQuery{})
}
