package observe

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/tasklet"
)

//go:embed assets
var assets embed.FS

// pages are the paths that serve the single page; its script draws the
// one the path names.
var pages = []string{"/", "/tasklets", "/tasklet", "/channels", "/game", "/file"}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	index, _ := fs.ReadFile(static, "index.html")
	for _, p := range pages {
		pattern := "GET " + p
		if p == "/" {
			pattern += "{$}"
		}
		mux.HandleFunc(pattern, s.guard(false, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(index)
		}))
	}
	files := http.FileServerFS(static)
	mux.HandleFunc("GET /static/", s.guard(false, func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/static", files).ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /api/overview", s.guard(false, s.apiOverview))
	mux.HandleFunc("GET /api/tasklets", s.guard(false, s.apiTasklets))
	mux.HandleFunc("GET /api/tasklet", s.guard(false, s.apiTasklet))
	mux.HandleFunc("GET /api/channels", s.guard(false, s.apiChannels))
	mux.HandleFunc("GET /api/events", s.guard(false, s.hub.serve))
	mux.HandleFunc("/api/act", s.guard(true, s.apiAct))
	s.gameRoutes(mux)
	s.fileRoutes(mux)
	reg := prometheus.NewRegistry()
	if s.cfg.Source != nil {
		reg.MustRegister(&collector{src: s.cfg.Source})
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.HandleFunc("GET /metrics", s.guard(false, metrics.ServeHTTP))
	return mux
}

// timeout bounds every read of a source.
const timeout = 5 * time.Second

// overview is the source's overview, at most half a refresh old, so that
// many pages and a stream share one read.
func (s *Server) overview(ctx context.Context) (*Overview, error) {
	if s.cfg.Source == nil {
		return &Overview{Source: "file", Title: s.cfg.File.Path(), At: time.Now(), Counts: map[string]int{},
			Can: Capabilities{File: true}}, nil
	}
	s.mu.Lock()
	c := s.cache
	s.mu.Unlock()
	if c != nil && time.Since(c.At) < s.cfg.Refresh/2 {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ov, err := s.cfg.Source.Overview(ctx)
	if err != nil {
		return nil, err
	}
	ov.Can.Game, ov.Can.File = s.cfg.Game != nil, s.cfg.File != nil
	s.mu.Lock()
	ov.Events = append(ov.Events, s.evs...)
	slices.SortStableFunc(ov.Events, func(a, b Event) int { return a.At.Compare(b.At) })
	if ov.Events == nil {
		ov.Events = []Event{}
	}
	if ov.Ckpts == nil {
		ov.Ckpts = []Checkpoint{}
	}
	s.cache = ov
	s.mu.Unlock()
	return ov, nil
}

func (s *Server) event(kind, text string) {
	s.mu.Lock()
	s.evs = appendCapped(s.evs, Event{At: time.Now(), Kind: kind, Text: text})
	s.cache = nil
	s.mu.Unlock()
	s.hub.poke()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers with err's text and a status that fits it.
func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNoTasklet), errors.Is(err, cluster.ErrNoTasklet):
		code = http.StatusNotFound
	case errors.Is(err, ErrUnsupported):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotRunning), errors.Is(err, context.DeadlineExceeded):
		code = http.StatusServiceUnavailable
	}
	http.Error(w, err.Error(), code)
}

func (s *Server) apiOverview(w http.ResponseWriter, r *http.Request) {
	ov, err := s.overview(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, ov)
}

// TaskletPage is one page of the filtered tasklets table.
type TaskletPage struct {
	Total   int       `json:"total"`   // live tasklets
	Matched int       `json:"matched"` // of them, those the filter keeps (above the query's After)
	Offset  int       `json:"offset"`
	Rows    []Tasklet `json:"rows"`
	// Window is the deepest Offset+Limit the source pages to (0: any);
	// past it the table pages on from the last row it showed (?after=).
	Window int `json:"window,omitempty"`
}

// maxPage bounds a page of rows, so that 100,000 tasklets never reach the
// browser at once.
const maxPage = 500

