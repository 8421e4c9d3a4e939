// Package game is the game-AI example of stackless: a 2D world of guards
// and monsters in which every entity is one tasklet. examples/gameai and
// `stackless demo gameai` are flags around [Run].
//
// # The entities
//
// A [Guard] patrols a round of waypoints near its town; when it sees a
// monster it chases and fights it; hurt, it flees and rests. A [Monster]
// roams; hit, it strikes back, flees when hurt and dies at zero health,
// closing its inbox. Each is a straight-line script: a function that
// calls patrol, chase, fight, flee, roam and fightBack in turn,
// each a loop over the messages that reach the entity (await), written
// against the blocking [tasklet.Flow]. `stackless gen` lowers them into
// GuardTasklet and MonsterTasklet, whose exported fields are the live
// locals of every frame on the call stack, so a saved game holds a guard
// in the middle of a fight, call stack and all.
//
// [GuardMachine] and [MonsterMachine] are the same entities written by
// hand as state machines, the layer below: they play the same game, move
// for move, and are the baseline of the benchmarks (Config.HandWritten).
//
// # The world
//
// The [World] tasklet owns the bodies. Entities tell it each new leg they
// walk (a [Move]: a straight walk or a wait, with start and end times)
// and sleep on the scheduler's timers until it ends ([Arrived]) or a
// message comes; the world tells them which monster they see ([Seen]) and
// replaces dead monsters after a delay. Entities strike each other
// directly, inbox to inbox ([Attack]). An entity with nothing to react to
// is asleep and costs nothing, so a
// tick's work is what happens in it plus the world's pass over the
// positions: a 100,000-entity tick takes a few milliseconds.
//
// The world and the entities that drain their inbox do many channel
// operations in one step with t.TrySend and t.TryRecv, which never block
// and never switch: Tick gives each tasklet one step per round, and a step
// that ended with a Send or Recv could move only one message per tick.
//
// # Time, randomness and saving
//
// The game loop ([Game.Tick]) advances a virtual clock by Config.Dt and
// runs one scheduler Tick. All randomness comes from splitmix64 states kept
// in tasklet fields, positions are integers, and nothing reads the wall
// clock or iterates a map, so a seed replays the same game. A save is a
// store checkpoint of the whole scheduler; loading it and playing on gives,
// tick for tick, the state of the game that never stopped ([Game.Fingerprint]
// hashes that state; the tests compare it).
package game
