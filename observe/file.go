package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// FileSource is a checkpoint database or snapshot file, browsed read-only:
// the web form of `stackless inspect`. World returns exactly what
// `stackless inspect FILE --gen N -o json` prints (gen 0: the newest), so
// the page and the command never disagree; the CLI supplies it.
type FileSource interface {
	Path() string
	World(ctx context.Context, gen uint64) (json.RawMessage, error)
}

func (s *Server) fileRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/file", s.guard(false, func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.File == nil {
			fail(w, fmt.Errorf("observe: no checkpoint file here: %w; browse one with `stackless observe FILE.db`", ErrUnsupported))
			return
		}
		var gen uint64
		if g := r.URL.Query().Get("gen"); g != "" {
			var err error
			if gen, err = strconv.ParseUint(g, 10, 64); err != nil {
				http.Error(w, "observe: ?gen= must be a generation number", http.StatusBadRequest)
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		b, err := s.cfg.File.World(ctx, gen)
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
}
