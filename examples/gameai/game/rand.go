package game

// The game's randomness is splitmix64 over a uint64 that lives in a
// tasklet's exported fields (every entity and the world have their own), so
// it is saved with the game and a loaded game draws the same numbers as the
// unbroken run. Nothing uses math/rand or the wall clock.

// next advances the state s and returns the next random number.
func next(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// between returns a random number in [lo, hi].
func between(s *uint64, lo, hi int64) int64 {
	return lo + int64(next(s)%uint64(hi-lo+1))
}

// seedFor derives an independent random state for one purpose of one game.
func seedFor(seed uint64, purpose, n uint64) uint64 {
	s := seed ^ purpose*0x9e3779b97f4a7c15
	next(&s)
	s ^= n * 0xbf58476d1ce4e5b9
	return next(&s)
}

// Purposes of seedFor.
const (
	seedWorld = iota + 1
	seedEntity
	seedPlace
	seedTown
)
