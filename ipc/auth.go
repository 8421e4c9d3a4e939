package ipc

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stackless-go/stackless/internal/fsmode"
)

// The handshake runs on every new link before any msgpack is decoded. Both
// sides send a fixed-size HELLO at once and then a fixed-size PROOF:
//
//	HELLO = "STKL" | version (2 bytes) | node (2 bytes) | challenge (32 random bytes)
//	PROOF = HMAC-SHA256(secret, label | version | sender node | receiver node |
//	                    receiver's challenge | sender's challenge)
//
// Each side checks the other's PROOF with hmac.Equal. The node numbers in
// their order make a proof useless in the other direction or on another
// link (it cannot be reflected back), and a peer claiming this node's own
// number is refused. Nothing but these 72 bytes is read before the peer
// has proved it knows the secret.

// ProtocolVersion is the version of the link protocol; both ends of a link
// must speak the same one. Version 2 added the shared-memory exchange
// after the handshake on unix sockets (see shm.go); version 3 the FENCE and
// FENCED of a move (a node of version 2 would close the link on them, in
// the middle of a move, where a refused handshake says why at once).
const ProtocolVersion = 3

const (
	helloMagic   = "STKL"
	challengeLen = 32
	helloLen     = len(helloMagic) + 2 + 2 + challengeLen
	proofLen     = sha256.Size
	macLabel     = "stackless-ipc link proof\x00"
	// MinSecretLen is the shortest secret LoadSecret and WithSecret accept.
	MinSecretLen = 16
)

type hello struct {
	version   uint16
	node      uint16
	challenge [challengeLen]byte
}

func (h *hello) encode() []byte {
	b := make([]byte, 0, helloLen)
	b = append(b, helloMagic...)
	b = binary.BigEndian.AppendUint16(b, h.version)
	b = binary.BigEndian.AppendUint16(b, h.node)
	return append(b, h.challenge[:]...)
}

func parseHello(b []byte) (hello, error) {
	var h hello
	if string(b[:len(helloMagic)]) != helloMagic {
		return h, fmt.Errorf("%w: the peer is not a stackless node (it sent %q where %q was expected)", ErrAuth, b[:len(helloMagic)], helloMagic)
	}
	h.version = binary.BigEndian.Uint16(b[4:])
	h.node = binary.BigEndian.Uint16(b[6:])
	copy(h.challenge[:], b[8:])
	return h, nil
}

func proof(secret []byte, sender, receiver uint16, receiverChallenge, senderChallenge []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(macLabel))
	var nums [6]byte
	binary.BigEndian.PutUint16(nums[0:], ProtocolVersion)
	binary.BigEndian.PutUint16(nums[2:], sender)
	binary.BigEndian.PutUint16(nums[4:], receiver)
	m.Write(nums[:])
	m.Write(receiverChallenge)
	m.Write(senderChallenge)
	return m.Sum(nil)
}

// handshake authenticates a link and returns the peer's node number. The
// caller sets the connection's deadline; r reads from conn (a reader that
// reads ahead keeps the bytes past the handshake for the link).
// heard (if not nil) is called once the peer's HELLO is in and valid.
func handshake(conn net.Conn, r io.Reader, self uint16, secret []byte, heard func()) (uint16, error) {
	if len(secret) < MinSecretLen {
		return 0, fmt.Errorf("%w: this node has no cluster secret (use WithSecret)", ErrAuth)
	}
	mine := hello{version: ProtocolVersion, node: self}
	if _, err := rand.Read(mine.challenge[:]); err != nil {
		return 0, fmt.Errorf("ipc: handshake: reading random bytes: %w", err)
	}
	buf := make([]byte, helloLen)
	if err := exchange(conn, r, mine.encode(), buf); err != nil {
		return 0, fmt.Errorf("%w: no HELLO from the peer: %w", ErrAuth, hangUpErr(err))
	}
	theirs, err := parseHello(buf)
	if err != nil {
		return 0, err
	}
	if theirs.version != ProtocolVersion {
		return 0, fmt.Errorf("%w: the peer speaks protocol version %d, this node %d", ErrAuth, theirs.version, ProtocolVersion)
	}
	if theirs.node == self {
		return 0, fmt.Errorf("%w: the peer claims this node's own number %d", ErrAuth, self)
	}
	if heard != nil {
		heard()
	}
	got := buf[:proofLen]
	if err := exchange(conn, r, proof(secret, self, theirs.node, theirs.challenge[:], mine.challenge[:]), got); err != nil {
		return 0, fmt.Errorf("%w: no PROOF from node %d: %w", ErrAuth, theirs.node, hangUpErr(err))
	}
	want := proof(secret, theirs.node, self, mine.challenge[:], theirs.challenge[:])
	if !hmac.Equal(got, want) {
		return 0, fmt.Errorf("%w: node %d does not know the cluster secret (wrong secret file?)", ErrAuth, theirs.node)
	}
	return theirs.node, nil
}

