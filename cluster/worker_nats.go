package cluster

// A worker's connection to the cluster's NATS servers: the outside servers
// of --nats URL --creds FILE when given, else the embedded server of the
// local coordinator (DIR/nats.url, with the cluster's seed DIR/nats.seed).
// A new coordinator that adopts the worker runs its embedded server on
// another port, so the connection re-reads DIR/nats.url at each
// reconnect. A worker that joined over TCP without --nats has no
// connection (nil, nil).
//
// Workers use it for the effect journal, to register themselves
// (members.go), and to write their worlds to the checkpoint Object Store
// at a checkpoint and read them back at a restore, so the worlds never
// travel through the coordinator.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stackless-go/stackless/internal/fsmode"
)

// dialWorkerNATS connects the worker to the cluster's NATS servers; it
// returns nil, nil when the worker has none to reach.
func dialWorkerNATS(cfg *WorkerConfig) (*nats.Conn, error) {
	name := fmt.Sprintf("stackless worker %d", cfg.Node)
	switch {
	case cfg.NATS != "":
		return connectOutside(cfg.NATS, cfg.Creds, name)
	case cfg.Join != "" || cfg.Dir == "":
		return nil, nil
	}
	l := dirLayout{cfg.Dir}
	kp, err := loadSeed(l.NATSSeed())
	if err != nil {
		return nil, err
	}
	pub, _ := kp.PublicKey()
	url, err := readNATSURL(l)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, nats.Nkey(pub, kp.Sign), nats.Name(name), nats.Timeout(5*time.Second),
		nats.SetCustomDialer(urlFileDialer{l}), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.DontRandomize(), nats.IgnoreDiscoveredServers())
	if err != nil {
		return nil, fmt.Errorf("cluster: worker %d: connect to the NATS server of the coordinator of %s at %s: %w", cfg.Node, cfg.Dir, url, err)
	}
	return nc, nil
}

// readNATSURL is where the coordinator's embedded server listens now.
func readNATSURL(l dirLayout) (string, error) {
	b, err := fsmode.ReadSmall(l.NATSURL(), "a NATS URL", maxURLFile)
	if err != nil {
		return "", fmt.Errorf("cluster: where the coordinator's NATS server listens (%s): %w; is `stackless cluster up` running on %s?", l.NATSURL(), err, l.Dir)
	}
	return strings.TrimSpace(string(b)), nil
}

// urlFileDialer dials the address in DIR/nats.url, whatever address the
// client asks for: the embedded server moves when a coordinator takes over.
type urlFileDialer struct{ l dirLayout }

func (d urlFileDialer) Dial(network, address string) (net.Conn, error) {
	if url, err := readNATSURL(d.l); err == nil {
		if _, hostPort, ok := strings.Cut(url, "://"); ok {
			address = hostPort
		}
	}
	return (&net.Dialer{Timeout: 5 * time.Second}).Dial(network, address)
}

// errCreds marks a credentials file that cannot be used (missing, open to
// others, not credentials): no retry heals it.
var errCreds = errors.New("cluster: NATS credentials")

// checkCreds reads the credentials file path ("" is none): a .creds file
// or an nkey seed (0600).
func checkCreds(path string) error {
	if path == "" {
		return nil
	}
	b, err := readCreds(path)
	if err != nil {
		return credsError{err}
	}
	if bytes.Contains(b, []byte("BEGIN NATS USER JWT")) {
		return nil
	}
	if _, err := loadSeed(path); err != nil {
		return credsError{err} // it names the file and the fault
	}
	return nil
}

// credsError is errCreds with the message of its cause.
type credsError struct{ error }

func (e credsError) Is(target error) bool { return target == errCreds }
func (e credsError) Unwrap() error        { return e.error }

// workerNATS is a worker's lazily (re)dialed NATS connection and the
// JetStream handles on it.
type workerNATS struct {
	cfg WorkerConfig // NATS and Creds may be filled in by the join, before the first dial
	// names are the cluster's buckets and subjects: those of cfg.Name
	// until the join answer names the buckets (a local worker is given
	// no name; it learns them there).
	names natsNames

	mu  sync.Mutex
	nc  *nats.Conn
	js  jetstream.JetStream
	obj jetstream.ObjectStore
}

// conn returns a connected JetStream context, dialing again when the
// connection is gone or still reconnecting.
func (wn *workerNATS) conn() (*nats.Conn, jetstream.JetStream, error) {
	wn.mu.Lock()
	defer wn.mu.Unlock()
	if wn.nc != nil && wn.nc.IsConnected() {
		return wn.nc, wn.js, nil
	}
	if wn.nc != nil {
		wn.nc.Close()
		wn.nc, wn.js, wn.obj = nil, nil, nil
	}
	if err := checkCreds(wn.cfg.Creds); err != nil {
		return nil, nil, err
	}
	nc, err := dialWorkerNATS(&wn.cfg)
	if err != nil {
		return nil, nil, err
	}
	if nc == nil {
		return nil, nil, errors.New("cluster: worker: no NATS servers to reach: give --nats URL --creds FILE")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("cluster: worker: JetStream: %w", err)
	}
	wn.nc, wn.js = nc, js
	return nc, js, nil
}

