package layout

import "sync"

// SlotCount is the number of Redis Cluster hash slots.
const SlotCount = 16384

// Slot returns the Redis Cluster hash slot of key: CRC16 of the key's hash
// tag (the text inside its first non-empty {...}) or of the whole key, modulo
// 16384. It mirrors CLUSTER KEYSLOT, which miniredis does not implement.
func Slot(key string) int {
	if i := indexByte(key, '{'); i >= 0 {
		if j := indexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % SlotCount)
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// slotTags maps every slot to a string of TagLen digits of IDText that
// hashes to it (the first, in digit order), so that a key can be placed in
// a chosen slot: a task's hash lives in the slot of its queue while its
// name carries only the task ID, which ends with the tag (IDText). Every
// slot has eight or more such tags. The table is computed once, is never
// written after, and is the same in every process.
var slotTags = sync.OnceValue(func() *[SlotCount]string {
	var tags [SlotCount]string
	left := SlotCount
	for i := 0; left > 0; i++ {
		tag := string([]byte{idDigits[i>>12&63], idDigits[i>>6&63], idDigits[i&63]})
		s := crc16(tag) % SlotCount
		if tags[s] == "" {
			tags[s] = tag
			left--
		}
	}
	return &tags
})

// TagLen is the length of every tag of slotTags.
const TagLen = 3

// crc16 is CRC-16/XMODEM (polynomial 0x1021), the checksum Redis Cluster uses
// for key slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
