package store

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Opening a database another process is writing to must say it is locked.
// Open's preflight read the meta and freelist pages before waiting for the
// lock, so it could read them halfway through the holder's commit and call
// the file damaged (a second `demo longtask` on the same --data did, and
// offered --fresh, which moves the live file aside).
func TestOpenWhileAnotherWritesSaysLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	db := openAt(t, path, WithKeep(4))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m := model{}
			for k := range 50 + i%200 { // commits of changing size move the freelist
				m[fmt.Sprint("k", k)] = strings.Repeat("v", 100+i%900)
			}
			if _, err := db.Save(&Checkpoint{Records: recordsOf(m)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	opens := 0
	for ; time.Now().Before(deadline); opens++ {
		second, err := Open(path, WithTimeout(time.Millisecond))
		if !assert.ErrorIs(t, err, ErrLocked, "open %d", opens) {
			if second != nil {
				_ = second.Close()
			}
			break
		}
		_, err = Open(path, WithTimeout(time.Millisecond), WithReadOnly())
		if !assert.ErrorIs(t, err, ErrLocked, "read-only open %d", opens) {
			break
		}
	}
	close(stop)
	wg.Wait()
	require.NoError(t, db.Close())
	t.Logf("%d opens tried", opens)
}
