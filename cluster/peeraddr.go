package cluster

// Where a worker's peers reach it. A unix socket path is only meaningful on
// the machine, and relative to the folder, of the coordinator that made it;
// a worker that joined over TCP from another machine (or just another
// folder) cannot use it. So every worker announces both its unix path (if
// it has one) and its TCP address (if it listens on TCP), with the ID of
// the host its unix path is valid on, and a peer dials the unix path only
// when it has the same host ID.
//
// The host ID of the coordinator's machine is a random ID kept in the
// cluster directory (DIR/host-id): the coordinator and the local workers it
// starts read the same file, and relative socket paths resolve the same
// way for all of them because they share the folder. A worker that joins
// over TCP has no cluster directory: it takes a random ID of its own, so
// every peer reaches it, and it reaches every peer, over TCP with TLS.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/atomicfile"
)

// hostIDName is the file of the cluster directory that names its host.
const hostIDName = "host-id"

// ensureHostID returns the host ID kept in the cluster directory dir, creating it
// (a random ID, 0644) when there is none.
func ensureHostID(dir string) (string, error) {
	path := dirLayout{dir}.HostID()
	if id, err := readHostID(dir); err == nil {
		return id, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	id := randomHostID()
	if err := atomicfile.WriteFile(path, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("cluster: the host ID: %w", err)
	}
	return readHostID(dir)
}

// maxHostIDFile is the most of DIR/host-id that is read: an ID and blanks.
const maxHostIDFile = 128

// readHostID reads DIR/host-id.
func readHostID(dir string) (string, error) {
	path := dirLayout{dir}.HostID()
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cluster: read the host ID: %w", err)
	}
	defer f.Close()
	// An ID is at most 64 bytes: a damaged file of gigabytes was read whole
	// and quoted whole in the error.
	b, err := io.ReadAll(io.LimitReader(f, maxHostIDFile+1))
	if err != nil {
		return "", fmt.Errorf("cluster: read the host ID %s: %w", path, err)
	}
	id := strings.TrimSpace(string(b))
	if len(id) < 8 || len(id) > 64 || strings.ContainsAny(id, " \t\n") {
		shown := id
		if len(b) > maxHostIDFile || len(shown) > 64 {
			shown = shown[:min(len(shown), 64)] + "..."
		}
		return "", fmt.Errorf("cluster: %s holds %q, not a host ID: remove the file and start `cluster up` again", path, shown)
	}
	return id, nil
}

// randomHostID is a new host ID no other host has.
func randomHostID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// peerAddr is where a worker listens for its peers: a unix socket valid on
// host HostID, and/or a TCP address valid everywhere. A TCP address with no
// host (":PORT") is on the coordinator's machine: a peer dials it at the
// host it reaches the coordinator at.
type peerAddr struct {
	Node   uint16     `json:"node"`
	HostID string     `json:"host_id,omitempty"`
	Unix   string     `json:"unix,omitempty"`
	TCP    string     `json:"tcp,omitempty"`
	Marker channel.ID `json:"marker"`
}

// dialAddr picks how a worker on host self, which reaches the coordinator
// at coordHost ("" over the unix socket), dials peer p: unix on the same
// host, TCP otherwise.
func (p peerAddr) dialAddr(self, coordHost string) (network, addr string, err error) {
	if p.Unix != "" && p.HostID != "" && p.HostID == self {
		return "unix", p.Unix, nil
	}
	if p.TCP == "" {
		return "", "", fmt.Errorf("worker %d is on another host and listens on no TCP address: start `cluster up` with --listen HOST:PORT and --tls DIR, so that its workers listen on TCP too", p.Node)
	}
	host, port, err := net.SplitHostPort(p.TCP)
	if err != nil {
		return "", "", fmt.Errorf("worker %d announced TCP address %q: %w", p.Node, p.TCP, err)
	}
	if host == "" {
		if coordHost == "" {
			coordHost = "localhost"
		}
		return "tcp", net.JoinHostPort(coordHost, port), nil
	}
	return "tcp", p.TCP, nil
}

// String names the addresses, for errors.
func (p peerAddr) String() string {
	var parts []string
	if p.Unix != "" {
		parts = append(parts, "unix "+p.Unix+" (host "+p.HostID+")")
	}
	if p.TCP != "" {
		parts = append(parts, "tcp "+p.TCP)
	}
	if len(parts) == 0 {
		return "no address"
	}
	return strings.Join(parts, " or ")
}

// tcpListenAddr is where local workers listen on TCP when the coordinator
// listens on listen: the same host, any free port.
func tcpListenAddr(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return ":0"
	}
	return net.JoinHostPort(host, "0")
}

// advertiseTCP is the address to announce for a TCP listener bound to a:
// as is when it has a specific IP, or ":PORT" (the coordinator's host,
// which is this worker's) when it listens on every address.
func advertiseTCP(a *net.TCPAddr) string {
	if a.IP == nil || a.IP.IsUnspecified() {
		return net.JoinHostPort("", fmt.Sprint(a.Port))
	}
	return a.String()
}
