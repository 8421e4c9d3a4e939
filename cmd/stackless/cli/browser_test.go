package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The browser tests drive the observer's pages in headless Chromium
// (Debian's chromium package): they load each page, check what it shows
// against the running system, act and see the change. With
// STACKLESS_SCREENSHOTS=DIR they also save a screenshot of each page there
// (docs/ holds the committed ones).

// chromiumPath finds the browser or fails the test saying how to get it:
// the tests of the observer are not optional.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found on PATH: the observer's browser tests need it. " +
		"Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this), " +
		"or put chromium, chromium-browser or google-chrome on PATH")
	return ""
}

// newBrowser starts a headless browser for the test; every tab it opens
// shares its cookies.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// The first Do starts the browser and must have no deadline (it would
	// stop the browser); a loaded machine takes seconds here.
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// browse runs actions under a deadline.
func browse(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...))
}

// visit opens url and waits until the page drew its main part.
func visit(t *testing.T, ctx context.Context, url, ready string) {
	t.Helper()
	browse(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(ready)))
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	browse(t, ctx, chromedp.Click(chromedp.CSS(sel)))
}

// waitText waits until sel's text contains want and returns the text.
func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	expr := `(() => { const e = document.querySelector(` + jsString(sel) + `); return e && e.textContent.includes(` + jsString(want) + `) ? e.textContent : null; })()`
	s, err := chromedp.Run(ctx, chromedp.Poll[string](expr, chromedp.WithPollingTimeout(85*time.Second)))
	if err != nil {
		var now string
		now, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.querySelector(`+jsString(sel)+`); return e ? e.textContent : "(no element)"; })()`))
		require.NoError(t, err, "waiting for %q in %s; it shows: %s", want, sel, now)
	}
	return s
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// screenshot saves the page to $STACKLESS_SCREENSHOTS/name, when set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("STACKLESS_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

// serve runs a command of this CLI that serves the observer until the test
// ends, and returns the URL it printed (with the token) and its exit code's
// channel.
func serve(t *testing.T, ctx context.Context, args ...string) (url string, done <-chan int) {
	t.Helper()
	url, done, _ = serveOut(t, ctx, args...)
	return url, done
}

// serveOut is serve that also gives everything the command printed on
// stderr (its logs and its workers'), once it has ended.
func serveOut(t *testing.T, ctx context.Context, args ...string) (url string, done <-chan int, out <-chan []string) {
	t.Helper()
	pr, pw := io.Pipe()
	root := NewRoot()
	root.SetArgs(args)
	root.SetOut(io.Discard)
	root.SetErr(pw)
	codes := make(chan int, 1)
	go func() {
		code := execute(ctx, root)
		pw.Close()
		codes <- code
	}()
	urls := make(chan string, 1)
	lines := make(chan []string, 1)
	go func() {
		var all []string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			all = append(all, sc.Text())
			if u, ok := strings.CutPrefix(sc.Text(), "observer: "); ok {
				urls <- strings.Fields(u)[0]
			}
		}
		lines <- all
	}()
	select {
	case url = <-urls:
	case code := <-codes:
		t.Fatalf("%v exited with %d before serving:\n%s", args, code, strings.Join(<-lines, "\n"))
	case <-ctx.Done():
		t.Fatalf("%v did not start serving", args)
	}
	return url, codes, lines
}

// base is the URL without path and token.
func base(url string) string {
	i := strings.Index(url[len("http://"):], "/")
	return url[:len("http://")+i]
}
