//go:build linux

package ipc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// nofileChildEnv makes the test binary receive a shared mapping's
// descriptors with RLIMIT_NOFILE just above its open descriptors.
const nofileChildEnv = "IPC_NOFILE_CHILD"

func init() { childModes[nofileChildEnv] = runNofileChild }

// TestOutOfDescriptorsIsNamedWhenReceivingAMapping: a process at its
// descriptor limit gets a truncated SCM_RIGHTS message. That used to be
// reported as a peer that "passed more descriptors than a mapping has", so
// `cluster up -n 8` under `ulimit -n 64` blamed its workers; the error
// now says this process is out of descriptors and what its limit is.
func TestOutOfDescriptorsIsNamedWhenReceivingAMapping(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nofileChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	assert.Contains(t, string(out), "this process is out of file descriptors (it may open ")
	assert.Contains(t, string(out), "raise it (ulimit -n)")
	assert.NotContains(t, string(out), "more descriptors than a mapping has")
}

func runNofileChild(string) int {
	fail := func(err error) int { fmt.Println("child:", err); return 1 }
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range pair {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return fail(err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	s, fds, err := createShm()
	if err != nil {
		return fail(err)
	}
	defer s.free()
	// Room for one descriptor: fewer than the five sent.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fail(err)
	}
	high := 0
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			high = max(high, n)
		}
	}
	lim := unix.Rlimit{Cur: uint64(high + 2), Max: uint64(high + 2)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fail(err)
	}
	// Fill the free numbers below the limit, then free one.
	var filler []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		filler = append(filler, fd)
	}
	if len(filler) > 0 {
		unix.Close(filler[len(filler)-1])
	}
	if err := sendFds(conns[0], shmFds, fds); err != nil {
		return fail(err)
	}
	_, got, err := recvFds(conns[1])
	closeFds(got)
	if err == nil {
		return fail(fmt.Errorf("received %d descriptors at a limit of %d", len(got), lim.Cur))
	}
	fmt.Println(err)
	return 0
}
