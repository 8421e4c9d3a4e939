package cluster_test

import (
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// List cuts pages on the workers: paging with After lists every tasklet
// once, in ID order; the filters, the offset and the counts agree with the
// whole listing; a bad query is refused with what to give instead, both in
// the coordinator and in a client.
func TestListPagesAndFilters(t *testing.T) {
	c, ctx := startCluster(t, 2, nil)
	_, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "sink", Count: 23, Args: map[string]string{"in": "@chan"}})
	require.NoError(t, err)
	pong := map[string]string{"ina": "@chan", "inb": "@chan", "outa": "@chan", "outb": "@chan"}
	_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "ponger", Count: 9, Worker: 2, Args: pong})
	require.NoError(t, err)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	cl, err := cluster.Dial(ctx, cluster.DialConfig{Dir: st.Dir})
	require.NoError(t, err)
	defer cl.Close()

	all, err := cl.PS(ctx)
	require.NoError(t, err)
	require.Len(t, all, 32)
	assert.True(t, slices.IsSortedFunc(all, func(a, b cluster.TaskletView) int { return cmp.Compare(a.ID, b.ID) }), "in ID order")

	for _, api := range []cluster.API{c, cl} {
		var paged []cluster.TaskletView
		q := cluster.ListQuery{Limit: 10}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 4, "32 tasklets are 4 pages of 10")
			page, err := api.List(ctx, q)
			require.NoError(t, err)
			assert.Equal(t, 32, page.Total)
			assert.Equal(t, 32-len(paged), page.Matched, "the matches above After")
			paged = append(paged, page.Tasklets...)
			if len(page.Tasklets) < q.Limit {
				break
			}
			q.After = page.Tasklets[len(page.Tasklets)-1].ID
		}
		assert.Equal(t, all, paged, "the pages make the whole listing, each tasklet once")
		var viaPages []cluster.TaskletView
		pages := 0
		for page, err := range cluster.Pages(ctx, api.List, cluster.ListQuery{Limit: 7}) {
			require.NoError(t, err)
			viaPages = append(viaPages, page.Tasklets...)
			pages++
		}
		assert.Equal(t, all, viaPages, "Pages reads the same")
		assert.Equal(t, 5, pages, "32 tasklets are 5 pages of 7")

		page, err := api.List(ctx, cluster.ListQuery{Offset: 5, Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, all[5:15], page.Tasklets)
		assert.Equal(t, 32, page.Matched)

		keep := func(f func(v cluster.TaskletView) bool) []cluster.TaskletView {
			var out []cluster.TaskletView
			for _, v := range all {
				if f(v) {
					out = append(out, v)
				}
			}
			return out
		}
		for _, tc := range []struct {
			q    cluster.ListQuery
			want []cluster.TaskletView
		}{
			{cluster.ListQuery{Kind: "test.ponger"}, keep(func(v cluster.TaskletView) bool { return v.Kind == "test.ponger" })},
			{cluster.ListQuery{Worker: 1}, keep(func(v cluster.TaskletView) bool { return v.Worker == 1 })},
			{cluster.ListQuery{State: "blocked", Text: "RECEIV"}, keep(func(v cluster.TaskletView) bool { return v.Op == "receiving" })},
			{cluster.ListQuery{Text: all[17].ID.String()}, all[17:18]},
			{cluster.ListQuery{State: "runnable"}, nil},
		} {
			tc.q.Limit = 100
			page, err := api.List(ctx, tc.q)
			require.NoError(t, err)
			assert.Equal(t, len(tc.want), page.Matched, "%+v", tc.q)
			assert.Equal(t, tc.want, nilIfEmpty(page.Tasklets), "%+v", tc.q)
		}
		assert.Len(t, keep(func(v cluster.TaskletView) bool { return v.Kind == "test.ponger" && v.Worker == 2 }), 9, "the filters kept something")

		for q, msg := range map[cluster.ListQuery]string{
			{Limit: 0}:                  "limit 0: give 1 to 10000",
			{Limit: 10_001}:             "limit 10001",
			{Limit: 1, Offset: -1}:      "offset -1 is negative",
			{Limit: 10, Offset: 99_995}: "offset 99995 is too deep",
			{Limit: 1, Worker: 9}:       "worker 9 is not ready or not in the cluster",
		} {
			_, err := api.List(ctx, q)
			assert.ErrorContains(t, err, msg, "%+v", q)
		}
	}
}

func nilIfEmpty(vs []cluster.TaskletView) []cluster.TaskletView {
	if len(vs) == 0 {
		return nil
	}
	return vs
}
