package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// proc is a worker process the coordinator started and watches.
type proc struct {
	node uint16
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and its output is copied
	err  error         // the exit status, set before done closes

	mu     sync.Mutex
	killed bool   // the coordinator ended it on purpose
	last   string // its last words on stderr (lastWords)
}

// startProc starts cmd with its stdout and stderr copied, line by line and
// prefixed with the worker's name, to stdout and stderr. The process runs
// in a session of its own and outlives a coordinator that dies (see
// detach); its output goroutines end with it.
func startProc(node uint16, cmd *exec.Cmd, stdout, stderr io.Writer) (*proc, error) {
	detach(cmd)
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("cluster: start worker %d: %w", node, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("cluster: start worker %d: %w", node, err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{outR, outW, errR, errW} {
			f.Close()
		}
		return nil, fmt.Errorf("cluster: start worker %d (%s): %w", node, cmd.Path, err)
	}
	outW.Close() // the child holds its own copies
	errW.Close()
	p := &proc{node: node, cmd: cmd, done: make(chan struct{})}
	prefix := fmt.Sprintf("w%d| ", node)
	var copied sync.WaitGroup
	copied.Add(2)
	go func() { defer copied.Done(); copyLines(stdout, outR, prefix, nil) }()
	go func() { defer copied.Done(); copyLines(stderr, errR, prefix, p.lastWords) }()
	go func() {
		err := cmd.Wait()
		copied.Wait() // the pipes reach EOF once the process and its children are gone
		p.err = err
		close(p.done)
	}()
	return p, nil
}

// outputMu keeps the lines of several workers from interleaving mid-line.
var outputMu sync.Mutex

// copyLines copies r to w line by line with a prefix, until r ends. A
// log record (log/slog's JSON or text form) is copied as it is: it names
// its worker with its node key, and a prefix would double that and make a
// JSON line unreadable to a log collector.
func copyLines(w io.Writer, r io.ReadCloser, prefix string, note func([]byte)) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line, pre := sc.Bytes(), prefix
		if bytes.HasPrefix(line, []byte(`{"time":`)) || bytes.HasPrefix(line, []byte("time=")) {
			pre = ""
		} else if note != nil {
			note(line)
		}
		outputMu.Lock()
		fmt.Fprintf(w, "%s%s\n", pre, line)
		outputMu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // a line over the limit: drain so the worker never blocks
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// deliberate reports whether the coordinator ended the process itself.
func (p *proc) deliberate() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// kill ends the process at once (SIGKILL) and waits for it.
func (p *proc) kill() error {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	if !p.exited() {
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("cluster: kill worker %d (pid %d): %w", p.node, p.cmd.Process.Pid, err)
		}
	}
	<-p.done
	return nil
}

// stop waits up to grace for the process to end by itself (it was told to
// stop), then kills it.
func (p *proc) stop(grace time.Duration) error {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return p.kill()
	}
}

// maxLastWords bounds what describe quotes of a worker's output.
const maxLastWords = 240

// lastWords keeps what names a worker's death best: the first line of a
// Go panic or fatal error ("panic: ...", "fatal error: ..."; the stack
// that follows says less in one line), or else its last line of output
// that is not a log record.
func (p *proc) lastWords(line []byte) {
	l := strings.TrimSpace(string(line[:min(len(line), maxLastWords)]))
	if l == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if strings.HasPrefix(p.last, "panic: ") || strings.HasPrefix(p.last, "fatal error: ") {
		return
	}
	p.last = l
}

// describe says how the process ended, for logs and status, with its last
// words: a worker killed by what a checkpoint holds says what it was.
func (p *proc) describe() string {
	if p.err == nil {
		return "exited normally"
	}
	p.mu.Lock()
	last := p.last
	p.mu.Unlock()
	if last == "" {
		return p.err.Error()
	}
	return fmt.Sprintf("%v; its last output: %q", p.err, last)
}
