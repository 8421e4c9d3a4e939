package cli

import (
	"context"
	"errors"
	"sync"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/tasklet"
)

// redialClient is the observer's link to a coordinator that may restart:
// `stackless observe` kept the client it dialed at start, and once the
// coordinator was killed and started again every page said "no link to
// that node" until the observer was restarted too. A call that finds the
// link gone dials again; reads are then asked again, actions are not (a
// kill may have reached the old coordinator) and say so.
type redialClient struct {
	dial func(context.Context) (*cluster.Client, error)

	mu sync.Mutex
	c  *cluster.Client
}

var _ observe.ClusterAPI = (*redialClient)(nil)

// linkGone reports whether err says the client's link to the coordinator
// is gone, so that a new one is needed.
func linkGone(err error) bool {
	return errors.Is(err, ipc.ErrLinkDown) || errors.Is(err, ipc.ErrNoRoute)
}

func (r *redialClient) client(ctx context.Context) (*cluster.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c == nil {
		c, err := r.dial(ctx)
		if err != nil {
			return nil, err
		}
		r.c = c
	}
	return r.c, nil
}

// drop forgets c after its link went down.
func (r *redialClient) drop(c *cluster.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c == c {
		r.c = nil
		c.Close()
	}
}

// Close closes the current client.
func (r *redialClient) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		r.c.Close()
		r.c = nil
	}
}

// redial calls f with the client, and once more with a new one when the
// link was gone and again is set (reads).
func redial[T any](ctx context.Context, r *redialClient, again bool, f func(*cluster.Client) (T, error)) (T, error) {
	var zero T
	for try := 0; ; try++ {
		c, err := r.client(ctx)
		if err != nil {
			return zero, err
		}
		v, err := f(c)
		if !linkGone(err) {
			return v, err
		}
		r.drop(c)
		if !again || try > 0 {
			return v, err
		}
	}
}

func (r *redialClient) Status(ctx context.Context) (cluster.Status, error) {
	return redial(ctx, r, true, func(c *cluster.Client) (cluster.Status, error) { return c.Status(ctx) })
}

func (r *redialClient) List(ctx context.Context, q cluster.ListQuery) (cluster.TaskletList, error) {
	return redial(ctx, r, true, func(c *cluster.Client) (cluster.TaskletList, error) { return c.List(ctx, q) })
}

func (r *redialClient) Inspect(ctx context.Context, id tasklet.ID) (cluster.TaskletView, error) {
	return redial(ctx, r, true, func(c *cluster.Client) (cluster.TaskletView, error) { return c.Inspect(ctx, id) })
}

func (r *redialClient) Kill(ctx context.Context, id tasklet.ID) (cluster.KillResult, error) {
	return redial(ctx, r, false, func(c *cluster.Client) (cluster.KillResult, error) { return c.Kill(ctx, id) })
}

func (r *redialClient) Throw(ctx context.Context, id tasklet.ID, message string) (cluster.ThrowResult, error) {
	return redial(ctx, r, false, func(c *cluster.Client) (cluster.ThrowResult, error) { return c.Throw(ctx, id, message) })
}

func (r *redialClient) Migrate(ctx context.Context, id tasklet.ID, to uint16) (cluster.MigrateResult, error) {
	return redial(ctx, r, false, func(c *cluster.Client) (cluster.MigrateResult, error) { return c.Migrate(ctx, id, to) })
}
