// Package ipc joins schedulers into a cluster: it links nodes (one
// scheduler each) over unix sockets (with shared-memory rings between
// processes on one host), TCP with mutual TLS, or in-memory connections,
// carries channel operations to the node that holds each channel, and moves
// suspended tasklets between nodes.
//
// # Nodes and homes
//
// A Node wraps one scheduler and is its scheduler.Remote. Every ID carries
// the number of the node that made it in its top 16 bits, so a channel's
// home is ch.Node(). When a tasklet sends, receives or selects on a
// channel homed elsewhere, its scheduler blocks it and calls Op; the node
// sends the cases to the home, whose scheduler queues them as remote
// waiters (FIFO with local tasklets, counted in the balance, woken by
// close) or completes them at once. The home answers DONE; the tasklet's
// node finishes the wait with Scheduler.Complete on its own goroutine.
// Network readers never touch a scheduler: they decode frames and hand
// them over in batches with Scheduler.Do. While a link or listener is up
// the node holds its scheduler (Scheduler.Hold), so an idle node waits for
// input instead of reporting a deadlock.
//
// # Wire protocol
//
// A link starts with a handshake of fixed-size messages: both sides send
// HELLO (magic, protocol version, node number, 32 random bytes), then a
// PROOF, HMAC-SHA256 under the cluster secret of both node numbers in
// order, the protocol version and both challenges. Nothing else is read
// before the peer has proved it knows the secret; a wrong secret, garbage
// or silence past the handshake timeout closes the link with a logged
// reason and the node goes on. The secret lives in a file of mode 0600
// (GenerateSecret, LoadSecret). Unix sockets live in a folder of mode 0700
// and the peer's user is checked with SO_PEERCRED; TCP links add mutual
// TLS 1.3 (GenerateCerts, LoadTLSConfig).
//
// Between two Linux processes, a unix-socket link then moves its frames
// into shared memory (shm.go, ring.go): the dialer passes a sealed memfd
// holding a ring per direction and four eventfds over the authenticated
// socket (SCM_RIGHTS). Each side spins briefly for input, then parks on
// its eventfd; the socket stays open to tell when the peer is gone (kill
// -9 included), and is what the link falls back to when either side turns
// shared memory off (WithSharedMemory, STACKLESS_SHM=off) or cannot map it.
//
// Listeners stand up to floods. Every listener accepts through one loop
// that no failed accept ends (out of descriptors, it pauses and tries
// again), and connections still in their handshake are capped per
// listener, in all and per remote address (WithMaxPending,
// WithMaxPendingPerAddr): the oldest one that has sent nothing makes room
// for a new one, so silent connections evict each other while a real
// peer, whose first flight comes at once, gets in. A link's buffers are
// allocated only once its peer is authenticated (a connection in its
// handshake costs a few KiB). Dial tries again, for a little while, when
// a node closes the connection in the handshake.
//
// Then each direction is a stream of frames: a 4-byte big-endian length and
// a msgpack body. A length over the limit (WithMaxFrame, 4 MiB by default)
// closes the link before anything is read or allocated for it; every body
// is validated with pickle.ScanAll (a PUTS as it is read) and decoded field
// by field into a concrete message, values only through the pickle
// registry's typed values (so every node must register the same value
// types). What the scheduler's goroutine sends during a run (OPs, DONEs,
// CANCELs) is held until the scheduler's slice ends (scheduler.SetFlush:
// after each burst of steps and before it waits), so a slice's frames to
// one peer leave in one write and arrive as one batch for the peer's
// scheduler; each is still a frame of its own, so frame counts stay exact.
// On a shared-memory link whose writer is idle the scheduler's goroutine
// copies them into the ring itself; otherwise one writer goroutine per link
// writes them through a 64 KiB buffer, flushed when nothing more is queued.
// The messages:
//
//	OP         a tasklet's cases on one home (with their select indices)
//	DONE       a wait completed: case, value or error
//	CANCEL     withdraw a wait (a kill, or another case fired)
//	RETURN     a value whose wait was over when its DONE arrived
//	POST       a value posted from outside a tasklet (Node.Post)
//	CLOSE      close a channel at its home (a tasklet's Close, Node.CloseChannel)
//	MIGRATE    a tasklet record, its timers and its epoch
//	MIGRATED   the target took the tasklet, or why it refused it
//	REDIRECT   a moved tasklet's waits now answer to another node
//	REDIRECTED a home applied a REDIRECT
//	SETTLED    the old node has nothing more in flight for a moved tasklet
//	PING, PONG keepalive (WithKeepalive); a silent link is closed
//	CONTROL    a request for a named handler (Node.Handle, Node.Call)
//	REPLY      its answer
//	PUT        a send on credit to a buffered channel: no DONE answers it
//	GRANT      credit for PUTs on a channel (0 withdraws it)
//	PUTS       consecutive sends on credit to one channel, in one frame
//	WAITING    how many sends wait on the sending node for credit on a channel
//	FENCE      a move waits until the home applied what the owner sent it before
//	FENCED     the home did: everything before the FENCE is applied
//
// # Remote sends
//
// A send to an unbuffered channel of another node is a rendezvous, as in
// one process: the tasklet waits until a receiver took the value at the
// channel's home (OP, then DONE). So is the first send to a buffered
// channel of another node; if the buffer has room and no sender waits, its
// home then grants this node credit, as much as the room (at most 1024),
// and while the credit lasts a send there completes at once (the sender
// goes on, as after a send into a buffer with room) and its value follows
// as a PUT, in the link's order (so one sender's values arrive in order). A
// PUT that went into the buffer and left room gives its credit back; one
// that filled the buffer, or found it full and waits in the channel's queue
// like a posted value, keeps it, so a full channel brings the sender back
// to round trips, and a channel holds at most one grant per sending node
// beyond its capacity. Sends on credit that find the buffer empty bring
// the node's credit back up to the capacity (at most 1024): the receivers
// wait, so credit lost to a full buffer once is not lost for good. A PUT that finds the channel closed is still taken
// (its send completed before the close was known, so receivers drain it)
// and the credit is withdrawn: the next send fails with channel.ErrClosed.
// Sends in a select with other cases always wait.
//
// Consecutive sends on credit to one channel (a slice's stream) share one
// PUTS frame: the values are appended to it as they are sent (ints,
// strings and byte strings bare, other values typed), anything else sent
// on the link closes it, and the home applies them in one pass and gives
// their credit back in one GRANT.
//
// When a node's credit on a channel has run out, one of its sends waits at
// the home as a round trip and the sends after it wait on their own node,
// in order, until credit comes back or that one is answered; the home's
// Balance counts them (WAITING, sent when the sending node idles, or
// after a few slices of a busy one). Close, kill, migration and
// Node.ReleaseCreditWaits (a checkpoint's pause) turn them into round
// trips first, so the home holds them as waiting senders.
//
// # Select rules across nodes
//
// A select whose channel cases are all on one home node is exact: the home
// runs it atomically. A select that mixes homes (several nodes, a local
// channel, or a timeout case with remote channels) may only receive from
// remote channels; a send on a remote channel in it fails the select with
// ErrRemoteSelect. Receives are safe because a value whose wait is over
// when its DONE arrives (another case won, or the tasklet was killed) is
// given back to its channel's home (RETURN) and posted again there: it is
// not lost, but it goes behind the values and senders queued in the
// channel meanwhile. A send that loses the same race to a kill has
// delivered its value. A select with a default case does not wait on
// remote channels at all (the scheduler takes the default at once).
//
// # Migration and epochs
//
// Node.Migrate moves a tasklet that is runnable, paused, sleeping or
// blocked. The owner emigrates it between two steps (its places in the
// owner's channel queues become remote waiters for the target). If the
// owner sent a home a frame that nobody answers (a PUT, PUTS, CLOSE or CANCEL)
// since it last fenced that link, that home may not have applied it yet,
// and the tasklet's next send from the target, on another link, could
// overtake it: the owner sends such homes FENCE, each answers FENCED once
// it applied everything before it, and only then does the move go on (a
// home whose link drops counts as answered: keepalive bounds the wait). It
// encodes the tasklet with pickle and its timers as time left, and sends
// MIGRATE with the tasklet's next epoch. The target refuses an epoch not newer than one it
// has seen for that tasklet, so a stale owner can never make a tasklet run
// twice; otherwise it immigrates it (taking back its remote waiters on the
// target's own channels) and answers MIGRATED. The owner then forwards the
// DONEs that arrived meanwhile, REDIRECTs the tasklet's other homes, and
// forwards any DONE still addressed to it until every home answered; then
// it sends SETTLED. The target moves the tasklet on only once settled, so
// nothing of one move can overtake the next. A blocked tasklet keeps its
// place in every channel queue. A refused move puts the tasklet back where
// it was; a link that fails before MIGRATED leaves the outcome unknown and
// the tasklet is not resumed on the owner.
//
// Waits are keyed at their homes by the tasklet's birth node (the top bits
// of its ID), its ID and its wait sequence, so every node can name any
// wait wherever the tasklet has gone since.
package ipc
