// Package peers compares stackless with plain goroutines and the Go actor
// frameworks users pick today (Hollywood, Proto.Actor) on the same five
// workloads. It is a module of its own so that the library never depends
// on the frameworks; `make bench-peers` runs it at GOMAXPROCS 1 and 2 and
// cmd/peertable prints the medians as a table with the ratios.
//
// Every benchmark is named Benchmark<Workload>/<peer> and reports the
// figure of its workload (see cmd/peertable):
//
//	PingPong             ns/op    op = one message delivered between two actors
//	FanIn                Mmsg/s   1,000 senders to one receiver; op = one message
//	Spawn                ns/op    op = spawn an actor and run it to its exit
//	Skynet               ms       the Skynet tree of 1,111,111 actors, whole
//	SkynetWarm           ms       three trees after one that is not counted
//	SkynetDepthFirst     ms       Skynet, stackless under Go's scheduling rules
//	SkynetHugePages      ms       Skynet after scheduler.ReserveHeap, both peers
//	SkynetWarmHugePages  ms       three trees after one, after ReserveHeap
//	IdleActor            B/actor  live heap and stack per idle actor with its own inbox
//
// Each framework is used as its README shows: actors as structs with a
// Receive method, spawned on one engine / actor system with default
// options, messages sent fire-and-forget (ping-pong replies to the sender).
package peers
