// Package game is the ping-pong example as a library: two tasklets bounce a
// ball over two unbuffered channels and log every hit. The stackless CLI
// (`stackless demo pingpong`) and examples/pingpong both run it.
//
// Ping and Pong are straight-line Go; stackless gen lowers them into
// behaviors (game_stackless.go) whose exported fields are their live
// locals, so a game can be saved between any two steps and go on in another
// scheduler or process. Nothing of a game lives outside its world: the hits
// and the score wait in the log channel's buffer until the host prints them
// (Play), so a saved game holds what it has not printed yet.
package game

//go:generate go run github.com/stackless-go/stackless/cmd/stackless gen

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Table is the channels of one game.
type Table struct {
	ToPong channel.ID // Ping hits the ball here
	ToPing channel.ID // Pong hits it back here
	Log    channel.ID // every hit, then the Score; closed when the game is over
}

// Score is the last entry of a game's log.
type Score struct {
	Rallies int // how many times Ping served
	Ping    int // Ping's hits
	Pong    int // Pong's hits
}

func (sc Score) String() string {
	return fmt.Sprintf("game over: %d rallies, %d hits (ping %d, pong %d)", sc.Rallies, sc.Ping+sc.Pong, sc.Ping, sc.Pong)
}

func init() {
	// The kinds pingpong.ping and pingpong.pong are registered by the
	// generated file; a Score can be in the log when a game is saved.
	if err := pickle.RegisterValue[Score](pickle.Default, "pingpong.score"); err != nil {
		panic(err)
	}
}

// Ping serves: it hits the ball rallies times, each time waiting for it to
// come back, then ends the game and logs the score.
//
//stackless:tasklet kind=pingpong.ping version=1
func Ping(t *tasklet.Flow, table Table, rallies int) error {
	ball := 0 // hits by both players so far
	for hits := 1; hits <= rallies; hits++ {
		if err := t.Send(table.Log, fmt.Sprintf("ping %d", hits)); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		if err := t.Send(table.ToPong, ball+1); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		back, err := tasklet.RecvAs[int](t, table.ToPing)
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		ball = back
	}
	if err := t.Close(table.ToPong); err != nil { // Pong's receive returns channel.ErrClosed
		return fmt.Errorf("ping: %w", err)
	}
	if err := t.Send(table.Log, Score{Rallies: rallies, Ping: rallies, Pong: ball - rallies}); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return t.Close(table.Log)
}

// Pong returns every ball it receives until Ping ends the game.
//
//stackless:tasklet kind=pingpong.pong version=1
func Pong(t *tasklet.Flow, table Table) error {
	for hits := 1; ; hits++ {
		ball, err := tasklet.RecvAs[int](t, table.ToPong)
		if errors.Is(err, channel.ErrClosed) {
			return nil // Ping ended the game
		}
		if err != nil {
			return fmt.Errorf("pong: %w", err)
		}
		if err := t.Send(table.Log, fmt.Sprintf("pong %d", hits)); err != nil {
			return fmt.Errorf("pong: %w", err)
		}
		if err := t.Send(table.ToPing, ball+1); err != nil {
			return fmt.Errorf("pong: %w", err)
		}
	}
}

// Setup lays a table on s and spawns Ping and Pong on it for a game of n
// rallies (n < 0 plays none). The log buffers the whole game (2n+1
// entries), so the players never wait for the host: Play s, or Run or Tick
// it and Play it afterwards.
func Setup(s *scheduler.Scheduler, n int) Table {
	n = max(n, 0)
	table := Table{ToPong: s.NewChannel(0), ToPing: s.NewChannel(0), Log: s.NewChannel(2*n + 1)}
	s.Spawn(NewPing(table, n))
	s.Spawn(NewPong(table))
	return table
}

// Play runs s until the game at table is over, printing every hit and then
// the score to out as they are logged, and returns the score. It takes a
// game at any point: fresh, half played, restored from a snapshot, or over
// with its log not printed yet.
func Play(ctx context.Context, s *scheduler.Scheduler, table Table, out io.Writer) (Score, error) {
	var score Score
	for {
		v, err := s.Recv(ctx, table.Log) // runs the players until they log something
		if errors.Is(err, channel.ErrClosed) {
			break // the score was the last entry
		}
		if err != nil {
			return score, fmt.Errorf("pingpong: %w", err)
		}
		switch v := v.(type) {
		case string:
			fmt.Fprintln(out, v)
		case Score:
			score = v
			fmt.Fprintln(out, v)
		default:
			return score, fmt.Errorf("pingpong: log channel %v holds a %T (%v); want a hit (a string) or the Score", table.Log, v, v)
		}
	}
	if err := s.Run(ctx); err != nil { // the players exit
		return score, fmt.Errorf("pingpong: %w", err)
	}
	return score, nil
}
