package cluster

// A request in flight on a NATS connection that drops is never answered:
// its server is gone, and the answer cannot come on the new connection, so
// the caller waits for its attempt's bound (5 s for a key, 30 s for a
// world) before asking again. That wait, once per operation in flight, was
// what stalled the first checkpoint after a NATS server stopped. So the
// connections this package opens to NATS servers report their drops here,
// and an attempt in flight at a drop (withAttempt, a lease renewal, a
// client's read) is given up at once and made again on the new connection.
// The signal is the process's, not the connection's: an attempt on another
// connection given up with it is only made again, which every attempt
// allows.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNATSDropped is the cause of an attempt given up at a drop.
var errNATSDropped = errors.New("cluster: the NATS connection dropped with the request in flight; it is sent again")

// natsDrop is done at the next drop of a connection of this process.
var natsDrop struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// natsDropped returns a context done at the next drop.
func natsDropped() context.Context {
	natsDrop.mu.Lock()
	defer natsDrop.mu.Unlock()
	if natsDrop.ctx == nil {
		natsDrop.ctx, natsDrop.cancel = context.WithCancelCause(context.Background())
	}
	return natsDrop.ctx
}

// noteNATSDrop ends the attempts in flight.
func noteNATSDrop() {
	natsDrop.mu.Lock()
	defer natsDrop.mu.Unlock()
	if natsDrop.cancel != nil {
		natsDrop.cancel(errNATSDropped)
	}
	natsDrop.ctx, natsDrop.cancel = context.WithCancelCause(context.Background())
}

// reportDrops is the connection option that reports drops (not closes).
func reportDrops() nats.Option {
	return nats.DisconnectErrHandler(func(nc *nats.Conn, _ error) {
		if !nc.IsClosed() {
			noteNATSDrop()
		}
	})
}

// attemptContext is ctx bounded by d and given up at the next drop; stop
// releases it.
func attemptContext(ctx context.Context, d time.Duration) (actx context.Context, stop func()) {
	cctx, cancel := context.WithCancelCause(ctx)
	actx, tcancel := context.WithTimeout(cctx, d)
	unhook := context.AfterFunc(natsDropped(), func() { cancel(errNATSDropped) })
	return actx, func() {
		unhook()
		tcancel()
		cancel(nil)
	}
}

// droppedIn reports whether actx (from attemptContext) was given up at a
// drop.
func droppedIn(actx context.Context) bool { return errors.Is(context.Cause(actx), errNATSDropped) }

// watchKV starts a watch with start, made in bounded attempts of
// jsAttempt while ctx lasts, that then lives as long as life (or until
// its Stop). The watch's consumer is made by a request a server may drop
// (no stream assignment yet, a leader being elected), and a watch lives
// only as long as the context it was started with, so that context cannot
// be the attempt's: an attempt that ends first cancels the watch's own.
func watchKV(ctx, life context.Context, start func(context.Context) (jetstream.KeyWatcher, error)) (jetstream.KeyWatcher, error) {
	return withAttempt(ctx, jsAttempt, func(actx context.Context) (jetstream.KeyWatcher, error) {
		wctx, cancel := context.WithCancel(life)
		unhook := context.AfterFunc(actx, cancel)
		w, err := start(wctx)
		if !unhook() { // the attempt ended first: wctx is cancelled
			if w != nil {
				_ = w.Stop()
			}
			return nil, context.Cause(actx)
		}
		if err != nil {
			cancel()
			return nil, err
		}
		return boundWatch{w, cancel}, nil
	})
}

// boundWatch is a watch that releases its context when stopped.
type boundWatch struct {
	jetstream.KeyWatcher
	cancel context.CancelFunc
}

func (w boundWatch) Stop() error {
	defer w.cancel()
	return w.KeyWatcher.Stop()
}
