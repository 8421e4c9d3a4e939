package observe_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/scheduler"
)

func TestAccessRules(t *testing.T) {
	l := startLive(t, 3)
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil)})
	kill := fmt.Sprintf(`{"action":"kill","id":"%v"}`, l.ids[0])
	cases := []struct {
		name   string
		method string
		path   string
		tok    bool
		want   int
	}{
		{"a page on loopback needs no token", http.MethodGet, "/tasklets", false, http.StatusOK},
		{"reading the API on loopback needs no token", http.MethodGet, "/api/overview", false, http.StatusOK},
		{"metrics on loopback need no token", http.MethodGet, "/metrics", false, http.StatusOK},
		{"an action without the token is refused", http.MethodPost, "/api/act", false, http.StatusUnauthorized},
		{"a game control without the token is refused", http.MethodPost, "/api/game/control", false, http.StatusUnauthorized},
		{"an action by GET is refused", http.MethodGet, "/api/act", true, http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var code int
			var body string
			if c.method == http.MethodPost {
				code, body = post(t, srv, c.path, kill, c.tok)
			} else {
				code, body = get(t, srv, c.path, c.tok)
			}
			assert.Equal(t, c.want, code, body)
			if c.want == http.StatusUnauthorized {
				assert.Contains(t, body, "token")
			}
		})
	}
	// Refused actions did nothing.
	_, body := get(t, srv, "/api/tasklet?id="+l.ids[0].String(), false)
	assert.Contains(t, body, `"state":"blocked"`)
}

func TestForeignHostRefusedOnLoopback(t *testing.T) {
	l := startLive(t, 1)
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil)})
	req, err := http.NewRequest(http.MethodGet, "http://"+srv.Addr().String()+"/api/overview", nil)
	require.NoError(t, err)
	req.Host = "evil.example:80" // a rebound DNS name
	code, body := do(t, req)
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "127.0.0.1")
}

func TestNonLoopbackNeedsTLS(t *testing.T) {
	_, err := observe.Start(observe.Config{Addr: "0.0.0.0:0", Source: observe.NewSchedulerSource("x", scheduler.New(), nil)})
	require.ErrorIs(t, err, observe.ErrInsecure)
	assert.Contains(t, err.Error(), "--http-tls DIR", "the observer's flag, not --tls of the cluster links")
}

func TestTokenIsRandomAndPrinted(t *testing.T) {
	a := startServer(t, observe.Config{Source: observe.NewSchedulerSource("a", scheduler.New(), nil)})
	b := startServer(t, observe.Config{Source: observe.NewSchedulerSource("b", scheduler.New(), nil)})
	assert.Len(t, a.Token(), 32)
	assert.NotEqual(t, a.Token(), b.Token())
	assert.Contains(t, a.URL(), "token="+a.Token())
	assert.True(t, strings.HasPrefix(a.URL(), "http://127.0.0.1:"), a.URL())
}

func TestTaskletsPagedAndFiltered(t *testing.T) {
	l := startLive(t, 120)
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil)})
	var p observe.TaskletPage
	_, body := get(t, srv, "/api/tasklets?offset=100&limit=50", false)
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	assert.Equal(t, 120, p.Total)
	assert.Equal(t, 120, p.Matched)
	require.Len(t, p.Rows, 20)
	assert.Equal(t, l.ids[100].String(), p.Rows[0].ID)
	assert.Equal(t, "blocked", p.Rows[0].State)
	assert.Equal(t, "receiving "+l.chs[100].String(), p.Rows[0].Waits)

	_, body = get(t, srv, "/api/tasklets?q="+l.chs[7].String()+"+&state=blocked", false) // "c8 " ends the ID
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	require.Equal(t, 0, p.Matched, "the filter matches words of the row, and no row has a trailing space")

	_, body = get(t, srv, "/api/tasklets?q="+l.ids[7].String()+"&state=runnable", false)
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	assert.Equal(t, 0, p.Matched, "no waiter is runnable")

	// Paging on from a row: only the IDs above it, counted from there.
	_, body = get(t, srv, "/api/tasklets?after="+l.ids[109].String()+"&offset=5&limit=50", false)
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	assert.Equal(t, 10, p.Matched)
	require.Len(t, p.Rows, 5)
	assert.Equal(t, l.ids[115].String(), p.Rows[0].ID)
	assert.Zero(t, p.Window, "a program's table pages to any depth")
	code, body := get(t, srv, "/api/tasklets?after=c5", false)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "?after= must be the ID of a tasklet (t123)")
}

