package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/stackless-go/stackless/scheduler"
)

// DocServer serves the corpus over HTTP, as an outside system the long
// task reads its documents from: GET /doc?seed=S&n=N answers Document(S, N).
// It counts what it serves: requests per document, and the distinct
// Idempotency-Key headers they carried, so a test can tell a document
// fetched twice by two different calls (real repeated work) from one call
// issued again with its key after a crash (which a real service would
// deduplicate).
type DocServer struct {
	URL string // http://127.0.0.1:PORT

	srv *http.Server
	mu  sync.Mutex
	req map[int]int
	key map[int]map[string]bool
}

// StartDocServer serves the corpus on a free port of 127.0.0.1.
func StartDocServer() (*DocServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("longtask: document server: %w", err)
	}
	d := &DocServer{URL: "http://" + ln.Addr().String(), req: map[int]int{}, key: map[int]map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /doc", d.serveDoc)
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = d.srv.Serve(ln) }()
	return d, nil
}

func (d *DocServer) serveDoc(w http.ResponseWriter, r *http.Request) {
	seed, err1 := strconv.ParseUint(r.URL.Query().Get("seed"), 10, 64)
	n, err2 := strconv.Atoi(r.URL.Query().Get("n"))
	if err := errors.Join(err1, err2); err != nil || n < 0 {
		http.Error(w, "want /doc?seed=S&n=N with N >= 0", http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	d.req[n]++
	if d.key[n] == nil {
		d.key[n] = map[string]bool{}
	}
	d.key[n][r.Header.Get("Idempotency-Key")] = true
	d.mu.Unlock()
	_, _ = io.WriteString(w, Document(seed, n))
}

// Served reports, over the documents served: how many documents were
// requested more than once (fetched twice or more), how many requests
// were repeats, and how many of those repeats carried a key already seen
// for the document (a call issued again after a crash).
func (d *DocServer) Served() (docs, twice, repeats, sameKey int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for n, c := range d.req {
		docs++
		if c > 1 {
			twice++
			repeats += c - 1
			sameKey += c - len(d.key[n])
		}
	}
	return docs, twice, repeats, sameKey
}

// Close stops the server.
func (d *DocServer) Close() error { return d.srv.Close() }

// EffectFetch is the effect a Worker fetches a document with.
const EffectFetch = "longtask.fetch"

// DocRequest asks for document N of the corpus of Seed.
type DocRequest struct {
	Seed uint64
	N    int
}

// Effects returns the long task's effects: EffectFetch reads documents
// from the server at base with client, sending the call's idempotency key
// in the Idempotency-Key header.
func Effects(base string, client *http.Client) *scheduler.Effects {
	reg := scheduler.NewEffects()
	err := scheduler.RegisterEffect(reg, EffectFetch, func(ctx context.Context, key scheduler.EffectKey, r DocRequest) (string, error) {
		url := fmt.Sprintf("%s/doc?seed=%d&n=%d", base, r.Seed, r.N)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Idempotency-Key", key.String())
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return "", fmt.Errorf("GET %s: %w", url, err)
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
		}
		return string(body), nil
	}, scheduler.EffectLimit(32))
	if err != nil {
		panic(err) // a fixed name registered once: a bug here, not input
	}
	return reg
}
