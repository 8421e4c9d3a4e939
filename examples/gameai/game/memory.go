package game

import (
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// The memory a game takes grows with its entities (and, when it saves,
// with the encoded world and the database file, which is mapped) and its
// picture. Measured on linux/amd64 with Go 1.26 as the growth of the Go
// runtime's memory (runtime.MemStats.Sys) over a new game of 300 ticks:
// playing took 2,022 bytes per entity at 100,000 entities and 2,167 at
// 30,000; saving every 100 ticks, with the database file, 6,724 and
// 5,277-5,848 (the file held 1,250 bytes per entity at the end: a save
// leaves out the copies of an entity's body that its callers' frames hold,
// dead while the function they called runs; with them it took 9,760 and
// 10,734); a picture 1.02 bytes per pixel. The peak resident size of
// `stackless demo gameai` grew alike (2.0 kB per entity from 100,000 to
// 400,000 entities). TestMemoryPerEntity measures them again.
const (
	PlayBytesPerEntity   = 2_000
	SavingBytesPerEntity = 4_500 + 1_200 // playing and saving, and the file
	bytesPerPixel        = 1             // an image.Paletted
)

// MemoryNeed is about the most memory a new game of o takes beyond what
// the process held before it: the entities, the saves and one picture.
// Slightly under the measurements, so that a run it refuses would have
// run out of memory; a run it passes may still, near a limit. A loaded
// game's size is in its save: MemoryNeed counts o.Entities, which
// SavedEntities estimates for one.
func (o Options) MemoryNeed() uint64 {
	o = o.withDefaults()
	per := uint64(PlayBytesPerEntity)
	if o.SaveEvery > 0 {
		per = SavingBytesPerEntity
	}
	return uint64(o.Entities)*per + uint64(o.Size)*uint64(o.Size)*bytesPerPixel
}

// LoadBytesPerEntity is what loading a save takes per entity beside the
// save's file, which is mapped whole: the newest generation read and
// decoded next to the world it becomes. Measured: a save of a million
// entities in a 1.54 GB file loaded under ulimit -v with 4.86 GB left,
// and died inside the Go runtime with 4.6 GB (3.1-3.3 kB per entity
// beside the file), where MemoryNeed had counted 2 GB.
const LoadBytesPerEntity = 3_200

// LoadNeed is about the most memory loading a save of o.Entities whose
// file is file bytes takes; playing on takes MemoryNeed. It is taken from
// the biggest save, where a load that died would lose the most time:
// smaller ones load in less (40,000 entities in a 59 MB file loaded with
// 130 MB left, where this asks for 187 MB), so near a limit it refuses
// some small loads that would have fitted, and no big one that would not.
func (o Options) LoadNeed(file uint64) uint64 {
	return uint64(o.Entities)*LoadBytesPerEntity + file
}

// SavedEntities is how many entities a saved world of records records
// holds: each is a tasklet and its inbox channel, beside the world's own
// tasklet and channel. For sizing a load up front without decoding it.
func SavedEntities(records int) int { return max(0, (records-2)/2) }

// SavedEntitiesIn estimates the entities of the newest game saved in db
// from its generation headers: the records of the full generation the
// newest one's chain starts from (an incremental save holds only what
// changed, most entities, so adding those up counted them again; a game
// keeps its number of entities). False when there is no save or its chain
// is broken, which a load reports.
func SavedEntitiesIn(db *store.DB) (int, bool) {
	gens, err := db.List()
	if err != nil || len(gens) == 0 {
		return 0, false
	}
	byGen := make(map[uint64]store.GenInfo, len(gens))
	for _, g := range gens {
		byGen[g.Gen] = g
	}
	g := gens[len(gens)-1]
	for g.Base != 0 {
		var ok bool
		if g, ok = byGen[g.Base]; !ok {
			return 0, false
		}
	}
	return SavedEntities(g.Records), true
}

// reserveHeap readies the heap of a big game for huge pages
// (scheduler.ReserveHeap) before it is built or loaded: on the 2-vCPU VM of
// the README, a million entities played 10 ticks in 4.9-5.8 s instead of
// 7.8-8.4 s, a tick took 138-146 ms instead of 201-214 (a thirty-fifth of
// the page faults, and fewer TLB misses), and a save of 200,000 entities
// loaded and played 5 ticks in 1.35 s instead of 2.44. A heap under
// minReservedHeap, a machine without transparent huge pages, and a reserve
// ReserveHeap refuses (more than the machine's memory, or than half of
// what a memory limit leaves) change nothing.
func reserveHeap(need uint64) {
	if need >= minReservedHeap {
		_, _ = scheduler.ReserveHeap(int(need))
	}
}

// minReservedHeap is the smallest heap reserveHeap asks huge pages for
// (about 30,000 entities): below it a game starts in a fraction of a
// second anyway.
const minReservedHeap = 64 << 20
