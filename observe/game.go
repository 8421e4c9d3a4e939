package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Game is a game loop the game page draws and drives (`demo gameai
// --http`). The observer knows no game: the program supplies the picture
// (its own renderer, so the colours are those of its PNGs), the entity
// under a click and the controls.
type Game interface {
	// State is the loop's state, for the page's status line.
	State(ctx context.Context) (GameState, error)
	// Frame is the world drawn as a size x size PNG.
	Frame(ctx context.Context, size int) ([]byte, error)
	// Entity is the entity nearest to (x, y), both 0 to 1 across the world.
	Entity(ctx context.Context, x, y float64) (*Entity, error)
	// Control pauses, resumes, steps one tick, saves or loads, and says
	// what it did.
	Control(ctx context.Context, cmd string) (string, error)
}

// GameState is the game loop's state.
type GameState struct {
	Tick     int64    `json:"tick"`
	Paused   bool     `json:"paused"`
	Entities int      `json:"entities"`
	Stats    string   `json:"stats"`
	SaveFile string   `json:"save_file,omitempty"`
	Saved    uint64   `json:"saved_generation,omitempty"`
	Legend   []Legend `json:"legend"`
}

// Legend names a colour of the picture.
type Legend struct {
	Colour string `json:"colour"` // #rrggbb
	Means  string `json:"means"`
}

// Entity is what a click on the world shows.
type Entity struct {
	Slot    int             `json:"slot"`
	Kind    string          `json:"kind"`
	State   string          `json:"state"`
	X       float64         `json:"x"` // 0 to 1
	Y       float64         `json:"y"`
	Tasklet string          `json:"tasklet,omitempty"`
	Fields  json.RawMessage `json:"fields,omitempty"`
}

// GameControls are the commands Control takes.
var GameControls = []string{"pause", "resume", "step", "save", "load"}

func (s *Server) gameRoutes(mux *http.ServeMux) {
	g := s.cfg.Game
	none := func(w http.ResponseWriter, _ *http.Request) {
		fail(w, fmt.Errorf("observe: no game here: %w; start one with `stackless demo gameai --http 127.0.0.1:8080`", ErrUnsupported))
	}
	if g == nil {
		mux.HandleFunc("GET /api/game", s.guard(false, none))
		mux.HandleFunc("GET /api/game/frame.png", s.guard(false, none))
		mux.HandleFunc("GET /api/game/entity", s.guard(false, none))
		mux.HandleFunc("/api/game/control", s.guard(true, none))
		return
	}
	mux.HandleFunc("GET /api/game", s.guard(false, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		st, err := g.State(ctx)
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, st)
	}))
	mux.HandleFunc("GET /api/game/frame.png", s.guard(false, func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		if size < 16 || size > 2048 {
			size = 512
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		b, err := g.Frame(ctx, size)
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
	}))
	mux.HandleFunc("GET /api/game/entity", s.guard(false, func(w http.ResponseWriter, r *http.Request) {
		x, errx := strconv.ParseFloat(r.URL.Query().Get("x"), 64)
		y, erry := strconv.ParseFloat(r.URL.Query().Get("y"), 64)
		if errx != nil || erry != nil || x < 0 || x > 1 || y < 0 || y > 1 {
			http.Error(w, "observe: ?x=&y= must be numbers from 0 to 1 (the click's place across the world)", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		e, err := g.Entity(ctx, x, y)
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, e)
	}))
	mux.HandleFunc("/api/game/control", s.guard(true, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Cmd string `json:"cmd"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
			http.Error(w, "observe: the body must be JSON {cmd}: "+err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 6*timeout)
		defer cancel()
		msg, err := g.Control(ctx, req.Cmd)
		if err != nil {
			fail(w, err)
			return
		}
		s.cfg.Log.Info("observer game control", "cmd", req.Cmd, "result", msg)
		s.event("game", msg)
		writeJSON(w, map[string]string{"result": msg})
	}))
}
