package cluster

// The cluster's checkpoints on NATS JetStream: one generation is the world
// of every worker, each an object "g<gen>/w<node>" of the Object Store
// bucket <name>_ckpt, and a manifest "m.<gen>" in the KV bucket
// <name>_manifests (names.go: <name> is the cluster's) that lists them with their sizes and SHA-256 digests. The
// manifest is written only once every object is stored, so a generation
// is all or nothing: a checkpoint that fails half way leaves objects no
// manifest names (swept at the next commit), never half a generation.
// Generation numbers come from a counter key updated by compare-and-set,
// so two writers never take the same number. Replicas: min(3, servers).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stackless-go/stackless/store"
)

const (
	genKey         = "gen" // the last generation number handed out
	manifestPrefix = "m."
	maxReplicas    = 3
)

// jsOpTimeout bounds one JetStream operation that moves no world.
const jsOpTimeout = 30 * time.Second

// genStore holds the generations of a cluster in JetStream.
type genStore struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	kv       jetstream.KeyValue
	obj      jetstream.ObjectStore
	names    natsNames
	keep     int    // generations kept (0: all)
	replicas int    // of every bucket
	where    string // names the store in messages
	close    func()
	damage   func() []string // what the embedded server said of damaged files (nil: an outside server)
	lag      time.Duration   // how long a missing object is asked for again (objectLag; 0 on one server)
}

// openGenStore makes (or opens) the buckets of the default cluster name
// on nc (see openNamedGenStore).
func openGenStore(ctx context.Context, nc *nats.Conn, keep int, where string) (*genStore, error) {
	return openNamedGenStore(ctx, nc, bucketNames(""), keep, where)
}

// openNamedGenStore makes (or opens) the buckets of names on nc. Replicas
// are min(3, the servers nc knows of).
func openNamedGenStore(ctx context.Context, nc *nats.Conn, names natsNames, keep int, where string) (*genStore, error) {
	manifestBucket, ckptBucket := names.Manifests, names.Ckpt
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: JetStream on %s: %w", where, err)
	}
	replicas := min(maxReplicas, max(1, len(nc.Servers())))
	kv, err := ensureKV(ctx, js, jetstream.KeyValueConfig{Bucket: manifestBucket, History: 1,
		Storage: jetstream.FileStorage, Replicas: replicas, Description: "stackless cluster checkpoint manifests"})
	if err != nil {
		return nil, fmt.Errorf("cluster: the manifest bucket %s on %s: %w", manifestBucket, where, err)
	}
	obj, err := ensureObjectStore(ctx, js, jetstream.ObjectStoreConfig{Bucket: ckptBucket,
		Storage: jetstream.FileStorage, Replicas: replicas, Description: "stackless cluster checkpoint worlds"})
	if err != nil {
		return nil, fmt.Errorf("cluster: the checkpoint bucket %s on %s: %w", ckptBucket, where, err)
	}
	kv = readFromLeader(kv, nc) // jsleader.go
	if err := kvReady(ctx, kv); err != nil {
		return nil, fmt.Errorf("cluster: the manifest bucket %s on %s: %w", manifestBucket, where, err)
	}
	return &genStore{nc: nc, js: js, kv: kv, obj: obj, names: names, keep: keep, replicas: replicas, where: where, close: nc.Close, lag: objectLag}, nil
}

// jsAttempt bounds one attempt at a JetStream operation that moves no
// world, objAttempt one that moves a world: a stream whose leader was on a
// server that stopped answers nothing until its others elected a new one
// (seconds), and a request sent meanwhile gets no answer at all, so it is
// sent again rather than waited on.
var (
	jsAttempt  = 5 * time.Second
	objAttempt = 30 * time.Second
)

// retryJS runs op in attempts of at most attempt each, again while it
// fails for a reason that passes (natsTransient) or the connection
// dropped under it (natsdrop.go), until ctx ends.
func retryJS(ctx context.Context, attempt time.Duration, op func(context.Context) error) error {
	_, err := withAttempt(ctx, attempt, func(ctx context.Context) (struct{}, error) { return struct{}{}, op(ctx) })
	return err
}

