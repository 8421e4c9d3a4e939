package game

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/stackless-go/stackless/internal/atomicfile"
)

// The picture's palette: a dark ground, guards in blues and whites,
// monsters in reds, dead monsters grey.
var palette = color.Palette{
	color.RGBA{14, 18, 26, 255},    // ground
	color.RGBA{60, 120, 255, 255},  // guard: patrol
	color.RGBA{0, 220, 255, 255},   // guard: chase
	color.RGBA{255, 230, 0, 255},   // fight (both kinds)
	color.RGBA{235, 235, 235, 255}, // guard: flee
	color.RGBA{190, 30, 40, 255},   // monster: wander
	color.RGBA{255, 120, 0, 255},   // monster: fight
	color.RGBA{230, 0, 200, 255},   // monster: flee
	color.RGBA{85, 85, 85, 255},    // monster: dead
}

// colour is the palette index of an entity; layer orders the drawing so
// that fights are drawn last, on top.
func colour(k Kind, s State) (index uint8, layer int) {
	if k == GuardKind {
		switch s {
		case Chase:
			return 2, 2
		case Fight:
			return 3, 3
		case Flee:
			return 4, 2
		}
		return 1, 1
	}
	switch s {
	case Fight:
		return 6, 3
	case Flee:
		return 7, 2
	case Dead:
		return 8, 0
	}
	return 5, 1
}

// Render draws the world at the current tick as a size x size picture:
// every entity a dot coloured by its kind and state.
func (g *Game) Render(size int) *image.Paletted {
	w := g.world
	img := image.NewPaletted(image.Rect(0, 0, size, size), palette)
	now := g.Clock.Now()
	scale := float64(size) / float64(w.Side+1)
	// Dots about two fifths of the average distance between entities, 1-3 px.
	dot := int(min(max(0.4*scale*float64(w.Side)/math.Sqrt(float64(len(w.Kinds))), 1), 3))
	for layer := range 4 {
		for slot, k := range w.Kinds {
			c, l := colour(k, w.States[slot])
			if l != layer {
				continue
			}
			p := w.Legs[slot].At(now)
			x, y := int(float64(p.X)*scale), int(float64(p.Y)*scale)
			d := dot
			if layer >= 2 { // chasing, fleeing, fighting: a little bigger
				d++
			}
			for dy := range d {
				for dx := range d {
					if x+dx < size && y+dy < size {
						img.Pix[(y+dy)*img.Stride+x+dx] = c
					}
				}
			}
		}
	}
	return img
}

// WritePNG renders the world and writes it to path as a PNG file.
func (g *Game) WritePNG(path string, size int) error {
	if size < 16 || size > 8192 {
		return fmt.Errorf("gameai: picture size must be 16 to 8192 pixels, got %d", size)
	}
	if err := atomicfile.Replaceable(path); err != nil {
		return fmt.Errorf("gameai: picture: %w", err)
	}
	// Whole or not at all: written in place, a full disk left an empty
	// picture over the last good one.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("gameai: picture %s: %w", path, atomicfile.Failed(err, "", path))
	}
	bw := bufio.NewWriter(f)
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	err = enc.Encode(bw, g.Render(size))
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("gameai: picture %s: %w", path, atomicfile.Failed(err, f.Name(), path))
	}
	return nil
}
