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
