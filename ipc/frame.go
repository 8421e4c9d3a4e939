package ipc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A frame is a 4-byte big-endian body length followed by the body, one
// msgpack message. Frames are read through a 64 KiB bufio.Reader and
// written in batches through a 64 KiB bufio.Writer.

const (
	frameHeader = 4
	bufSize     = 64 << 10
)

// frameReader reads frames from a link. The length is checked against max
// before anything is read or allocated for the body; a body that fits the
// bufio buffer is returned in place, a larger one is read into a buffer
// that grows to at most max.
type frameReader struct {
	r    *bufio.Reader
	max  int
	skip int    // bytes of the last body still in r, dropped on the next call
	big  []byte // body buffer for frames larger than r's buffer
}

func newFrameReader(r *bufio.Reader, max int) *frameReader {
	return &frameReader{r: r, max: max}
}

// next returns the next frame body, valid until the following call.
func (fr *frameReader) next() ([]byte, error) {
	if fr.skip > 0 {
		fr.r.Discard(fr.skip) // Peeked before, so always buffered
		fr.skip = 0
	}
	hdr, err := fr.r.Peek(frameHeader)
	if err != nil {
		if errors.Is(err, io.EOF) && len(hdr) > 0 {
			return nil, fmt.Errorf("%w: the stream ended inside a frame header (%d of 4 bytes)", ErrBadFrame, len(hdr))
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr)
	if n == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrBadFrame)
	}
	if uint64(n) > uint64(fr.max) {
		return nil, fmt.Errorf("%w: the peer announced %d bytes; the limit is %d (WithMaxFrame)", ErrFrameTooLarge, n, fr.max)
	}
	if frameHeader+int(n) <= fr.r.Size() { // the whole frame fits the buffer: read it in place
		frame, err := fr.r.Peek(frameHeader + int(n))
		if err != nil {
			return nil, truncated(err, max(len(frame)-frameHeader, 0), int(n))
		}
		fr.skip = frameHeader + int(n)
		return frame[frameHeader:], nil
	}
	fr.r.Discard(frameHeader)
	if cap(fr.big) < int(n) {
		fr.big = make([]byte, n)
	}
	body := fr.big[:n]
	if got, err := io.ReadFull(fr.r, body); err != nil {
		return nil, truncated(err, got, int(n))
	}
	return body, nil
}

// buffered is how many bytes of further frames are already read: a reader
// that has none would block on the next frame.
func (fr *frameReader) buffered() int { return fr.r.Buffered() - fr.skip }

func truncated(err error, got, want int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated frame: the stream ended after %d of %d bytes", ErrBadFrame, got, want)
	}
	return err
}

// beginFrame reserves the length prefix of a frame appended to b.
func beginFrame(b []byte) ([]byte, int) {
	return append(b, 0, 0, 0, 0), len(b)
}

// endFrame fills in the length of the frame begun at start, or drops the
// frame if it is larger than max.
func endFrame(b []byte, start, max int) ([]byte, error) {
	n := len(b) - start - frameHeader
	if n > max {
		return b[:start], fmt.Errorf("%w: a %d-byte message; the limit is %d (WithMaxFrame)", ErrFrameTooLarge, n, max)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}
