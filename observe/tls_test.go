package observe_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/observe"
)

// selfSigned is a certificate for 127.0.0.1, and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "observer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// Off loopback, every request needs the token, reads included.
func TestNonLoopbackNeedsTheTokenForEverything(t *testing.T) {
	l := startLive(t, 2)
	cert, pool := selfSigned(t)
	srv := startServer(t, observe.Config{Addr: "0.0.0.0:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
		Source: observe.NewSchedulerSource("test", l.s, nil)})
	_, port, err := net.SplitHostPort(srv.Addr().String())
	require.NoError(t, err)
	assert.Contains(t, srv.URL(), "https://")
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, path := range []string{"/", "/tasklets", "/api/overview", "/api/tasklets", "/metrics", "/api/events"} {
		resp, err := client.Get("https://127.0.0.1:" + port + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
	}
	req, err := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+port+"/api/overview", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	// The URL it prints carries the token: opening it works and sets the cookie.
	resp, err = client.Get("https://127.0.0.1:" + port + "/?token=" + srv.Token())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, resp.Cookies())
	assert.True(t, resp.Cookies()[0].Secure && resp.Cookies()[0].HttpOnly)
}
