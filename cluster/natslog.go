package cluster

import (
	"fmt"
	"strings"
	"sync"
)

// natsNotes keeps what the embedded server says about damage to its files.
// The server runs without a log (its notices would flood the
// coordinator's), but a block it finds damaged on start is dropped with
// nothing else to show for it: these lines are what names the file.
type natsNotes struct {
	mu    sync.Mutex
	lines []string
}

// maxNATSNotes bounds the lines kept: the first ones name the damage.
const maxNATSNotes = 16

func (n *natsNotes) note(level, format string, args []any) {
	line := fmt.Sprintf(format, args...)
	l := strings.ToLower(line)
	if !strings.Contains(l, "filestore") && !strings.Contains(l, "corrupt") && !strings.Contains(l, "lost") {
		return
	}
	n.add(level, line)
}

// add keeps a line.
func (n *natsNotes) add(level, line string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.lines) < maxNATSNotes {
		n.lines = append(n.lines, level+": "+line)
	}
}

// damage returns the lines kept so far.
func (n *natsNotes) damage() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.lines...)
}

// The server's Logger interface.
func (n *natsNotes) Noticef(string, ...any)         {}
func (n *natsNotes) Debugf(string, ...any)          {}
func (n *natsNotes) Tracef(string, ...any)          {}
func (n *natsNotes) Warnf(format string, v ...any)  { n.note("warning", format, v) }
func (n *natsNotes) Errorf(format string, v ...any) { n.note("error", format, v) }
func (n *natsNotes) Fatalf(format string, v ...any) { n.note("fatal", format, v) }
