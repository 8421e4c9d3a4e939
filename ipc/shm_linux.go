//go:build linux

package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The Linux side of shared-memory links: a sealed memfd holds the rings
// (so the peer can neither shrink it under this process, which would fault
// on the next access, nor grow it), and eventfds registered with Go's
// poller park a side without holding a thread. The descriptors cross the
// socket with SCM_RIGHTS; nothing is left in /dev/shm when a process dies.

const shmSupported = true

// The eventfds of a mapping, in the order they are passed: a ring's
// "data" fd wakes its reader, its "space" fd its writer.
const (
	efdData0 = iota
	efdSpace0
	efdData1
	efdSpace1
	numEfds
)

const wantSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW

// createShm makes a mapping and its eventfds (the dialer's side) and
// returns the link's rings and the descriptors to pass: the memfd, then
// the eventfds. The caller closes the descriptors once they are passed.
func createShm() (*shmLink, []int, error) {
	size := shmRingSize
	total := shmTotal(size)
	mfd, err := unix.MemfdCreate("stackless-link", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, nil, fmt.Errorf("memfd_create: %w", err)
	}
	fds := []int{mfd}
	fail := func(what string, err error) (*shmLink, []int, error) {
		closeFds(fds)
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.Ftruncate(mfd, int64(total)); err != nil {
		return fail("sizing the memfd", err)
	}
	if _, err := unix.FcntlInt(uintptr(mfd), unix.F_ADD_SEALS, wantSeals|unix.F_SEAL_SEAL); err != nil {
		return fail("sealing the memfd", err)
	}
	for range numEfds {
		e, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return fail("eventfd", err)
		}
		fds = append(fds, e)
	}
	mem, err := unix.Mmap(mfd, 0, total, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mapping the memfd", err)
	}
	writeShmHeader(mem, size)
	s, err := newShmLink(mem, size, fds[1:], true)
	if err != nil {
		unix.Munmap(mem)
		return fail("opening the rings", err)
	}
	return s, fds, nil
}

// openShm checks and maps what the dialer passed (the acceptor's side).
// It owns fds: they are closed on failure, and the memfd in any case.
func openShm(b byte, fds []int) (*shmLink, error) {
	if b != shmFds || len(fds) != 1+numEfds {
		closeFds(fds)
		return nil, fmt.Errorf("%w: the peer passed %q with %d descriptors; want %q with %d", ErrBadFrame, b, len(fds), shmFds, 1+numEfds)
	}
	mfd := fds[0]
	defer unix.Close(mfd) // the mapping outlives it
	mem, size, err := mapPeer(mfd)
	if err == nil {
		for _, e := range fds[1:] {
			if err = checkEventfd(e); err != nil {
				break
			}
		}
	}
	var s *shmLink
	if err == nil {
		if s, err = newShmLink(mem, size, fds[1:], false); err == nil {
			return s, nil
		}
	}
	if mem != nil {
		unix.Munmap(mem)
	}
	closeFds(fds[1:])
	return nil, err
}

