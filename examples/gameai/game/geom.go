package game

import (
	"math"
	"time"
)

// Point is a position in centimetres. Integer coordinates keep the game
// bit-for-bit reproducible on every machine (no float rounding or fused
// multiply-add differences between a saved game and the one that loads it).
type Point struct{ X, Y int32 }

// dist2 is the squared distance between a and b.
func dist2(a, b Point) int64 {
	dx, dy := int64(a.X)-int64(b.X), int64(a.Y)-int64(b.Y)
	return dx*dx + dy*dy
}

// dist is the distance between a and b, rounded down. math.Sqrt is exactly
// rounded by IEEE 754, so this is deterministic too.
func dist(a, b Point) int64 { return int64(math.Sqrt(float64(dist2(a, b)))) }

// within reports whether a and b are at most r apart.
func within(a, b Point, r int64) bool { return dist2(a, b) <= r*r }

// towards is the point d along the way from a to b (b itself if it is
// nearer than d).
func towards(a, b Point, d int64) Point {
	n := dist(a, b)
	if n <= d || n == 0 {
		return b
	}
	return Point{a.X + int32(int64(b.X-a.X)*d/n), a.Y + int32(int64(b.Y-a.Y)*d/n)}
}

// away is the point d from a, straight away from threat.
func away(a, threat Point, d int64, rng *uint64) Point {
	if a == threat { // no direction to run from: pick one
		threat = Point{a.X + int32(between(rng, -100, 100)), a.Y + int32(between(rng, -100, 100))}
		if a == threat {
			threat.X++
		}
	}
	n := dist(a, threat)
	if n == 0 {
		n = 1
	}
	return Point{a.X + int32(int64(a.X-threat.X)*d/n), a.Y + int32(int64(a.Y-threat.Y)*d/n)}
}

// clamp keeps p inside the side x side world.
func clamp(p Point, side int32) Point {
	return Point{min(max(p.X, 0), side), min(max(p.Y, 0), side)}
}

// Leg is one straight walk (or, with From == To, a wait) from Start to End
// in game time. Every entity is always on a leg and sleeps on the
// scheduler's timers until it ends (or a message comes), so an entity that
// has nothing to react to costs nothing between two legs.
type Leg struct {
	From, To   Point
	Start, End time.Duration
}

// At is where the walker is at time now. It is called for every monster
// on every tick, so it divides once: the fraction of the leg walked, in
// 1/65536ths, scales both coordinates (to within a centimetre).
func (l Leg) At(now time.Duration) Point {
	if now >= l.End || l.End <= l.Start || l.From == l.To {
		return l.To
	}
	if now <= l.Start {
		return l.From
	}
	f := int64(now-l.Start) << 16 / int64(l.End-l.Start)
	return Point{
		l.From.X + int32(int64(l.To.X-l.From.X)*f>>16),
		l.From.Y + int32(int64(l.To.Y-l.From.Y)*f>>16),
	}
}

// Resting reports whether the leg is a wait in one place.
func (l Leg) Resting() bool { return l.From == l.To }

// walk is the leg from `from` towards `to` at speed (cm/s) that lasts at
// most limit (0: no limit); a longer way ends part way, where the walker
// thinks again.
func walk(from, to Point, now time.Duration, speed int64, limit time.Duration) Leg {
	d := dist(from, to)
	took := time.Duration(d * int64(time.Second) / speed)
	if limit > 0 && took > limit {
		to = towards(from, to, speed*int64(limit)/int64(time.Second))
		took = limit
	}
	return Leg{From: from, To: to, Start: now, End: now + took}
}

// wait is the leg of standing at p for d.
func wait(p Point, now, d time.Duration) Leg {
	return Leg{From: p, To: p, Start: now, End: now + d}
}

// legUntil is how long an entity waiting at now sleeps for leg l to end: at
// least a nanosecond, so a leg already over ends at the next tick, when the
// clock has moved, as it did when the world sent the notice.
func legUntil(l Leg, now time.Duration) time.Duration { return max(l.End-now, 1) }
