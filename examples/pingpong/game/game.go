// Package game is the ping-pong example as a library: two tasklets bounce a
// ball over two unbuffered channels. The stackless CLI (`stackless demo
// pingpong`) and examples/pingpong both run it.
//
// Each behavior's exported fields are its whole continuation: PC says where
// the next step resumes, channels are referred to by ID, and the ball is a
// plain int (the number of hits so far). Only the output writer is not part
// of the state (tagged `stackless:"-"`, so pickle accepts the kind); a
// behavior without one (a restored tasklet) writes nowhere until SetOutput
// gives it one.
package game

import (
	"errors"
	"fmt"
	"io"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Program counter values of Ping.
const (
	pingHit  = iota // hit the ball (serve, or return what came back)
	pingWait        // the ball is with Pong: wait for it
	pingBack        // the ball came back
)

// Ping serves: it hits the ball Rallies times and ends the game.
type Ping struct {
	PC      int
	ToPong  channel.ID // Ping sends here
	ToPing  channel.ID // Pong sends here
	Rallies int        // how many times Ping hits
	Hits    int        // how many times Ping has hit
	Ball    int        // hits by both players so far
	out     io.Writer  `stackless:"-"` // not state: SetOutput sets it again
}

// Step runs Ping to its next suspension point.
func (p *Ping) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(fmt.Errorf("ping: %w", err))
	}
	switch p.PC {
	case pingWait:
		p.PC = pingBack
		return t.Recv(p.ToPing)
	case pingBack:
		b, err := ball(t.Value())
		if err != nil {
			return t.Fail(fmt.Errorf("ping: %w", err))
		}
		p.Ball = b
	}
	if p.Hits >= p.Rallies {
		if err := t.Close(p.ToPong); err != nil {
			return t.Fail(fmt.Errorf("ping: %w", err))
		}
		fmt.Fprintf(writer(p.out), "game over: %d rallies, %d hits (ping %d, pong %d)\n",
			p.Hits, p.Ball, p.Hits, p.Ball-p.Hits)
		return t.Exit()
	}
	p.Hits++
	p.Ball++
	fmt.Fprintf(writer(p.out), "ping %d\n", p.Hits)
	p.PC = pingWait
	return t.Send(p.ToPong, p.Ball)
}

// SetOutput sets where Ping prints its hits.
func (p *Ping) SetOutput(w io.Writer) { p.out = w }

// Program counter values of Pong.
const (
	pongWait = iota // wait for the ball
	pongHit         // the ball arrived: hit it back
	pongSent        // the ball went back: wait again
)

// Pong returns every ball it receives until ToPong is closed.
type Pong struct {
	PC     int
	ToPong channel.ID // Pong receives here
	ToPing channel.ID // Pong sends here
	Hits   int        // how many times Pong has hit
	out    io.Writer  `stackless:"-"` // not state: SetOutput sets it again
}

// Step runs Pong to its next suspension point.
func (p *Pong) Step(t *tasklet.T) tasklet.Op {
	switch p.PC {
	case pongHit:
		if err := t.Err(); errors.Is(err, channel.ErrClosed) {
			return t.Exit() // Ping ended the game
		} else if err != nil {
			return t.Fail(fmt.Errorf("pong: %w", err))
		}
		b, err := ball(t.Value())
		if err != nil {
			return t.Fail(fmt.Errorf("pong: %w", err))
		}
		p.Hits++
		fmt.Fprintf(writer(p.out), "pong %d\n", p.Hits)
		p.PC = pongSent
		return t.Send(p.ToPing, b+1)
	case pongSent:
		if err := t.Err(); err != nil {
			return t.Fail(fmt.Errorf("pong: %w", err))
		}
	}
	p.PC = pongHit
	return t.Recv(p.ToPong)
}

// SetOutput sets where Pong prints its hits.
func (p *Pong) SetOutput(w io.Writer) { p.out = w }

// Setup makes the two channels and spawns Ping and Pong on s for a game of
// n rallies (n < 0 plays none), printing every hit to out. Run s to play.
// It returns the two behaviors so the caller can read the score afterwards.
func Setup(s *scheduler.Scheduler, n int, out io.Writer) (*Ping, *Pong) {
	toPong, toPing := s.NewChannel(0), s.NewChannel(0)
	ping := &Ping{ToPong: toPong, ToPing: toPing, Rallies: max(n, 0), out: out}
	pong := &Pong{ToPong: toPong, ToPing: toPing, out: out}
	s.Spawn(ping)
	s.Spawn(pong)
	return ping, pong
}

// ball reads the ball from a received value. A restored world may hand
// back any integer type, so all of them are accepted.
func ball(v any) (int, error) {
	switch b := v.(type) {
	case int:
		return b, nil
	case int8:
		return int(b), nil
	case int16:
		return int(b), nil
	case int32:
		return int(b), nil
	case int64:
		return int(b), nil
	case uint8:
		return int(b), nil
	case uint16:
		return int(b), nil
	case uint32:
		return int(b), nil
	case uint64:
		return int(b), nil
	}
	return 0, fmt.Errorf("want a ball (an integer), got %T", v)
}

func writer(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
