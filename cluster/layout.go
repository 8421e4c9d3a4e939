package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/stackless-go/stackless/internal/atomicfile"
)

// The files of a cluster directory (--data DIR of `cluster up`).
const (
	secretName = "secret" // the cluster secret, 0600
	sockName   = "sock"   // unix sockets, in a 0700 folder
	coordSock  = "c"      // the coordinator's socket in sock/
	runName    = "run"    // one record per running local worker (see adopt.go), 0700
	logName    = "log"    // output of workers whose coordinator died, 0700
)

// dirLayout names the files of a cluster directory.
type dirLayout struct{ Dir string }

// Secret is the path of the cluster secret.
func (l dirLayout) Secret() string { return filepath.Join(l.Dir, secretName) }

// HostID is the file naming the host the folder is on.
func (l dirLayout) HostID() string { return filepath.Join(l.Dir, hostIDName) }

// Sockets is the folder of the unix sockets.
func (l dirLayout) Sockets() string { return filepath.Join(l.Dir, sockName) }

// Run is the folder of the running workers' records.
func (l dirLayout) Run() string { return filepath.Join(l.Dir, runName) }

// Record is the path of worker node n's record in run/.
func (l dirLayout) Record(n uint16) string {
	return filepath.Join(l.Run(), "w"+strconv.Itoa(int(n))+".json")
}

// Log is where worker node n writes its output once its coordinator died.
func (l dirLayout) Log(n uint16) string {
	return filepath.Join(l.Dir, logName, "w"+strconv.Itoa(int(n))+".log")
}

// Coordinator is the path of the coordinator's socket.
func (l dirLayout) Coordinator() string { return filepath.Join(l.Sockets(), coordSock) }

// Worker is the path of the socket worker node n listens on for its peers.
func (l dirLayout) Worker(n uint16) string {
	return filepath.Join(l.Sockets(), "w"+strconv.Itoa(int(n)))
}

// maxSunPath is the longest socket path the kernel takes (sun_path holds
// 108 bytes on Linux and 104 on the BSDs and macOS, with the final NUL).
func maxSunPath() int {
	switch runtime.GOOS {
	case "linux", "android", "windows":
		return 107
	default:
		return 103
	}
}

// checkSockPath fails when path is too long to be a unix socket address.
// Socket paths are checked as given (relative paths stay relative), so a
// short --data keeps them short.
func checkSockPath(path string) error {
	if len(path) > maxSunPath() {
		return fmt.Errorf("cluster: socket path %s is %d bytes, over the %d the kernel accepts: use a shorter --data directory (a relative one, or one under /tmp)",
			path, len(path), maxSunPath())
	}
	return nil
}

// checkSockets checks every socket path a cluster of nodes up to maxNode
// would use.
func (l dirLayout) checkSockets(maxNode uint16) error {
	if err := checkSockPath(l.Coordinator()); err != nil {
		return err
	}
	return checkSockPath(l.Worker(maxNode))
}

// prepare makes the directory and the 0700 socket folder, refusing a socket
// folder that others can enter.
func (l dirLayout) prepare() error {
	if err := atomicfile.MkdirAll(l.Dir, 0o755); err != nil {
		return fmt.Errorf("cluster: make the data directory %s: %w", l.Dir, err)
	}
	if err := os.Mkdir(l.Sockets(), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cluster: make the socket folder: %w", err)
	}
	fi, err := os.Lstat(l.Sockets())
	if err != nil {
		return fmt.Errorf("cluster: socket folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("cluster: %s is not a directory; remove it and start again", l.Sockets())
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(l.Sockets(), 0o700); err != nil {
			return fmt.Errorf("cluster: make %s private (0700): %w", l.Sockets(), err)
		}
	}
	if err := os.Mkdir(l.Run(), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cluster: make the folder of worker records: %w", err)
	}
	return nil
}

// removeSocket deletes a socket file left behind; a missing one is fine.
func removeSocket(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cluster: remove socket: %w", err)
	}
	return nil
}
