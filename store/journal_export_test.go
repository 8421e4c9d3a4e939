package store

import (
	"github.com/stackless-go/stackless/scheduler"
	bolt "go.etcd.io/bbolt"
)

// DamageJournalEntry flips a byte of key's journal entry, for tests.
func DamageJournalEntry(db *DB, key scheduler.EffectKey) error {
	return db.update("damaging a journal entry", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJournal)
		var k []byte
		b.ForEach(func(bk, v []byte) error {
			if got, ok := entryKey(bk, v); ok && got == key {
				k = append([]byte(nil), bk...)
			}
			return nil
		})
		v := append([]byte(nil), b.Get(k)...)
		v[len(v)-1] ^= 0x55
		return b.Put(k, v)
	})
}

// DamageGeneration flips a byte of gen's meta record, for tests: Restore
// of gen then fails with ErrCorrupt.
func DamageGeneration(db *DB, gen uint64) error {
	return db.update("damaging a generation", flipValue(bucketMeta, genKey(gen), 6))
}
