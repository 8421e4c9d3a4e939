package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A cluster generation whose manifest does not decode (damaged, or written
// by a newer stackless) is listed with no time; `checkpoint ls` printed it
// as saved at 0001-01-01 00:00:00 with 0 records and 0 bytes.
func TestGensTableMarksAnUnreadableGeneration(t *testing.T) {
	var b bytes.Buffer
	writeGens(&b, []genView{
		{Gen: 2, Full: true, Time: time.Date(2026, 12, 4, 20, 42, 7, 0, time.UTC), Records: 1, Bytes: 302},
		{Gen: 3, Full: true},
	}, 0)
	out := b.String()
	assert.Contains(t, out, "2026-12-04 20:42:07")
	assert.NotContains(t, out, "0001-01-01")
	assert.Regexp(t, `(?m)^3\s+\?\s+unreadable \(inspect --gen 3 says why\)\s+-\s+-\s+-$`, out)
}
