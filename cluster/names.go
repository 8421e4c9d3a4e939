package cluster

// Per-cluster names, so that several clusters share one NATS account: the
// cluster's name prefixes every bucket and subject it uses there. The
// default name gives the bucket names of earlier versions, so a cluster
// directory made by one of them keeps its checkpoints.

import (
	"errors"
	"fmt"
	"regexp"
)

// DefaultName is the name of a cluster that was given none.
const DefaultName = "stackless"

// maxNameLen bounds a cluster name: the longest stream it makes
// ("OBJ_<name>_ckpt") stays well inside what NATS servers accept as a
// stream and file name.
const maxNameLen = 32

// nameRE is what a NATS bucket name may be made of (the KV and Object
// Store rule), and no dot: a name is also one subject token.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// ErrBadName is returned for a cluster name NATS cannot take.
var ErrBadName = errors.New("cluster: bad cluster name")

// ValidateName checks a cluster name ("" is DefaultName).
func ValidateName(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > maxNameLen || !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1 to %d letters, digits, '-' or '_' (it names NATS buckets and subjects)", ErrBadName, name, maxNameLen)
	}
	return nil
}

// natsNames are the buckets and subjects of one cluster.
type natsNames struct {
	Name      string // the cluster's name
	Manifests string // KV: "m.<gen>" manifests, genKey the counter
	Ckpt      string // Object Store: "g<gen>/w<node>" worlds
	Lease     string // KV: the leadership lease
	API       string // subject prefix of the leader's requests: "<API>.<kind>"
	Journal   string // KV: the effect journal, "<tasklet>.<step>.<case>" entries
	Members   string // KV: "w.<member ID>" entries of the workers (members.go)
	Join      string // subject a worker started with --nats asks the leader for a node on
}

// bucketNames names the buckets and subjects of cluster name ("":
// DefaultName). The name must have passed ValidateName.
func bucketNames(name string) natsNames {
	if name == "" {
		name = DefaultName
	}
	return natsNames{Name: name, Manifests: name + "_manifests", Ckpt: name + "_ckpt", Lease: name + "_lease", API: name + ".api",
		Journal: name + "_journal", Members: name + "_members", Join: name + ".worker.join"}
}

// natsWhere names a cluster's store on outside NATS servers in messages.
func natsWhere(urls, name string) string {
	return fmt.Sprintf("NATS %s (cluster %s)", urls, bucketNames(name).Name)
}
