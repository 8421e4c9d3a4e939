package cluster

// A worker's connection to the cluster's NATS servers, for the effect
// journal: the outside servers of --nats URL --creds FILE when given, else
// the embedded server of the local coordinator (DIR/nats.url, with the
// cluster's seed DIR/nats.seed). A new coordinator that adopts the worker
// runs its embedded server on another port, so the connection re-reads
// DIR/nats.url at each reconnect. A worker that joined over TCP without
// --nats has no connection (nil, nil): it runs without a journal.

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
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
	b, err := os.ReadFile(l.NATSURL())
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
