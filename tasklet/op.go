package tasklet

import "time"

// Kind says what an [Op] asks for.
type Kind uint8

// Op kinds.
const (
	OpContinue Kind = iota // keep running without a switch (until the timeslice ends)
	OpYield                // go to the back of the run queue
	OpRecv                 // receive from a channel
	OpSend                 // send a value on a channel
	OpSendErr              // send an error: the receiver's step sees it as t.Err()
	OpSelect               // wait for the first ready case
	OpSleep                // wait for a duration on the scheduler's clock
	OpPause                // leave the run queue until someone inserts the tasklet
	OpExit                 // finish
	OpFail                 // finish with an error
)

var kindNames = [...]string{"continue", "yield", "recv", "send", "senderr", "select", "sleep", "pause", "exit", "fail"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "op?"
}

// Op is what a step returns: the suspension it ends in. Build Ops with the
// methods of [T]; the zero Op is Continue.
type Op struct {
	kind Kind
	arg  uint64 // channel ID, or a duration for sleep
	val  any    // value to send, or the error of SendErr and Fail
}

// Kind reports what the Op asks for.
func (o Op) Kind() Kind { return o.kind }

// Chan is the channel of a Recv, Send or SendErr.
func (o Op) Chan() ChanID { return ChanID(o.arg) }

// Value is the value of a Send.
func (o Op) Value() any { return o.val }

// Err is the error of a SendErr or Fail.
func (o Op) Err() error {
	err, _ := o.val.(error)
	return err
}

// Duration is the duration of a Sleep.
func (o Op) Duration() time.Duration { return time.Duration(o.arg) }

// Dir says what a select [Case] does.
type Dir uint8

// Case directions.
const (
	DirRecv    Dir = iota // receive from Chan
	DirSend               // send Value on Chan
	DirTimeout            // fire after Timeout if nothing else is ready
	DirDefault            // fire at once if nothing else is ready
	DirDo                 // run effect Effect with request Value (see [DoCase])
)

// Case is one alternative of a select.
type Case struct {
	Dir     Dir
	Chan    ChanID
	Value   any // the value of a send, the request of an effect
	Timeout time.Duration
	Effect  string // the registered effect a DirDo case runs
}

// RecvCase is a select case that receives from ch.
func RecvCase(ch ChanID) Case { return Case{Dir: DirRecv, Chan: ch} }

// SendCase is a select case that sends v on ch.
func SendCase(ch ChanID, v any) Case { return Case{Dir: DirSend, Chan: ch, Value: v} }

// TimeoutCase is a select case that fires after d if no other case did.
func TimeoutCase(d time.Duration) Case { return Case{Dir: DirTimeout, Timeout: d} }

// DefaultCase is a select case that fires at once when no other case is ready,
// making the select non-blocking.
func DefaultCase() Case { return Case{Dir: DirDefault} }

var dirNames = [...]string{"recv", "send", "timeout", "default", "do"}

func (d Dir) String() string {
	if int(d) < len(dirNames) {
		return dirNames[d]
	}
	return "dir?"
}
