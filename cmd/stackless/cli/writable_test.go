package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
)

// The --data hint was added to every EACCES, EPERM or EROFS, also one
// about a port, a certificate or a file elsewhere, where moving --data
// does not help. Now only a path under the flag's folder gets it, and only
// that flag's hint.
func TestWritableHintOnlyForItsFolder(t *testing.T) {
	data := t.TempDir()
	render := filepath.Join(t.TempDir(), "pics", "w.png")
	places := []writePlace{
		{"--data DIR", func() string { return data }},
		{"--render FILE", func() string { return filepath.Dir(render) }},
		{"--unset X", func() string { return "" }},
	}
	t.Chdir(filepath.Dir(data))
	for _, tc := range []struct {
		name string
		err  error
		hint string
	}{
		{"a file under --data", &fs.PathError{Op: "open", Path: filepath.Join(data, "gameai.db"), Err: syscall.EROFS}, " (--data DIR)"},
		{"--data itself", &fs.PathError{Op: "mkdir", Path: data, Err: syscall.EACCES}, " (--data DIR)"},
		{"relative, under --data", fmt.Errorf("save: %w", &fs.PathError{Op: "open", Path: filepath.Join(filepath.Base(data), "x"), Err: syscall.EPERM}), " (--data DIR)"},
		{"a rename into --data", &os.LinkError{Op: "rename", Old: "/elsewhere/a", New: filepath.Join(data, "b"), Err: syscall.EACCES}, " (--data DIR)"},
		{"a picture of --render-every", &fs.PathError{Op: "open", Path: filepath.Join(filepath.Dir(render), "w-t000200.png"), Err: syscall.EACCES}, " (--render FILE)"},
		{"a folder beside --data, same prefix", &fs.PathError{Op: "open", Path: data + "2/x", Err: syscall.EACCES}, ""},
		{"a certificate elsewhere", &fs.PathError{Op: "open", Path: "/etc/stackless/tls/key.pem", Err: syscall.EACCES}, ""},
		{"a port", &os.SyscallError{Syscall: "bind", Err: syscall.EACCES}, ""},
		{"not a write refusal", &fs.PathError{Op: "open", Path: filepath.Join(data, "x"), Err: syscall.ENOENT}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := withWritableHint(func(*cobra.Command, []string) error { return tc.err }, places...)
			err := run(nil, nil)
			assert.Equal(t, tc.err.Error()+tc.hint, err.Error())
			assert.True(t, errors.Is(err, tc.err), "the cause stays in the chain")
		})
	}
}
