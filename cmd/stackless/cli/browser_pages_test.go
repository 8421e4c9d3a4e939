package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// entities of the browser's game: with the world tasklet, 401 tasklets;
// with the world's report channel, 401 channels.
const browserEntities = 400

func TestBrowserGameAIAndItsSaveFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	url, done := serve(t, gctx, "demo", "gameai", "--http", "127.0.0.1:0", "--entities", strconv.Itoa(browserEntities),
		"--data", dir, "--save-every", "0")
	b := newBrowser(t)
	home := base(url)

	// Overview: one scheduler holding every entity and the world.
	visit(t, b, url, "#nodes table")
	waitText(t, b, "#summary", fmt.Sprintf("%d tasklets", browserEntities+1))
	waitText(t, b, "#live", "●")
	screenshot(t, b, "observer-overview.png")

	// Tasklets: paged, filterable; every entity waits on its inbox and a timeout (the end of its leg).
	visit(t, b, home+"/tasklets", "#trows table")
	waitText(t, b, "#tcount", fmt.Sprintf("1–50 of %d", browserEntities+1))
	assert.Equal(t, 50, eval[int](t, b, `document.querySelectorAll("#trows tbody tr").length`))
	browse(t, b, chromedp.SendKeys(chromedp.CSS("#filter"), "select"))
	waitText(t, b, "#tcount", fmt.Sprintf("of %d (of %d live)", browserEntities, browserEntities+1))
	click(t, b, "#next")
	waitText(t, b, "#tcount", fmt.Sprintf("51–100 of %d", browserEntities))
	screenshot(t, b, "observer-tasklets.png")
	id := eval[string](t, b, `document.querySelector("#trows tbody tr").dataset.id`)
	require.Regexp(t, `^t\d+$`, id)

	// A tasklet's page: its fields, as inspect shows them.
	visit(t, b, home+"/tasklet?id="+id, "#detail table")
	waitText(t, b, "#fields", "Inbox")
	waitText(t, b, "#detail", "blocked")
	// A straight-line entity: where each of its frames waits, innermost in a select of its inbox and a timeout.
	waitText(t, b, "#frames", "gameai/game.")
	waitText(t, b, "#frames", "t.Select")
	screenshot(t, b, "observer-tasklet.png")

	// Channels: the busiest first; every inbox and the world's reports.
	visit(t, b, home+"/channels", "#crows table")
	waitText(t, b, "main", fmt.Sprintf("of %d channels", browserEntities+1))
	screenshot(t, b, "observer-channels.png")

	// The game: pause, step one tick, click an entity, save, step, load.
	visit(t, b, home+"/game", "#world")
	waitText(t, b, "#game-state", "entities")
	click(t, b, "#ctl-pause")
	msg := waitText(t, b, "#ctl-result", "paused at tick")
	paused, err := strconv.Atoi(strings.Fields(strings.TrimPrefix(msg, "paused at tick "))[0])
	require.NoError(t, err, msg)
	click(t, b, "#ctl-step")
	waitText(t, b, "#ctl-result", fmt.Sprintf("stepped to tick %d", paused+1))
	waitText(t, b, "#tick", strconv.Itoa(paused+1))
	eval[bool](t, b, `(() => { const c = document.getElementById("world"), r = c.getBoundingClientRect();
		c.dispatchEvent(new MouseEvent("click", {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true}));
		return true; })()`)
	kind := waitText(t, b, "#entity", "slot")
	assert.True(t, strings.Contains(kind, "guard") || strings.Contains(kind, "monster"), kind)
	waitText(t, b, "#entity", "HP") // the entity's tasklet's fields
	click(t, b, "#ctl-save")
	waitText(t, b, "#ctl-result", fmt.Sprintf("saved tick %d", paused+1))
	click(t, b, "#ctl-step")
	waitText(t, b, "#ctl-result", fmt.Sprintf("stepped to tick %d", paused+2))
	click(t, b, "#ctl-load")
	waitText(t, b, "#ctl-result", fmt.Sprintf(": tick %d", paused+1))
	waitText(t, b, "#tick", strconv.Itoa(paused+1))
	screenshot(t, b, "observer-game.png")

	// Without the token (a fresh browser profile, no cookie), the page
	// still reads on loopback, but a control is refused.
	anon, cancelAnon := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	defer cancelAnon()
	require.NoError(t, chromedp.Do(anon), "open a tab in a new browser profile") // no deadline: see newBrowser
	visit(t, anon, home+"/game", "#world")
	click(t, anon, "#ctl-resume")
	waitText(t, anon, "#ctl-result", "unauthorized")
	visit(t, b, home+"/game", "#world")
	waitText(t, b, "#game-state", "paused")

	stop()
	select {
	case code := <-done:
		assert.Equal(t, exitInterrupted, code)
	case <-ctx.Done():
		t.Fatal("demo gameai --http did not stop")
	}

	// The save file, browsed offline: the web form of inspect.
	save := filepath.Join(dir, "gameai.db")
	require.FileExists(t, save)
	fctx, stopFile := context.WithCancel(ctx)
	defer stopFile()
	furl, fdone := serve(t, fctx, "observe", save, "--http", "127.0.0.1:0")
	visit(t, b, base(furl)+"/file", "#gens table")
	waitText(t, b, "#file-path", save)
	waitText(t, b, "#file-count", strconv.Itoa(browserEntities+1))
	first := eval[string](t, b, `document.querySelector("#gens a[data-gen]").dataset.gen`)
	click(t, b, `#gens a[data-gen="`+first+`"]`)
	waitText(t, b, "#file-gen", first)
	click(t, b, "#file-tasklets a[data-t]")
	waitText(t, b, "#file-fields", `"fields"`)
	screenshot(t, b, "observer-file.png")
	stopFile()
	<-fdone
}