// store returns the checkpoint Object Store.
func (wn *workerNATS) store(ctx context.Context) (jetstream.ObjectStore, error) {
	_, js, err := wn.conn()
	if err != nil {
		return nil, err
	}
	wn.mu.Lock()
	obj := wn.obj
	wn.mu.Unlock()
	if obj != nil {
		return obj, nil
	}
	bucket := wn.bucketNames().Ckpt
	obj, err = withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.ObjectStore, error) { return js.ObjectStore(ctx, bucket) })
	if err != nil {
		return nil, fmt.Errorf("cluster: worker: the checkpoint bucket %s: %w", bucket, err)
	}
	wn.mu.Lock()
	wn.obj = obj
	wn.mu.Unlock()
	return obj, nil
}

// bucketNames are the cluster's buckets and subjects as this worker knows
// them now.
func (wn *workerNATS) bucketNames() natsNames {
	wn.mu.Lock()
	defer wn.mu.Unlock()
	return wn.names
}

// learnNames takes the bucket names of a join answer (those a coordinator
// of an earlier version leaves out stay as they were).
func (wn *workerNATS) learnNames(jr joinResp) {
	wn.mu.Lock()
	defer wn.mu.Unlock()
	if jr.CkptBucket != "" {
		wn.names.Ckpt = jr.CkptBucket
	}
	if jr.MembersBucket != "" {
		wn.names.Members = jr.MembersBucket
	}
	if jr.JournalBucket != "" {
		wn.names.Journal = jr.JournalBucket
	}
}

// close closes the connection.
func (wn *workerNATS) close() {
	wn.mu.Lock()
	defer wn.mu.Unlock()
	if wn.nc != nil {
		wn.nc.Close()
		wn.nc, wn.js, wn.obj = nil, nil, nil
	}
}

// putWorld stores blob as object name and describes it for the manifest.
// Like the coordinator's calls (retryJS), it asks again while NATS fails
// over, dialing again when its server is gone.
func (wn *workerNATS) putWorld(ctx context.Context, name string, blob []byte) (worldPart, error) {
	if putFault != nil {
		if err := putFault(name); err != nil {
			return worldPart{}, fmt.Errorf("store object %s: %w", name, err)
		}
	}
	if err := retryJS(ctx, objAttempt, func(ctx context.Context) error {
		obj, err := wn.store(ctx)
		if err != nil {
			return err
		}
		_, err = obj.PutBytes(ctx, name, blob)
		return noRoom(err)
	}); err != nil {
		return worldPart{}, fmt.Errorf("store object %s (%d bytes): %w", name, len(blob), err)
	}
	sum := sha256.Sum256(blob)
	return worldPart{Object: name, Size: int64(len(blob)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// getWorld reads object part.Object and checks its size and digest.
func (wn *workerNATS) getWorld(ctx context.Context, part worldPart) ([]byte, error) {
	var blob []byte
	if err := retryJS(ctx, objAttempt, func(ctx context.Context) error {
		obj, err := wn.store(ctx)
		if err != nil {
			return err
		}
		blob, err = obj.GetBytes(ctx, part.Object)
		return err
	}); err != nil {
		return nil, fmt.Errorf("read object %s: %w", part.Object, err)
	}
	if err := (manifestWorld{Object: part.Object, Size: part.Size, SHA256: part.SHA256}).check(blob); err != nil {
		return nil, fmt.Errorf("object %s: %w", part.Object, err)
	}
	return blob, nil
}

// putFault, set by tests only, makes putWorld fail (a worker that cannot
// store its world: the checkpoint must not be committed).
var putFault func(name string) error

// worldPart is one world in the Object Store: where, how big, its digest.
type worldPart struct {
	Object string `json:"object"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// register puts this worker's entry in the members bucket (state ready,
// where peers reach it) and keeps it alive.
func (w *worker) register(ctx context.Context, rr readyReq) error {
	m := member{ID: w.memberID, Node: w.node, Pid: rr.Pid, Host: rr.Host, HostID: rr.HostID, Unix: rr.Unix, TCP: rr.TCP,
		Marker: rr.Marker, State: memberReady}
	r, err := register(ctx, w.nats, m, func(err error) {
		w.log.Warn("cluster: worker: could not renew its entry in the members bucket; trying again", "err", err)
	})
	if err != nil {
		return fmt.Errorf("cluster: worker %d: %w", w.node, err)
	}
	w.member = r
	return nil
}

// leaderWait bounds how long a worker that joined over NATS waits for the
// leader to link to it once it said it is ready.
const leaderWait = 30 * time.Second

// awaitLeader registers a worker that joined over NATS as ready and waits
// until the leader has linked to it (the coordinator's link).
func (w *worker) awaitLeader(ctx context.Context, rr readyReq) error {
	if err := w.register(ctx, rr); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	if err := w.n.WaitPeer(wctx, coordNode); err != nil {
		return fmt.Errorf("cluster: worker %d: registered in %s as ready at %s, but no coordinator linked to it within %v (can the leader reach that address? give --advertise HOST:PORT): %w",
			w.node, w.nats.bucketNames().Members, peerAddr{Unix: rr.Unix, HostID: rr.HostID, TCP: rr.TCP}, leaderWait, err)
	}
	return nil
}
