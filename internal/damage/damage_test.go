package damage

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVariantsAreDeterministicAndDamaged(t *testing.T) {
	good := bytes.Repeat([]byte("stackless snapshot bytes "), 2000)
	a, b := Variants(good, 7), Variants(good, 7)
	require.Equal(t, a, b, "the same seed gives the same copies")
	require.NotEmpty(t, a)
	assert.False(t, IsBolt(good))
	for _, v := range a {
		assert.NotEqual(t, good, v.Data, "%s changes the file", v.Name)
		if strings.HasPrefix(v.Name, "truncate") {
			assert.Less(t, len(v.Data), len(good), v.Name)
		}
	}
	assert.Equal(t, good, Trim(good), "Trim leaves a file that is not bbolt alone")
}
