package cluster

// The NATS server a coordinator embeds, so that one machine needs no
// service installed: the cluster's checkpoints live in its JetStream store
// (DIR/nats), it listens on loopback only, and only a client holding the
// cluster's nkey seed (DIR/nats.seed, 0600, made at the first start) gets
// in. While a coordinator runs, DIR/nats.url says where it listens; tools
// (`checkpoint ls DIR`, `inspect DIR`) connect there. With no coordinator
// running they start the same server in-process, listening nowhere, on the
// same store; a lock on DIR/nats/LOCK keeps two servers off one store.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/internal/fsmode"
)

const (
	natsDirName  = "nats"      // the JetStream store of the embedded server
	natsSeedName = "nats.seed" // the nkey seed of the cluster's NATS user, 0600
	natsURLName  = "nats.url"  // where the embedded server listens, while a coordinator runs
	natsLockName = "LOCK"      // in natsDirName: held by the process whose server owns the store
)

// natsReady bounds the start of the embedded server.
const natsReady = 10 * time.Second

// ErrNATSLocked is returned when another process's NATS server owns the
// cluster's store (a coordinator, or a tool reading checkpoints).
var ErrNATSLocked = errors.New("cluster: the NATS store of this cluster is in use by another process")

// NATS, NATSSeed and NATSURL name the NATS files of a cluster directory.
func (l dirLayout) NATS() string     { return filepath.Join(l.Dir, natsDirName) }
func (l dirLayout) NATSSeed() string { return filepath.Join(l.Dir, natsSeedName) }
func (l dirLayout) NATSURL() string  { return filepath.Join(l.Dir, natsURLName) }

// embeddedNATS is a running embedded server and the lock on its store.
type embeddedNATS struct {
	srv    *server.Server
	kp     nkeys.KeyPair
	url    string // "" when it listens nowhere
	urlF   string // the nats.url file written, removed at close
	unlock func()
	notes  *natsNotes // what the server said about damaged files
}

// ensureSeed reads the nkey seed at path, creating it (0600) first if there
// is none. A seed open to group or others is refused, like the secret.
func ensureSeed(path string) (nkeys.KeyPair, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("cluster: make the NATS credentials: %w", err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, fmt.Errorf("cluster: make the NATS credentials: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.Write(append(seed, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			if f != nil {
				os.Remove(path) // a partial seed (a full disk) would refuse every later start
			}
			return nil, fmt.Errorf("cluster: write the NATS credentials %s: %w", path, err)
		}
	}
	return loadSeed(path)
}

// Bounds of the small files read here: a .creds file is a JWT and a
// seed (about 1 KiB), a seed 58 bytes, a URL a few dozen.
const (
	maxCredsFile = 64 << 10
	maxURLFile   = 4 << 10
)

// readCreds reads a credentials file given by the user (--creds): a .creds
// file or an nkey seed. It must be a regular file: reading a FIFO would
// block the command.
func readCreds(path string) ([]byte, error) {
	if _, err := fsmode.Regular(path, "a NATS credentials file (.creds, or an nkey seed)"); err != nil {
		return nil, fmt.Errorf("cluster: NATS credentials: %w", err)
	}
	b, err := fsmode.ReadSmall(path, "a NATS credentials file", maxCredsFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS credentials: %w", err)
	}
	return b, nil
}

// loadSeed reads an nkey user seed file (0600).
func loadSeed(path string) (nkeys.KeyPair, error) {
	fi, err := fsmode.Regular(path, "the cluster's NATS credentials (an nkey seed file, 0600)")
	var nr *fsmode.NotRegularError
	if errors.As(err, &nr) {
		return nil, fmt.Errorf("cluster: NATS credentials: %w; remove it, and `stackless cluster up` makes a new seed there", err)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS credentials: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("cluster: NATS credentials %s have mode %04o and are open to group or others; run: chmod 600 %s", path, perm, path)
	}
	b, err := fsmode.ReadSmall(path, "an nkey seed", maxCredsFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS credentials: %w", err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(b))
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS credentials %s: not an nkey seed (%v); delete the file to have `stackless cluster up` make a new one", path, err)
	}
	if pub, err := kp.PublicKey(); err != nil || !strings.HasPrefix(pub, "U") {
		return nil, fmt.Errorf("cluster: NATS credentials %s: not the seed of a user nkey; delete the file to have `stackless cluster up` make a new one", path)
	}
	return kp, nil
}

