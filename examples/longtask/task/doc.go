// Package task is the long-task example as a library: word statistics over
// a large generated corpus, computed by a pipeline of tasklets and
// checkpointed to bbolt so that it survives kill -9.
//
// The documents come from a document server over HTTP (DocServer, which
// serves Document(seed, n), a pure function of the seed and the number,
// and counts its requests). A pool of workers (the Flow function Work,
// lowered by stackless gen) each fetch their share of the documents with
// the effect EffectFetch, count the words of each and send the Tally over
// a buffered channel to the Reducer, which merges them and, after the last
// document, sends the Result on a result channel.
//
// The fetches are journaled (store.Journal, in the checkpoint database):
// after a crash, the restored workers ask for the documents fetched since
// the checkpoint again, with the same idempotency keys, and the journal
// answers instead of the server. Only calls in flight at the crash reach
// the server twice (with their key, which a real service deduplicates).
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
