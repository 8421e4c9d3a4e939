package observe_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Located is a Waiter that says where it waits, as the behaviors stackless
// gen writes do (their lines are checked against the source in
// gen/internal/flowtest).
type Located struct{ Waiter }

func (l *Located) Where() []tasklet.Frame {
	if !l.Waiting {
		return nil
	}
	return []tasklet.Frame{
		{Function: "example.com/ai.Patrol", File: "patrol.go", Line: 12, Point: "call of listen"},
		{Function: "example.com/ai.listen", File: "patrol.go", Line: 30 + l.Got, Point: "t.Recv"},
	}
}

// The tasklet page of a straight-line tasklet lists where each frame is
// suspended; that of a hand-written one has no frames.
func TestTaskletPageShowsWhereFramesWait(t *testing.T) {
	l := startLive(t, 1)
	ch := make(chan tasklet.ID, 1)
	l.s.Do(func(s *scheduler.Scheduler) { ch <- s.Spawn(&Located{Waiter{Inbox: l.chs[0]}}) })
	var id tasklet.ID
	select {
	case id = <-ch:
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the scheduler did not spawn within 20s")
	}
	srv := startServer(t, observe.Config{Source: observe.NewSchedulerSource("test", l.s, nil)})
	var d observe.TaskletDetail
	require.Eventually(t, func() bool {
		code, body := get(t, srv, "/api/tasklet?id="+id.String(), false)
		d = observe.TaskletDetail{}
		return code == http.StatusOK && json.Unmarshal([]byte(body), &d) == nil && d.State == "blocked"
	}, 20*time.Second, 10*time.Millisecond, "the tasklet blocks on its inbox")
	assert.Equal(t, (&Located{Waiter{Waiting: true}}).Where(), d.Frames)

	code, body := get(t, srv, "/api/tasklet?id="+l.ids[0].String(), false)
	require.Equal(t, http.StatusOK, code, body)
	assert.NotContains(t, body, `"frames"`, "a hand-written behavior says nothing of frames")
}
