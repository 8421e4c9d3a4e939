package game

import (
	"image/png"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWritePNG(t *testing.T) {
	g := newGame(t, small)
	for range 60 {
		require.NoError(t, g.Tick())
	}
	path := filepath.Join(t.TempDir(), "world.png")
	require.NoError(t, g.WritePNG(path, 96))

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err, "a valid PNG")
	assert.Equal(t, 96, img.Bounds().Dx())
	assert.Equal(t, 96, img.Bounds().Dy())
	colours := map[[3]uint32]int{}
	for y := range 96 {
		for x := range 96 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r, g, b}]++
		}
	}
	assert.Greater(t, len(colours), 3, "ground, guards and monsters in several states")
}

// TestRenderPlacesEntities checks the picture against the world: every
// pixel that is not ground is covered by the dot of an entity of that
// colour, and every entity's dot is there (unless a later layer covers it).
func TestRenderPlacesEntities(t *testing.T) {
	g := newGame(t, small)
	for range 30 {
		require.NoError(t, g.Tick())
	}
	const size = 200
	img := g.Render(size)
	w := g.World()
	scale := float64(size) / float64(w.Side+1)
	want := map[int]bool{} // pixels some entity's dot starts at
	for slot := range w.Kinds {
		p := w.Legs[slot].At(g.Clock.Now())
		x, y := int(float64(p.X)*scale), int(float64(p.Y)*scale)
		want[y*img.Stride+x] = true
		assert.NotZero(t, img.Pix[y*img.Stride+x], "slot %d at (%d,%d) is drawn", slot, x, y)
	}
	drawn := 0
	for _, c := range img.Pix {
		if c != 0 {
			drawn++
		}
	}
	assert.GreaterOrEqual(t, drawn, len(want), "a dot per entity position")
}

func TestWritePNGErrors(t *testing.T) {
	g := newGame(t, small)
	assert.Error(t, g.WritePNG(filepath.Join(t.TempDir(), "x.png"), 8), "too small")
	assert.Error(t, g.WritePNG(filepath.Join(t.TempDir(), "no", "such", "dir.png"), 64))
}

// The picture was renamed over whatever was at the path: run as root,
// --render /dev/full made /dev/full a PNG file. A FIFO stays a FIFO.
func TestWritePNGReplacesOnlyAFile(t *testing.T) {
	g := newGame(t, small)
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	err := g.WritePNG(fifo, 64)
	assert.ErrorContains(t, err, fifo+" is a named pipe (FIFO), not a regular file")
	fi, err := os.Lstat(fifo)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeNamedPipe, "the FIFO was replaced")
}