// mapPeer maps the peer's memfd after checking that it is sealed against
// resizing and as large as its header says.
func mapPeer(mfd int) ([]byte, int, error) {
	seals, err := unix.FcntlInt(uintptr(mfd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: the peer's mapping is not a memfd: %w", ErrBadFrame, err)
	}
	if seals&wantSeals != wantSeals {
		return nil, 0, fmt.Errorf("%w: the peer's memfd is not sealed against resizing (seals %#x)", ErrBadFrame, seals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(mfd, &st); err != nil {
		return nil, 0, err
	}
	if st.Size < int64(shmTotal(shmMinRing)) || st.Size > int64(shmTotal(shmMaxRing)) {
		return nil, 0, fmt.Errorf("%w: the peer's memfd has %d bytes", ErrBadFrame, st.Size)
	}
	mem, err := unix.Mmap(mfd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, 0, fmt.Errorf("mapping the peer's memfd: %w", err)
	}
	size, err := checkShmHeader(mem)
	if err != nil {
		unix.Munmap(mem)
		return nil, 0, err
	}
	return mem, size, nil
}

// checkEventfd refuses a descriptor that is not an eventfd.
func checkEventfd(fd int) error {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return fmt.Errorf("checking a passed descriptor: %w", err)
	}
	if link != "anon_inode:[eventfd]" {
		return fmt.Errorf("%w: the peer passed %s where an eventfd belongs", ErrBadFrame, link)
	}
	return unix.SetNonblock(fd, true)
}

// newShmLink wraps a mapping and its four eventfds (which it owns from
// now on) as one side's rings.
func newShmLink(mem []byte, size int, efds []int, dialer bool) (*shmLink, error) {
	out, in := 0, 1 // the dialer writes ring 0 and reads ring 1
	if !dialer {
		out, in = 1, 0
	}
	own := func(fd int) *os.File { return os.NewFile(uintptr(fd), "stackless-eventfd") }
	// This side waits on the data fd of the ring it reads and the space
	// fd of the ring it writes.
	dataIn, spaceIn := efds[2*in+efdData0], efds[2*in+efdSpace0]
	dataOut, spaceOut := efds[2*out+efdData0], efds[2*out+efdSpace0]
	rf, wf := own(dataIn), own(spaceOut)
	if rf == nil || wf == nil {
		return nil, errors.New("eventfd not usable as a file")
	}
	s := &shmLink{}
	s.refs.Store(shmUsers)
	s.r = newRingReader(ctlOf(mem, in, size), &efdWaiter{own: rf, ownFd: dataIn, other: spaceIn}, &s.st)
	s.w = newRingWriter(ctlOf(mem, out, size), &efdWaiter{own: wf, ownFd: spaceOut, other: dataOut}, &s.st)
	s.wake = func() {
		signalFd(dataIn)
		signalFd(spaceOut)
	}
	s.free = func() error {
		s.r.kill() // no poller reads the ring from now on
		return errors.Join(rf.Close(), wf.Close(), unix.Close(spaceIn), unix.Close(dataOut), unix.Munmap(mem))
	}
	return s, nil
}

// efdWaiter parks on one eventfd (through Go's poller: no thread is held)
// and signals another.
type efdWaiter struct {
	own      *os.File
	ownFd    int // own's descriptor (own.Fd would make it blocking)
	other    int
	deadline bool // own has a read deadline set
}

func (w *efdWaiter) wait() error {
	if w.deadline {
		w.deadline = false
		w.own.SetReadDeadline(time.Time{})
	}
	var b [8]byte
	_, err := w.own.Read(b[:])
	return err
}

func (w *efdWaiter) waitFor(d time.Duration) error {
	w.deadline = true
	if err := w.own.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	var b [8]byte
	_, err := w.own.Read(b[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return err
}

func (w *efdWaiter) signal() { signalFd(w.other) }

func (w *efdWaiter) wakeOwn() { signalFd(w.ownFd) }

var one = binary.NativeEndian.AppendUint64(nil, 1)

// signalFd adds one to an eventfd; it never blocks.
func signalFd(fd int) { unix.Write(fd, one) }

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// sendFds writes the byte b with fds attached.
func sendFds(c *net.UnixConn, b byte, fds []int) error {
	n, oobn, err := c.WriteMsgUnix([]byte{b}, unix.UnixRights(fds...), nil)
	if err == nil && (n != 1 || oobn == 0) {
		err = fmt.Errorf("short write of the descriptors (%d, %d bytes)", n, oobn)
	}
	return err
}

// recvFds reads one byte and the descriptors that came with it (at most
// 1+numEfds; a message with more is refused and all of them closed).
func recvFds(c *net.UnixConn) (byte, []int, error) {
	var b [1]byte
	oob := make([]byte, unix.CmsgSpace(4*(1+numEfds)))
	n, oobn, flags, _, err := c.ReadMsgUnix(b[:], oob)
	if err != nil {
		return 0, nil, hangUpErr(err)
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return 0, nil, fmt.Errorf("%w: control message: %w", ErrBadFrame, err)
		}
		for _, m := range msgs {
			got, err := unix.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if flags&unix.MSG_CTRUNC != 0 && len(fds) < 1+numEfds {
		// The buffer had room for them all: the kernel dropped descriptors it
		// could not install, which it does when this process is at its limit.
		closeFds(fds)
		return 0, nil, fmt.Errorf("the descriptors of the peer's shared mapping were dropped: this process is out of file descriptors (%s); raise it (ulimit -n) or run fewer nodes", nofileLimit())
	}
	if flags&unix.MSG_CTRUNC != 0 || n != 1 {
		closeFds(fds)
		return 0, nil, fmt.Errorf("%w: the peer passed more descriptors than a mapping has, or no byte", ErrBadFrame)
	}
	return b[0], fds, nil
}

// nofileLimit describes this process's RLIMIT_NOFILE, for errors.
func nofileLimit() string {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return "its limit is unknown"
	}
	return fmt.Sprintf("it may open %d", l.Cur)
}
