// Package observe serves a running stackless system to a web browser and to
// Prometheus: pages for tasklets, channels, a cluster's workers and
// checkpoints, a game's world and a checkpoint file, updated live by
// server-sent events, and /metrics.
//
// It exists because a status line, ps and inspect tables show one moment of
// one thing; people debugging actors want to watch the whole system move
// and poke at it (Ergo's Observer, Orleans' dashboard). Everything it shows
// comes from a Source read on demand (a page load, an event tick, a scrape):
// the scheduler's hot path pays only for two counters it keeps anyway
// (switches, channel operations: about one instruction per operation), and
// nothing more when nobody looks. What grows with the tasklets (a cluster's
// ps) is read for the tasklets table alone, a page at a time, filtered and
// cut by the workers (PageSource): a page of a million-tasklet cluster
// moves fifty rows.
//
// The server binds 127.0.0.1 by default and makes a random token unless
// Config.Token gives one; its URL carries it, and the CLI prints that URL.
// Reading pages on loopback needs no token; acting (kill, throw, migrate,
// game controls) always does, and so does every request when the server
// binds any other address, which also requires TLS. The assets (plain
// HTML, CSS and JavaScript) are embedded: no build step.
package observe
