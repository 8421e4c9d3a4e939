package pickle_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

func TestAppendKeys(t *testing.T) {
	prefix := []byte("xy")
	for _, id := range []uint64{0, 1, 255, 1 << 40, ^uint64(0)} {
		assert.Equal(t, append([]byte("xy"), pickle.TaskletKey(tasklet.ID(id))...), pickle.AppendTaskletKey(prefix[:2:2], tasklet.ID(id)))
		assert.Equal(t, append([]byte("xy"), pickle.ChannelKey(channel.ID(id))...), pickle.AppendChannelKey(prefix[:2:2], channel.ID(id)))
	}
}
