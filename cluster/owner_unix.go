//go:build unix

package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// notYours turns a permission error on path, a file of a cluster
// directory, into one that says whose cluster it is when another user owns
// it: another user's cluster on the same host read as "permission denied
// (is a cluster running on DIR?)", though one was. Other errors, and a
// refusal by a file of this user's own, come back as they are.
func notYours(dir, path string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	owner := ownerOf(path)
	if owner < 0 {
		owner = ownerOf(dir)
	}
	if owner < 0 || owner == os.Geteuid() {
		return err
	}
	name := "uid " + strconv.Itoa(owner)
	if u, uerr := user.LookupId(strconv.Itoa(owner)); uerr == nil {
		name = u.Username + " (" + name + ")"
	}
	return fmt.Errorf("%w: the cluster in %s belongs to %s, and only its owner may use it: run this as that user, or start a cluster of your own (stackless cluster up --data DIR)", err, dir, name)
}

// ownerOf is the uid owning path, -1 when it cannot be read.
func ownerOf(path string) int {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