func (s *Server) apiTasklets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pq := PageQuery{Text: strings.ToLower(q.Get("q")), State: q.Get("state"), Kind: q.Get("kind"), Node: -1}
	if a := q.Get("after"); a != "" {
		id, err := cluster.ParseTaskletID(a)
		if err != nil {
			http.Error(w, "observe: ?after= must be the ID of a tasklet (t123), the last row of the page before: "+err.Error(), http.StatusBadRequest)
			return
		}
		pq.After = id
	}
	pq.Offset, _ = strconv.Atoi(q.Get("offset"))
	pq.Offset = max(pq.Offset, 0)
	if pq.Limit, _ = strconv.Atoi(q.Get("limit")); pq.Limit <= 0 || pq.Limit > maxPage {
		pq.Limit = 50
	}
	if q.Get("node") != "" {
		if n, err := strconv.Atoi(q.Get("node")); err == nil && n >= 0 {
			pq.Node = n
		} else {
			pq.Node = -2 // no node has it: an empty page
		}
	}
	if ps, ok := s.cfg.Source.(PageSource); ok {
		ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
		defer cancel()
		p, err := ps.Page(ctx, pq)
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, p)
		return
	}
	ov, err := s.overview(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, pageOf(ov.Tasklets, pq))
}

// pageTimeout bounds a page read from a PageSource.
const pageTimeout = 30 * time.Second

// pageOf filters and cuts rows as q says.
func pageOf(rows []Tasklet, q PageQuery) TaskletPage {
	p := TaskletPage{Total: len(rows), Offset: q.Offset, Rows: []Tasklet{}}
	for i := range rows {
		t := &rows[i]
		if (q.State != "" && t.State != q.State) || (q.Kind != "" && t.Kind != q.Kind) || (q.Node != -1 && int(t.Node) != q.Node) {
			continue
		}
		if q.Text != "" && !matches(t, q.Text) {
			continue
		}
		if q.After != 0 && !above(t.ID, q.After) {
			continue
		}
		if p.Matched >= p.Offset && len(p.Rows) < q.Limit {
			p.Rows = append(p.Rows, *t)
		}
		p.Matched++
	}
	return p
}

// above reports whether the row's ID is above after (the rows come in ID
// order, so the page goes on where the one before it ended).
func above(id string, after tasklet.ID) bool {
	n, err := cluster.ParseTaskletID(id)
	return err == nil && n > after
}

// matches reports whether text (lower case) is in one of the row's
// fields, without building a string per row: 100,000 rows are filtered per
// page.
func matches(t *Tasklet, text string) bool {
	return strings.Contains(t.ID, text) || strings.Contains(t.State, text) ||
		strings.Contains(t.Waits, text) || strings.Contains(strings.ToLower(t.Kind), text)
}

func (s *Server) apiTasklet(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Source == nil {
		fail(w, fmt.Errorf("observe: a checkpoint file has no live tasklets: %w; its page is /file", ErrUnsupported))
		return
	}
	id, err := cluster.ParseTaskletID(r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, "observe: ?id=: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	d, err := s.cfg.Source.Tasklet(ctx, id)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, d)
}

// ChannelPage is the busiest channels.
type ChannelPage struct {
	Total int       `json:"total"`
	Rows  []Channel `json:"rows"`
}

func (s *Server) apiChannels(w http.ResponseWriter, r *http.Request) {
	ov, err := s.overview(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	lim, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if lim <= 0 || lim > maxPage {
		lim = 50
	}
	rows := slices.Clone(ov.Channels)
	slices.SortStableFunc(rows, func(a, b Channel) int { return b.busy() - a.busy() })
	p := ChannelPage{Total: len(rows), Rows: rows[:min(lim, len(rows))]}
	if p.Rows == nil {
		p.Rows = []Channel{}
	}
	writeJSON(w, p)
}

// actRequest is the body of POST /api/act.
type actRequest struct {
	Action
	ID string `json:"id"`
}

func (s *Server) apiAct(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Source == nil {
		fail(w, fmt.Errorf("observe: a checkpoint file is read-only: %w", ErrUnsupported))
		return
	}
	var req actRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "observe: the body must be JSON {action, id, to, message}: "+err.Error(), http.StatusBadRequest)
		return
	}
	id, err := cluster.ParseTaskletID(req.ID)
	if err != nil {
		http.Error(w, "observe: id: "+err.Error(), http.StatusBadRequest)
		return
	}
	req.Action.ID = id
	ctx, cancel := context.WithTimeout(r.Context(), 3*timeout)
	defer cancel()
	msg, err := s.cfg.Source.Act(ctx, req.Action)
	if err != nil {
		fail(w, err)
		return
	}
	s.cfg.Log.Info("observer action", "action", req.Kind, "tasklet", id.String(), "result", msg)
	if _, isCluster := s.cfg.Source.(*ClusterSource); !isCluster { // a cluster source records its own
		s.event(req.Kind, msg+" (from the observer)")
	} else {
		s.mu.Lock()
		s.cache = nil
		s.mu.Unlock()
		s.hub.poke()
	}
	writeJSON(w, map[string]string{"result": msg})
}
