package store

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValueRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		key     []byte
		typ     recType
		payload []byte
	}{
		{"record", []byte("t/42"), recData, []byte("hello")},
		{"empty payload", []byte("t/1"), recData, nil},
		{"tombstone", []byte("c/7"), recTombstone, nil},
		{"meta", genKey(7), recMeta, []byte{0, 1, 2, 3}},
		{"header", genKey(9), recGenHeader, (&genHeader{base: 3, nanos: -5, nrec: 1}).marshal()},
		{"binary key", []byte{0, 0xff, 0}, recData, make([]byte, 4096)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := encodeValue(tc.key, tc.typ, tc.payload)
			require.Len(t, v, valueHeaderSize+len(tc.payload))
			typ, payload, err := decodeValue(tc.key, v)
			require.NoError(t, err)
			assert.Equal(t, tc.typ, typ)
			assert.Equal(t, len(tc.payload), len(payload))
			assert.Equal(t, string(tc.payload), string(payload))
		})
	}
}

func TestDecodeValueRejects(t *testing.T) {
	key := []byte("t/42")
	good := encodeValue(key, recData, []byte("payload"))

	// A value with a correct checksum but an unknown type byte.
	unknown := append([]byte(nil), good...)
	unknown[4] = 99
	binary.BigEndian.PutUint32(unknown, valueCRC(key, unknown[4:]))

	cases := []struct {
		name  string
		key   []byte
		value []byte
		want  string
	}{
		{"empty", key, nil, "shorter than"},
		{"four bytes", key, good[:4], "shorter than"},
		{"truncated payload", key, good[:len(good)-1], "checksum mismatch"},
		{"extra byte", key, append(append([]byte(nil), good...), 0), "checksum mismatch"},
		{"other key", []byte("t/43"), good, "checksum mismatch"},
		{"unknown type", key, unknown, "unknown record type 99"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeValue(tc.key, tc.value)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	t.Run("every single-byte flip", func(t *testing.T) {
		for i := range good {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				bad := append([]byte(nil), good...)
				bad[i] ^= mask
				_, _, err := decodeValue(key, bad)
				assert.Error(t, err, "flip 0x%02x at byte %d accepted", mask, i)
			}
		}
	})
}

func TestGenHeaderRoundTrip(t *testing.T) {
	h := genHeader{base: 1, nanos: math.MinInt64 + 1, nrec: 2, ndel: 3, recBytes: 4, delBytes: 5, metaLen: 6}
	var got genHeader
	require.NoError(t, got.unmarshal(h.marshal()))
	assert.Equal(t, h, got)
	assert.Error(t, got.unmarshal(make([]byte, genHeaderSize-1)))
	info := h.info(9)
	assert.Equal(t, GenInfo{Gen: 9, Base: 1, Time: info.Time, Records: 2, Deleted: 3, Bytes: 15}, info)
}

func TestCorruptErrorMessages(t *testing.T) {
	cases := []struct {
		name string
		err  *CorruptError
		want string
	}{
		{"record", &CorruptError{Path: "data/world.db", Gen: 7, Key: []byte("t/42"), Offset: -1, Reason: "checksum mismatch"},
			"store: corrupt record \"t/42\" in generation 7 of data/world.db: checksum mismatch; an older generation may be intact (`stackless checkpoint ls` lists them, `stackless inspect --gen N` reads one)"},
		{"meta", &CorruptError{Path: "w.db", Gen: 3, What: "meta", Offset: -1, Reason: "missing"},
			"store: corrupt record meta in generation 3 of w.db: missing; an older generation may be intact (`stackless checkpoint ls` lists them, `stackless inspect --gen N` reads one)"},
		{"no generation", &CorruptError{Path: "w.db", What: "format", Offset: -1, Reason: "bad"},
			`store: corrupt record format in w.db: bad`},
		{"snapshot", &CorruptError{Path: "x.snap", Offset: 12, Reason: "file checksum mismatch"},
			`store: corrupt snapshot file x.snap at byte 12: file checksum mismatch; the file cannot be used: take a new snapshot or use a backup copy`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.err.Error())
			assert.True(t, errors.Is(tc.err, ErrCorrupt))
		})
	}
}

func TestCheckKey(t *testing.T) {
	assert.NotEmpty(t, checkKey(nil))
	assert.NotEmpty(t, checkKey(make([]byte, MaxKeySize+1)))
	assert.Empty(t, checkKey(make([]byte, MaxKeySize)))
	assert.Empty(t, checkKey([]byte{0}))
}
