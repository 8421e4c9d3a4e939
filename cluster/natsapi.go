package cluster

// The leader's requests over NATS, so that `stackless cluster status|ps|
// spawn|...` work from any machine that can reach the NATS servers with
// the cluster's credentials, knowing no coordinator's address or folder:
// the leader subscribes to "<name>.api.<kind>" (names.go) and answers the
// same control kinds as on its socket, with the same JSON bodies. Who may
// ask is whoever NATS lets in (the account of --creds). Only the holder of
// the lease answers: every request first reads the lease, and a
// coordinator that is no longer its holder (deposed, not yet aware of it)
// stays silent, so the request is answered by the new leader or by nobody
// (the caller then gets ErrNoLeader and asks again until its deadline).
//
// A NATS message is at most about 1 MiB (the server's max_payload), so a
// reply body larger than natsInline goes through the blob table like a
// large ipc reply (wire.go), and is pulled in parts of natsPart bytes.

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

const (
	natsInline = 256 << 10 // larger reply bodies are pulled in parts
	natsPart   = 256 << 10 // bytes of a blob per reply
	kindPart   = "x.part"  // NATS only: a part of a blob

	hdrError  = "Stackless-Error"  // set on a reply whose body is the handler's error message
	hdrLast   = "Stackless-Last"   // set on the reply holding a blob's last part
	hdrLeader = "Stackless-Leader" // the answering leader, host:pid
	hdrEpoch  = "Stackless-Epoch"  // and its lease epoch
)

// partReq asks for up to Max bytes of blob ID from Off.
type partReq struct {
	ID  uint64 `json:"id"`
	Off int    `json:"off"`
	Max int    `json:"max"`
}

// apiServer answers a cluster's requests on NATS while its lease is held.
type apiServer struct {
	nc       *nats.Conn
	names    natsNames
	lease    *lease
	me       Leader             // the lease as this coordinator holds it, from start
	handlers map[string]handler // by kind
	blobs    *blobs
	log      *slog.Logger
	ctx      context.Context // ends when the coordinator stops
	sub      *nats.Subscription
	runs     dedup // commands by ID (natsdedup.go)
}

// start subscribes; the subscription is known to the server when it
// returns, so a request sent after it reaches this leader.
func (a *apiServer) start() error {
	a.me = a.lease.me
	sub, err := a.nc.Subscribe(a.names.API+".>", func(m *nats.Msg) {
		// One goroutine per request: a long checkpoint does not hold a
		// status request back (the coordinator's op lock orders the rest).
		go a.answer(m)
	})
	if err != nil {
		return fmt.Errorf("cluster: serve requests on NATS subject %s.>: %w", a.names.API, err)
	}
	if err := a.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("cluster: serve requests on NATS subject %s.>: %w", a.names.API, err)
	}
	a.sub = sub
	return nil
}

// stop ends the subscription (the connection's close ends it too).
func (a *apiServer) stop() {
	if a.sub != nil {
		_ = a.sub.Unsubscribe()
	}
}

// leads reports whether this coordinator holds the lease now, as the
// bucket says (not as its own renewals last saw). The lease is read again
// while NATS does not answer for now (a stream electing its leader): a
// request left unanswered for that would be waited on by its caller.
func (a *apiServer) leads(ctx context.Context) bool {
	cur, _, err := currentLeader(ctx, a.lease.kv) // in bounded attempts
	return err == nil && cur != nil && !cur.Down && a.me.Epoch != 0 && cur.Holder == a.me.Holder && cur.Epoch == a.me.Epoch
}

// answer runs one request and replies, unless this coordinator does not
// lead.
func (a *apiServer) answer(m *nats.Msg) {
	if m.Reply == "" || a.ctx.Err() != nil {
		return
	}
	kind := strings.TrimPrefix(m.Subject, a.names.API+".")
	lctx, cancel := context.WithTimeout(a.ctx, jsOpTimeout)
	leads := a.leads(lctx)
	cancel()
	if !leads {
		a.log.Warn("cluster: a request on NATS not answered: this coordinator does not hold the lease", "kind", kind, "epoch", a.me.Epoch)
		return
	}
	if id := m.Header.Get(hdrRequest); id != "" && !natsReads[kind] && kind != kindPart {
		r, first := a.runs.begin(kind + "/" + id)
		if !first { // a copy: the first one's answer, once it is there
			select {
			case <-r.done:
				a.reply(kind, r.answerTo(m.Reply))
			case <-a.ctx.Done():
			}
			return
		}
		out := a.run1(kind, m)
		r.finish(out)
		a.reply(kind, out)
		return
	}
	a.reply(kind, a.run1(kind, m))
}

// run1 runs request m (of kind) and returns its answer.
func (a *apiServer) run1(kind string, m *nats.Msg) *nats.Msg {
	out := nats.NewMsg(m.Reply)
	out.Header.Set(hdrLeader, a.me.Holder)
	out.Header.Set(hdrEpoch, strconv.FormatUint(a.me.Epoch, 10))
	body, last, err := a.run(a.ctx, kind, m.Data) // the handlers bound their own work
	if err != nil {
		out.Header.Set(hdrError, "1")
		body = []byte(err.Error())
	}
	if last {
		out.Header.Set(hdrLast, "1")
	}
	out.Data = body
	return out
}

// reply sends an answer.
func (a *apiServer) reply(kind string, out *nats.Msg) {
	if err := a.nc.PublishMsg(out); err != nil && a.ctx.Err() == nil {
		a.log.Warn("cluster: could not answer a request on NATS", "kind", kind, "err", err)
	}
}

// run is the reply body of one request.
func (a *apiServer) run(ctx context.Context, kind string, payload []byte) (body []byte, last bool, err error) {
	if kind == kindPart {
		var p partReq
		if err := decodeJSON(payload, &p); err != nil {
			return nil, false, err
		}
		if p.Max < 1 || p.Max > natsPart {
			return nil, false, fmt.Errorf("cluster: blob %d: a part of %d bytes asked (1 to %d)", p.ID, p.Max, natsPart)
		}
		return a.blobs.part(p.ID, p.Off, p.Max)
	}
	h := a.handlers[kind]
	if h == nil {
		return nil, false, fmt.Errorf("cluster: no request %q on NATS subject %s.%s (the command and the coordinator are of different versions?)", kind, a.names.API, kind)
	}
	body, err = h(ctx, payload)
	if err != nil {
		return nil, false, err
	}
	body, err = a.blobs.wrapAt(body, natsInline)
	return body, false, err
}