func TestBrowserClusterKillAndMigrate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Setenv(envCLIMain, "1") // the workers are this test binary
	d, err := os.MkdirTemp("", "stobs")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	url, done := serve(t, ctx, "cluster", "up", "--data", d, "-n", "2", "--checkpoint-every", "0", "--balance-every", "0",
		"--http", "127.0.0.1:0")
	at := []string{"--cluster", d}
	var col cluster.SpawnResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "spawn", "collector", "-o", "json",
		"--arg", "in=@chan", "--arg", "want=2", "--worker", "1"}, at...)...)), &col))
	in := col.Tasklets[0].Channels["in"].String()
	runOK(t, append([]string{"cluster", "spawn", "work", "--count", "2", "--arg", "out=" + in, "--arg", "links=50000000",
		"--worker", "1"}, at...)...)
	ps := func() []cluster.TaskletView {
		var ps []cluster.TaskletView
		require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json"}, at...)...)), &ps))
		return ps
	}
	before := ps()
	require.Len(t, before, 3)

	b := newBrowser(t)
	home := base(url)
	visit(t, b, url, "#nodes table")
	waitText(t, b, "#summary", "3 tasklets")
	assert.Equal(t, 2, eval[int](t, b, `document.querySelectorAll("#nodes tbody tr").length`), "one row per worker")
	waitText(t, b, "#leader", "coordinator")
	screenshot(t, b, "observer-cluster.png")

	visit(t, b, home+"/tasklets", "#trows table")
	waitText(t, b, "#tcount", "of 3 live")

	// Migrate the first work tasklet to worker 2, from its page.
	work, other := before[1].ID.String(), before[2].ID.String()
	visit(t, b, home+"/tasklet?id="+work, "#act-migrate")
	waitText(t, b, "#detail", "cluster.work")
	browse(t, b, chromedp.SetValue(chromedp.CSS("#migrate-to"), "2"))
	click(t, b, "#act-migrate")
	waitText(t, b, "#confirm", "Migrate "+work+" to worker 2?")
	click(t, b, "#act-confirm")
	waitText(t, b, "#act-result", "to worker 2")
	for _, v := range ps() {
		if v.ID.String() == work {
			assert.Equal(t, uint16(2), v.Worker, "cluster ps shows it on worker 2")
		}
	}
	visit(t, b, home+"/", "#events")
	waitText(t, b, "#events", "migrated "+work)

	// Kill the other one; cancel first, then confirm.
	visit(t, b, home+"/tasklet?id="+other, "#act-kill")
	waitText(t, b, "#detail", "cluster.work")
	// Every overview redraws the detail: however tall it gets, the buttons
	// must stay where a click was aimed.
	assert.Equal(t, 0.0, eval[float64](t, b, `(() => { const top = () => document.getElementById("act-kill").getBoundingClientRect().top;
		const d = document.getElementById("detail"), was = top(), html = d.innerHTML;
		d.innerHTML = '<div style="height: 600px"></div>'; const moved = top() - was; d.innerHTML = html; return moved; })()`),
		"the kill button moved when the detail above it grew")
	click(t, b, "#act-kill")
	click(t, b, "#act-cancel")
	assert.Len(t, ps(), 3, "cancelled: nothing killed")
	click(t, b, "#act-kill")
	click(t, b, "#act-confirm")
	waitText(t, b, "#act-result", "killed "+other)
	assert.Len(t, ps(), 2, "cluster ps no longer lists it")
	waitText(t, b, "#detail", "") // the page redraws: the tasklet is gone
	waitText(t, b, "#gone", other)

	runOK(t, append([]string{"cluster", "down"}, at...)...)
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
}
