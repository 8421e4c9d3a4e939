package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Spawner builds the behavior of a new tasklet from the --arg k=v pairs of
// `stackless cluster spawn KIND`. It runs on the worker that will host the tasklet.
type Spawner func(args map[string]string) (tasklet.Behavior, error)

// ErrUnknownSpawner is returned for a kind no spawner is registered for.
var ErrUnknownSpawner = errors.New("no spawner registered for this kind")

var spawners = struct {
	sync.RWMutex
	m map[string]Spawner
}{m: map[string]Spawner{}}

// RegisterSpawner makes kind spawnable from the CLI and Client.Spawn. Call it
// at init time in the program that runs both the coordinator and the
// workers (the same binary is re-executed as every worker), next to the
// pickle registration of the behaviors it returns.
func RegisterSpawner(kind string, fn Spawner) error {
	if kind == "" || strings.ContainsAny(kind, " \t\n=") {
		return fmt.Errorf("cluster: register spawner %q: a kind is a non-empty word without spaces or '='", kind)
	}
	if fn == nil {
		return fmt.Errorf("cluster: register spawner %q: nil function", kind)
	}
	spawners.Lock()
	defer spawners.Unlock()
	if _, dup := spawners.m[kind]; dup {
		return fmt.Errorf("cluster: register spawner %q: the kind is registered already", kind)
	}
	spawners.m[kind] = fn
	return nil
}

// MustRegisterSpawner is RegisterSpawner for init functions: it panics on a
// mistake, which only a programming error can cause.
func MustRegisterSpawner(kind string, fn Spawner) {
	if err := RegisterSpawner(kind, fn); err != nil {
		panic(err)
	}
}

// Spawners lists the spawnable kinds, sorted.
func Spawners() []string {
	spawners.RLock()
	defer spawners.RUnlock()
	out := make([]string, 0, len(spawners.m))
	for k := range spawners.m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// build runs the spawner of kind.
func build(kind string, args map[string]string) (tasklet.Behavior, error) {
	spawners.RLock()
	fn := spawners.m[kind]
	spawners.RUnlock()
	if fn == nil {
		return nil, fmt.Errorf("cluster: spawn %q: %w (known: %s); register it with cluster.RegisterSpawner in the program the workers run",
			kind, ErrUnknownSpawner, strings.Join(Spawners(), ", "))
	}
	b, err := fn(args)
	if err != nil {
		return nil, fmt.Errorf("cluster: spawn %q: %w", kind, err)
	}
	if b == nil {
		return nil, fmt.Errorf("cluster: spawn %q: the spawner returned no behavior", kind)
	}
	return b, nil
}

// NewChannelArg is the --arg value that asks the worker to make a channel
// for the tasklet before its spawner runs: `--arg in=@chan` (or @chan:8 for
// a buffered one). The spawner sees the channel's ID in decimal; the spawn
// result lists the channels made, so other tasklets can be given them.
const NewChannelArg = "@chan"

// parseNewChannel reports whether v asks for a new channel, and its capacity.
func parseNewChannel(v string) (capacity int, ok bool, err error) {
	if v != NewChannelArg && !strings.HasPrefix(v, NewChannelArg+":") {
		return 0, false, nil
	}
	if v == NewChannelArg {
		return 0, true, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, NewChannelArg+":"))
	if err != nil || n < 0 || n > 1<<20 {
		return 0, true, fmt.Errorf("%q: the capacity after %s: must be a number from 0 to %d", v, NewChannelArg, 1<<20)
	}
	return n, true, nil
}

// CheckArgs refuses an argument whose key is not one of known, naming the
// known ones: a spawner that calls it first turns a typo (--arg linsk=10)
// into an error instead of a tasklet spawned with the default.
func CheckArgs(args map[string]string, known ...string) error {
	var unknown []string
	for k := range args {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("unknown argument %s: this kind takes %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// ArgString returns args[key], or def when it is absent.
func ArgString(args map[string]string, key, def string) string {
	if v, ok := args[key]; ok {
		return v
	}
	return def
}

// ArgInt parses args[key] as an int, or returns def when it is absent.
func ArgInt(args map[string]string, key string, def int) (int, error) {
	v, ok := args[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("argument %s=%q: not a whole number", key, v)
	}
	return n, nil
}

// ArgUint parses args[key] as a uint64, or returns def when it is absent.
func ArgUint(args map[string]string, key string, def uint64) (uint64, error) {
	v, ok := args[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("argument %s=%q: not a whole number of 0 or more", key, v)
	}
	return n, nil
}

// ArgChan parses args[key] as a channel ID ("ch123" or "123"); it is
// required.
func ArgChan(args map[string]string, key string) (channel.ID, error) {
	v, ok := args[key]
	if !ok {
		return 0, fmt.Errorf("argument %s is missing: give a channel ID (--arg %s=ch123) or %s to make one", key, key, NewChannelArg)
	}
	id, err := ParseChannelID(v)
	if err != nil {
		return 0, fmt.Errorf("argument %s: %w", key, err)
	}
	return id, nil
}

// ParseChannelID parses a channel ID as printed ("ch123") or as a number.
func ParseChannelID(s string) (channel.ID, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "ch"), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a channel ID (ch123 or 123)", s)
	}
	return channel.ID(n), nil
}

// ParseTaskletID parses a tasklet ID as printed ("t123") or as a number.
func ParseTaskletID(s string) (tasklet.ID, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "t"), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a tasklet ID (t123 or 123)", s)
	}
	return tasklet.ID(n), nil
}