// withAttempt is retryJS for an op with a result.
// A store that says it broke for good (watchStore) ends the tries at
// once, with its reason.
func withAttempt[T any](ctx context.Context, attempt time.Duration, op func(context.Context) (T, error)) (T, error) {
	check := storeCheck(ctx)
	pause := 50 * time.Millisecond
	for {
		actx, stop := attemptContext(ctx, attempt)
		v, err := op(actx)
		dropped := droppedIn(actx)
		stop()
		if err != nil && check != nil {
			if broken := brokenStore(ctx, check); broken != nil {
				if errors.Is(err, context.Canceled) {
					return v, broken // the watch gave the attempt up: its error says nothing more
				}
				return v, fmt.Errorf("%w (%v)", broken, err)
			}
		}
		if err == nil || ctx.Err() != nil || !(dropped || natsTransient(err)) {
			return v, err
		}
		wait := 50 * time.Millisecond
		if natsBusy(err) { // let the queue drain before sending it all again
			wait, pause = pause, min(2*pause, 2*time.Second)
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
	}
}

// natsBusy reports whether err is a stream refusing writes while its
// ingest queue is full (429 too many requests): it drains as the server
// writes what it holds.
func natsBusy(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.Code == 429
}

// createAttempt bounds one attempt at making a bucket: two processes making
// the same replicated bucket at the same instant can both wait for an
// answer that never comes (seen with nats-server 2.15 on three servers),
// while the bucket is there or made at the next attempt.
var createAttempt = 2 * time.Second

// ensureKV makes (or opens) a KV bucket, in attempts of createAttempt.
func ensureKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return ensure(ctx, func(ctx context.Context) (jetstream.KeyValue, error) { return js.CreateOrUpdateKeyValue(ctx, cfg) })
}

// ensureObjectStore makes (or opens) an Object Store bucket, in attempts
// of createAttempt.
func ensureObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return ensure(ctx, func(ctx context.Context) (jetstream.ObjectStore, error) {
		return js.CreateOrUpdateObjectStore(ctx, cfg)
	})
}

func ensure[B any](ctx context.Context, make func(context.Context) (B, error)) (B, error) {
	return withAttempt(ctx, createAttempt, make)
}

// openExistingGenStore opens the buckets of names on nc as they are
// (for tools): ErrNoCheckpoints when the cluster never stored one there.
func openExistingGenStore(ctx context.Context, nc *nats.Conn, names natsNames, where string) (*genStore, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: JetStream on %s: %w", where, err)
	}
	// Looked up in bounded attempts, as every read of the store: a lookup
	// a server drops is never answered.
	kv, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, names.Manifests) })
	if err == nil {
		kv = readFromLeader(kv, nc)
		err = kvReady(ctx, kv)
	}
	var obj jetstream.ObjectStore
	if err == nil {
		obj, err = withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.ObjectStore, error) { return js.ObjectStore(ctx, names.Ckpt) })
	}
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("%w: no cluster named %q stored checkpoints on %s (no bucket %s or %s); check --name",
			ErrNoCheckpoints, names.Name, where, names.Manifests, names.Ckpt)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: the checkpoint buckets of %s: %w", where, err)
	}
	return &genStore{nc: nc, js: js, kv: kv, obj: obj, names: names, where: where, close: nc.Close, lag: objectLag}, nil
}

// ErrNoCheckpoints is returned when a cluster has no checkpoint buckets on
// the NATS servers named.
var ErrNoCheckpoints = errors.New("cluster: no checkpoints of this cluster here")

// natsTransient reports whether err is NATS not answering for now (no leader
// for a stream yet, a server gone and the client moving to another).
func natsTransient(err error) bool {
	if natsFull(err) || errors.Is(err, ErrStoreBroken) { // a 503 too, but it stays so until something is deleted
		return false
	}
	var api *jetstream.APIError
	if errors.As(err, &api) && api.Code == 503 || natsBusy(err) { // no leader for now; an ingest queue full for now
		return true
	}
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, errLagging) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionReconnecting)
}

// natsFull reports whether err is a stream refusing a message because it
// holds its MaxBytes already.
func natsFull(err error) bool {
	if err == nil {
		return false
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && strings.Contains(api.Description, "maximum bytes") ||
		strings.Contains(err.Error(), "maximum bytes exceeded")
}

// kvReady waits until kv answers reads: a replicated bucket just made
// answers none until its servers elected a leader for it. Each read is a
// bounded attempt: a request sent while the bucket had no leader gets no
// answer at all, and waiting on it took the caller's whole context.
func kvReady(ctx context.Context, kv jetstream.KeyValue) error {
	_, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValueEntry, error) { return kv.Get(ctx, genKey) })
	switch {
	case err == nil || errors.Is(err, jetstream.ErrKeyNotFound):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("no answer from the bucket (%v): %w", err, ctx.Err())
	}
	return err
}

// Where names the store in messages.
func (g *genStore) Where() string { return g.where }

// objectName is the object holding the world of node n in generation gen.
func objectName(gen uint64, n uint16) string { return fmt.Sprintf("g%d/w%d", gen, n) }

