package flowtest_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/gen/internal/flowtest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// fetchEffects answers "fetch" with the page of a URL; "flaky" fails at
// odd steps (so its retry, one step later, succeeds) and "down" always.
func fetchEffects(t *testing.T) *scheduler.Effects {
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "fetch", func(_ context.Context, key scheduler.EffectKey, url string) (string, error) {
		switch {
		case url == "flaky" && key.Step%2 == 1:
			return "", errors.New("unreachable")
		case url == "down":
			return "", fmt.Errorf("get %s: %w", url, fs.ErrNotExist)
		}
		return strings.ToUpper(url), nil
	}))
	return reg
}

// runFetcher runs the Fetcher flow in mode m and returns its reports.
func runFetcher(t *testing.T, m mode) []string {
	opts := []scheduler.Option{scheduler.WithEffects(fetchEffects(t), scheduler.EffectConfig{})}
	s := scheduler.New(opts...)
	out := s.NewChannel(64)
	urls := []string{"a", "flaky", "down", "b"}
	if m == unlowered {
		s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error { return flowtest.Fetcher(f, urls, out) }))
	} else {
		s.Spawn(flowtest.NewFetcher(urls, out))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if m == restored {
		for steps := 0; s.Len() > 0 && err == nil; steps++ {
			require.Less(t, steps, 1000, "the run does not end")
			if _, err = s.RunBudget(ctx, 1, scheduler.Total|scheduler.Soft); err != nil {
				break
			}
			blob, derr := pickle.Default.DumpWorld(s.World())
			require.NoError(t, derr)
			w, lerr := pickle.Default.LoadWorld(blob)
			require.NoError(t, lerr)
			s, err = scheduler.Restore(w, opts...)
			require.NoError(t, err)
		}
	} else {
		err = s.Run(ctx)
	}
	require.NoError(t, err)
	var got []string
	for _, c := range s.World().Channels {
		if c.ID == out {
			for _, v := range c.Buffer {
				got = append(got, fmt.Sprint(v))
			}
		}
	}
	return got
}

// TestDifferentialEffects: a flow doing effects reports the same in the
// unlowered, lowered and saved-and-restored-at-every-switch runs (the
// restored one re-issues each call in flight with its key).
func TestDifferentialEffects(t *testing.T) {
	want := runFetcher(t, unlowered)
	assert.Equal(t, []string{"0 A", "1 FLAKY", "2 failed (missing: true)", "3 B"}, want)
	for _, m := range []mode{lowered, restored} {
		assert.Equal(t, want, runFetcher(t, m), "%s run differs from the unlowered one", m)
	}
}
