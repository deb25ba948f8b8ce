package broker

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/klauspost/compress/s2"
)

// Payloads and results of packMin bytes or more are stored compressed
// when that saves at least an eighth of them. A task's Redis memory is
// mostly its payload and result, kept until the result expires: JSON of a
// kilobyte or more usually compresses to two thirds or less, and Redis
// allocates a value in steps of a quarter of its size (1,024 bytes and a
// header take 1,280), so a value stored as it came costs more than itself.
// The codec is S2 (github.com/klauspost/compress/s2, a faster Snappy): on
// 1 KiB of JSON records it packs in about 1 µs and unpacks in 0.3, where
// compress/flate took 20 µs each way and cut runq's drain of such tasks by
// a third (BenchmarkPack). S2 finds repeats, as JSON's keys and values
// are; text without any (random letters) is stored as it came, having cost
// the sender about half a microsecond per kilobyte to try. The scripts
// never read a payload or a result: only the broker packs and unpacks
// them, so what users see is the JSON they sent and their handlers
// returned.
//
// A packed value is packMark then an S2 block, which begins with the
// length of the value. JSON, which every payload and result is (tasks
// checks both), never opens with packMark, so a value is read as it is
// stored when it does not.
const (
	packMin  = 512
	packMark = 0x00
)

// maxUnpacked bounds the length a packed value may claim: eight times the
// largest payload or result that tasks accepts (1 MiB). A longer one is
// corrupt, and is not allocated.
const maxUnpacked = 8 << 20

// errPacked says a packed value does not unpack.
var errPacked = errors.New("packed value does not decode")

// pack returns v as it is to be stored: packed when v is at least packMin
// bytes long and that saves an eighth, else v itself.
func pack(v []byte) []byte {
	if len(v) < packMin {
		return v
	}
	dst := make([]byte, 1+s2.MaxEncodedLen(len(v)))
	dst[0] = packMark
	block := s2.Encode(dst[1:], v)
	if 1+len(block) > len(v)-len(v)/8 {
		return v
	}
	return dst[:1+len(block)]
}

// unpack returns a stored value as it was before pack, without the marks
// a task's payload may carry (see unmark). A value that opens with
// packMark but does not decode is an error wrapping errPacked.
func unpack(stored string) ([]byte, error) {
	stored, _, _ = unmark(stored)
	if len(stored) == 0 || stored[0] != packMark {
		return []byte(stored), nil
	}
	// The block is only read: no copy of the stored value is made for it.
	block := unsafe.Slice(unsafe.StringData(stored[1:]), len(stored)-1)
	n, err := s2.DecodedLen(block)
	if err != nil || n > maxUnpacked {
		return nil, fmt.Errorf("%w: bad length", errPacked)
	}
	out, err := s2.Decode(make([]byte, n), block)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPacked, err)
	}
	return out, nil
}
