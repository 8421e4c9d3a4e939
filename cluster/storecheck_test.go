package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
)

// A store that reports itself broken ends the tries of a transient failure
// at once, and an attempt waiting for an answer that will not come, with
// the store's reason; a healthy store's transient failures are retried.
func TestRetryGivesUpOnABrokenStore(t *testing.T) {
	var broken atomic.Bool
	check := func() error {
		if broken.Load() {
			return fmt.Errorf("%w: test store", ErrStoreBroken)
		}
		return nil
	}
	ctx, unwatch := watchStore(context.Background(), check)
	defer unwatch()

	tries := 0
	err := retryJS(ctx, time.Minute, func(context.Context) error {
		if tries++; tries < 3 {
			return nats.ErrNoResponders
		}
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 3, tries, "a healthy store's transient failures are retried")

	broken.Store(true)
	tries = 0
	err = retryJS(ctx, time.Minute, func(context.Context) error { tries++; return nats.ErrNoResponders })
	assert.ErrorIs(t, err, ErrStoreBroken)
	assert.ErrorContains(t, err, "test store")
	assert.Equal(t, 1, tries, "not tried again")

	// An attempt blocked on an answer the broken server dropped: the watch
	// (a fresh one: the one above may have seen the store broken) ends it.
	broken.Store(false)
	ctx, unwatch2 := watchStore(context.Background(), check)
	defer unwatch2()
	t0 := time.Now()
	err = retryJS(ctx, time.Minute, func(actx context.Context) error {
		broken.Store(true)
		<-actx.Done()
		return actx.Err()
	})
	assert.ErrorIs(t, err, ErrStoreBroken)
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
	// What this rules out is waiting out the attempt (a minute): 10 checks
	// (2.5 s) left little room for a loaded machine stalling the watch.
	assert.Less(t, time.Since(t0), 30*time.Second, "the attempt was given up once the store said so")
}
