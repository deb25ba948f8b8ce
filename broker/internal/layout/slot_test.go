package layout

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestSlotMatchesRedisCluster(t *testing.T) {
	t.Parallel()
	// Values from CLUSTER KEYSLOT on a Redis Cluster and the Redis Cluster
	// specification (CRC16 of "123456789" is 0x31C3).
	tests := []struct {
		key  string
		want int
	}{
		{"123456789", 0x31C3 % SlotCount},
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", Slot("user1000")},
		{"{user1000}.followers", Slot("user1000")},
		{"foo{}{bar}", Slot("foo{}{bar}")}, // empty tag: the whole key
		{"foo{{bar}}zap", Slot("{bar")},
		{"runq:{default}:pending", Slot("default")},
	}
	for _, tt := range tests {
		if got := Slot(tt.key); got != tt.want {
			t.Errorf("Slot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if got, want := Slot("foo{}{bar}"), int(crc16("foo{}{bar}")%SlotCount); got != want {
		t.Errorf("Slot(%q) = %d, want the whole key's %d", "foo{}{bar}", got, want)
	}
}

func TestSlotTagsCoverEverySlot(t *testing.T) {
	t.Parallel()
	tags := slotTags()
	for s, tag := range tags {
		if tag == "" || Slot("{"+tag+"}") != s {
			t.Fatalf("slotTags()[%d] = %q, which hashes to slot %d", s, tag, Slot("{"+tag+"}"))
		}
	}
}

func TestNewIDCarriesQueueSlot(t *testing.T) {
	t.Parallel()
	keys := Keys{Prefix: "p"}
	for _, queue := range []string{"default", "critical", "a", "emails.outbound", "Q-9_x"} {
		for range 50 {
			id, err := NewID(queue)
			if err != nil {
				t.Fatalf("NewID(%q): %v", queue, err)
			}
			if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
				t.Fatalf("NewID(%q) = %s: version %d variant %v, want 7 RFC4122", queue, id, id.Version(), id.Variant())
			}
			if key, suffix := keys.Task(id), "}:"+strings.ReplaceAll(id.String(), "-", ""); !strings.HasPrefix(key, "p:{") || !strings.HasSuffix(key, suffix) || IDOfKey(key) != IDText(id) {
				t.Fatalf("Task(%s) = %q, want p:{tag}%s", id, key, suffix)
			}
			if got, want := Slot(keys.Task(id)), Slot(keys.Pending(queue)); got != want {
				t.Fatalf("Slot(Task(%s)) = %d, want the slot of queue %q, %d", id, got, queue, want)
			}
		}
	}
}

func TestNewIDsSortByTime(t *testing.T) {
	t.Parallel()
	prev, _ := NewID("default")
	for range 1000 {
		id, err := NewID("default")
		if err != nil {
			t.Fatal(err)
		}
		if id.String() <= prev.String() {
			t.Fatalf("NewID() = %s after %s: IDs must increase", id, prev)
		}
		prev = id
	}
}
