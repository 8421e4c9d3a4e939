package pickle

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// AppendTaskletKey appends the record key of a tasklet (see TaskletKey) to
// dst, for encoders that build many keys without allocating each one.
func AppendTaskletKey(dst []byte, id tasklet.ID) []byte { return appendKey(dst, 't', uint64(id)) }

// AppendChannelKey appends the record key of a channel (see ChannelKey) to dst.
func AppendChannelKey(dst []byte, id channel.ID) []byte { return appendKey(dst, 'c', uint64(id)) }
