package scheduler_test

// The core benchmarks live in internal/benchcore so that `make bench` and
// `stackless bench` run the same code; each function there says what one
// op is. Goroutine baselines run in the same invocation for comparison.

import (
	"testing"

	"github.com/stackless-go/stackless/internal/benchcore"
)

func BenchmarkCPUSpeed(b *testing.B)                 { benchcore.CPUSpeed(b) }
func BenchmarkYield(b *testing.B)                    { benchcore.Yield(b) }
func BenchmarkGoroutineYield(b *testing.B)           { benchcore.GoroutineYield(b) }
func BenchmarkChannelPingPong(b *testing.B)          { benchcore.ChannelPingPong(b) }
func BenchmarkGoroutineChannelPingPong(b *testing.B) { benchcore.GoroutineChannelPingPong(b) }
func BenchmarkSpawn(b *testing.B)                    { benchcore.Spawn(b) }
func BenchmarkGoroutineSpawn(b *testing.B)           { benchcore.GoroutineSpawn(b) }
func BenchmarkIdleTasklets(b *testing.B)             { benchcore.IdleTasklets(b) }
func BenchmarkIdleActors(b *testing.B)               { benchcore.IdleActors(b) }
func BenchmarkSkynet(b *testing.B)                   { benchcore.Skynet(b) }
func BenchmarkGoroutineSkynet(b *testing.B)          { benchcore.GoroutineSkynet(b) }
func BenchmarkSkynetDepthFirst(b *testing.B)         { benchcore.SkynetDepthFirst(b) }
func BenchmarkSleepers(b *testing.B) {
	b.Run("1k", benchcore.Sleepers(1000))
	b.Run("100k", benchcore.Sleepers(100_000))
	b.Run("1M", benchcore.Sleepers(1_000_000))
}
func BenchmarkFanIn(b *testing.B)          { benchcore.FanIn(b) }
func BenchmarkFanInPerValue(b *testing.B)  { benchcore.FanInPerValue(b) }
func BenchmarkGoroutineFanIn(b *testing.B) { benchcore.GoroutineFanIn(b) }
