// Package work holds the tasklet kinds of the cluster example, registered
// at init (with package pickle, so checkpoints can save them, and with
// cluster.RegisterSpawner, so `stackless cluster spawn` can start them):
//
//   - work: CPU-bound; computes a SHA-256 chain from a seed, a slice of it
//     per step, and sends a Digest to a collector channel.
//   - collector: receives Want digests, folds them (XOR, so the order they
//     arrive in does not matter), prints the result once and parks with
//     t.Pause, holding it for Client.Await.
//   - ticker: sleeps and counts, a tasklet that is mostly waiting; good to
//     watch migrating while it sleeps.
//
// The stackless command imports it, so its cluster can spawn these kinds
// out of the box; so does examples/cluster.
package work