func manifestKey(gen uint64) string { return manifestPrefix + strconv.FormatUint(gen, 10) }

// nextGen hands out the next generation number (compare-and-set on genKey).
func (g *genStore) nextGen(ctx context.Context) (uint64, error) {
	return g.setCounter(ctx, func(last uint64) (uint64, bool) { return last + 1, true })
}

// setCounter writes next(last) to the generation counter by
// compare-and-set (last is 0 when there is none), reading it again while
// another writer came between; when next says not to write it returns the
// counter as it is. A Create or Update whose answer was lost comes back as
// a changed counter: a number taken that way is skipped, never shared.
func (g *genStore) setCounter(ctx context.Context, next func(last uint64) (uint64, bool)) (uint64, error) {
	for range 100 {
		var e jetstream.KeyValueEntry
		err := retryJS(ctx, jsAttempt, func(ctx context.Context) (err error) {
			e, err = g.kv.Get(ctx, genKey)
			return err
		})
		var last, rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, err
		default:
			if last, err = strconv.ParseUint(string(e.Value()), 10, 64); err != nil {
				return 0, fmt.Errorf("%w: the generation counter %q in %s is not a number", ErrSnapshot, e.Value(), g.names.Manifests)
			}
			rev = e.Revision()
		}
		v, write := next(last)
		if !write {
			return last, nil
		}
		val := []byte(strconv.FormatUint(v, 10))
		_, err = withAttempt(ctx, jsAttempt, func(ctx context.Context) (uint64, error) {
			if rev == 0 {
				r, err := g.kv.Create(ctx, genKey, val)
				return r, noRoom(err)
			}
			r, err := g.kv.Update(ctx, genKey, val, rev)
			return r, noRoom(err)
		})
		switch {
		case err == nil:
			return v, nil
		case errors.Is(err, ErrStoreBroken):
			return 0, err
		case rev == 0 && !errors.Is(err, jetstream.ErrKeyExists) && !natsTransient(err):
			return 0, err
		}
	}
	return 0, errors.New("the generation counter kept changing under this writer")
}

// save stores s as a new generation (objects first, then the manifest) and
// sets s.Gen and the worlds' digests; then it applies the keep-K
// retention. (In a cluster the workers store their own worlds and the
// coordinator only commits: see coord_objects.go. save writes whole
// generations for the tests.)
func (g *genStore) save(ctx context.Context, s *clusterSnapshot) (uint64, error) {
	if err := s.validate(); err != nil {
		return 0, fmt.Errorf("cluster: save checkpoint to %s: %w", g.where, err)
	}
	gen, err := g.nextGen(ctx)
	if err != nil {
		return 0, fmt.Errorf("cluster: save checkpoint to %s: take a generation number: %w", g.where, err)
	}
	m := manifest{Format: snapshotFormat, Kind: headerKind, Gen: gen, Time: s.Time.UTC(), NextNode: s.NextNode}
	m.Worlds = make([]manifestWorld, len(s.Worlds))
	var wg sync.WaitGroup
	errs := make([]error, len(s.Worlds))
	for i, w := range s.Worlds {
		sum := sha256.Sum256(w.Blob)
		m.Worlds[i] = manifestWorld{Node: w.Node, Hosts: w.Hosts, Object: objectName(gen, w.Node), Size: int64(len(w.Blob)),
			SHA256: hex.EncodeToString(sum[:])}
		s.Worlds[i].SHA256 = m.Worlds[i].SHA256
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := retryJS(ctx, objAttempt, func(ctx context.Context) error {
				_, err := g.obj.PutBytes(ctx, m.Worlds[i].Object, w.Blob)
				return noRoom(err)
			}); err != nil {
				errs[i] = fmt.Errorf("world of node %d: %w", w.Node, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		g.dropObjects(m.Worlds)
		return 0, fmt.Errorf("cluster: save generation %d to %s (not committed): %w", gen, g.where, err)
	}
	if err := g.commit(ctx, &m); err != nil {
		return 0, err
	}
	s.Gen = gen
	return gen, g.retainAfter(ctx, gen)
}

// commit writes the manifest m of a generation whose every object is
// stored, which makes the generation exist. On failure the objects are
// removed: the generation stays as if never begun.
func (g *genStore) commit(ctx context.Context, m *manifest) error {
	b, err := m.encode()
	if err != nil {
		g.dropObjects(m.Worlds)
		return fmt.Errorf("cluster: save generation %d: %w", m.Gen, err)
	}
	if err := retryJS(ctx, jsAttempt, func(ctx context.Context) error {
		_, err := g.kv.Create(ctx, manifestKey(m.Gen), b)
		if errors.Is(err, jetstream.ErrKeyExists) {
			// An earlier attempt's answer was lost: it is committed if
			// the stored manifest is this one (the number is this writer's).
			if e, gerr := g.kv.Get(ctx, manifestKey(m.Gen)); gerr == nil && bytes.Equal(e.Value(), b) {
				return nil
			}
		}
		return noRoom(err)
	}); err != nil {
		g.dropObjects(m.Worlds)
		return fmt.Errorf("cluster: commit generation %d to %s: %w", m.Gen, g.where, err)
	}
	return nil
}

// retainAfter applies the keep-K retention once generation gen is
// committed; a failure is errRetention (the generation stands).
func (g *genStore) retainAfter(ctx context.Context, gen uint64) error {
	if err := g.retain(ctx, gen); err != nil {
		// The generation is committed; an old one left over is no fault.
		return fmt.Errorf("%w: generation %d is committed, but the retention failed: %w", errRetention, gen, err)
	}
	return nil
}

// errRetention marks a save whose generation is stored but whose clean-up
// failed.
var errRetention = errors.New("cluster: checkpoint retention")

// dropObjects deletes the objects of an uncommitted generation.
func (g *genStore) dropObjects(ws []manifestWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), jsOpTimeout)
	defer cancel()
	for _, w := range ws {
		_ = g.deleteObject(ctx, w.Object)
	}
}

