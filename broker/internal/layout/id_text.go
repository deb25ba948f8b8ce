package layout

import (
	"encoding/binary"
	"errors"

	"github.com/google/uuid"
)

// IDText is a task ID as Redis holds it, in lists, sets, sorted sets and
// on the channels: 21 digits of 6 bits, from idDigits. The first 18 (the
// KeyIDLen that end the task's key) hold the 108 bits of the ID that vary:
// its 48-bit time and 12-bit sequence, then its 48 random bits. The last 3
// are the hash tag of its slot (slotTags): a task's key holds them between
// braces, so its ID is the key's end and its tag, and the 6 bits of
// version and variant, which every ID of NewID shares, are not stored.
// The canonical form the API shows takes 36 characters: every ID in a
// queue, a log or a lease costs 15 bytes less, and a task's key
// (Keys.Task) fits an allocation of 32 bytes rather than 48. Texts sort by
// time and sequence, as their IDs do, then by randomness; no digit is a
// space, a brace, a colon or a comma, which separate fields in keys and
// values. Another UUID (another version or variant) keeps only the bits
// that vary in NewID's: its text reads back as the version 7 ID with them.
func IDText(id uuid.UUID) string {
	var text [IDTextLen]byte
	encodeID((*[KeyIDLen]byte)(text[:KeyIDLen]), id)
	copy(text[KeyIDLen:], slotTags()[IDSlot(id)])
	return string(text[:])
}

// IDTextLen is the length of IDText, and KeyIDLen that of the digits that
// end a task's key. lua/status.lua's id_of_key, which reads an ID from a
// task's key for the scripts, spells both (the tag is followed by "}:").
const (
	IDTextLen = KeyIDLen + TagLen
	KeyIDLen  = 18
)

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

// encodeID writes the 18 digits of id's varying bits into text: its first
// 60 (time and sequence, the version nibble left out) as 10 digits, then
// its last 48 (after variant and slot) as 8.
func encodeID(text *[KeyIDLen]byte, id uuid.UUID) {
	hi := binary.BigEndian.Uint64(id[:8])
	head := hi>>16<<12 | hi&0xfff                         // 48-bit time, 12-bit sequence
	tail := binary.BigEndian.Uint64(id[8:]) & (1<<48 - 1) // 48 random bits
	for i := 9; i >= 0; i-- {
		text[i] = idDigits[head&63]
		head >>= 6
	}
	for i := KeyIDLen - 1; i >= 10; i-- {
		text[i] = idDigits[tail&63]
		tail >>= 6
	}
}

// IsTaskID reports whether id is of the version (7) and variant (RFC 4122)
// of every ID NewID makes. IDText leaves those bits out, so a UUID of
// another version or variant would name the task whose ID differs from it
// only there: the broker answers it as no task.
func IsTaskID(id uuid.UUID) bool {
	return id.Version() == 7 && id.Variant() == uuid.RFC4122
}

// ParseIDText reads an IDText back.
func ParseIDText(text string) (uuid.UUID, error) {
	var id uuid.UUID
	if len(text) != IDTextLen {
		return id, ErrIDText
	}
	var head, tail uint64
	for i := range KeyIDLen {
		v := idDigitValues[text[i]]
		if v == 0xff {
			return id, ErrIDText
		}
		if i < 10 {
			head = head<<6 | uint64(v)
		} else {
			tail = tail<<6 | uint64(v)
		}
	}
	tag := text[KeyIDLen:]
	slot := int(crc16(tag) % SlotCount)
	if slotTags()[slot] != tag {
		return id, ErrIDText
	}
	hi := head>>12<<16 | 7<<12 | head&0xfff
	lo := (0x80|uint64(slot)>>8)<<56 | uint64(slot&0xff)<<48 | tail
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id, nil
}
