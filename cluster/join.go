package cluster

// A worker on another machine joins the coordinator over TCP, and joins it
// again whenever the coordinator restores a checkpoint. Some failures to
// join heal by themselves (the coordinator is restarting: connection
// refused, a timeout); others never do (a certificate the other side does
// not trust, a wrong cluster secret), and retrying them forever only hides
// the mistake in a log. So the loop below gives up at once on those, with a
// message that names the coordinator and what to check, and retries the
// others with backoff, a bounded number of times.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stackless-go/stackless/ipc"
)

// Defaults of WorkerConfig.JoinAttempts and JoinBackoff.
const (
	defaultJoinAttempts = 10
	defaultJoinBackoff  = 500 * time.Millisecond
	maxJoinBackoff      = 10 * time.Second
)

// ErrCannotJoin is returned by RunJoinedWorker for a failure to join that
// retrying cannot heal (certificates, secret), and when the transient
// failures ran out of attempts.
var ErrCannotJoin = errors.New("cluster: cannot join the coordinator")

// RunJoinedWorker runs a worker that joins the coordinator at cfg.Join over
// TCP: it runs RunWorker and joins again when the coordinator restores a
// checkpoint (ErrRejoin) or the link to it drops. A failure that retrying
// cannot heal ends it at once with ErrCannotJoin, naming the coordinator
// and what to check; transient ones (connection refused, timeouts) are
// retried with backoff up to cfg.JoinAttempts times in a row. It returns
// nil when the cluster goes down or the worker left it (ctx ended while it
// ran: its tasklets were handed to the other workers).
//
// With cfg.NATS instead of cfg.Join it joins through the cluster's NATS
// servers: the leading coordinator, wherever it runs, gives it a node and
// links to the address it registers (members.go).
func RunJoinedWorker(ctx context.Context, cfg WorkerConfig) error {
	if cfg.Join == "" && cfg.NATS == "" {
		return errors.New("cluster: worker: RunJoinedWorker needs the coordinator's address (Join, --join HOST:PORT) or the cluster's NATS servers (NATS, --nats URL)")
	}
	if cfg.Dir != "" {
		return errors.New("cluster: worker: RunJoinedWorker is for a worker on another machine: no cluster directory (Dir, --cluster)")
	}
	target := cfg.Join
	if target == "" {
		target = "NATS " + cfg.NATS
	}
	cfg.defaults()
	attempts, backoff := cfg.JoinAttempts, cfg.JoinBackoff
	if attempts <= 0 {
		attempts = defaultJoinAttempts
	}
	if backoff <= 0 {
		backoff = defaultJoinBackoff
	}
	failed, pause := 0, backoff
	for {
		joined := false
		err := runWorker(ctx, cfg, func() { joined = true })
		cfg.rejoin = nil // a reserved placement is claimed once: a refusal joins as a new worker
		if joined {
			failed, pause = 0, backoff
		}
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrRejoin), errors.Is(err, ErrCoordinatorLost) && cfg.Join == "":
			if ra := (*rejoinAs)(nil); errors.As(err, &ra) {
				cfg.rejoin = ra
				if rejoinFault != nil {
					rejoinFault()
				}
			}
			cfg.Log.Info("cluster: worker: the coordinator restored a checkpoint; joining again", "coordinator", target, "as", cfg.rejoin.String())
			continue
		case errors.Is(err, ErrOrphaned) && cfg.Join == "":
			cfg.Log.Info("cluster: worker: no leader adopted this worker; joining again", "coordinator", target)
			continue
		}
		if hint := permanentJoinError(err); hint != "" {
			return &joinError{err: err, msg: fmt.Sprintf("%v at %s: %s; %s", ErrCannotJoin, target, cause(err), hint)}
		}
		failed++
		if failed >= attempts {
			return &joinError{err: err, msg: fmt.Sprintf("%v at %s: %d attempts in a row failed, the last with: %s; check that %s runs there and that this machine can reach it",
				ErrCannotJoin, target, failed, cause(err), upHint(cfg))}
		}
		cfg.Log.Warn("cluster: worker: joining failed; trying again", "coordinator", target, "attempt", failed, "of", attempts, "in", pause, "err", cause(err))
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		pause = min(2*pause, maxJoinBackoff)
	}
}

// rejoinFault, set by tests only, runs when the worker is told to join
// again as a kept placement (the test's worker exits there).
var rejoinFault func()

// permanentJoinError says what to check when err is a failure to join that
// retrying cannot heal, and "" when it may be transient.
func permanentJoinError(err error) string {
	var (
		unknownCA *x509.UnknownAuthorityError
		verify    *tls.CertificateVerificationError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
		op        *net.OpError
	)
	switch {
	case errors.As(err, &hostname):
		return fmt.Sprintf("the coordinator's certificate is not valid for the host name %q: make its certificates with `stackless cluster certs --hosts` naming the address workers dial", hostname.Host)
	case errors.As(err, &unknownCA), errors.As(err, &verify), errors.As(err, &invalid):
		return "the coordinator's certificate is not signed by this worker's CA (ca.crt of --tls), or has expired: give both sides certificates from the same `stackless cluster certs` folder"
	case errors.As(err, &op) && op.Op == "remote error":
		return "the coordinator refused this worker's TLS certificate: give this worker node.crt and node.key signed by the cluster's CA (copy the coordinator's --tls folder)"
	case errors.Is(err, ErrNotLinked):
		return "the coordinator's other workers and this one must reach each other over TCP: check --advertise and the firewalls between the machines"
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return "the NATS servers refused this worker's credentials: give --creds the cluster's credentials file (its DIR/nats.seed, or the .creds file its `cluster up --creds` uses)"
	case errors.Is(err, errCreds):
		return "fix the credentials file given with --creds"
	case errors.As(err, &record):
		return "the other end does not speak TLS: is it the address of `cluster up --listen`?"
	case transient(err):
		return ""
	case errors.Is(err, ipc.ErrAuth):
		return "the cluster-secret handshake failed: check that --secret is a copy of the coordinator's DIR/secret (and that both sides run the same version of stackless)"
	}
	return ""
}

// transient reports whether err is a network failure that may heal: the
// coordinator is not listening (yet), the connection was cut or timed out.
func transient(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// upHint names the coordinator a joining worker needs.
func upHint(cfg WorkerConfig) string {
	if cfg.Join != "" {
		return "`stackless cluster up --listen`"
	}
	return "a `stackless cluster up` using these NATS servers"
}

// joinError is a failure to join: a short message (the coordinator, the
// cause, what to check) over the full chain, which errors.Is still sees.
type joinError struct {
	err error
	msg string
}

func (e *joinError) Error() string   { return e.msg }
func (e *joinError) Unwrap() []error { return []error{ErrCannotJoin, e.err} }

// cause is the innermost message of err that still says everything: the
// layers that only put a prefix before it ("cluster: worker: ...", "ipc:
// node N: dial tcp ADDR: ...") are peeled off.
func cause(err error) string {
	for {
		msg := err.Error()
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if e != nil && strings.HasSuffix(msg, e.Error()) {
					next = e
				}
			}
		}
		if _, ok := err.(*fs.PathError); ok {
			return msg // its prefix names the file at fault ("stat FILE: no such file or directory")
		}
		if next == nil || !strings.HasSuffix(msg, next.Error()) || next.Error() == "" {
			return msg
		}
		err = next
	}
}
