package cli

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// The views below are what inspect and checkpoint print; their JSON names
// are part of the CLI's interface: add fields, never rename them.

// worldView is one stored world: a snapshot file or a generation.
type worldView struct {
	File        string        `json:"file"`
	Type        string        `json:"type"`                  // "snapshot" or "store"
	Generations []genView     `json:"generations,omitempty"` // a store's, oldest first
	Gen         uint64        `json:"gen"`                   // the generation shown (0: the store is empty)
	Time        time.Time     `json:"time"`
	Header      *headerView   `json:"header,omitempty"`  // a single-process world's
	Workers     []workerView  `json:"workers,omitempty"` // a cluster checkpoint's worker worlds, instead of header
	Tasklets    []taskletView `json:"tasklets"`
	Channels    []channelView `json:"channels"`

	// What to decode: a big world holds far more records than a table
	// shows, and decoding each into a view costs memory and time, so only
	// the rows printed are decoded (the others are only counted).
	keep int    // tasklets and channels to decode each (0: all)
	only uint64 // decode only this tasklet and no channel (0: any)

	nTasklets, nChannels int // in the world, decoded or not

	// stream: -o json decodes no row while filling; writeWorldJSON walks
	// the world again (walk) and prints each row as fill decodes it.
	stream bool
	walk   walkFunc
	fill   *worldFill
}

type genView struct {
	Gen     uint64    `json:"gen"`
	Base    uint64    `json:"base"` // 0 for a full generation
	Full    bool      `json:"full"`
	Time    time.Time `json:"time"`
	Records int       `json:"records"` // stored in this generation (an incremental holds only what changed)
	Deleted int       `json:"deleted"`
	Bytes   int64     `json:"bytes"`
}

type headerView struct {
	Node        uint16        `json:"node"`
	Clock       time.Duration `json:"clock_ns"`
	Tick        uint32        `json:"tick"`
	Steps       uint64        `json:"steps"`
	NextTasklet uint64        `json:"next_tasklet"`
	NextChannel uint64        `json:"next_channel"`
	RunQueue    []uint64      `json:"run_queue"`
	Timers      []timerView   `json:"timers"`
	Kinds       []kindView    `json:"kinds"`
}

// workerView is one worker's world in a cluster checkpoint.
type workerView struct {
	Node     uint16      `json:"node"`
	Hosts    []uint16    `json:"hosts"` // logical nodes whose tasklets and channels live here
	Header   *headerView `json:"header"`
	Tasklets int         `json:"tasklets"`
	Channels int         `json:"channels"`
}

type timerView struct {
	At      time.Duration `json:"at_ns"`
	Tasklet uint64        `json:"tasklet"`
	Case    int           `json:"case"` // -1: a sleep
}

type kindView struct {
	Name    string `json:"name"`
	Version uint32 `json:"version"`
}

type taskletView struct {
	ID      uint64         `json:"id"`
	Worker  uint16         `json:"worker,omitempty"` // in a cluster checkpoint: the worker holding it
	Kind    string         `json:"kind"`
	Version uint32         `json:"version"`
	State   string         `json:"state"`
	WaitsOn string         `json:"waits_on,omitempty"`
	Cases   []caseView     `json:"cases,omitempty"`
	Steps   uint64         `json:"steps"`
	Value   *valueView     `json:"value,omitempty"` // delivered, not yet seen by a step
	Error   string         `json:"error,omitempty"` // delivered, not yet seen by a step
	Fields  map[string]any `json:"fields,omitempty"`
	Problem string         `json:"decode_error,omitempty"` // the record could not be decoded
	// Frames is where a straight-line tasklet (stackless gen) is
	// suspended, outermost first: filled for --tasklet when this binary
	// knows the kind (see framesOf).
	Frames []tasklet.Frame `json:"frames,omitempty"`
	// FramesNote says why a --tasklet has no frames.
	FramesNote string `json:"frames_note,omitempty"`

	raw []byte // the record, for framesOf
}

