package cli

import (
	"errors"
	"fmt"
	"sync"

	"github.com/stackless-go/stackless/examples/gameai/game"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

// inspectRegistry is the registry inspect shows worlds with: it knows no
// kinds and no user types, and reads records as large as the largest a
// program of this binary writes (a saved game's world, which at a million
// entities is 90 MB, where pickle's default stops at 16 MiB).
func inspectRegistry() *pickle.Registry {
	r := pickle.NewRegistry()
	r.SetMaxRecord(game.MaxRecord)
	return r
}

// frameRegistries are the registries of the kinds this binary knows:
// pickle.Default (the long task's, the cluster's spawnable kinds and any
// a program embedding the CLI registers) and the game AI's own. inspect
// shows any world by its fields without them; it needs them only to ask a
// straight-line tasklet where it is suspended, which only its Go type can
// say (tasklet.Framer, written by stackless gen).
var frameRegistries = sync.OnceValue(func() []*pickle.Registry {
	regs := []*pickle.Registry{pickle.Default}
	if r, err := game.NewRegistry(); err == nil {
		regs = append(regs, r)
	}
	return regs
})

// framesOf decodes t's record into its behavior, with the first registry
// that knows its kind, and asks it where it is suspended. With no frames
// it says why.
func framesOf(t taskletView) ([]tasklet.Frame, string) {
	if t.raw == nil || t.Problem != "" {
		return nil, ""
	}
	var lastErr error
	for _, reg := range frameRegistries() {
		rec, err := reg.LoadTasklet(t.raw)
		if errors.Is(err, pickle.ErrUnknownKind) {
			continue
		}
		if err != nil {
			lastErr = err
			continue
		}
		f, ok := rec.Behavior.(tasklet.Framer)
		if !ok {
			return nil, "a hand-written behavior: its fields above are its whole continuation"
		}
		if fr := f.Where(); len(fr) > 0 {
			return fr, ""
		}
		return nil, "a straight-line tasklet that has not started or has finished: no frame is suspended"
	}
	if lastErr != nil {
		return nil, fmt.Sprintf("this binary knows kind %s but cannot decode it (%v)", t.Kind, lastErr)
	}
	return nil, fmt.Sprintf("kind %s is not known to this binary, so where it is suspended cannot be shown "+
		"(a program that registers it can embed the CLI: cli.Main)", t.Kind)
}