// gens lists the committed generation numbers, oldest first. The listing
// comes from a consumer that any replica may serve, so it may lack the
// newest commits; the generations above its newest, up to the counter,
// are asked of the stream's leader (jsleader.go), so the newest generation
// committed is always in the list.
func (g *genStore) gens(ctx context.Context) ([]uint64, error) {
	var out []uint64
	err := retryJS(ctx, jsAttempt, func(ctx context.Context) error {
		out = out[:0]
		kl, err := g.kv.ListKeysFiltered(ctx, manifestPrefix+">")
		if err != nil {
			return err
		}
		defer func() { _ = kl.Stop() }()
		for k := range kl.Keys() {
			if n, err := strconv.ParseUint(strings.TrimPrefix(k, manifestPrefix), 10, 64); err == nil && n > 0 {
				out = append(out, n)
			}
		}
		return ctx.Err() // the listing ends early when ctx does
	})
	if err == nil {
		slices.Sort(out)
		out, err = g.newerGens(ctx, out)
	}
	if err != nil {
		return nil, g.noted(fmt.Errorf("cluster: list the generations in %s: %w", g.where, err))
	}
	return out, nil
}

// noted adds to err what the embedded server said about damaged files, if
// it said anything: a read it cannot answer (a record whose checksum
// fails) otherwise only times out.
func (g *genStore) noted(err error) error {
	if g.damage == nil {
		return err
	}
	if lines := g.damage(); len(lines) > 0 {
		return fmt.Errorf("%w; the NATS server reported: %s (a damaged file of the store?)", err, telling(lines))
	}
	return err
}

