// Package task is the long-task example as a library: word statistics over
// a large generated corpus, computed by a pipeline of tasklets and
// checkpointed to bbolt so that it survives kill -9.
//
// A Producer generates document after document (each a pure function of
// the seed and its number, see Document) and sends them over a buffered
// channel to a pool of Workers; each Worker counts the words of a document
// and sends the Tally over a second channel to the Reducer, which merges
// them and, after the last document, sends the Result on a result channel.
//
// Run drives that pipeline with a store.Checkpointer: every Options.Every
// the whole world (tasklets, channels with the documents and tallies in
// flight, run queue) is written to Dir/longtask.db in one bbolt
// transaction. Started again after a crash, Run restores the newest
// checkpoint and goes on; because the scheduler is deterministic and every
// bit of state is in the checkpoint, the final Result, checksum included,
// equals that of an unbroken run. The finished world is checkpointed too,
// so a further Run only prints the stored Result.
//
// The stackless CLI (`stackless demo longtask`) and examples/longtask both
// run it.
package task