// startNATS starts the embedded server on DIR/nats: listening on a free
// loopback port (written to DIR/nats.url) when listen is set, nowhere
// otherwise (in-process connections only).
func startNATS(l dirLayout, listen bool) (*embeddedNATS, error) {
	if err := os.MkdirAll(l.NATS(), 0o700); err != nil {
		return nil, fmt.Errorf("cluster: make the NATS store folder: %w", err)
	}
	lock := filepath.Join(l.NATS(), natsLockName)
	unlock, err := lockFile(lock)
	if err != nil {
		return nil, notYours(l.Dir, lock, err)
	}
	notes := &natsNotes{}
	found, err := checkBlocks(l.NATS())
	if err != nil {
		unlock()
		return nil, err
	}
	for _, line := range found {
		notes.add("warning", line)
	}
	kp, err := ensureSeed(l.NATSSeed())
	if err != nil {
		unlock()
		return nil, err
	}
	pub, _ := kp.PublicKey()
	opts := &server.Options{
		ServerName: "stackless",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		DontListen: !listen,
		JetStream:  true,
		StoreDir:   l.NATS(),
		NoLog:      true,
		NoSigs:     true,
		Nkeys:      []*server.NkeyUser{{Nkey: pub}},
		HTTPPort:   0,
		MaxPayload: 1 << 20,
		// JetStream acknowledges a write before it reaches the disk and
		// syncs every 2 minutes by default: an OS crash or power cut
		// could lose checkpoints and journaled effect results it had
		// acknowledged (Jepsen, NATS 2.12.1). The store package's bbolt
		// syncs every commit; so does this.
		SyncAlways: true,
		// A world's chunks are published without waiting for acks, faster
		// than a store that syncs every write takes them: the stream's
		// ingest queue (128 MiB by default) overflowed with "429 too many
		// requests" for any world over it, or two big ones at once. The
		// queue holds in memory what the workers hold too.
		StreamMaxBufferedSize: maxIngest,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("cluster: embedded NATS server on %s: %w", l.NATS(), err)
	}
	srv.SetLogger(notes, false, false)
	srv.Start()
	if !srv.ReadyForConnections(natsReady) {
		srv.Shutdown()
		unlock()
		return nil, fmt.Errorf("cluster: the embedded NATS server on %s did not start within %v", l.NATS(), natsReady)
	}
	e := &embeddedNATS{srv: srv, kp: kp, unlock: unlock, notes: notes}
	if listen {
		e.url = srv.ClientURL()
		if err := writeFileAtomic(l.NATSURL(), []byte(e.url+"\n")); err != nil {
			e.close()
			return nil, err
		}
		e.urlF = l.NATSURL()
	}
	return e, nil
}

// connect opens an in-process client connection to the embedded server.
// maxIngest bounds the bytes the embedded server queues for its streams
// before refusing writes (429): four worlds of the largest size.
const maxIngest = 4 * maxBlob

func (e *embeddedNATS) connect(name string) (*nats.Conn, error) {
	pub, _ := e.kp.PublicKey()
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.Nkey(pub, e.kp.Sign), nats.Name(name))
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to the embedded NATS server: %w", err)
	}
	return nc, nil
}

// close stops the server and releases its store.
func (e *embeddedNATS) close() {
	if e.urlF != "" {
		_ = os.Remove(e.urlF)
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.unlock()
}

// dialNATS connects to the server of a running coordinator of DIR (its
// nats.url) with the cluster's seed.
func dialNATS(l dirLayout, name string) (*nats.Conn, error) {
	b, err := fsmode.ReadSmall(l.NATSURL(), "a NATS URL", maxURLFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: the NATS store of %s is in use, but %s cannot be read (a coordinator starting or stopping?): %w; try again",
			l.Dir, l.NATSURL(), err)
	}
	kp, err := loadSeed(l.NATSSeed())
	if err != nil {
		return nil, err
	}
	pub, _ := kp.PublicKey()
	url := strings.TrimSpace(string(b))
	nc, err := nats.Connect(url, nats.Nkey(pub, kp.Sign), nats.Name(name), nats.Timeout(5*time.Second), reportDrops())
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to the NATS server of the coordinator of %s at %s: %w", l.Dir, url, err)
	}
	return nc, nil
}

// connectOutside connects to NATS servers not run by this cluster (urls
// comma-separated) with a credentials file: a .creds file (user JWT and
// seed) or an nkey seed file.
func connectOutside(urls, creds, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		reportDrops()}
	if creds != "" {
		b, err := readCreds(creds)
		if err != nil {
			return nil, err
		}
		if bytes.Contains(b, []byte("BEGIN NATS USER JWT")) {
			opts = append(opts, nats.UserCredentials(creds))
		} else {
			kp, err := loadSeed(creds)
			if err != nil {
				return nil, err
			}
			pub, _ := kp.PublicKey()
			opts = append(opts, nats.Nkey(pub, kp.Sign))
		}
	}
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS at %s: %w (check the URLs and --creds)", urls, err)
	}
	return nc, nil
}

// writeFileAtomic writes b to path (0600), whole or not at all.
func writeFileAtomic(path string, b []byte) error {
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}
