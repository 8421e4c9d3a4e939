package ipc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/stackless-go/stackless/internal/fsmode"
)

// File names in a certificate folder made by GenerateCerts.
const (
	CACertFile   = "ca.crt"
	CAKeyFile    = "ca.key"
	NodeCertFile = "node.crt"
	NodeKeyFile  = "node.key"
)

// GenerateCerts makes a cluster certificate authority and a node
// certificate signed by it in dir (created with mode 0700; keys get mode
// 0600): ca.crt, ca.key, node.crt, node.key. The node certificate is valid
// for both ends of a link (server and client) and for the given host names
// and IP addresses (localhost, 127.0.0.1 and ::1 when hosts is empty). It
// refuses to overwrite an existing CA. The CA is valid for ten years, the
// node certificate for one.
func GenerateCerts(dir string, hosts []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("ipc: certificates: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, CACertFile)); err == nil {
		return fmt.Errorf("ipc: certificates: %s exists already; remove the folder's files to make new ones", filepath.Join(dir, CACertFile))
	}
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("ipc: certificates: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "stackless cluster CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("ipc: certificates: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("ipc: certificates: CA: %w", err)
	}
	nodeKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("ipc: certificates: %w", err)
	}
	nodeTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "stackless node"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			nodeTmpl.IPAddresses = append(nodeTmpl.IPAddresses, ip)
		} else {
			nodeTmpl.DNSNames = append(nodeTmpl.DNSNames, h)
		}
	}
	nodeDER, err := x509.CreateCertificate(rand.Reader, nodeTmpl, ca, &nodeKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("ipc: certificates: node: %w", err)
	}
	files := []struct {
		name, typ string
		der       []byte
		key       *ecdsa.PrivateKey
	}{
		{CACertFile, "CERTIFICATE", caDER, nil},
		{CAKeyFile, "", nil, caKey},
		{NodeCertFile, "CERTIFICATE", nodeDER, nil},
		{NodeKeyFile, "", nil, nodeKey},
	}
	for _, f := range files {
		mode := os.FileMode(0o644)
		if f.key != nil {
			if f.der, err = x509.MarshalPKCS8PrivateKey(f.key); err != nil {
				return fmt.Errorf("ipc: certificates: %w", err)
			}
			f.typ, mode = "PRIVATE KEY", 0o600
		}
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dir, f.name), data, mode); err != nil {
			return fmt.Errorf("ipc: certificates: %w", err)
		}
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// LoadTLSConfig reads a folder made by GenerateCerts into a mutual-TLS
// configuration for WithTLS: this node presents node.crt, and trusts and
// requires peers signed by ca.crt in both directions. A key file open to
// group or others is refused.
func LoadTLSConfig(dir string) (*tls.Config, error) {
	return LoadTLSFiles(filepath.Join(dir, NodeCertFile), filepath.Join(dir, NodeKeyFile), filepath.Join(dir, CACertFile))
}

// maxPEM bounds a certificate, key or CA file: a CA bundle of every public
// root is a few hundred KiB.
const maxPEM = 1 << 20

// LoadTLSFiles is LoadTLSConfig for files that live apart (a key kept
// where the operator's secrets are, a CA shared by many hosts): it reads
// them where they are, so the key is never copied, and checks them alike.
// Each must be a regular file, and the key must be closed to group and
// others (mode 0600 or tighter).
func LoadTLSFiles(certFile, keyFile, caFile string) (*tls.Config, error) {
	fi, err := fsmode.Regular(keyFile, "the node's TLS key (made by `stackless cluster certs`)")
	if err != nil {
		return nil, fmt.Errorf("ipc: TLS: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("ipc: TLS key %s has mode %04o and is open to group or others; run: chmod 600 %s", keyFile, perm, keyFile)
	}
	// A FIFO or a folder given as a certificate is named as such instead
	// of blocking the read or failing with "is a directory" from deep in
	// crypto/tls.
	if _, err := fsmode.Regular(certFile, "the node's TLS certificate (made by `stackless cluster certs`)"); err != nil {
		return nil, fmt.Errorf("ipc: TLS: %w", err)
	}
	if _, err := fsmode.Regular(caFile, "the cluster's CA certificate (made by `stackless cluster certs`)"); err != nil {
		return nil, fmt.Errorf("ipc: TLS: %w", err)
	}
	// Read within a bound: a wrong file given (a database, a disk image)
	// is an error, not an allocation of its size.
	certPEM, err := fsmode.ReadSmall(certFile, "a certificate file", maxPEM)
	if err != nil {
		return nil, fmt.Errorf("ipc: TLS: %w", err)
	}
	keyPEM, err := fsmode.ReadSmall(keyFile, "a key file", maxPEM)
	if err != nil {
		return nil, fmt.Errorf("ipc: TLS: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ipc: TLS: certificate %s with key %s: %w", certFile, keyFile, err)
	}
	caPEM, err := fsmode.ReadSmall(caFile, "a CA bundle", maxPEM)
	if err != nil {
		return nil, fmt.Errorf("ipc: TLS: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("ipc: TLS: %s holds no certificate; give the cluster's ca.crt (made by `stackless cluster certs`)", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// serverTLS is the node's TLS configuration with mutual authentication and
// TLS 1.3 enforced, whatever the caller set.
func (n *Node) serverTLS() (*tls.Config, error) {
	if n.cfg.tls == nil {
		return nil, errors.New("TCP links need mutual TLS: pass ipc.WithTLS(cfg) (see LoadTLSConfig)")
	}
	cfg := n.cfg.tls.Clone()
	if cfg.ClientCAs == nil || len(cfg.Certificates) == 0 && cfg.GetCertificate == nil {
		return nil, errors.New("the TLS configuration needs a certificate and ClientCAs to check peers' certificates")
	}
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS13)
	return cfg, nil
}

// clientTLS is the node's TLS configuration for dialing addr.
func (n *Node) clientTLS(addr string) (*tls.Config, error) {
	if n.cfg.tls == nil {
		return nil, errors.New("TCP links need mutual TLS: pass ipc.WithTLS(cfg) (see LoadTLSConfig)")
	}
	cfg := n.cfg.tls.Clone()
	if len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil {
		return nil, errors.New("the TLS configuration has no certificate to present: peers require one")
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg.ServerName = host
	}
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS13)
	return cfg, nil
}
