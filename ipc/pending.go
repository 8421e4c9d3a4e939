package ipc

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Connections that have not finished the handshake cost a descriptor, a
// goroutine and a TLS state each, and anyone who can reach a TCP port can
// open them: the issue held 10,000 of them (10,020 descriptors, 162 MB)
// for the whole handshake timeout. So each listener admits at most a
// number of them at once, in all and per remote address (an IPv4 address,
// or an IPv6 /64, which one host usually has whole). One flooding address
// then holds only its own share, and peers at other addresses get in as
// before. Unix sockets have the cap in all only: only this user can reach
// them (folder mode 0700), so the peer's address says nothing.
//
// When a cap is full, the oldest connection that has not been heard from
// makes room for the new one: it is closed at once (when the cap in all is
// full, one of the address holding the most). Connections that sent
// nothing go first (whether bytes wait is asked when a connection is
// accepted, then TLS notes its ClientHello), then those that sent only
// bytes anyone can send; one that got through the TLS handshake (it needs a
// certificate of the cluster's CA) or sent a valid HELLO on a unix socket
// is never evicted. A flood of connections that send nothing, the attack
// of the issue, thus keeps evicting itself, and a real peer, whose first
// flight comes at once, gets in even from the flooding address. Only when
// no pending connection may be evicted is the new one closed at once
// instead, before any buffer, goroutine or TLS state is spent on it; Dial
// tries again after a short pause.

// pendingCap is one listener's admission of connections to the handshake.
type pendingCap struct {
	mu         sync.Mutex
	max        int // in all
	perAddr    int // per remote address (TCP only)
	n          int
	byAddr     map[netip.Addr]int
	head, tail *pending // in order of arrival, oldest first
	byConn     map[net.Conn]*pending
	counts     *pendingCounts
}

// pending is one admitted connection in its handshake.
type pending struct {
	conn       net.Conn // as accepted, before TLS
	key        netip.Addr
	heard      atomic.Int32 // heardNothing, heardHello or heardProof
	gone       bool         // released or evicted (guarded by the cap's mu)
	prev, next *pending
}

// How far a pending connection got.
const (
	heardNothing = iota // nothing yet
	heardHello          // bytes (a ClientHello, say): anyone can send them
	heardProof          // through TLS, or a valid HELLO on a unix socket: not evicted
)

// pendingCounts are a node's admission figures over all its listeners,
// for Stats.
type pendingCounts struct {
	now, peak atomic.Int64
	refused   atomic.Uint64 // new connections closed at once, over a cap
	evicted   atomic.Uint64 // pending ones closed to make room
	failed    atomic.Uint64 // accepts that failed
}

func newPendingCap(max, perAddr int, counts *pendingCounts) *pendingCap {
	return &pendingCap{max: max, perAddr: perAddr, byAddr: map[netip.Addr]int{}, byConn: map[net.Conn]*pending{}, counts: counts}
}

// admit takes a place for conn, counted under key (the zero Addr: no
// per-address cap) and heard as far as heard says, evicting a pending
// connection that has not been heard from if a cap is full. It returns
// nil, and closes conn, if there is no place.
func (p *pendingCap) admit(conn net.Conn, key netip.Addr, heard int32) *pending {
	p.mu.Lock()
	var victim *pending
	full := false
	if key.IsValid() && p.byAddr[key] >= p.perAddr {
		full, victim = true, p.evictable(key, true)
	} else if p.n >= p.max {
		full = true
		if heavy, ok := p.heaviest(); ok {
			victim = p.evictable(heavy, true)
		}
		if victim == nil {
			victim = p.evictable(netip.Addr{}, false)
		}
	}
	if full && victim == nil {
		p.mu.Unlock()
		p.counts.refused.Add(1)
		refuse(conn)
		return nil
	}
	if victim != nil {
		p.unlink(victim)
	}
	e := &pending{conn: conn, key: key, prev: p.tail}
	e.heard.Store(heard)
	if p.tail != nil {
		p.tail.next = e
	} else {
		p.head = e
	}
	p.tail = e
	p.byConn[conn] = e
	p.n++
	if key.IsValid() {
		p.byAddr[key]++
	}
	now := p.counts.now.Add(1)
	p.mu.Unlock()
	if victim != nil {
		p.counts.evicted.Add(1)
		refuse(victim.conn)
	}
	for peak := p.counts.peak.Load(); now > peak && !p.counts.peak.CompareAndSwap(peak, now); peak = p.counts.peak.Load() {
	}
	return e
}

// release gives back the place of an admitted connection whose handshake
// ended (a no-op if it was evicted).
func (p *pendingCap) release(e *pending) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !e.gone {
		p.unlink(e)
	}
}

// unlink takes e out of the cap; p.mu is held.
func (p *pendingCap) unlink(e *pending) {
	e.gone = true
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		p.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		p.tail = e.prev
	}
	e.prev, e.next = nil, nil
	delete(p.byConn, e.conn)
	p.n--
	if e.key.IsValid() {
		if p.byAddr[e.key]--; p.byAddr[e.key] <= 0 {
			delete(p.byAddr, e.key)
		}
	}
	p.counts.now.Add(-1)
}

// evictable is the pending connection to close to make room, of key only
// if byKey: the oldest silent one, else the oldest that sent only a
// ClientHello; nil if there is none. p.mu is held.
func (p *pendingCap) evictable(key netip.Addr, byKey bool) *pending {
	var first *pending
	for e := p.head; e != nil; e = e.next {
		if byKey && e.key != key {
			continue
		}
		switch e.heard.Load() {
		case heardNothing:
			return e
		case heardHello:
			if first == nil {
				first = e
			}
		}
	}
	return first
}

// sawHello notes that conn sent a TLS ClientHello.
func (p *pendingCap) sawHello(conn net.Conn) {
	p.mu.Lock()
	e := p.byConn[conn]
	p.mu.Unlock()
	if e != nil {
		e.heard.CompareAndSwap(heardNothing, heardHello)
	}
}

// heaviest is the address with the most pending connections. p.mu is
// held.
func (p *pendingCap) heaviest() (netip.Addr, bool) {
	var top netip.Addr
	most := 0
	for k, n := range p.byAddr {
		if n > most {
			top, most = k, n
		}
	}
	return top, most > 0
}

// addrKey is the address a TCP peer's connections are counted under: its
// IPv4 address, or the /64 of its IPv6 address. Other connections (unix
// sockets) get the zero Addr: the cap in all only.
func addrKey(a net.Addr) netip.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Addr{}
	}
	if ip = ip.Unmap(); ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// refuse closes a connection over the cap at once. A TCP connection is
// reset rather than closed in order, so it leaves no state behind on this
// side (no FIN_WAIT or TIME_WAIT), and its peer learns at once.
func refuse(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// quietLog lets through one log line per interval and counts the rest, so
// a flood of connections cannot flood the log too.
type quietLog struct {
	mu         sync.Mutex
	every      time.Duration
	next       time.Time
	suppressed int
}

// allow reports whether to log now, and how many lines were held back
// since the last one.
func (q *quietLog) allow() (bool, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	if now.Before(q.next) {
		q.suppressed++
		return false, 0
	}
	n := q.suppressed
	q.next, q.suppressed = now.Add(q.every), 0
	return true, n
}
