package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// PidAlive lets the process-level tests tell a running process from one
// that exited (a zombie nobody reaped counts as gone).
var PidAlive = pidAlive

// withStoppedGens calls f with the generation store of the stopped
// cluster in dir, through an embedded NATS server started on its folder.
func withStoppedGens(ctx context.Context, dir string, f func(gs *genStore) error) error {
	e, err := startNATS(dirLayout{dir}, false)
	if err != nil {
		return err
	}
	defer e.close()
	nc, err := e.connect("test")
	if err != nil {
		return err
	}
	defer nc.Close()
	gs, err := openGenStore(ctx, nc, 0, "test")
	if err != nil {
		return err
	}
	return f(gs)
}

// DamageGeneration spoils generation gen of the stopped cluster in dir:
// with node 0 its manifest, otherwise the object of node's world.
func DamageGeneration(ctx context.Context, dir string, gen uint64, node uint16) error {
	return withStoppedGens(ctx, dir, func(gs *genStore) error {
		if node == 0 {
			_, err := gs.kv.Put(ctx, manifestKey(gen), []byte(`{"format":1,"kind":"stackless-cluster","ge`))
			return err
		}
		_, err := gs.obj.PutBytes(ctx, objectName(gen, node), []byte("not the world that was stored"))
		return err
	})
}

// SetManifestFormat rewrites the format of generation gen's manifest in
// the stopped cluster in dir, as a build with another format would write it.
func SetManifestFormat(ctx context.Context, dir string, gen uint64, format int) error {
	return withStoppedGens(ctx, dir, func(gs *genStore) error {
		m, err := gs.manifestOf(ctx, gen)
		if err != nil {
			return err
		}
		m.Format = format
		b, err := m.encode()
		if err != nil {
			return err
		}
		_, err = gs.kv.Put(ctx, manifestKey(gen), b)
		return err
	})
}

// StartNATSCluster runs n clustered NATS servers with JetStream on
// loopback (each its own store folder) for the test: their URLs joined
// by commas, the nkey seed file they let in, and a function that stops
// server i.
func StartNATSCluster(t testing.TB, n int) (urls, seed string, stop func(i int)) {
	c := startNATSCluster(t, n)
	return strings.Join(c.urls, ","), c.seed, func(i int) {
		c.srvs[i].Shutdown()
		c.srvs[i].WaitForShutdown()
	}
}

