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
			if key, suffix := keys.Task(id), "}:"+IDText(id); !strings.HasPrefix(key, "p:{") || !strings.HasSuffix(key, suffix) || IDOfKey(key) != IDText(id) {
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

func TestIDTextRoundTripsAndSorts(t *testing.T) {
	t.Parallel()
	edges := []uuid.UUID{{}, uuid.Max, {0xff}, {15: 1}, {0: 0x40}, {0: 0x3f, 15: 0xff}}
	prev := ""
	for i := range 2000 {
		var id uuid.UUID
		if i < len(edges) {
			id = edges[i]
		} else {
			id = uuid.New()
		}
		text := IDText(id)
		if len(text) != IDTextLen || strings.ContainsAny(text, " {}:,") {
			t.Fatalf("IDText(%s) = %q: want %d digits, none a separator", id, text, IDTextLen)
		}
		if back, err := ParseIDText(text); err != nil || back != id {
			t.Fatalf("ParseIDText(%q) = %s, %v, want %s", text, back, err, id)
		}
		if i >= len(edges) {
			if p, _ := ParseIDText(prev); (p.String() < id.String()) != (prev < text) {
				t.Fatalf("IDText order of %s and %s differs from theirs: %q, %q", p, id, prev, text)
			}
		}
		prev = text
	}
	if got := IDText(uuid.Max); got != "2zzzzzzzzzzzzzzzzzzzzz" {
		t.Errorf("IDText(Max) = %q", got)
	}
	for _, bad := range []string{"", "3zzzzzzzzzzzzzzzzzzzzz", "-----------------------", "0193f0c27c1a7c579656d96f4fc8c2d2", "---------------------+", "01a23c58-96c5-7c57-9656-d96f4fc8c2d2"} {
		if id, err := ParseIDText(bad); err == nil {
			t.Errorf("ParseIDText(%q) = %s, want an error", bad, id)
		}
	}
}
