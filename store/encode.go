package store

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// The Checkpointer encodes records straight into segments (no per-record
// slices, no sort, no copy): a world's channels and tasklets each come in ID
// order, and their keys sort by ID within each kind.

// parallelMin is the smallest world whose records are encoded on two
// goroutines; below it a goroutine costs more than it saves.
const parallelMin = 4096

// channelsFirst: channel keys sort before tasklet keys.
var channelsFirst = bytes.Compare(pickle.ChannelKey(0), pickle.TaskletKey(0)) < 0

func putTasklet(tw *pickle.TaskletWriter, sw *segWriter, ts *scheduler.TaskletState) error {
	sw.key = pickle.AppendTaskletKey(sw.key[:0], ts.ID)
	start, err := sw.begin(recData, sw.key)
	if err == nil {
		if sw.buf, err = tw.Append(sw.buf, ts); err != nil {
			return err // names the tasklet
		}
		err = sw.end(recData, start)
	}
	if err != nil {
		return fmt.Errorf("tasklet %v: %w", ts.ID, err)
	}
	return nil
}

func putChannel(reg *pickle.Registry, sw *segWriter, cs *scheduler.ChannelState) error {
	sw.key = pickle.AppendChannelKey(sw.key[:0], cs.ID)
	start, err := sw.begin(recData, sw.key)
	if err == nil {
		if sw.buf, err = reg.AppendChannel(sw.buf, cs); err != nil {
			return err // names the channel
		}
		err = sw.end(recData, start)
	}
	if err != nil {
		return fmt.Errorf("channel %v: %w", cs.ID, err)
	}
	return nil
}

// chunkPages is how many ID pages (up to 256 records each) an encoding
// goroutine takes at a time. Chunks are handed out in key order to
// whichever goroutine is free, so both cores stay busy whatever the records
// cost (a tasklet costs about twice a channel); every chunk ends its last
// segment.
const chunkPages = 8

// chunk is the segments of one chunk, in its writer's buffer.
type chunk []segment

// worldPages is a view's pages in key order: the channels', then the
// tasklets' (or the other way round if tasklet keys sort first).
type worldPages struct {
	v      *scheduler.WorldView
	nt, nc int // pages of tasklets and of channels
}

// put encodes the records of page i through pw.
func (wp *worldPages) put(pw *pageWriter, i int) error {
	switch {
	case channelsFirst && i < wp.nc:
		return pw.rd.Channels(wp.v, i, pw.channel)
	case channelsFirst:
		return pw.rd.Tasklets(wp.v, i-wp.nc, pw.tasklet)
	case i < wp.nt:
		return pw.rd.Tasklets(wp.v, i, pw.tasklet)
	}
	return pw.rd.Channels(wp.v, i-wp.nt, pw.channel)
}

// pageWriter is one encoding goroutine's reader, writer and callbacks.
type pageWriter struct {
	sw      *segWriter
	rd      scheduler.WorldReader
	tasklet func(*scheduler.TaskletState) error
	channel func(*scheduler.ChannelState) error
}

func newPageWriter(reg *pickle.Registry, tw *pickle.TaskletWriter, sw *segWriter) *pageWriter {
	pw := &pageWriter{sw: sw}
	pw.tasklet = func(ts *scheduler.TaskletState) error { return putTasklet(tw, sw, ts) }
	pw.channel = func(cs *scheduler.ChannelState) error { return putChannel(reg, sw, cs) }
	return pw
}

