package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loopedDatabase writes a real database, then points the root page of one
// of its buckets back at the page that holds the bucket: a loop, which
// bbolt would follow for ever.
func loopedDatabase(t *testing.T) (path string, good []byte) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "looped.db")
	db, err := Open(path)
	require.NoError(t, err)
	for g := range 3 {
		cp := &Checkpoint{}
		for i := range 400 { // big enough that no bucket is stored inline
			cp.Records = append(cp.Records, Record{Key: fmt.Appendf(nil, "k%05d", i), Value: fmt.Appendf(nil, "value %d of %d", i, g)})
		}
		_, err := db.Save(cp)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())
	good, err = os.ReadFile(path)
	require.NoError(t, err)

	ne := binary.NativeEndian
	var m boltMeta
	for i := range 2 {
		mi, ok := parseBoltMeta(good[i*pageSize:])
		require.True(t, ok)
		if mi.valid() && mi.txid >= m.txid {
			m = mi
		}
	}
	bad := append([]byte(nil), good...)
	root := bad[int(m.root)*pageSize:]
	require.Equal(t, uint16(boltLeafFlag), ne.Uint16(root[8:]), "the root bucket's page holds the buckets")
	body := root[boltPageHeader:]
	for i := range int(ne.Uint16(root[10:])) {
		e := body[i*boltLeafElem:]
		if ne.Uint32(e)&boltBucketLeaf == 0 {
			continue
		}
		v := body[i*boltLeafElem+int(ne.Uint32(e[4:]))+int(ne.Uint32(e[8:])):]
		if ne.Uint64(v) != 0 {
			ne.PutUint64(v, m.root) // the bucket's pages are its parent's page
			require.NoError(t, os.WriteFile(path, bad, 0o600))
			return path, good
		}
	}
	t.Fatal("no bucket of the database has pages of its own")
	return "", nil
}

func TestOpenRefusesATreeThatLoops(t *testing.T) {
	path, good := loopedDatabase(t)
	for _, opts := range [][]Option{nil, {WithReadOnly()}} {
		db, err := Open(path, opts...)
		if err == nil {
			db.Close()
		}
		require.Error(t, err, "a page tree that loops is refused before bbolt follows it")
		assert.True(t, errors.Is(err, ErrCorrupt), "%v", err)
		assert.Contains(t, err.Error(), "reached twice")
		assert.Contains(t, err.Error(), path)
	}

	// The same file before the damage opens and reads.
	require.NoError(t, os.WriteFile(path, good, 0o600))
	db, err := Open(path, WithReadOnly())
	require.NoError(t, err)
	gens, err := db.List()
	require.NoError(t, err)
	assert.Len(t, gens, 3)
	require.NoError(t, db.Close())
}
