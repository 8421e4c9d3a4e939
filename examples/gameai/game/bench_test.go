package game

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stackless-go/stackless/store"
)

// benchGame is a game of n entities played for a minute of game time (600
// ticks): monsters start out of sight of the towns, so by then the fights
// at the town edges are in full swing and dead monsters are being
// replaced, which is the busy steady state to measure.
func benchGame(b *testing.B, n int, hand bool) *Game {
	b.Helper()
	g, err := New(Config{Entities: n, Seed: 1, HandWritten: hand})
	if err != nil {
		b.Fatal(err)
	}
	for range 600 {
		if err := g.Tick(); err != nil {
			b.Fatal(err)
		}
	}
	return g
}

func benchTick(b *testing.B, n int, hand bool) {
	g := benchGame(b, n, hand)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		if err := g.Tick(); err != nil {
			b.Fatal(err)
		}
	}
	// On a machine shared with other work, wall time per op swings with
	// the load; the process's CPU time per op much less.
	if cpu := cpuTime() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkTick10k: op = one world tick of a 10,000-entity game (the
// world's pass and every entity that has something to react to), the
// entities played by their scripts.
func BenchmarkTick10k(b *testing.B) { benchTick(b, 10_000, false) }

// BenchmarkTick100k: op = one world tick of a 100,000-entity game.
func BenchmarkTick100k(b *testing.B) { benchTick(b, 100_000, false) }

// BenchmarkTick10kHandWritten: BenchmarkTick10k with the hand-written
// state machines, which play the same game move for move: the baseline of
// the scripts.
func BenchmarkTick10kHandWritten(b *testing.B) { benchTick(b, 10_000, true) }

// BenchmarkTick100kHandWritten: BenchmarkTick100k with the hand-written
// state machines.
func BenchmarkTick100kHandWritten(b *testing.B) { benchTick(b, 100_000, true) }

// BenchmarkSave100k: op = one full save of a 100,000-entity game into a
// bbolt file through the Checkpointer (every checkpoint full, written
// synchronously).
func BenchmarkSave100k(b *testing.B) { benchSave(b, false) }

// BenchmarkSave100kHandWritten: BenchmarkSave100k with the hand-written
// state machines, whose state is one flat struct instead of a call stack
// of frames.
func BenchmarkSave100kHandWritten(b *testing.B) { benchSave(b, true) }

func benchSave(b *testing.B, hand bool) {
	g := benchGame(b, 100_000, hand)
	reg, err := NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(filepath.Join(b.TempDir(), "save.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ck := store.NewCheckpointer(db, reg, store.WithFullEvery(1))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := ck.Checkpoint(g.Sched); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_, recs, err := reg.EncodeWorld(g.Sched.World())
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, r := range recs {
		size += len(r.Key) + len(r.Value)
	}
	b.ReportMetric(float64(size), "saved-B") // the records of one save
}

// BenchmarkTick100kScriptsVsHandWritten: op = one tick of a 100,000-entity
// game played by the scripts and one of the same game played by the
// hand-written machines, alternately in one process, so that both see the
// same load on a shared machine; it reports the time of each and their
// ratio (the budget: the scripts within 1.2x).
func BenchmarkTick100kScriptsVsHandWritten(b *testing.B) {
	games := [2]*Game{benchGame(b, 100_000, false), benchGame(b, 100_000, true)}
	var took [2]time.Duration
	b.ResetTimer()
	for n := range b.N {
		for j := range games {
			i := (n + j) % 2 // each goes first every other time
			start := time.Now()
			if err := games[i].Tick(); err != nil {
				b.Fatal(err)
			}
			took[i] += time.Since(start)
		}
	}
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "scripts-ns/tick")
	b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "hand-ns/tick")
	b.ReportMetric(float64(took[0])/float64(took[1]), "scripts/hand")
}
