package game

import (
	"path/filepath"
	"testing"

	"github.com/stackless-go/stackless/store"
)

// benchGame is a game of n entities played for a minute of game time (600
// ticks): monsters start out of sight of the towns, so by then the fights
// at the town edges are in full swing and dead monsters are being
// replaced, which is the busy steady state to measure.
func benchGame(b *testing.B, n int) *Game {
	b.Helper()
	g, err := New(Config{Entities: n, Seed: 1})
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

func benchTick(b *testing.B, n int) {
	g := benchGame(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := g.Tick(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTick10k: op = one world tick of a 10,000-entity game (the
// world's pass and every entity that has something to react to).
func BenchmarkTick10k(b *testing.B) { benchTick(b, 10_000) }

// BenchmarkTick100k: op = one world tick of a 100,000-entity game.
func BenchmarkTick100k(b *testing.B) { benchTick(b, 100_000) }

// BenchmarkSave100k: op = one full save of a 100,000-entity game into a
// bbolt file through the Checkpointer (every checkpoint full, written
// synchronously).
func BenchmarkSave100k(b *testing.B) {
	g := benchGame(b, 100_000)
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
}
