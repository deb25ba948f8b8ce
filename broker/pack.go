package broker

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Payloads and results of packMin bytes or more are stored deflated when
// that saves at least an eighth of them. A queued task's Redis memory is
// mostly its payload: JSON of a kilobyte or more usually deflates to a
// half or less, and Redis allocates a value in steps of a quarter of its
// size (1,024 bytes and a header take 1,280), so a value stored as it came
// costs more than itself. Below packMin, the saving is too small for the
// CPU deflate costs. The scripts never read a payload or a result: only
// the broker packs and unpacks them, so what users see is the JSON they
// sent and their handlers returned.
//
// A packed value is packMark, the length of the value as uvarint, then a
// raw deflate stream. JSON, which every payload and result is (tasks
// checks both), never opens with packMark, so a value is read as it is
// stored when it does not.
const (
	packMin  = 512
	packMark = 0x00
)

// maxUnpacked bounds the length a packed value may claim: Redis's own limit
// on a string. A longer one is corrupt, and is not allocated.
const maxUnpacked = 512 << 20

// errPacked says a packed value does not unpack.
var errPacked = errors.New("packed value does not inflate to its length")

var (
	deflaters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed) // BestSpeed is a valid level: no error
		return w
	}}
	inflaters sync.Pool // of flate readers, which implement flate.Resetter
)

// pack returns v as it is to be stored: packed when v is at least packMin
// bytes long and that saves an eighth, else v itself.
func pack(v []byte) []byte {
	if len(v) < packMin {
		return v
	}
	var buf bytes.Buffer
	buf.Grow(len(v) * 7 / 8)
	buf.WriteByte(packMark)
	buf.Write(binary.AppendUvarint(nil, uint64(len(v))))
	w := deflaters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, err := w.Write(v)
	if err == nil {
		err = w.Close()
	}
	deflaters.Put(w)
	if err != nil || buf.Len() > len(v)-len(v)/8 {
		return v // bytes.Buffer does not fail; a poor saving is kept as is
	}
	return buf.Bytes()
}

// unpack returns a stored value as it was before pack. A value that opens
// with packMark but does not inflate to the length it gives is an error
// wrapping errPacked.
func unpack(stored string) ([]byte, error) {
	if len(stored) == 0 || stored[0] != packMark {
		return []byte(stored), nil
	}
	n, used := binary.Uvarint([]byte(stored[1:min(len(stored), 1+binary.MaxVarintLen64)]))
	if used <= 0 || n > maxUnpacked {
		return nil, fmt.Errorf("%w: bad length", errPacked)
	}
	src := strings.NewReader(stored[1+used:])
	var r io.ReadCloser
	if pooled, ok := inflaters.Get().(io.ReadCloser); ok {
		if err := pooled.(flate.Resetter).Reset(src, nil); err == nil {
			r = pooled
		}
	}
	if r == nil {
		r = flate.NewReader(src)
	}
	defer inflaters.Put(r)
	out := make([]byte, n)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("%w: %v", errPacked, err)
	}
	if k, err := r.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		return nil, fmt.Errorf("%w: longer than its length", errPacked)
	}
	return out, nil
}
