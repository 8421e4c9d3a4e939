//go:build !linux

package ipc

import (
	"errors"
	"net"
)

// Shared-memory links are Linux-only (memfd, eventfd); elsewhere a unix
// socket link offers none and carries its frames on the socket.

const shmSupported = false

var errNoShm = errors.New("shared-memory links need Linux")

func createShm() (*shmLink, []int, error) { return nil, nil, errNoShm }

func openShm(byte, []int) (*shmLink, error) { return nil, errNoShm }

func closeFds([]int) {}

func sendFds(*net.UnixConn, byte, []int) error { return errNoShm }

func recvFds(*net.UnixConn) (byte, []int, error) { return 0, nil, errNoShm }
