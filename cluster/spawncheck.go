package cluster

// A spawn whose arguments name a channel that does not exist used to
// succeed, and the tasklet failed steps later with the error only in the
// coordinator's log. The coordinator runs the same program as its workers,
// so it builds the behavior once itself before spawning anything (spawners
// only turn arguments into a behavior), finds every channel ID in the
// behavior's exported fields, and asks the worker hosting each channel's
// node whether the channel exists. A bad argument refuses the whole spawn,
// naming the argument and the channel.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// ErrNoChannel is returned by Spawn for an argument naming a channel that no
// worker of the cluster holds.
var ErrNoChannel = errors.New("no such channel in this cluster")

// placeholderChan stands for the channels @chan arguments will make: a
// node number no worker has.
const placeholderChan = channel.ID(0xFFFF<<tasklet.NodeBits | 1)

// checkSpawn builds req's behavior on the coordinator and checks the
// channels it refers to. Kinds this program does not know are left to the
// workers (which refuse them). The caller holds c.op.
func (c *Coordinator) checkSpawn(ctx context.Context, req SpawnRequest) error {
	spawners.RLock()
	known := spawners.m[req.Kind] != nil
	spawners.RUnlock()
	if !known {
		return nil
	}
	args := maps.Clone(req.Args)
	for k, v := range args {
		_, isNew, err := parseNewChannel(v)
		if err != nil {
			return fmt.Errorf("cluster: spawn %q: argument %s: %w", req.Kind, k, err)
		}
		if isNew {
			args[k] = strconv.FormatUint(uint64(placeholderChan), 10)
		}
	}
	b, err := build(req.Kind, args)
	if err != nil {
		return err
	}
	refs := channelRefs(reflect.ValueOf(b), nil, 0)
	c.mu.Lock()
	routes := maps.Clone(c.routes)
	c.mu.Unlock()
	for _, ch := range refs {
		if ch == placeholderChan || ch == 0 {
			continue
		}
		arg := argNaming(req.Args, ch)
		worker, ok := routes[ch.Node()]
		if !ok {
			return fmt.Errorf("cluster: spawn %q: argument %s: channel %v: %w (it would be on node %d; the cluster's nodes are %v): give a channel ID that `stackless cluster spawn` printed, or %s to make one",
				req.Kind, arg, ch, ErrNoChannel, ch.Node(), slices.Sorted(maps.Keys(routes)), NewChannelArg)
		}
		var f found[none]
		if err := call(ctx, c.fc, worker, kindWChan, chanReq{ID: ch}, &f); err != nil {
			return fmt.Errorf("cluster: spawn %q: argument %s: check channel %v on worker %d: %w", req.Kind, arg, ch, worker, err)
		}
		if !f.Found {
			return fmt.Errorf("cluster: spawn %q: argument %s: channel %v: %w (worker %d, which hosts node %d, has no such channel: it was never made, or it was closed and drained)",
				req.Kind, arg, ch, ErrNoChannel, worker, ch.Node())
		}
	}
	return nil
}

// argNaming names the argument whose value is channel ch.
func argNaming(args map[string]string, ch channel.ID) string {
	keys := slices.Sorted(maps.Keys(args))
	for _, k := range keys {
		if id, err := ParseChannelID(args[k]); err == nil && id == ch {
			return k + "=" + args[k]
		}
	}
	return "(a channel field of the behavior)"
}

// maxRefDepth bounds the walk over a behavior's fields.
const maxRefDepth = 8

var chanIDType = reflect.TypeFor[channel.ID]()

// channelRefs appends every channel ID in v's exported fields (through
// pointers, structs, arrays, slices and map values).
func channelRefs(v reflect.Value, out []channel.ID, depth int) []channel.ID {
	if depth > maxRefDepth || !v.IsValid() {
		return out
	}
	if v.Type() == chanIDType {
		return append(out, channel.ID(v.Uint()))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = channelRefs(v.Elem(), out, depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = channelRefs(v.Field(i), out, depth+1)
			}
		}
	case reflect.Array, reflect.Slice:
		for i := range v.Len() {
			out = channelRefs(v.Index(i), out, depth+1)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			out = channelRefs(v.MapIndex(k), out, depth+1)
		}
	}
	return out
}

// chanReq asks a worker whether it holds a channel.
type chanReq struct {
	ID channel.ID `json:"id"`
}

// hasChannel serves kindWChan.
func (w *worker) hasChannel(ctx context.Context, req chanReq) (found[none], error) {
	return doTyped(ctx, w, func() (found[none], error) {
		return found[none]{Found: w.s.Channel(req.ID) != nil}, nil
	})
}
