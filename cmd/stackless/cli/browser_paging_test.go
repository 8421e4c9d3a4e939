package cli

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/tasklet"
)

// wideCluster answers the observer like a coordinator of n tasklets, all
// runnable on worker 1, and pages them as the workers do, window included.
type wideCluster struct{ n int }

func (c wideCluster) Status(context.Context) (cluster.Status, error) {
	return cluster.Status{Dir: "wide", State: "running"}, nil
}

func (c wideCluster) List(_ context.Context, q cluster.ListQuery) (cluster.TaskletList, error) {
	if q.Offset+q.Limit > cluster.MaxListWindow {
		return cluster.TaskletList{}, errors.New("past the window")
	}
	l := cluster.TaskletList{Total: c.n, Matched: c.n - int(q.After)}
	for id := int(q.After) + q.Offset + 1; id <= c.n && len(l.Tasklets) < q.Limit; id++ {
		l.Tasklets = append(l.Tasklets, cluster.TaskletView{ID: tasklet.ID(id), Kind: "wide", Worker: 1, State: "runnable"})
	}
	return l, nil
}

func (c wideCluster) Inspect(context.Context, tasklet.ID) (cluster.TaskletView, error) {
	return cluster.TaskletView{}, errors.New("not here")
}
func (c wideCluster) Kill(context.Context, tasklet.ID) (cluster.KillResult, error) {
	return cluster.KillResult{}, errors.New("not here")
}
func (c wideCluster) Throw(context.Context, tasklet.ID, string) (cluster.ThrowResult, error) {
	return cluster.ThrowResult{}, errors.New("not here")
}
func (c wideCluster) Migrate(context.Context, tasklet.ID, uint16) (cluster.MigrateResult, error) {
	return cluster.MigrateResult{}, errors.New("not here")
}

// A cluster's tasklets table went 100,000 rows deep and no further (its
// workers send their first offset+limit matches): next past that page
// asked for a page the cluster refuses. It now pages on from the last row
// shown, and prev comes back the way it went.
func TestBrowserTaskletsPageOnPastTheWindow(t *testing.T) {
	n := cluster.MaxListWindow + 120
	srv, err := observe.Start(observe.Config{Addr: "127.0.0.1:0", Source: observe.NewClusterSource(wideCluster{n: n})})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	b := newBrowser(t)
	visit(t, b, srv.URL(), "#summary")
	visit(t, b, base(srv.URL())+"/tasklets", "#trows table")
	waitText(t, b, "#tcount", "1–50 of 100,120 (of 100,120 live)")

	eval[bool](t, b, `(tq.offset = 99900, tasklets(), true)`) // as if next was clicked 1,998 times
	waitText(t, b, "#tcount", "99,901–99,950 of 100,120")
	click(t, b, "#next")
	waitText(t, b, "#tcount", "99,951–100,000 of 100,120")
	click(t, b, "#next")
	waitText(t, b, "#tcount", "100,001–100,050 of 100,120")
	require.Equal(t, "t100001", eval[string](t, b, `document.querySelector("#trows tbody tr").dataset.id`))
	click(t, b, "#next")
	waitText(t, b, "#tcount", "100,051–100,100 of 100,120")
	click(t, b, "#next")
	waitText(t, b, "#tcount", "100,101–100,120 of 100,120")
	click(t, b, "#prev")
	waitText(t, b, "#tcount", "100,051–100,100 of 100,120")
	click(t, b, "#prev")
	waitText(t, b, "#tcount", "100,001–100,050 of 100,120")
	click(t, b, "#prev")
	waitText(t, b, "#tcount", "99,951–100,000 of 100,120")
	require.Equal(t, "t99951", eval[string](t, b, `document.querySelector("#trows tbody tr").dataset.id`))
	require.Empty(t, eval[string](t, b, `document.querySelector(".err")?.textContent || ""`))
}
