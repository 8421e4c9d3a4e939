// A store that broke for good (a full disk) is told from one that does
// not answer for now (a leader election), so that operations on it fail at
// once instead of retrying until their deadline.

package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrStoreBroken is returned by store operations once the NATS server that
// holds the checkpoints reports that it cannot write (its JetStream shut
// itself down, or a stream hit a write error: a full disk, a disk gone
// read-only), or refuses a write for want of room (noRoom). Retrying does
// not heal it: only making room (and, after a write error, restarting the
// server) does.
var ErrStoreBroken = errors.New("cluster: the checkpoint store cannot write")

// storeCheckEvery is how often an operation waiting on the store asks the
// server whether it broke meanwhile: a request whose answer the server
// dropped (it does on a write error) would otherwise wait its whole
// attempt.
var storeCheckEvery = 250 * time.Millisecond

type storeCheckKey struct{}

// storeCheck is the check the store operations under ctx (retryJS) make
// after a failed attempt (see watchStore), or nil.
func storeCheck(ctx context.Context) func() error {
	f, _ := ctx.Value(storeCheckKey{}).(func() error)
	return f
}

// watchStore returns ctx carrying check for the store operations under it,
// and cancelled with check's error as its cause once check reports one, so
// that an attempt waiting for an answer the broken server dropped ends at
// once too; stop ends the watch. A nil check watches nothing.
func watchStore(ctx context.Context, check func() error) (context.Context, func()) {
	if check == nil {
		return ctx, func() {}
	}
	wctx, cancel := context.WithCancelCause(context.WithValue(ctx, storeCheckKey{}, check))
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(storeCheckEvery)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-wctx.Done():
				return
			case <-tk.C:
				if err := check(); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	return wctx, func() { close(done); cancel(nil) }
}

// brokenStore is why the store under ctx cannot write, or nil: the watch's
// cause, or else check's answer now (the failure may be newer than the
// last tick).
func brokenStore(ctx context.Context, check func() error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrStoreBroken) {
		return cause
	}
	return check()
}

// storeErr reports the embedded server's health: nil while it can write.
// Healthz covers both ways a write failure shows: JetStream shut down (a
// replicated store, or a permission error) and a stream holding its write
// error (a single server, which then drops the request's answer).
func (e *embeddedNATS) storeErr(dir string) error {
	h := e.srv.Healthz(&server.HealthzOptions{})
	if h == nil || h.Error == "" {
		return nil
	}
	// Only the reports that mean writes fail: another (a stream caught
	// between its deletion and its folder's) would give a checkpoint up
	// for nothing.
	if !strings.Contains(h.Error, "write error") && !strings.Contains(h.Error, "JetStream not enabled") {
		return nil
	}
	return fmt.Errorf("%w: the embedded NATS server on %s says %q (is its disk full?)", ErrStoreBroken, dir, h.Error)
}

// jsNoRoom is JetStream's "insufficient resources" (503): a write refused
// because the server's store holds its max_file_store already (by default
// three quarters of its disk's free space when it started).
const jsNoRoom jetstream.ErrorCode = 10023

// noRoom makes a write's error ErrStoreBroken when JetStream refused it
// for want of room: that stays so until something frees room, so retrying
// it as a 503 of a leader election (natsTransient) only delays the error
// until the operation's deadline. It is the one sign of a full store that
// any server gives a client at once; a server that met a write error
// (its disk filled by others) answers no write, but its account and
// stream info as if all were well, so only the embedded server's health
// (storeErr) tells that. Only for writes: creating a consumer is refused
// with the same code while the servers that would hold it are offline,
// which passes.
func noRoom(err error) error {
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != jsNoRoom {
		return err
	}
	return fmt.Errorf("%w: JetStream's store on the NATS server is full (%v); make room: delete old generations (`stackless checkpoint rm`), "+
		"or free its disk (or raise its max_file_store) and restart it", ErrStoreBroken, err)
}
