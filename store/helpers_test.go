package store_test

import "github.com/stackless-go/stackless/channel"

func channelID(v uint64) channel.ID { return channel.ID(v) }
