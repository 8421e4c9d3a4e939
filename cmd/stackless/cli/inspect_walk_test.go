package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/store"
)

// savedStore saves cp as the one generation of a new database.
func savedStore(t *testing.T, cp *store.Checkpoint) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "many.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	_, err = db.Save(&store.Checkpoint{Meta: cp.Meta, Records: cp.Records})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	return path
}

// damagedStore is damagedBeyond's world in a database: the store's
// checksums hold, only decoding a damaged tasklet record fails.
func damagedStore(t *testing.T, keep int) (path string, good, bad uint64) {
	cp, good, bad := damagedBeyond(t, keep)
	return savedStore(t, cp), good, bad
}

func TestInspectJSONOfABigStoreIsCompleteAndAsBefore(t *testing.T) {
	path, _, _ := damagedStore(t, 10)

	out := runOK(t, "inspect", path, "-o", "json")
	var got worldView
	require.NoError(t, json.Unmarshal([]byte(out), &got), "the streamed JSON is valid")
	require.Len(t, got.Tasklets, 120, "every tasklet, not --limit of them")
	require.Len(t, got.Channels, 120)
	ids := map[uint64]bool{}
	damaged := 0
	for _, tv := range got.Tasklets {
		ids[tv.ID] = true
		if tv.Problem != "" {
			damaged++
		}
	}
	assert.Len(t, ids, 120, "each tasklet once")
	assert.Equal(t, 110, damaged, "a damaged record is listed and does not stop the others")

	// Byte for byte what printing the whole decoded world printed.
	tg, err := openTarget(path, time.Second, false)
	require.NoError(t, err)
	defer tg.close()
	cp, err := tg.load(1)
	require.NoError(t, err)
	whole := &worldView{File: path, Type: "store", Generations: got.Generations}
	require.NoError(t, fillWorld(whole, cp))
	var want bytes.Buffer
	require.NoError(t, writeJSON(&want, whole))
	assert.Equal(t, want.String(), out)

}

func TestInspectDamagedRecordOfAStoreIsARowWithItsProblem(t *testing.T) {
	path, good, bad := damagedStore(t, 10)

	var tv taskletView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "inspect", path, "--tasklet", fmt.Sprint(bad), "-o", "json")), &tv))
	assert.Equal(t, bad, tv.ID)
	assert.Contains(t, tv.Problem, "tasklet record", "says what did not decode")

	table := runOK(t, "inspect", path, "--limit", "0")
	assert.Contains(t, table, "tasklets: 120\n")
	row := regexp.MustCompile(`^t(\d+) `)
	rows, damaged := 0, 0
	for line := range strings.Lines(table) {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rows++
		if strings.Contains(line, "cannot decode: ") {
			damaged++
		}
		switch m[1] {
		case fmt.Sprint(bad):
			assert.Contains(t, line, "cannot decode: ", "the damaged record's row says so")
		case fmt.Sprint(good):
			assert.NotContains(t, line, "cannot decode")
		}
	}
	assert.Equal(t, 120, rows, "every tasklet has its row")
	assert.Equal(t, 110, damaged, "the damaged records did not stop the others")
}

func TestInspectStoreTableDecodesOnlyItsLimit(t *testing.T) {
	path, _, _ := damagedStore(t, 10)
	tg, err := openTarget(path, time.Second, false)
	require.NoError(t, err)
	defer tg.close()

	v := &worldView{keep: 10}
	require.NoError(t, tg.world(v, 0, false))
	assert.Equal(t, 120, v.nTasklets, "every record is counted")
	assert.Equal(t, 120, v.nChannels)
	require.Len(t, v.Tasklets, 10)
	require.Len(t, v.Channels, 10)
	for _, tv := range v.Tasklets {
		assert.Empty(t, tv.Problem, "t%d: only the first 10 tasklets are decoded", tv.ID)
	}

	v = &worldView{stream: true}
	require.NoError(t, tg.world(v, 0, false))
	assert.Equal(t, 120, v.nTasklets)
	assert.Empty(t, v.Tasklets, "-o json decodes no row before printing it")
	assert.Empty(t, v.Channels)
}

// A store whose records fail their checksum: -o json finds out before it
// prints anything, so no half a document reaches stdout.
func TestInspectJSONOfADamagedStorePrintsNothing(t *testing.T) {
	cp, _, _ := damagedBeyond(t, 200) // nothing damaged
	marker := []byte("inspect-walk-test-marker")
	last := -1
	for i, r := range cp.Records {
		if r.Key[0] == 't' {
			last = i
		}
	}
	cp.Records[last].Value = marker // the last record walked: the walk has printed the others by then
	path := savedStore(t, cp)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	at := bytes.Index(data, marker)
	require.Positive(t, at, "the record is stored as is")
	data[at] ^= 0x20
	require.NoError(t, os.WriteFile(path, data, 0o600))

	code, out, errOut := run(t, "inspect", path, "-o", "json")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, path)
	assert.Contains(t, errOut, "checksum")
}

func TestFieldsPreviewIsTheCutFieldsText(t *testing.T) {
	big := make([]any, 5000)
	for i := range big {
		big[i] = map[string]any{"X": i, "Name": "日本é", "B": []byte{1, byte(i)}}
	}
	cases := []map[string]any{
		{},
		{"A": 1},
		{"A": 1, "B": "x", "C": []any{1, 2}, "D": map[string]any{"E": true}, "G": nil},
		{"Name": strings.Repeat("日本", 100), "Z": 3},
		{"World": big, "Dt": 100},
		{"A": []any{[]any{[]any{strings.Repeat("é", 70)}}}, "B": "end"},
	}
	for i, fields := range cases {
		for _, width := range []int{0, 3, 4, 10, 60, 200} {
			assert.Equal(t, truncate(fieldsText(fields), width), fieldsPreview(fields, width), "case %d, width %d", i, width)
		}
	}
}
