package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

func TestHumanUnits(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{humanFloat(3), "3"},
		{humanFloat(7.568), "7.57"},
		{humanFloat(98.14), "98.1"},
		{humanFloat(0), "0"},
		{humanFloat(0.25), "0.25"},
		{humanFloat(250.4), "250"},
		{humanCount(6128), "6.13k"},
		{humanCount(98100), "98.1k"},
		{humanCount(999.7), "1k"},
		{humanCount(1_250_000), "1.25M"},
		{humanCount(42), "42"},
		{humanBytes(1_140_000), "1.09 MiB"},
		{humanBytes(870_605), "850 KiB"},
		{humanBytes(512), "512 B"},
		{humanDuration(8.6), "8.6 ns"},
		{humanDuration(35.25), "35.2 ns"},
		{humanDuration(1234), "1.23 µs"},
		{humanDuration(250_123_456), "250 ms"},
		{humanDuration(1.5e9), "1.5 s"},
	} {
		assert.Equal(t, c.want, c.got)
	}
}

// cluster status shows runnable tasklets as a count ("3", not "3.000") and
// rates and sizes with three digits.
func TestStatusTableUnits(t *testing.T) {
	var b bytes.Buffer
	writeStatus(&b, cluster.Status{Workers: []cluster.WorkerStats{
		{Node: 1, Pid: 10, Host: "vm", Hosts: []uint16{1}, Tasklets: 3, Runnable: 3, StepsPerSec: 6128, HeapBytes: 1_140_000},
		{Node: 2, Pid: 11, Host: "vm", Hosts: []uint16{2}, Tasklets: 9, Runnable: 7.568, StepsPerSec: 0, HeapBytes: 870_605},
	}, LastGen: 4, LastAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	lines := strings.Split(b.String(), "\n")
	require.GreaterOrEqual(t, len(lines), 3)
	assert.Equal(t, []string{"1", "10", "vm", "1", "3", "3", "6.13k", "1.09", "MiB", "running"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"2", "11", "vm", "2", "9", "7.6", "0", "850", "KiB", "running"}, strings.Fields(lines[2]))
	assert.NotContains(t, b.String(), ".000")
}

// bench prints times in units that suit them: Skynet in ms, not 250000000.
func TestBenchTableUnits(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeBenchTable(&b, benchReport{Go: "go1", OS: "linux", Arch: "amd64", GOMAXPROCS: 2, Benchtime: "1x",
		Results: []benchRow{
			{Name: "Yield", Tasklets: benchFigures{NsPerOp: 8.6}, Goroutines: &benchFigures{NsPerOp: 120}, Speedup: 120 / 8.6},
			{Name: "Skynet", Tasklets: benchFigures{NsPerOp: 250_123_456, AllocsPerOp: 2_500_000}, Goroutines: &benchFigures{NsPerOp: 600e6}, Speedup: 2.4},
		}}))
	lines := strings.Split(b.String(), "\n")
	assert.Equal(t, []string{"benchmark", "tasklets/op", "goroutines/op", "speedup", "allocs/op", "extra"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"Yield", "8.6", "ns", "120", "ns", "14.0x", "0"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"Skynet", "250", "ms", "600", "ms", "2.4x", "2500000"}, strings.Fields(lines[2]))
}