// StartOutsideNATS runs one NATS server with JetStream on loopback, as a
// cluster's outside server (Config.NATS): its URL and the seed file it
// lets in.
func StartOutsideNATS(t testing.TB) (url, seed string) {
	l := dirLayout{t.TempDir()}
	e, err := startNATS(l, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e.url, l.NATSSeed()
}

// StartSmallNATS is StartOutsideNATS with a store of maxStore bytes.
var StartSmallNATS = startSmallNATS

// FillNATS fills the store of the NATS server at url until it refuses
// more, and returns the function that makes room again.
func FillNATS(t testing.TB, url, seed string) (free func()) {
	nc, err := connectOutside(url, seed, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return fillNATS(t, nc)
}

// DamageNATSGeneration is DamageGeneration for the cluster named name on
// the NATS servers urls (credentials seed).
func DamageNATSGeneration(ctx context.Context, urls, seed, name string, gen uint64, node uint16) error {
	nc, err := connectOutside(urls, seed, "test")
	if err != nil {
		return err
	}
	defer nc.Close()
	gs, err := openExistingGenStore(ctx, nc, bucketNames(name), "test")
	if err != nil {
		return err
	}
	if node == 0 {
		_, err = gs.kv.Put(ctx, manifestKey(gen), []byte(`{"format":1,"kind":"stackless-cluster","ge`))
		return err
	}
	_, err = gs.obj.PutBytes(ctx, objectName(gen, node), []byte("not the world that was stored"))
	return err
}

// NATSConnectedURL is the NATS server the coordinator's store connection
// is on now.
func NATSConnectedURL(c *Coordinator) string { return c.gs.nc.ConnectedUrl() }

// FailWorldPutsWhileExists makes this process's worker fail to store its
// world (object g<gen>/w<N>) at a checkpoint while the file prefix.w<N>
// exists.
func FailWorldPutsWhileExists(prefix string) {
	putFault = func(name string) error {
		_, node, _ := strings.Cut(name, "/")
		if _, err := os.Stat(prefix + "." + node); err == nil {
			return errors.New("test: this worker cannot store its world now")
		}
		return nil
	}
}

// WaitAtWorldPutWhileExists makes this process's worker wait, as it stores
// its world at a checkpoint, while the file gate exists (a slow store),
// creating gate.waiting first so that a test knows the store has begun.
func WaitAtWorldPutWhileExists(gate string) {
	putFault = func(string) error {
		if _, err := os.Stat(gate); err != nil {
			return nil
		}
		_ = os.WriteFile(gate+".waiting", nil, 0o600)
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for range tk.C {
			if _, err := os.Stat(gate); err != nil {
				return nil
			}
		}
		return nil
	}
}

// DieAtWorldPutWhileExists makes this process's worker kill itself
// (SIGKILL) as it stores its world at a checkpoint while the file
// prefix.w<N> exists: a worker killed -9 in the middle of a checkpoint.
func DieAtWorldPutWhileExists(prefix string) {
	putFault = func(name string) error {
		_, node, _ := strings.Cut(name, "/")
		if _, err := os.Stat(prefix + "." + node); err == nil {
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Kill()
			}
			select {} // until the signal lands
		}
		return nil
	}
}

// ExitWhenToldToJoinAgainAs makes this process's worker (one that joined
// over NATS) exit with code instead of joining again as the node a
// restore kept for it: a machine lost in the middle of a restore.
func ExitWhenToldToJoinAgainAs(code int) {
	rejoinFault = func() { os.Exit(code) }
}

// StoreContents lists, on the NATS servers urls (credentials seed), the
// objects of the checkpoint bucket of cluster name, its committed
// generations and the nodes registered in its members bucket.
func StoreContents(ctx context.Context, urls, seed, name string) (objects []string, gens []uint64, members []uint16, err error) {
	nc, err := connectOutside(urls, seed, "test")
	if err != nil {
		return nil, nil, nil, err
	}
	defer nc.Close()
	// Looked up, not made: a check that a cluster left nothing in another
	// name's buckets made those buckets (three-replica streams, the
	// slowest thing to ask a NATS cluster for; once not answered for 6
	// minutes on a loaded machine).
	names := bucketNames(name)
	gs, err := openExistingGenStore(ctx, nc, names, "test")
	switch {
	case errors.Is(err, ErrNoCheckpoints):
	case err != nil:
		return nil, nil, nil, err
	default:
		infos, err := gs.obj.List(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
			return nil, nil, nil, err
		}
		for _, o := range infos {
			objects = append(objects, o.Name)
		}
		if gens, err = gs.gens(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, nil, err
	}
	kv, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, names.Members) })
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return objects, gens, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	ms, err := listMembers(ctx, kv)
	for _, m := range ms {
		members = append(members, m.Node)
	}
	return objects, gens, members, err
}

// NewNATSSeed makes a new nkey user seed file at path (0600).
func NewNATSSeed(path string) error {
	_, err := ensureSeed(path)
	return err
}

// StoreOutOfSpace does to the embedded NATS server what a write failing
// for want of disk space does (server.handleOutOfSpace): it shuts its
// JetStream down, so every later store operation finds no responder.
func (c *Coordinator) StoreOutOfSpace() { c.nats.srv.ShutdownJetStream() }

// AllStacks is allStacks, for the package's external tests.
var AllStacks = allStacks

// LimitDescriptors makes the coordinator see RLIMIT_NOFILE as n for the
// rest of the test.
func LimitDescriptors(t *testing.T, n uint64) { limitDescriptors(t, n) }

// SetListWait sets ListWait for one test.
func SetListWait(t testing.TB, d time.Duration) {
	old := ListWait
	ListWait = d
	t.Cleanup(func() { ListWait = old })
}

// PauseShutdownAfterLinksClose makes this process's coordinator wait d in
// its shutdown once its links are closed, before it gives up its lease,
// closes its store and removes its socket.
func PauseShutdownAfterLinksClose(d time.Duration) { closeFault = func() { time.Sleep(d) } }

// StoreInUse reports whether a process holds the embedded NATS store of
// the cluster in dir.
func StoreInUse(dir string) bool { return lockHeld(filepath.Join(dirLayout{dir}.NATS(), natsLockName)) }
