// Package cluster runs tasklets on many worker processes: a coordinator
// starts and watches the workers, places and balances tasklets, takes
// consistent checkpoints of the whole cluster and restores them onto any
// number of workers, and rolls everything back when a worker dies. It is
// what `stackless cluster up` runs.
//
// # Processes and links
//
// Every worker is this same program started again (os.Executable() worker
// --cluster DIR --node N), so the workers know the kinds the program
// registers. Each runs one scheduler and one ipc node; the coordinator is
// ipc node 0, workers are nodes 1 and up, short-lived clients (the CLI) use
// numbers from 0xF000. A worker first asks the coordinator over a
// throwaway link which node to be and which world to run (an object of
// the checkpoint Object Store, which it reads itself over its own NATS
// connection, worker_nats.go), then starts its node, listens for its
// peers, links to the coordinator, and waits paused; the coordinator
// links the workers into a full mesh, pushes the routing table and
// resumes them. Control calls (spawn, ps, pause, snapshot...) travel as
// ipc control messages with JSON bodies; large replies are pulled in
// chunks.
//
// Every worker with a NATS connection registers in the KV bucket
// <name>_members (members.go: node, pid, host, host ID, unix path, TCP
// address, state; <name> is the cluster's, names.go), renewing its entry
// every second; the bucket's entries expire after 3 s, so a dead worker's
// goes. A worker started with NATS servers and no folder or coordinator
// address (`stackless worker --nats URL --creds FILE --name NAME`) asks for
// a node with a NATS request on <name>.worker.join that only the leader of
// that cluster answers, listens on TCP, and registers as ready; a local
// worker learns the bucket names from the join answer; the leader,
// which watches the bucket (coord_members.go), dials the published
// address and links it in like a worker that joined over TCP, so nobody
// needs to know where the coordinator runs.
//
// A local worker listens on DIR/sock/wN, and also on TCP with mutual TLS
// when the cluster has Config.Listen; a worker that joined over TCP
// (RunJoinedWorker, `stackless worker --join`) listens on TCP only. Each
// announces its unix path with the ID of the host it is valid on
// (DIR/host-id, shared by the coordinator and its local workers; a joined
// worker has an ID of its own) and its TCP address, and a peer dials the
// unix path only with the same host ID: a worker on another machine, or in
// another folder, reaches every peer over TCP+TLS. A worker that joined
// but cannot be linked to every peer is sent away (ErrNotLinked) rather
// than kept half-linked, which would fail every checkpoint. A joined
// worker is routed only once it is linked in, so workers joining at the
// same time do not wait on each other's links.
//
// A worker runs its scheduler in slices (RunBudget with a Total|Soft
// budget) and serves the coordinator's requests between them: a waiting
// request ends the running slice at the next step boundary.
//
// # Consistent checkpoints
//
// A checkpoint is a barrier between steps. PAUSE: every worker stops at a
// step boundary. FLUSH, in rounds: every worker posts a marker to every
// peer's marker channel (posts keep their link's order through to the
// peer's scheduler), applies its inbox with Scheduler.Drain until it has
// every peer's marker of the round, and reports the frames it has sent;
// rounds repeat until one in which no worker sent anything but markers, so
// nothing is in flight. SNAPSHOT: the coordinator takes a generation
// number and each worker pickles its world and stores it itself as the
// object g<gen>/w<node> of a NATS JetStream Object Store bucket,
// reporting its size and SHA-256 (a worker joined with --join, which has
// no NATS connection, sends it to the coordinator, which stores it); once
// every part is stored the coordinator commits the generation with a
// manifest in a KV bucket (the logical nodes each world hosts, the next
// free node number, each world's size and digest), so a generation is all
// or nothing: a part that fails removes the others (coord_objects.go,
// jsstore.go). RESUME. The NATS server is embedded in the coordinator
// (natsd.go): its store in DIR/nats, listening on loopback only, open only
// to the nkey seed in DIR/nats.seed. Checkpoints are taken every
// Config.CheckpointEvery, after spawn and kill, on demand, and at
// shutdown; the newest Config.Keep are kept. A generation that does not
// load (its manifest or a world changed or damaged) is reported by number
// and the one before it is used; when none loads the start is refused,
// and Config.Fresh starts empty.
//
// # Restore, routing and faults
//
// A checkpoint of N workers restores onto M: with M < N several worlds
// merge on one worker (scheduler.Merge), which then hosts several logical
// nodes (the top 16 bits of IDs); with M > N the extra workers start empty
// and the balancer fills them. The M workers are the live ones on other
// machines that joined over NATS, each told to join again as the node
// kept for it (rejoin.go), and as many local ones as the leader starts
// for the rest. The coordinator keeps the routing table
// logical node → worker and pushes it to every worker's ipc node
// (ipc.Node.Route). Before handing worlds out, a tasklet that waits on a
// channel of another world is moved, as data, to the world hosting its
// birth node, because fresh ipc nodes send completions there.
//
// A worker asked to stop (SIGTERM, Ctrl-C: the context of RunWorker ends)
// leaves without a rollback: the coordinator takes a checkpoint with every
// worker paused and restarts the cluster from it without the leaver, its
// worlds merged onto the others, so no step is lost or done twice.
// (Its tasklets cannot move one by one: the channels it hosts and the IDs
// born on it belong to its logical node, which must live on somewhere.)
//
// When a worker process exits without being told to, or its link drops,
// the coordinator restores the newest checkpoint onto as many workers as
// before: every worker, not only the dead one, goes back to that moment,
// so the state stays consistent. Everything any worker did after that
// checkpoint is done again; effects outside tasklets (printed lines,
// files, requests to other services) may happen twice, and effects called
// with t.Do run again with the same idempotency key. A rollback that
// fails (its replacement died too) leaves no worker, which is a fault
// itself: it is tried again with a growing pause, and after 5 failures the
// cluster is down: Status.State says "down: rollback failed 5 times: ...",
// and Close returns ErrDown (`cluster up` exits non-zero) unless a
// `cluster restore` brought it back (recovery.go).
//
// # Outliving the coordinator
//
// Workers run in sessions of their own and outlive a coordinator that
// dies: they keep running their tasklets and their links to each other,
// and leave a record (node, pid, socket) in DIR/run; their output goes to
// DIR/log/wN.log once the coordinator reading it is gone. The next coordinator
// of the folder dials their sockets, and when they form a whole cluster
// (all had run, each logical node hosted once, the routing tables agree)
// it adopts them without a rollback: re-links missing pairs, pushes the
// routing table, resumes them, checkpoints. Otherwise (a worker died
// meanwhile) it stops them and restores the newest checkpoint, and says
// why in Status.Note. A worker nobody adopts exits after
// Config.OrphanAfter (10 minutes), since the newest checkpoint holds all
// a restart would keep. Sockets and records of processes that are gone
// are removed at start; `down` leaves none.
//
// Workers with NATS stay registered in the members bucket meanwhile, so
// a coordinator of another folder or machine that takes the lease adopts
// them too (adopt_members.go): it links to the address each registered
// (unix on its own host, TCP + mutual TLS otherwise), asks what it hosts,
// and adopts them with its folder's own under the same whole-cluster
// rule. A worker that joined through NATS waits for that like a local
// one, and joins again, empty, when nobody adopted it within OrphanAfter
// (or at once when the new leader restores instead).
//
// # Leadership and standbys
//
// Exactly one coordinator acts: the holder of a lease in a NATS KV bucket
// (lease.go: taken by compare-and-set, renewed every 400 ms, stale when
// its revision stood still for 2 s). The revision it was taken at is its
// epoch; every command to a worker carries it and a worker refuses a lower
// one (fence.go, ErrFenced), so a deposed leader cannot act. With
// Config.Standby a coordinator whose folder's store another one holds
// waits, and takes over when that one dies (its server's store lock is
// released with the process), adopting the workers as above; a clean
// stop of the leader (Close) marks the lease down and the standbys stop
// (ErrLeaderStopped). With Config.NATS the store and the lease are on
// outside servers, and a standby waits for the lease to go stale.
//
// # Requests over NATS and cluster names
//
// The leader also answers the clients' control kinds (status, spawn, ps,
// migrate, checkpoint, restore, down...) on the NATS subjects
// "<name>.api.<kind>" (natsapi.go), so a Client dialed with
// DialConfig.NATS drives the cluster from any machine NATS lets in. Each
// request first reads the lease, and a coordinator that does not hold it
// does not answer. A request nobody received (no leader serving: a
// failover) is sent again until the caller's deadline, and so is one
// left unanswered: a command with the ID of its first copy, which the
// leader runs once (natsdedup.go); a command the leader took but did not
// answer fails with ErrLeaderChanged once the lease changes hands
// (natsclient.go). Config.Name (DefaultName,
// "stackless", gives the buckets of earlier versions) prefixes the
// buckets <name>_ckpt, <name>_manifests, <name>_lease, <name>_journal,
// <name>_members and the subjects (<name>.api.*, <name>.worker.join), so
// clusters share a NATS account (names.go); OpenCheckpointsAt reads a
// named cluster's generations on NATS or in a DIR. JetStream calls run in
// bounded attempts, sent again while a stream elects a new leader after a
// NATS server stopped, and at once when the connection dropped with them
// in flight (natsdrop.go). The manifests and the lease are read from their
// stream's leader (jsleader.go).
//
// # Balancing
//
// Every Config.BalanceEvery the coordinator reads each worker's average
// number of runnable tasklets and steps per second, and when the busiest
// worker has at least two more runnable tasklets than the idlest (seen
// twice in a row, or once when the idlest has nothing runnable) it asks it
// to migrate half the difference there (ipc.Node.Migrate; tasklets from the
// back of its run queue), up to 256 moves in flight at once, for at most
// half a second, after which it answers with what it moved and the next
// rounds move the rest. Workers that just took part sit out one round and
// tasklets do not go back the way they came within 2 s, so the balancer
// does not thrash. Only runnable tasklets move, so a tasklet waiting on an
// effect stays where its call's result comes back.
//
// # Effects
//
// A worker runs the effects (t.Do, tasklet.DoCase) of the tasklets it
// hosts, from WorkerConfig.Effects (default DefaultEffects, filled by
// MustRegisterEffect in init functions like kinds). By default every
// worker journals their results in the cluster's NATS store (a JetStream
// KV bucket the coordinator makes; group-committed; store's entry
// format), each acknowledged before its tasklet sees it: after a rollback
// a re-executed tasklet that asks at the same key for the same effect and
// request gets the journaled result, whichever worker ran the call. So a
// call that completed and was journaled is exactly-once; a call in flight
// at a kill (or pending in the checkpoint and not yet journaled) is issued
// again with its key: at-least-once. The leader trims the journal after
// each checkpoint by the oldest kept generation; Config.JournalBytes
// bounds it (ErrJournalFull); Config.NoJournal, or a worker that joined
// over TCP without WorkerConfig.NATS, makes every effect at-least-once.
// Migrate refuses a tasklet whose call is in flight
// (scheduler.ErrEffectInFlight); a worker that leaves hands it over
// through its checkpoint, the call pending.
//
// # Spawning
//
// Tasklets are started by kind: RegisterSpawner maps a kind name to a
// function that builds the behavior from --arg key=value pairs (ArgInt,
// ArgChan... parse them). A value of @chan makes a new channel on the
// tasklet's worker first and passes its ID. The coordinator runs the same
// program, so it builds the behavior once itself before spawning anything
// and refuses the spawn (ErrNoChannel, naming the argument) when a channel
// ID in the behavior's fields is on no node of the cluster or its worker
// does not hold it. The new tasklets run no step before the checkpoint
// that follows the spawn has stored them; then every worker starts them
// at once, so a job spread over several workers starts evenly.
//
// # Results
//
// A tasklet that holds a result parks itself with t.Pause when done;
// Coordinator.Await and Client.Await wait for that, wherever the tasklet
// has moved and across rollbacks, and return it with its behavior's
// exported fields as JSON (so does Inspect, at any time).
package cluster
