package game

import "time"

// The rules of the game. Distances are in centimetres, speeds in
// centimetres per second of game time, health in hit points. They are
// constants, not state: a saved game is loaded by a program with the same
// rules.
const (
	spacing = 4000 // one entity per 40 m x 40 m on average: the world grows with N

	guardsPerTown = 250
	townRadius    = 25000 // guards are posted within 250 m of their town's centre

	perceptionRadius = 3000            // a guard notices the nearest monster within 30 m
	perceiveEvery    = 10              // each guard looks once every 10 ticks, a tenth of them per tick
	attackRange      = 250             // 2.5 m
	missRange        = 2 * attackRange // a blow struck from further away misses

	guardWalk   = 200 // 2 m/s on patrol
	guardRun    = 450 // chasing and fleeing
	monsterWalk = 150
	monsterRun  = 400 // slower than a guard: a chase ends

	cooldown    = time.Second     // between two blows
	memory      = 2 * time.Second // a target not seen or felt for this long is lost
	fleeTime    = 3 * time.Second
	restTime    = 2 * time.Second
	monsterIdle = 2 * time.Second // the longest pause between two wander legs

	respawnDelay = 10 * time.Second // a dead monster's replacement appears after this

	fullHP           = 100
	guardFleeHP      = 30 // below this a guard runs
	guardRecoverHP   = 80 // and comes back to patrol above this
	monsterFleeHP    = 25
	monsterRecoverHP = 60
	restHeal         = 20 // hit points a rest restores

	guardMinDamage, guardMaxDamage     = 8, 16
	monsterMinDamage, monsterMaxDamage = 4, 10

	patrolMin, patrolMax = 5000, 15000 // waypoints 50-150 m from a guard's post
	wanderMin, wanderMax = 1000, 6000  // one wander leg: 10-60 m

	inboxCap = 16 // an entity's inbox; a message to a full inbox is lost
)