// exchange writes out while it reads len(in) bytes. Writing from a second
// goroutine lets both ends send first even over a synchronous pipe; the
// write is waited for, so no goroutine outlives the call (a failed read
// closes conn to unblock it).
func exchange(conn net.Conn, r io.Reader, out, in []byte) error {
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(out)
		werr <- err
	}()
	_, rerr := io.ReadFull(r, in)
	if rerr != nil {
		conn.Close()
	}
	if err := <-werr; err != nil && rerr == nil {
		return err
	}
	return rerr
}

// hangUpOn closes a connection refused in the handshake. It first reads
// away what the peer sent that was not read (up to 64 KiB, without
// waiting): a socket closed with unread bytes is reset, and a peer that
// sent garbage is owed a plain close, as when the handshake read through
// a large buffer.
//
// A TLS connection is closed at its socket, without a close_notify: a
// handshake that ran out of time may have failed to send a record after
// TLS had counted it, and a close_notify sent after that gap reaches the
// peer as "bad record MAC" (seen under load) instead of the hang-up it
// is, which Dial answers by trying again.
func hangUpOn(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	discardBuffered(conn, 64<<10)
	conn.Close()
}

// hangUp is an error that says the peer closed the connection in the
// handshake (an end of file, or a reset), as a node does to a connection
// over its caps of pending ones: Dial tries again.
type hangUp struct{ error }

func (h hangUp) Unwrap() error { return h.error }

// hangUpErr marks err as a hang-up if it is one, in words.
func hangUpErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return hangUp{fmt.Errorf("the peer closed the connection: %w", err)}
	}
	return err
}

// GenerateSecret writes a new random cluster secret (32 bytes, hex) to a
// new file with mode 0600, creating its folder with mode 0700. It refuses
// to overwrite an existing file: every node of a cluster needs the same
// secret, so replacing it by accident would cut the cluster apart.
func GenerateSecret(path string) error {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("ipc: generate secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("ipc: generate secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("ipc: generate secret %s: %w (delete the old file first to replace it)", path, err)
	}
	_, err = f.WriteString(hex.EncodeToString(raw[:]) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("ipc: generate secret %s: %w", path, err)
	}
	return nil
}

// LoadSecret reads a cluster secret file. It refuses a file that group or
// others may read or write, and a secret shorter than MinSecretLen bytes.
// Surrounding white space is not part of the secret.
// maxSecretFile bounds a secret file: GenerateSecret writes 65 bytes.
const maxSecretFile = 4 << 10

func LoadSecret(path string) ([]byte, error) {
	fi, err := fsmode.Regular(path, "the cluster secret (a file of at least 16 bytes, 0600)")
	if err != nil {
		return nil, fmt.Errorf("ipc: cluster secret: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("ipc: cluster secret %s has mode %04o and is open to group or others; run: chmod 600 %s", path, perm, path)
	}
	b, err := fsmode.ReadSmall(path, "a cluster secret", maxSecretFile)
	if err != nil {
		return nil, fmt.Errorf("ipc: cluster secret: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("ipc: cluster secret %s holds %d bytes; at least %d are needed: give a copy of the coordinator's DIR/secret (`stackless cluster up` makes it; in Go, ipc.GenerateSecret)", path, len(b), MinSecretLen)
	}
	return b, nil
}
