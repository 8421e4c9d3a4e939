package observe_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stackless-go/stackless/observe"
)

// One op of BenchmarkOverview100k is one read of a live scheduler holding
// 100,000 blocked tasklets: what a page load, an event tick or a scrape
// costs the scheduler's goroutine, and nothing between them.
func BenchmarkOverview100k(b *testing.B) {
	l := startLive(&testing.T{}, 100_000)
	defer l.stop()
	src := observe.NewSchedulerSource("bench", l.s, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Overview(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// One op of BenchmarkTaskletsPage100k is one filtered page of 50 rows out
// of 100,000 tasklets, over HTTP, with the overview cached (as it is for
// every page between two refreshes).
func BenchmarkTaskletsPage100k(b *testing.B) {
	t := &testing.T{}
	l := startLive(t, 100_000)
	defer l.stop()
	srv, err := observe.Start(observe.Config{Source: observe.NewSchedulerSource("bench", l.s, nil), Refresh: 1 << 62})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addr().String() + "/api/tasklets?q=t9999&offset=0&limit=50"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatal(err, resp.Status)
		}
		resp.Body.Close()
	}
}
