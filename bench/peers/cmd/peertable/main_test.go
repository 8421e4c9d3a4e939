package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
pkg: github.com/stackless-go/stackless/bench/peers/native
BenchmarkPingPong/stackless         	1000	        40 ns/op	       0 B/op	       0 allocs/op
BenchmarkPingPong/stackless         	1000	        44 ns/op	       0 B/op	       0 allocs/op
BenchmarkPingPong/stackless         	1000	        90 ns/op	       0 B/op	       0 allocs/op
BenchmarkPingPong/goroutines        	1000	       200 ns/op	       0 B/op	       0 allocs/op
BenchmarkPingPong/stackless-2       	1000	        50 ns/op	       0 B/op	       0 allocs/op
BenchmarkPingPong/goroutines-2      	1000	       150 ns/op	       0 B/op	       0 allocs/op
BenchmarkFanIn/stackless-2          	1000	        60 ns/op	        16.0 Mmsg/s	       0 B/op	       0 allocs/op
BenchmarkFanIn/goroutines-2         	1000	        70 ns/op	         4.0 Mmsg/s	       0 B/op	       0 allocs/op
BenchmarkSkynetWarm/stackless-2     	1	 300000000 ns/op	       300.0 ms	178280880 B/op	 2477943 allocs/op
BenchmarkSkynetWarm/goroutines-2    	1	1200000000 ns/op	      1200 ms	66000000 B/op	 1230000 allocs/op
BenchmarkSkynetDepthFirst/stackless 	1	 150000000 ns/op	       150.0 ms	85368064 B/op	 2333124 allocs/op
BenchmarkSkynetDepthFirst/goroutines	1	1500000000 ns/op	      1500 ms	101314328 B/op	 1298447 allocs/op
pkg: github.com/stackless-go/stackless/bench/peers/hollywood
BenchmarkPingPong/hollywood         	1000	      1600 ns/op	      40 B/op	       2 allocs/op
BenchmarkFanIn/hollywood-2          	1000	      7000 ns/op	         8.0 Mmsg/s	    1454 B/op	       1 allocs/op
pkg: github.com/stackless-go/stackless/bench/peers/protoactor
BenchmarkPingPong/protoactor        	7:05AM INF actor system started lib=Proto.Actor
7:05AM INF actor system started lib=Proto.Actor
  1000	      3000 ns/op	      31 B/op	       1 allocs/op
PASS
`

func TestTableTakesMediansAndRatios(t *testing.T) {
	figs, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	got := table(figs)
	assert.Contains(t, got, "| PingPong | ns/op | 1 | 44.0 | 200 | 1600 | 3000 | goroutines | 4.55x |", "median of 40, 44, 90; lower wins; the figures after a log line count")
	assert.Contains(t, got, "| PingPong | ns/op | 2 | 50.0 | 150 | — | — | goroutines | 3.00x |")
	assert.Contains(t, got, "| FanIn | Mmsg/s | 2 | 16.0 | 4.00 | 8.00 | — | hollywood | 2.00x |", "higher wins")
	assert.Contains(t, got, "| SkynetWarm | ms | 2 | 300 | 1200 | — | — | goroutines | 4.00x |", "a workload of two peers")
	assert.Contains(t, got, "| SkynetDepthFirst | ms | 1 | 150 | 1500 | — | — | goroutines | 10.0x |", "its own row, not Skynet's")
	assert.NotContains(t, got, "| Skynet |", "no row without figures")
}

func TestParseRefusesAFigureThatIsNotANumber(t *testing.T) {
	_, err := parse(strings.NewReader("BenchmarkSpawn/stackless-2 10 1.2.3 ns/op\n"))
	assert.ErrorContains(t, err, `figure "1.2.3" is not a number`)
}