// encodeWorld encodes the world of v (read in place: the scheduler must
// not run until it returns) as a full checkpoint: its header as Meta, its
// records packed into segments, on two goroutines for a big world.
func (c *Checkpointer) encodeWorld(v *scheduler.WorldView) (*batch, error) {
	meta, err := c.reg.DumpHeader(v.Header)
	if err != nil {
		return nil, err
	}
	nt, nc := v.Pages()
	wp := &worldPages{v: v, nt: nt, nc: nc}
	npages := nt + nc

	tasklets, channels := v.Counts()
	workers := 1
	if tasklets+channels >= parallelMin && runtime.GOMAXPROCS(0) > 1 {
		workers = 2
	}
	sizeHint, guessed := c.sizeHint, c.sizeHint == 0
	if guessed {
		// A first checkpoint: a buffer grown by a quarter at a time from
		// nothing allocates five times the world's bytes; a generous
		// guess (a common tasklet record is under 100 bytes) allocates once.
		sizeHint = 128*tasklets + 64*channels
	}
	nchunks := (npages + chunkPages - 1) / chunkPages
	firstChunks := wp.nt / chunkPages // chunks of tasklets only, or of channels only
	if channelsFirst {
		firstChunks = wp.nc / chunkPages
	}
	chunks := make([]chunk, nchunks)
	writers := make([]*segWriter, workers)
	// One save: the goroutines' tasklet writers refuse together a value
	// that tasklets of both hold.
	tws := []*pickle.TaskletWriter{c.reg.TaskletWriter()}
	for len(tws) < workers {
		tws = append(tws, tws[0].Fork())
	}
	errs := make([]error, workers)
	var next atomic.Int64
	encode := func(p int) {
		// Room for 3/4 of the last world: the goroutines rarely split the
		// work more unevenly, so the buffer rarely grows (and copies) while encoding.
		hint := sizeHint
		if workers > 1 {
			hint = hint * 3 / 4
		}
		sw := newSegWriter(c.db.bufs.get(hint), c.db.opts.maxRecord)
		writers[p] = sw
		pw := newPageWriter(c.reg, tws[p], sw)
		for {
			ci := int(next.Add(1) - 1)
			if ci >= nchunks {
				return
			}
			if guessed { // a measured hint needs no room
				region, left := 0, firstChunks-ci
				if ci >= firstChunks {
					region, left = 1, nchunks-ci
				}
				sw.room(left, workers, region)
			}
			from := len(sw.spans)
			sw.last = nil // pages come in key order, and IDs in a page too
			for i := ci * chunkPages; i < min((ci+1)*chunkPages, npages); i++ {
				if errs[p] = wp.put(pw, i); errs[p] != nil {
					next.Store(int64(nchunks)) // stop the other goroutine too
					return
				}
			}
			sw.seal()
			chunks[ci] = sw.appendSegments(make(chunk, 0, len(sw.spans)-from), from, len(sw.spans))
		}
	}
	if workers == 2 {
		done := make(chan struct{})
		go func() { defer close(done); encode(1) }()
		encode(0)
		<-done
	} else {
		encode(0)
	}

	b := &batch{nanos: time.Now().UnixNano(), meta: meta}
	size := 0
	for _, sw := range writers {
		for _, buf := range sw.bufs() {
			b.bufs = append(b.bufs, buf)
			size += len(buf)
		}
		b.h.nrec += sw.h.nrec
		b.h.recBytes += sw.h.recBytes
	}
	if err := errors.Join(errs...); err != nil {
		c.release(b)
		return nil, err
	}
	b.segs = make([]segment, 0, size/segmentTarget+2*nchunks)
	for _, ch := range chunks {
		b.segs = append(b.segs, ch...)
	}
	c.sizeHint = size + size/8
	return b, nil
}

// encodeChanges encodes what changed since the previous checkpoint: the
// changed tasklets and channels and tombstones for the dead ones.
func (c *Checkpointer) encodeChanges(s *scheduler.Scheduler) (*batch, error) {
	ch := s.TakeChanges()
	meta, err := c.reg.DumpHeader(s.WorldHeader())
	if err != nil {
		return nil, err
	}
	// Sized as the last increment: a game's holds its 90 MB world record
	// each time, which grown from nothing was copied twenty times.
	sw := newSegWriter(c.db.bufs.get(c.changesHint), c.db.opts.maxRecord)
	tw := c.reg.TaskletWriter()
	b := &batch{nanos: time.Now().UnixNano(), meta: meta}
	channels := func() error {
		return mergeIDs(ch.Channels, ch.DeadChannels, func(id channel.ID) error {
			cs, err := s.ChannelState(id)
			if err != nil {
				return err
			}
			return putChannel(c.reg, sw, &cs)
		}, func(id channel.ID) error {
			sw.key = pickle.AppendChannelKey(sw.key[:0], id)
			return sw.add(recTombstone, sw.key, nil)
		})
	}
	tasklets := func() error {
		return mergeIDs(ch.Tasklets, ch.DeadTasklets, func(id tasklet.ID) error {
			ts, err := s.TaskletState(id)
			if err != nil {
				return err
			}
			return putTasklet(tw, sw, &ts)
		}, func(id tasklet.ID) error {
			sw.key = pickle.AppendTaskletKey(sw.key[:0], id)
			return sw.add(recTombstone, sw.key, nil)
		})
	}
	first, second := channels, tasklets
	if !channelsFirst {
		first, second = tasklets, channels
	}
	err = first()
	if err == nil {
		err = second()
	}
	b.segs, b.h, b.bufs = sw.segments(nil), sw.h, [][]byte{sw.buf}
	if err != nil {
		c.release(b)
		return nil, err
	}
	c.changesHint = len(sw.buf) + len(sw.buf)/8
	return b, nil
}

// mergeIDs calls rec for every changed ID and del for every dead one, in
// ascending ID order.
func mergeIDs[ID cmp.Ordered](changed, dead []ID, rec, del func(ID) error) error {
	changed, dead = sortedIDs(changed), sortedIDs(dead)
	i, j := 0, 0
	for i < len(changed) || j < len(dead) {
		if j == len(dead) || (i < len(changed) && changed[i] < dead[j]) {
			if err := rec(changed[i]); err != nil {
				return err
			}
			i++
			continue
		}
		if err := del(dead[j]); err != nil {
			return err
		}
		j++
	}
	return nil
}

func sortedIDs[ID cmp.Ordered](ids []ID) []ID {
	if slices.IsSorted(ids) {
		return ids
	}
	return slices.Sorted(slices.Values(ids))
}

// release hands a batch's buffers back to the DB's pool.
func (c *Checkpointer) release(b *batch) {
	for _, buf := range b.bufs {
		c.db.bufs.put(buf)
	}
	b.bufs = nil
}
