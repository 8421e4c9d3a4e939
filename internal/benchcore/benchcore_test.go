package benchcore_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/benchcore"
)

// oneIteration makes testing.Benchmark run every benchmark once (-benchtime
// 1x) for the rest of the test.
func oneIteration(t *testing.T) {
	f := flag.Lookup("test.benchtime")
	require.NotNil(t, f, "testing flags are registered by go test")
	old := f.Value.String()
	require.NoError(t, f.Value.Set("1x"))
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

// Every benchmark of the suite runs and passes its own checks; Skynet at full
// size is left to `make bench` (a smaller tree is checked below).
func TestSuiteRunsOnce(t *testing.T) {
	oneIteration(t)
	for _, p := range benchcore.Suite() {
		if p.Heavy {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			r := testing.Benchmark(p.Tasklets)
			assert.Equal(t, 1, r.N, "tasklet benchmark failed")
			if p.Metric != "" {
				assert.Contains(t, r.Extra, p.Metric)
			}
			if p.Goroutines != nil {
				assert.Equal(t, 1, testing.Benchmark(p.Goroutines).N, "goroutine benchmark failed")
			}
		})
	}
}

func TestSuiteNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range benchcore.Suite() {
		assert.False(t, seen[p.Name], p.Name)
		seen[p.Name] = true
		assert.NotNil(t, p.Tasklets, p.Name)
		assert.NotEmpty(t, p.Op, p.Name)
	}
}

func TestSkynetSmallTree(t *testing.T) {
	require.NoError(t, benchcore.RunSkynet(1000))
	require.NoError(t, benchcore.RunSkynetDepthFirst(1000))
	require.NoError(t, benchcore.RunSkynetDepthFirst(10_000))
	require.NoError(t, benchcore.RunGoroutineSkynet(1000))
}

// CPUSpeed reports a time for each CPU the process may use and how far the
// slowest is from the fastest.
func TestCPUSpeedReportsEachCPU(t *testing.T) {
	oneIteration(t)
	r := testing.Benchmark(benchcore.CPUSpeed)
	require.Equal(t, 1, r.N, "benchmark failed")
	cpus := 0
	for unit, v := range r.Extra {
		if strings.HasPrefix(unit, "cpu") && strings.HasSuffix(unit, "-ns") {
			cpus++
			assert.Positive(t, v, unit)
		}
	}
	assert.Equal(t, expectedCPUs(t), cpus, "one figure a CPU: %v", r.Extra)
	assert.GreaterOrEqual(t, r.Extra["slowest/fastest"], 1.0)
}
