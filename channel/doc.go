// Package channel holds the state of stackless channels: FIFO queues of
// blocked senders and receivers, the buffer of a buffered channel, balance,
// preference, schedule-all and close.
//
// A Channel is passive data. The transfer rules (who runs next after a
// rendezvous, what close wakes) are applied by package scheduler, which is
// the only code that mutates channels; a Channel is not safe for use by
// several goroutines.
//
// Queues hold [Waiter] entries. A waiter whose tasklet has since moved on (its
// select fired on another channel, or it was killed) is stale: the scheduler
// calls ForgetSender or ForgetReceiver to take it out of the balance at once, and the entry itself is
// dropped lazily when it reaches the head of its queue. This keeps select and
// kill O(1) on every channel involved.
//
// A quiet channel is small: a lone blocked receiver (an actor's idle inbox,
// every other step of a ping-pong) waits in the channel itself, and the
// queues and the buffer are made when a channel first needs them.
package channel
