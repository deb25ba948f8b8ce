package layout

import (
	"fmt"

	"github.com/google/uuid"
)

// NewID returns a new task ID for queue: a UUIDv7 (so IDs sort by creation
// time) whose first 14 random bits hold the Redis Cluster slot of the queue's
// hash tag. Keys.Task reads the slot back, so a task is found by ID alone and
// its hash shares a slot with its queue. 48 random bits remain, after
// uuid's 12-bit sub-millisecond sequence.
func NewID(queue string) (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("new task id: %w", err)
	}
	s := Slot("{" + queue + "}")
	id[8] = 0x80 | byte(s>>8) // keep the RFC 4122 variant bits 10
	id[9] = byte(s)
	return id, nil
}

// IDSlot returns the slot carried by id (bits 66-79).
func IDSlot(id uuid.UUID) int { return int(id[8]&0x3f)<<8 | int(id[9]) }

// IDMillis returns the Unix time in ms that id carries in its first 48
// bits: when NewID made it, by the clock of the process that made it. A
// task's created field holds its Redis-clock creation time less this (see
// FieldCreated), which lua/created.lua reads from the ID's IDText: its
// first eight digits.
func IDMillis(id uuid.UUID) int64 {
	return int64(id[0])<<40 | int64(id[1])<<32 | int64(id[2])<<24 | int64(id[3])<<16 | int64(id[4])<<8 | int64(id[5])
}
