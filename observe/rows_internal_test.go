package observe

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRowCacheNeverMakesAPageWaitForASlowRead: once there were rows, a
// request gets them at once while a fresh read (ps of a big cluster, which
// takes seconds) runs in the background; one read at a time; after an
// action the next request waits for fresh rows.
func TestRowCacheNeverMakesAPageWaitForASlowRead(t *testing.T) {
	release := make(chan struct{}, 8)
	started := make(chan struct{}, 8)
	reads := 0
	c := &rowCache{read: func(ctx context.Context) ([]Tasklet, error) {
		reads++ // one read at a time: no race
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []Tasklet{{ID: "t" + strconv.Itoa(reads)}}, nil
	}}
	ctx := t.Context()
	release <- struct{}{}
	rows, err := c.get(ctx)
	require.NoError(t, err)
	require.Equal(t, "t1", rows[0].ID, "the first request waits for the first read")
	<-started

	c.mu.Lock()
	c.at = time.Now().Add(-2 * rowsMaxAge) // the rows are old now
	c.mu.Unlock()
	for range 3 { // the read blocks: every request gets the old rows, and one read runs
		rows, err = c.get(ctx)
		require.NoError(t, err)
		assert.Equal(t, "t1", rows[0].ID)
	}
	<-started
	release <- struct{}{}
	require.Eventually(t, func() bool {
		rows, err := c.get(ctx)
		return err == nil && rows[0].ID == "t2"
	}, 10*time.Second, time.Millisecond, "the background read's rows are served once it ends")
	select {
	case <-started:
		t.Fatal("a second background read started while the first ran or while the rows were fresh")
	default:
	}

	c.invalidate()
	release <- struct{}{}
	rows, err = c.get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "t3", rows[0].ID, "after an action the request waits for fresh rows")
}

// TestRowCacheDropsARowsReadBegunBeforeAnAction: a background read that
// began before an action may hold the tasklets as they were; once it ends
// it must not be served as the fresh rows the action asked for.
func TestRowCacheDropsARowsReadBegunBeforeAnAction(t *testing.T) {
	release := make(chan string, 4)
	started := make(chan struct{}, 4)
	c := &rowCache{read: func(ctx context.Context) ([]Tasklet, error) {
		started <- struct{}{}
		select {
		case id := <-release:
			return []Tasklet{{ID: id}}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	ctx := t.Context()
	release <- "first"
	_, err := c.get(ctx)
	require.NoError(t, err)
	<-started

	c.mu.Lock()
	c.at = time.Now().Add(-2 * rowsMaxAge)
	c.mu.Unlock()
	rows, err := c.get(ctx) // starts a background read, which blocks
	require.NoError(t, err)
	require.Equal(t, "first", rows[0].ID)
	<-started

	c.invalidate()
	release <- "before the action" // the background read ends now
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.reading
	}, 10*time.Second, time.Millisecond)
	release <- "after the action"
	rows, err = c.get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "after the action", rows[0].ID, "the request after an action waits for a read begun after it")
}