type caseView struct {
	Dir     string        `json:"dir"`
	Chan    uint64        `json:"chan,omitempty"`
	Value   *valueView    `json:"value,omitempty"`
	Timeout time.Duration `json:"timeout_ns,omitempty"`
}

type channelView struct {
	ID          uint64       `json:"id"`
	Worker      uint16       `json:"worker,omitempty"` // in a cluster checkpoint: the worker holding it
	Cap         int          `json:"cap"`
	Len         int          `json:"len"`
	Balance     int          `json:"balance"` // blocked senders minus blocked receivers
	Closed      bool         `json:"closed"`
	Preference  int          `json:"preference"`
	ScheduleAll bool         `json:"schedule_all"`
	Buffer      []valueView  `json:"buffer"`
	Senders     []waiterView `json:"senders"`
	Receivers   []waiterView `json:"receivers"`
	Problem     string       `json:"decode_error,omitempty"` // the record could not be decoded
}

type waiterView struct {
	Tasklet uint64     `json:"tasklet"` // 0: a value posted from outside
	Case    int        `json:"case"`
	Value   *valueView `json:"value,omitempty"`
}

// valueView is a value on a channel or in a tasklet: its type (the wire
// name of an unregistered type, else the Go type) and its value.
type valueView struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

func genViews(gens []store.GenInfo) []genView {
	out := make([]genView, len(gens))
	for i, g := range gens {
		out[i] = genView{Gen: g.Gen, Base: g.Base, Full: g.Base == 0, Time: g.Time,
			Records: g.Records, Deleted: g.Deleted, Bytes: g.Bytes}
	}
	return out
}

// fillWorld decodes cp into v with a registry that knows no kinds and no
// user types, as the CLI cannot know a program's. A record that does not
// decode is still listed, with the reason. A cluster checkpoint (a
// generation of a cluster directory) fills one workerView per worker world and tags each tasklet
// and channel with its worker.
func fillWorld(v *worldView, cp *store.Checkpoint) error {
	reg := inspectRegistry()
	v.Gen, v.Time = cp.Gen, cp.Time
	v.Tasklets, v.Channels = []taskletView{}, []channelView{}
	v.nTasklets, v.nChannels = 0, 0
	if cluster.IsCheckpoint(cp.Meta) {
		worlds, err := clusterWorlds(cp)
		if err != nil {
			return err
		}
		for _, w := range worlds {
			nt, nc := v.nTasklets, v.nChannels
			h, err := addWorld(v, reg, cp.Gen, w.meta, w.recs, w.Node)
			if err != nil {
				return fmt.Errorf("worker %d: %w", w.Node, err)
			}
			v.Workers = append(v.Workers, workerView{Node: w.Node, Hosts: w.Hosts, Header: headerOf(h),
				Tasklets: v.nTasklets - nt, Channels: v.nChannels - nc})
		}
		return nil
	}
	h, err := addWorld(v, reg, cp.Gen, cp.Meta, cp.Records, 0)
	if err != nil {
		return err
	}
	v.Header = headerOf(h)
	return nil
}

// clusterWorld is one worker's world of a cluster checkpoint, split.
type clusterWorld struct {
	cluster.StoredWorld
	meta []byte
	recs []store.Record
}

// clusterWorlds splits the worker worlds of a cluster checkpoint.
func clusterWorlds(cp *store.Checkpoint) ([]clusterWorld, error) {
	stored, err := cluster.DecodeCheckpoint(cp)
	if err != nil {
		return nil, fmt.Errorf("generation %d is a cluster checkpoint that does not decode: %w", cp.Gen, err)
	}
	reg := inspectRegistry()
	out := make([]clusterWorld, len(stored))
	for i, w := range stored {
		meta, recs, err := reg.SplitWorld(w.World)
		if err != nil {
			return nil, fmt.Errorf("generation %d: the world of worker %d does not decode: %w", cp.Gen, w.Node, err)
		}
		out[i] = clusterWorld{StoredWorld: w, meta: meta, recs: make([]store.Record, len(recs))}
		for j, r := range recs {
			out[i].recs[j] = store.Record{Key: r.Key, Value: r.Value}
		}
	}
	return out, nil
}

