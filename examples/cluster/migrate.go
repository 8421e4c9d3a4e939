package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/examples/cluster/work"
	"github.com/stackless-go/stackless/tasklet"
)

// migrate starts tickers (mostly asleep) and a small CPU job on worker 1 of
// two, then moves every live tasklet to the other worker, three times,
// printing where each one runs. The balancer is off, so only these moves
// happen. At the end the job's result is checked: moving changed nothing.
func migrate(ctx context.Context, o options) error {
	c, err := start(ctx, o, "migrate", 2, -1)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintln(o.out, "migrate: two tickers and a job of 2 work tasklets start on worker 1, then everything moves")
	tick, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "ticker", Count: 2, Worker: 1, Args: map[string]string{"every_ms": "40", "limit": "25"}})
	if err != nil {
		return err
	}
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": cluster.NewChannelArg, "want": "2"}})
	if err != nil {
		return err
	}
	links := o.links
	ws, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: 2, Worker: 1, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "links": strconv.Itoa(links), "per_step": strconv.Itoa(o.perStep)}})
	if err != nil {
		return err
	}
	for round := 1; round <= 3; round++ {
		ps, err := c.PS(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.out, "  round %d:\n", round)
		for _, v := range ps {
			if v.State == tasklet.Paused.String() {
				fmt.Fprintf(o.out, "    %-20v %-18s done, stays on worker %d\n", v.ID, v.Kind, v.Worker)
				continue
			}
			to := uint16(3 - v.Worker)
			res, err := c.Migrate(ctx, v.ID, to)
			if err != nil {
				// It may have finished between ps and the move.
				fmt.Fprintf(o.out, "    %-20v %-18s not moved: %v\n", v.ID, v.Kind, err)
				continue
			}
			fmt.Fprintf(o.out, "    %-20v %-18s %-9s worker %d -> worker %d\n", v.ID, v.Kind, v.State, res.From, res.To)
		}
		select {
		case <-time.After(150 * time.Millisecond): // let them run a little where they are now
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	v, err := c.Await(ctx, col.Tasklets[0].ID)
	if err != nil {
		return err
	}
	var got struct{ Xor uint64 }
	if err := decode(v.Fields, &got); err != nil {
		return err
	}
	var want uint64
	for _, s := range ws.Tasklets {
		want ^= work.Expected(uint64(s.ID), links)
	}
	if got.Xor != want {
		return fmt.Errorf("after the moves the job computed %016x, the chains give %016x", got.Xor, want)
	}
	for _, t := range tick.Tasklets {
		v, err := c.Await(ctx, t.ID)
		if err != nil {
			return err
		}
		var k struct{ Count int }
		if err := decode(v.Fields, &k); err != nil {
			return err
		}
		fmt.Fprintf(o.out, "  ticker %v counted %d ticks and ended on worker %d\n", t.ID, k.Count, v.Worker)
	}
	fmt.Fprintf(o.out, "  job result %016x on worker %d: the same as computed directly\n", got.Xor, v.Worker)
	return c.Close()
}

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read a tasklet's fields: %w", err)
	}
	return nil
}
