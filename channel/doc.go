// Package channel holds the state of stackless channels: FIFO queues of
// blocked senders and receivers, the buffer of a buffered channel, balance,
// preference, schedule-all and close.
//
// A Channel is passive data. The transfer rules (who runs next after a
// rendezvous, what close wakes) are applied by package scheduler, which is
// the only code that moves values and waiters through channels (a host sets
// a channel's preference and schedule-all through Scheduler.Channel); a
// Channel is not safe for use by several goroutines.
//
// Queues hold [Waiter] entries. A waiter whose tasklet has since moved on (its
// select fired on another channel, or it was killed) is stale: the scheduler
// calls ForgetSender or ForgetReceiver to take it out of the balance at once,
// and the entry itself is dropped lazily: when it reaches the head of its
// queue, or when a push compacts a queue that holds more stale entries than
// live ones (a lone receiver in the channel's own slot is dropped at once).
// This keeps select and kill O(1) on every channel involved.
//
// A quiet channel is small: a lone blocked receiver (an actor's idle inbox,
// every other step of a ping-pong) waits in the channel itself, and the
// queues and the buffer are made when a channel first needs them.
package channel
