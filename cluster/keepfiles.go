package cluster

import (
	"errors"
	"io/fs"
	"os"

	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/internal/fsmode"
)

// The files of the cluster folder that workers and clients read (the
// secret, the host ID, the embedded NATS server's seed and URL) deleted
// while the cluster ran (a tmp cleaner, a mistaken rm) took the cluster
// down at the next worker death: every replacement failed to start, the
// five rollbacks failed, and no client could connect meanwhile. The
// coordinator read them at start; it writes a missing one again, as it
// was, before it starts workers and on each monitor tick. A file that is
// there but differs is left alone: the workers that read it fail with
// their own error.

// keptFile is a file of the folder as the coordinator read it at start.
type keptFile struct {
	path string
	data []byte
	perm fs.FileMode
}

// maxKeptFile bounds a kept file: they are a few dozen bytes each.
const maxKeptFile = 64 << 10

// readKept reads the files of paths that exist.
func readKept(paths ...string) []keptFile {
	var out []keptFile
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if b, err := fsmode.ReadSmall(p, "a file of the cluster folder", maxKeptFile); err == nil {
			out = append(out, keptFile{path: p, data: b, perm: fi.Mode().Perm()})
		}
	}
	return out
}

// keepFiles writes again the kept files that are gone, and listens again
// on its socket when the socket folder was deleted (the cluster was out
// of reach: "no cluster is up"), unless the coordinator is closing (which
// removes the NATS URL and its socket itself).
func (c *Coordinator) keepFiles() {
	c.keepSocket()
	for _, f := range c.kept {
		if _, err := os.Lstat(f.path); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return
		}
		err := atomicfile.WriteFile(f.path, f.data, f.perm)
		c.mu.Unlock()
		if err != nil {
			c.log.Error("cluster: a file of the cluster folder was deleted while the cluster runs and could not be written again: workers started from now on cannot start, and clients may not connect",
				"file", f.path, "err", err)
			continue
		}
		c.log.Warn("cluster: a file of the cluster folder was deleted while the cluster runs; written again as it was, so that workers started from now on and clients can use it", "file", f.path)
	}
}

// keepSocket makes the socket and record folders again when they are
// gone, and listens on the coordinator's socket again when it is gone.
func (c *Coordinator) keepSocket() {
	_, serr := os.Lstat(c.layout.Coordinator())
	_, rerr := os.Lstat(c.layout.Run())
	if !errors.Is(serr, fs.ErrNotExist) && !errors.Is(rerr, fs.ErrNotExist) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if err := c.layout.prepare(); err != nil {
		c.log.Error("cluster: the socket or record folder of the cluster was deleted while it runs and could not be made again", "err", err)
		return
	}
	if !errors.Is(serr, fs.ErrNotExist) {
		return
	}
	if err := c.n.Listen(c.ctx, "unix", c.layout.Coordinator()); err != nil {
		c.log.Error("cluster: the coordinator's socket was deleted while the cluster runs and could not be made again: clients on this host cannot reach it", "err", err)
		return
	}
	c.log.Warn("cluster: the coordinator's socket was deleted while the cluster runs; listening on it again", "socket", c.layout.Coordinator())
}
