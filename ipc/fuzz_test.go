package ipc

// FuzzFrame feeds arbitrary byte streams to the frame reader and the
// message decoder, the code that reads what a peer sends once it has
// authenticated. Its hostile seeds are committed under
// testdata/fuzz/FuzzFrame so that plain `go test` runs them;
// TestFuzzFrameCorpus keeps the files in step with fuzzSeeds
// (go test ./ipc -run TestFuzzFrameCorpus -update-fuzz-corpus rewrites them).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

var updateCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the committed seeds under testdata/fuzz/FuzzFrame")

// fuzzMaxFrame keeps the fuzzer's frames small enough to run fast.
const fuzzMaxFrame = 1 << 20

func lengthPrefixed(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// fuzzSeeds are named byte streams: valid frames of every kind and the
// hostile inputs the reader must refuse without allocating what they claim.
func fuzzSeeds(t testing.TB) map[string][]byte {
	reg := testRegistry()
	seeds := map[string][]byte{}
	var all []byte
	for i, m := range sampleMessages() {
		if len(m.Payload) > 1000 {
			m.Payload = m.Payload[:1000]
		}
		body, err := appendMessage(nil, reg, &m)
		require.NoError(t, err)
		seeds[fmt.Sprintf("valid_%02d_%s", i, m.Kind)] = lengthPrefixed(body)
		all = append(all, lengthPrefixed(body)...)
	}
	seeds["valid_all_kinds_in_one_stream"] = all
	ts := scheduler.TaskletState{ID: 1, Behavior: &Prog{Name: "p", Code: []Instr{recv(5)}}, State: tasklet.Blocked,
		Cases: []tasklet.Case{tasklet.RecvCase(5)}, Plain: true}
	raw, err := reg.DumpTasklet(&ts)
	require.NoError(t, err)
	body, err := appendMessage(nil, reg, &message{Kind: kMigrate, Epoch: 1, Raw: raw,
		Timers: []scheduler.TimerState{{At: 5, Case: -1}}})
	require.NoError(t, err)
	seeds["valid_migrate"] = lengthPrefixed(body)

	hostile := map[string][]byte{
		"length_4G":            {0xff, 0xff, 0xff, 0xff},
		"length_over_limit":    binary.BigEndian.AppendUint32(nil, fuzzMaxFrame+1),
		"length_zero":          {0, 0, 0, 0},
		"header_cut":           {0, 0, 1},
		"body_cut":             append(binary.BigEndian.AppendUint32(nil, 64), 0x95, byte(kOp), 1, 1),
		"garbage_c1":           lengthPrefixed([]byte{0xc1}),
		"garbage_text":         lengthPrefixed([]byte("GET / HTTP/1.1\r\n\r\n")),
		"bomb_array32_4G":      lengthPrefixed([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}),
		"bomb_bin32_4G":        lengthPrefixed([]byte{0x95, byte(kControl), 1, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff}),
		"bomb_str32_4G":        lengthPrefixed([]byte{0x94, byte(kMigrated), 1, 1, 0xdb, 0xff, 0xff, 0xff, 0xff}),
		"bomb_map32_in_value":  lengthPrefixed([]byte{0x93, byte(kPost), 1, 0x92, 0xa6, 'i', 'p', 'c', 't', 'e', 's', 0xdf, 0xff, 0xff, 0xff, 0xff}),
		"bomb_op_cases_4G":     lengthPrefixed([]byte{0x95, byte(kOp), 1, 1, 0, 0xdd, 0xff, 0xff, 0xff, 0xff}),
		"bomb_timers_4G":       lengthPrefixed([]byte{0x95, byte(kMigrate), 1, 0xc2, 0xc0, 0xdd, 0xff, 0xff, 0xff, 0xff}),
		"nesting_10k":          lengthPrefixed(append(bytes.Repeat([]byte{0x91}, 10_000), 0xc0)),
		"kind_unknown":         lengthPrefixed([]byte{0x91, 0x63}),
		"kind_zero":            lengthPrefixed([]byte{0x91, 0x00}),
		"fields_too_few":       lengthPrefixed([]byte{0x92, byte(kDone), 1}),
		"tasklet_zero":         lengthPrefixed([]byte{0x92, byte(kSettled), 0}),
		"case_index_huge":      lengthPrefixed([]byte{0x95, byte(kOp), 1, 1, 0, 0x91, 0x94, 0xce, 0x7f, 0xff, 0xff, 0xff, 0, 1, 0xc0}),
		"value_unregistered":   lengthPrefixed(append([]byte{0x93, byte(kPost), 1, 0x92, 0xa4}, "nope\xc0"...)),
		"trailing_bytes":       lengthPrefixed([]byte{0x92, byte(kSettled), 1, 0xc0}),
		"migrate_bad_record":   lengthPrefixed([]byte{0x95, byte(kMigrate), 1, 0xc2, 0x91, 0x01, 0x90}),
		"reply_code_bad":       lengthPrefixed([]byte{0x95, byte(kReply), 1, 0xc0, 0xc0, 9}),
		"valid_then_oversized": append(lengthPrefixed([]byte{0x92, byte(kSettled), 1}), 0x7f, 0xff, 0xff, 0xff),
		"grant_over_limit":     lengthPrefixed([]byte{0x93, byte(kGrant), 1, 0xcd, 0x04, 0x01}),
		"grant_negative":       lengthPrefixed([]byte{0x93, byte(kGrant), 1, 0xff}),
		"waiting_over_limit":   lengthPrefixed([]byte{0x93, byte(kWaiting), 1, 0xce, 0x80, 0, 0, 0}),
		"waiting_negative":     lengthPrefixed([]byte{0x93, byte(kWaiting), 1, 0xff}),
		"put_bomb_str32_4G":    lengthPrefixed([]byte{0x93, byte(kPut), 1, 0xdb, 0xff, 0xff, 0xff, 0xff}),
		"put_fields_too_few":   lengthPrefixed([]byte{0x92, byte(kPut), 1}),
		"puts_count_4G":        lengthPrefixed([]byte{0xdd, 0xff, 0xff, 0xff, 0xff, byte(kPuts), 1, 1}),
		"puts_count_short":     lengthPrefixed([]byte{0x95, byte(kPuts), 1, 1, 2}),
		"puts_no_values":       lengthPrefixed([]byte{0x92, byte(kPuts), 1}),
		"puts_over_limit":      lengthPrefixed(append([]byte{0xdd, 0, 0, (maxPutValues + 3) >> 8, (maxPutValues + 3) & 0xff, byte(kPuts), 1}, bytes.Repeat([]byte{1}, maxPutValues+1)...)),
		"puts_bin32_4G":        lengthPrefixed([]byte{0x93, byte(kPuts), 1, 0xc6, 0xff, 0xff, 0xff, 0xff}),
		"puts_str32_4G":        lengthPrefixed([]byte{0x94, byte(kPuts), 1, 1, 0xdb, 0xff, 0xff, 0xff, 0xff}),
		"puts_int_over_max":    lengthPrefixed([]byte{0x93, byte(kPuts), 1, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
		"puts_value_bad":       lengthPrefixed(append([]byte{0x94, byte(kPuts), 1, 1, 0x92, 0xa4}, "nope\xc0"...)),
		"puts_map_value":       lengthPrefixed([]byte{0x93, byte(kPuts), 1, 0x80}),
	}
	for k, v := range hostile {
		seeds["hostile_"+k] = v
	}
	return seeds
}

// FuzzFrame checks that no stream makes the reader or decoder panic or
// allocate beyond the stream's size, and that every message that decodes
// encodes back to a frame that decodes to the same message.
func FuzzFrame(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bufio.NewReaderSize(bytes.NewReader(data), bufSize), fuzzMaxFrame)
		for {
			body, err := fr.next()
			if err != nil {
				return
			}
			var m message
			var cases scratch
			if decodeMessage(body, reg, &m, &cases) != nil || m.Kind == kMigrate {
				continue // MIGRATE decodes into a record, not back into bytes
			}
			again, err := appendMessage(nil, reg, &m)
			if err != nil {
				t.Fatalf("a decoded %v does not encode: %v", m.Kind, err)
			}
			var m2 message
			if err := decodeMessage(again, reg, &m2, &cases); err != nil {
				t.Fatalf("a re-encoded %v does not decode: %v", m.Kind, err)
			}
			assert.Equal(t, m, m2)
		}
	})
}

// TestFuzzFrameCorpus keeps the committed seed files equal to fuzzSeeds.
func TestFuzzFrameCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzFrame")
	for name, data := range fuzzSeeds(t) {
		file := filepath.Join(dir, name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if *updateCorpus {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(file, []byte(want), 0o644))
			continue
		}
		got, err := os.ReadFile(file)
		require.NoError(t, err, "seed %s is not committed; run go test ./ipc -run TestFuzzFrameCorpus -update-fuzz-corpus", name)
		assert.True(t, string(got) == want, "seed %s is out of date; run go test ./ipc -run TestFuzzFrameCorpus -update-fuzz-corpus", name)
	}
}
