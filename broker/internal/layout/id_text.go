package layout

import (
	"encoding/binary"
	"errors"

	"github.com/google/uuid"
)

// IDText is a task ID as Redis holds it, in keys, lists, sets, sorted sets
// and on the channels: its 128 bits as 22 digits of 6 bits (the first
// holds the top 2), from idDigits. The canonical form the API shows takes
// 36 characters and plain hex 32: every ID in a queue, a log, a lease or a
// key costs 10 bytes less than hex, and a task's key fits an allocation
// of 40 bytes rather than 48. The digits are in ASCII order, so texts sort
// as their IDs do (by creation time, for UUIDv7); none is a space, a
// brace, a colon or a comma, which separate fields in keys and values.
func IDText(id uuid.UUID) string {
	var text [IDTextLen]byte
	encodeID(&text, id)
	return string(text[:])
}

// IDTextLen is the length of IDText. The Lua scripts that cut an ID from
// the end of a task's key spell it too (string.sub(key, -22)).
const IDTextLen = 22

// idDigits are the 64 digits of IDText, in ASCII order.
const idDigits = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// idDigitValues maps a byte to its value as a digit of IDText; 0xff for a
// byte that is not one.
var idDigitValues = func() (v [256]byte) {
	for i := range v {
		v[i] = 0xff
	}
	for i := range len(idDigits) {
		v[idDigits[i]] = byte(i)
	}
	return v
}()

// ErrIDText reports text that is not an IDText.
var ErrIDText = errors.New("not a task ID as Redis holds it")

// encodeID writes id's IDText into text, from its last 6 bits to its first.
func encodeID(text *[IDTextLen]byte, id uuid.UUID) {
	hi, lo := binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])
	for i := IDTextLen - 1; i >= 0; i-- {
		text[i] = idDigits[lo&63]
		lo = lo>>6 | hi<<58
		hi >>= 6
	}
}

// ParseIDText reads an IDText back.
func ParseIDText(text string) (uuid.UUID, error) {
	var id uuid.UUID
	if len(text) != IDTextLen || idDigitValues[text[0]] > 3 {
		return id, ErrIDText
	}
	var hi, lo uint64
	for i := range IDTextLen {
		v := idDigitValues[text[i]]
		if v == 0xff {
			return id, ErrIDText
		}
		hi = hi<<6 | lo>>58
		lo = lo<<6 | uint64(v)
	}
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id, nil
}
