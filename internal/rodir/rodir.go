//go:build linux

// Package rodir gives tests a folder nothing can be written in, the way a
// user meets one: as root, where permissions stop nothing, a read-only
// mount (EROFS); otherwise permissions (EACCES).
package rodir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Make returns a new empty folder that refuses every write: as root a
// read-only tmpfs mounted there, otherwise a folder of mode 0555.
func Make(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 {
		chmod(t, dir, 0o555)
		return dir
	}
	mount(t, dir, "tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=64k")
	return dir
}

// Freeze makes dir, and the files in it, refuse every write from now on
// to the end of the test: as root a read-only bind mount of dir over
// itself, otherwise modes 0555 and 0444.
func Freeze(t testing.TB, dir string) {
	t.Helper()
	if os.Getuid() != 0 {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				chmod(t, filepath.Join(dir, e.Name()), 0o444)
			}
		}
		chmod(t, dir, 0o555)
		return
	}
	mount(t, dir, dir, dir, "", syscall.MS_BIND, "")
	// A bind mount takes MS_RDONLY only when remounted.
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("rodir: remount %s read-only: %v", dir, err)
	}
}

// Errno is the error a write in a folder of Make or Freeze meets: EROFS
// as root, EACCES otherwise.
func Errno() syscall.Errno {
	if os.Getuid() == 0 {
		return syscall.EROFS
	}
	return syscall.EACCES
}

func chmod(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(path, fi.Mode().Perm()) }) // so TempDir can remove it
}

// mount mounts as root; a refusal (a container without CAP_SYS_ADMIN)
// fails the test and says so, rather than letting it pass without trying
// the read-only path.
func mount(t testing.TB, dir, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		t.Fatalf("rodir: as root a read-only folder needs a mount on %s, and mounting failed: %v; run the tests as a non-root user or with CAP_SYS_ADMIN", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, 0); err != nil {
			t.Errorf("rodir: unmount %s: %v", target, err)
		}
	})
}

// Check asserts the shape of err, a write to path refused by a folder of
// Make or Freeze: it names path exactly once (no "open X: open X:"), no
// temporary file beside it (".name.tmp-123", removed by then), says why
// (read-only file system, or this user's permissions) and that nothing
// was written, and errors.Is still finds the errno.
func Check(t testing.TB, err error, path string) {
	t.Helper()
	if err == nil {
		t.Fatalf("writing %s in a read-only folder succeeded", path)
	}
	msg := err.Error()
	if n := strings.Count(msg, path); n != 1 {
		t.Errorf("the error names %s %d times, want once: %s", path, n, msg)
	}
	if tmp := "." + filepath.Base(path) + "."; strings.Contains(msg, tmp) {
		t.Errorf("the error names a temporary file (%s...): %s", tmp, msg)
	}
	why := "may not write"
	if os.Getuid() == 0 {
		why = "is on a read-only file system"
	}
	for _, want := range []string{why, "nothing was written"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	if !errors.Is(err, Errno()) {
		t.Errorf("errors.Is(err, %v) is false: %s", Errno(), msg)
	}
}