// countRecords counts the tasklets and channels of a generation, and its
// workers for a cluster checkpoint.
func countRecords(cp *store.Checkpoint) (tasklets, channels, workers int, err error) {
	recs := cp.Records
	if cluster.IsCheckpoint(cp.Meta) {
		worlds, err := clusterWorlds(cp)
		if err != nil {
			return 0, 0, 0, err
		}
		recs = nil
		for _, w := range worlds {
			recs = append(recs, w.recs...)
		}
		workers = len(worlds)
	}
	for _, r := range recs {
		if len(r.Key) > 0 && r.Key[0] == 't' {
			tasklets++
		} else {
			channels++
		}
	}
	return tasklets, channels, workers, nil
}

// addWorld appends the tasklets and channels of one world (its header meta
// and records) to v, tagged with worker (0: not a cluster's).
func addWorld(v *worldView, reg *pickle.Registry, gen uint64, meta []byte, recs []store.Record, worker uint16) (*pickle.Header, error) {
	f, h, err := newWorldFill(v, reg, gen, meta, worker)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if err := f.record(rec.Key, rec.Value); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// decodes says whether the tasklet record id is one v shows.
func (v *worldView) decodes(shown *[]taskletView, id uint64) bool {
	if v.only != 0 {
		return id == v.only
	}
	return v.keep == 0 || len(*shown) < v.keep
}

func headerOf(h *pickle.Header) *headerView {
	hv := &headerView{Node: h.Node, Clock: h.Clock, Tick: h.Tick, Steps: h.Steps,
		NextTasklet: h.NextTasklet, NextChannel: h.NextChannel,
		RunQueue: []uint64{}, Timers: []timerView{}, Kinds: []kindView{}}
	for _, id := range h.RunQueue {
		hv.RunQueue = append(hv.RunQueue, uint64(id))
	}
	for _, tm := range h.Timers {
		hv.Timers = append(hv.Timers, timerView{At: tm.At, Tasklet: uint64(tm.Tasklet), Case: tm.Case})
	}
	for _, k := range h.Kinds {
		hv.Kinds = append(hv.Kinds, kindView{Name: k.Name, Version: k.Version})
	}
	return hv
}

func taskletOf(reg *pickle.Registry, id uint64, b []byte, sleeps map[uint64]time.Duration) taskletView {
	rec, err := reg.InspectTasklet(b)
	if err != nil {
		return taskletView{ID: id, Kind: "?", State: "?", Problem: err.Error()}
	}
	tv := taskletView{ID: uint64(rec.ID), Kind: rec.Kind, Version: rec.Version, State: rec.State.String(),
		Steps: rec.Steps, Value: valueOf(rec.Value), Fields: jsonSafe(rec.Fields).(map[string]any)}
	if rec.Err != nil {
		tv.Error = rec.Err.Error()
	}
	for _, c := range rec.Cases {
		tv.Cases = append(tv.Cases, caseView{Dir: dirName(c.Dir), Chan: uint64(c.Chan), Value: valueOf(c.Value), Timeout: c.Timeout})
	}
	switch {
	case rec.State == tasklet.Blocked:
		tv.WaitsOn = waitsOn(rec.Cases, rec.Plain)
	case rec.State == tasklet.Sleeping:
		if at, ok := sleeps[uint64(rec.ID)]; ok {
			tv.WaitsOn = "sleep until " + at.String()
		} else {
			tv.WaitsOn = "sleep"
		}
	}
	return tv
}

func channelOf(reg *pickle.Registry, id uint64, b []byte) channelView {
	cs, err := reg.InspectChannel(b)
	if err != nil {
		return channelView{ID: id, Buffer: []valueView{}, Senders: []waiterView{}, Receivers: []waiterView{}, Problem: err.Error()}
	}
	cv := channelView{ID: uint64(cs.ID), Cap: cs.Cap, Len: len(cs.Buffer), Balance: len(cs.Senders) - len(cs.Receivers),
		Closed: cs.Closed, Preference: cs.Preference, ScheduleAll: cs.ScheduleAll,
		Buffer: make([]valueView, 0, len(cs.Buffer)), Senders: []waiterView{}, Receivers: []waiterView{}}
	for _, x := range cs.Buffer {
		cv.Buffer = append(cv.Buffer, describe(x))
	}
	for _, w := range cs.Senders {
		cv.Senders = append(cv.Senders, waiterView{Tasklet: uint64(w.Tasklet), Case: w.Case, Value: valueOf(w.Value)})
	}
	for _, w := range cs.Receivers {
		cv.Receivers = append(cv.Receivers, waiterView{Tasklet: uint64(w.Tasklet), Case: w.Case})
	}
	return cv
}

func dirName(d tasklet.Dir) string {
	switch d {
	case tasklet.DirRecv:
		return "recv"
	case tasklet.DirSend:
		return "send"
	case tasklet.DirTimeout:
		return "timeout"
	case tasklet.DirDo:
		return "do"
	}
	return "default"
}

// waitsOn says what a blocked tasklet waits for: "recv ch2", "send ch1",
// "select(do longtask.fetch)" or "select(recv ch1, timeout 5ms)".
func waitsOn(cases []tasklet.Case, plain bool) string {
	parts := make([]string, len(cases))
	for i, c := range cases {
		switch c.Dir {
		case tasklet.DirRecv, tasklet.DirSend:
			parts[i] = dirName(c.Dir) + " " + c.Chan.String()
		case tasklet.DirTimeout:
			parts[i] = "timeout " + c.Timeout.String()
		case tasklet.DirDo:
			parts[i] = "do " + c.Effect
		default:
			parts[i] = "default"
		}
	}
	if plain && len(parts) == 1 {
		return parts[0]
	}
	return "select(" + strings.Join(parts, ", ") + ")"
}

// valueOf describes a value that may be absent: nil for none.
func valueOf(x any) *valueView {
	if x == nil {
		return nil
	}
	v := describe(x)
	return &v
}

// describe names a value's type and makes the value printable as JSON.
func describe(x any) valueView {
	switch v := x.(type) {
	case nil:
		return valueView{Type: "nil"}
	case pickle.Opaque:
		return valueView{Type: v.Type, Value: jsonSafe(v.Value)}
	case channel.Bomb: // an error sent on a channel
		return valueView{Type: "error", Value: fmt.Sprint(v.Err)}
	case error:
		return valueView{Type: "error", Value: v.Error()}
	}
	return valueView{Type: fmt.Sprintf("%T", x), Value: jsonSafe(x)}
}

// jsonSafe turns loosely decoded msgpack into values encoding/json takes:
// maps with non-string keys get string keys, and NaN and infinities
// become strings. It changes string-keyed maps and lists in place (x is
// freshly decoded and the caller's alone): a copy doubled the memory of a
// big behavior, such as the game AI's world.
func jsonSafe(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonSafe(e)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonSafe(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = jsonSafe(e)
		}
		return v
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprint(v)
		}
	case float32:
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprint(v)
		}
	case pickle.Opaque:
		return describe(v)
	}
	return x
}

// preview renders values for a table cell, cut to width characters.
func preview(vals []valueView, width int) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = previewValue(v)
	}
	return truncate("["+strings.Join(parts, ", ")+"]", width)
}

func previewValue(v valueView) string {
	if m, ok := v.Value.(map[string]any); ok {
		return pickle.Opaque{Type: v.Type, Value: m}.String()
	}
	if s, ok := v.Value.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v.Value)
}

// truncate cuts s to at most width runes, marking the cut with "...".
func truncate(s string, width int) string {
	r := []rune(s)
	if width <= 3 || len(r) <= width {
		return s
	}
	return string(r[:width-3]) + "..."
}