func TestTaskletPageAndKill(t *testing.T) {
	l := startLive(t, 3)
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil)})
	id := l.ids[1]
	var d observe.TaskletDetail
	code, body := get(t, srv, "/api/tasklet?id="+id.String(), false)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &d))
	assert.Equal(t, "blocked", d.State)
	assert.JSONEq(t, fmt.Sprintf(`{"Inbox":%d,"Waiting":true,"Got":0}`, uint64(l.chs[1])), string(d.Fields))

	code, body = post(t, srv, "/api/act", fmt.Sprintf(`{"action":"kill","id":"%v"}`, id), true)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "killed "+id.String())

	// The kill is delivered at the tasklet's next step, which the running
	// scheduler takes a moment later: until then it shows as runnable.
	require.Eventually(t, func() bool {
		code, body = get(t, srv, "/api/tasklet?id="+id.String(), false)
		return code == http.StatusNotFound
	}, 10*time.Second, time.Millisecond, "the killed tasklet leaves: %d %s", code, body)
	assert.Contains(t, body, "tasklets page")
	code, body = post(t, srv, "/api/act", fmt.Sprintf(`{"action":"migrate","id":"%v","to":2}`, l.ids[0]), true)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "cluster up --http")

	_, body = get(t, srv, "/api/overview", false)
	assert.Contains(t, body, `"kind":"kill"`, "the kill is an event")
}

func TestThrowReachesTheStep(t *testing.T) {
	l := startLive(t, 2)
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil)})
	code, body := post(t, srv, "/api/act", fmt.Sprintf(`{"action":"throw","id":"%v","message":"stop"}`, l.ids[0]), true)
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool {
		c, _ := get(t, srv, "/api/tasklet?id="+l.ids[0].String(), false)
		return c == http.StatusNotFound // Waiter exits on a thrown error
	}, 20*time.Second, 20*time.Millisecond)
}

func TestChannelsBusiestFirst(t *testing.T) {
	l := startLive(t, 4)
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil)})
	var p observe.ChannelPage
	_, body := get(t, srv, "/api/channels", false)
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	require.Equal(t, 5, p.Total)
	busy := p.Rows[0]
	assert.Equal(t, l.chs[4].String(), busy.ID)
	assert.Equal(t, []string{"posted", "posted"}, busy.Senders)
	assert.Equal(t, 2, busy.Balance)
	assert.Equal(t, []string{l.ids[0].String()}, p.Rows[1].Receivers)
	assert.Equal(t, -1, p.Rows[1].Balance)
}

func TestMetricsScrape(t *testing.T) {
	l := startLive(t, 5)
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil)})
	code, body := get(t, srv, "/metrics", false)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		"# TYPE stackless_steps_total counter",
		`stackless_steps_total{node="0"} 5`,
		`stackless_tasklets{node="0",state="blocked"} 5`,
		`stackless_channels{node="0"} 6`,
		`stackless_timers{node="0"} 0`,
		`stackless_blocked_tasklets{node="0"} 5`,
		`stackless_switches_total{node="0"} 5`, // each waiter ran once, up to its Recv
		`stackless_channel_operations_total{node="0"} 5`,
		"stackless_up 1",
		"# TYPE stackless_heap_bytes gauge",
	} {
		assert.Contains(t, body, want)
	}
}

func TestEventStreamSendsOverviews(t *testing.T) {
	l := startLive(t, 2)
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil), Refresh: 50 * time.Millisecond})
	resp, err := http.Get("http://" + srv.Addr().String() + "/api/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 1024)
	for n := 0; n < 2; { // two updates arrive, one per refresh
		k, err := resp.Body.Read(tmp)
		require.NoError(t, err)
		buf = append(buf, tmp[:k]...)
		n = strings.Count(string(buf), "event: overview\n")
	}
	assert.Contains(t, string(buf), `"tasklets":2`)
}

// Two observers on one host (a cluster's and a demo's) keep their own
// cookies: browsers do not keep cookies per port.
func TestTokenCookiePerPort(t *testing.T) {
	a := startServer(t, observe.Config{Source: observe.NewSchedulerSource("a", scheduler.New(), nil)})
	b := startServer(t, observe.Config{Source: observe.NewSchedulerSource("b", scheduler.New(), nil)})
	name := func(srv *observe.Server) string {
		resp, err := http.Get(srv.URL())
		require.NoError(t, err)
		resp.Body.Close()
		require.Len(t, resp.Cookies(), 1)
		return resp.Cookies()[0].Name
	}
	assert.NotEqual(t, name(a), name(b))
}