// retain deletes the generations older than the newest keep ones, and
// objects of generations below newest that no manifest names (left by a
// checkpoint that failed).
func (g *genStore) retain(ctx context.Context, newest uint64) error {
	gens, err := g.gens(ctx)
	if err != nil {
		return err
	}
	var errs []error
	if g.keep > 0 && len(gens) > g.keep {
		for _, gen := range gens[:len(gens)-g.keep] {
			if err := g.delete(ctx, gen); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
			}
		}
		gens = gens[len(gens)-g.keep:]
	}
	infos, err := g.listObjects(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, o := range infos {
		gen, ok := objectGen(o.Name)
		if ok && gen < newest && !slices.Contains(gens, gen) {
			if err := g.deleteObject(ctx, o.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// objectGen is the generation of an object name "g<gen>/w<node>".
func objectGen(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, "g")
	if !ok {
		return 0, false
	}
	s, _, ok = strings.Cut(s, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// delete removes generation gen: its manifest first (so a crash half way
// leaves no half generation), then its objects.
func (g *genStore) delete(ctx context.Context, gen uint64) error {
	e, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValueEntry, error) { return g.kv.Get(ctx, manifestKey(gen)) })
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: generation %d is not in %s", store.ErrNotFound, gen, g.where)
	}
	if err != nil {
		return fmt.Errorf("cluster: delete generation %d from %s: %w", gen, g.where, err)
	}
	// A purge is the same done twice: one never answered is sent again.
	if err := retryJS(ctx, jsAttempt, func(ctx context.Context) error { return g.kv.Purge(ctx, manifestKey(gen)) }); err != nil {
		return fmt.Errorf("cluster: delete generation %d from %s: %w", gen, g.where, err)
	}
	names := []string{}
	if m, err := decodeManifest(e.Value()); err == nil {
		for _, w := range m.Worlds {
			names = append(names, w.Object)
		}
	} else if infos, err := g.listObjects(ctx); err == nil {
		for _, o := range infos {
			if og, ok := objectGen(o.Name); ok && og == gen {
				names = append(names, o.Name)
			}
		}
	}
	var errs []error
	for _, n := range names {
		if err := g.deleteObject(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster: generation %d is deleted from %s, but some of its objects are left: %w", gen, g.where, err)
	}
	return nil
}

// manifestOf reads and checks the manifest of generation gen.
func (g *genStore) manifestOf(ctx context.Context, gen uint64) (*manifest, error) {
	var e jetstream.KeyValueEntry
	err := retryJS(ctx, jsAttempt, func(ctx context.Context) (err error) {
		e, err = g.kv.Get(ctx, manifestKey(gen))
		return err
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: generation %d is not in %s", store.ErrNotFound, gen, g.where)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: read the manifest of generation %d from %s: %w", gen, g.where, err)
	}
	m, err := decodeManifest(e.Value())
	if err == nil && m.Gen != gen {
		err = fmt.Errorf("%w: the manifest says generation %d", ErrSnapshot, m.Gen)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: generation %d in %s: manifest: %w", gen, g.where, err)
	}
	return m, nil
}

// load reads generation gen (0: the newest): its manifest and every world,
// each checked against the manifest's size and digest.
func (g *genStore) load(ctx context.Context, gen uint64) (*clusterSnapshot, error) {
	if gen == 0 {
		gens, err := g.gens(ctx)
		if err != nil {
			return nil, err
		}
		if len(gens) == 0 {
			return nil, fmt.Errorf("cluster: %s: %w", g.where, store.ErrEmpty)
		}
		gen = gens[len(gens)-1]
	}
	m, err := g.manifestOf(ctx, gen)
	if err != nil {
		return nil, err
	}
	s := &clusterSnapshot{Gen: gen, Time: m.Time, NextNode: m.NextNode, Worlds: make([]storedWorld, len(m.Worlds))}
	// The worlds are read at once: a restore waits for all of them.
	errs := make([]error, len(m.Worlds))
	var wg sync.WaitGroup
	for i, w := range m.Worlds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var blob []byte
			lagging := time.Now().Add(g.lag)
			err := retryJS(ctx, objAttempt, func(ctx context.Context) (err error) {
				blob, err = g.obj.GetBytes(ctx, w.Object)
				if errors.Is(err, jetstream.ErrObjectNotFound) && time.Now().Before(lagging) {
					return fmt.Errorf("%w: %w", errLagging, err)
				}
				return err
			})
			if err == nil {
				err = w.check(blob)
			}
			if err != nil {
				if !errors.Is(err, ErrSnapshot) && (errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrDigestMismatch)) {
					err = fmt.Errorf("%w: %w", ErrSnapshot, err)
				}
				errs[i] = fmt.Errorf("cluster: generation %d in %s: the world of node %d (object %s): %w", gen, g.where, w.Node, w.Object, err)
				return
			}
			s.Worlds[i] = storedWorld{Node: w.Node, Hosts: w.Hosts, Blob: blob, SHA256: w.SHA256}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first world's, in node order
		}
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("cluster: generation %d in %s: %w", gen, g.where, err)
	}
	return s, nil
}

// loadNewest loads the newest generation that loads; each newer one that
// does not is reported through skip (generation, why) and passed over.
// With none stored it returns store.ErrEmpty; with none loadable, the
// newest one's error.
func (g *genStore) loadNewest(ctx context.Context, skip func(uint64, error)) (*clusterSnapshot, error) {
	gens, err := g.gens(ctx)
	if err != nil {
		return nil, err
	}
	if len(gens) == 0 {
		return nil, fmt.Errorf("cluster: %s: %w", g.where, store.ErrEmpty)
	}
	var first error
	for i := len(gens) - 1; i >= 0; i-- {
		s, err := g.load(ctx, gens[i])
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, ErrSnapshot) && !errors.Is(err, store.ErrNotFound) {
			return nil, err // the store, not the generation, failed
		}
		if errors.Is(err, store.ErrVersion) {
			return nil, fmt.Errorf("%w; no older generation is resumed in its place", err)
		}
		if first == nil {
			first = err
		}
		skip(gens[i], err)
	}
	return nil, fmt.Errorf("%w; no stored generation loads", first)
}
