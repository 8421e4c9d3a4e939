package ipc

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrRemoteSelect is delivered to a tasklet whose select mixes homes
	// (channels of several nodes, a local channel, or a timeout case) and
	// sends on a remote channel: only receives can be withdrawn safely when
	// another case wins, so such a select is refused.
	ErrRemoteSelect = errors.New("ipc: a select with a send on a remote channel must have all its cases on that channel's node")
	// ErrNoRoute: there is no link to the node a channel or tasklet lives on.
	ErrNoRoute = errors.New("ipc: no link to that node")
	// ErrLinkDown is delivered to tasklets blocked on channels of a node
	// whose link closed, and returned by calls that needed the link.
	ErrLinkDown = errors.New("ipc: link to the node went down")
	// ErrNodeClosed: the node was closed.
	ErrNodeClosed = errors.New("ipc: node closed")
	// ErrAuth: a peer failed the handshake (wrong secret, wrong protocol,
	// not a stackless node, or not the same user).
	ErrAuth = errors.New("ipc: authentication failed")
	// ErrFrameTooLarge: a frame's length is over the link's maximum.
	ErrFrameTooLarge = errors.New("ipc: frame too large")
	// ErrBadFrame: a frame that is not a valid message.
	ErrBadFrame = errors.New("ipc: bad frame")
	// ErrStaleEpoch: a MIGRATE whose epoch is not newer than one this node
	// has already seen for the tasklet; it is refused so that a tasklet
	// never runs twice.
	ErrStaleEpoch = errors.New("ipc: stale migration epoch")
	// ErrMigrating: the tasklet is being moved already.
	ErrMigrating = errors.New("ipc: tasklet is already moving")
	// ErrRefused: the target node refused a migration; the tasklet stays
	// (and keeps running) on the node that tried to move it.
	ErrRefused = errors.New("ipc: migration refused")
	// ErrLinkBusy: a migration was not started because the link to its
	// target already has much queued (see WithMaxQueued); the tasklet
	// stays, and goes on running, where it was.
	ErrLinkBusy = errors.New("ipc: link to the node is busy")
	// ErrNoHandler: a control call named a kind the peer has no handler for.
	ErrNoHandler = errors.New("ipc: no handler for that control kind")
)

// RemoteError is an error returned by a control handler on another node.
type RemoteError struct {
	Node uint16 // the node whose handler failed
	Kind string // the control kind
	Msg  string // the handler's error message
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("ipc: node %d, control %q: %s", e.Node, e.Kind, e.Msg)
}
