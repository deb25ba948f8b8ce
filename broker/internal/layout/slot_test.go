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
			text := IDText(id)
			if key, want := keys.Task(id), "p:{"+text[KeyIDLen:]+"}:"+text[:KeyIDLen]; key != want || IDOfKey(key) != text || len(want) != 26 {
				t.Fatalf("Task(%s) = %q, want %q (26 bytes) holding IDText %q", id, key, want, text)
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

// TestIDTextRoundTripsAndSorts reads back the IDText of IDs as NewID
// makes them (version 7, variant 10, any slot; the edges of every field),
// checks that texts sort as the IDs' time and sequence do, that another
// UUID keeps only those bits, and that text which is no IDText is refused.
func TestIDTextRoundTripsAndSorts(t *testing.T) {
	t.Parallel()
	runqID := func(id uuid.UUID) uuid.UUID {
		id[6] = 0x70 | id[6]&0x0f
		id[8] = 0x80 | id[8]&0x3f
		return id
	}
	edges := []uuid.UUID{{}, uuid.Max, {0xff}, {15: 1}, {0: 0x40}, {0: 0x3f, 15: 0xff}, {8: 0x3f, 9: 0xff}, {6: 0x0f, 7: 0xff}}
	prev, prevID := "", uuid.UUID{}
	for i := range 3000 {
		var id uuid.UUID
		if i < len(edges) {
			id = runqID(edges[i])
		} else {
			id = runqID(uuid.New())
		}
		text := IDText(id)
		if len(text) != IDTextLen || strings.ContainsAny(text, " {}:,") {
			t.Fatalf("IDText(%s) = %q: want %d digits, none a separator", id, text, IDTextLen)
		}
		if back, err := ParseIDText(text); err != nil || back != id {
			t.Fatalf("ParseIDText(%q) = %s, %v, want %s", text, back, err, id)
		}
		if i > len(edges) && string(prevID[:8]) != string(id[:8]) {
			if (string(prevID[:8]) < string(id[:8])) != (prev < text) {
				t.Fatalf("IDText order of %s and %s differs from their times': %q, %q", prevID, id, prev, text)
			}
		}
		prev, prevID = text, id
	}
	if got := IDText(runqID(uuid.Max)); got != "zzzzzzzzzzzzzzzzzz"+slotTags()[SlotCount-1] {
		t.Errorf("IDText(Max) = %q", got)
	}
	// A UUID of another version or variant keeps the bits NewID's vary.
	v4 := uuid.New()
	if back, err := ParseIDText(IDText(v4)); err != nil || back != runqID(v4) || IDText(back) != IDText(v4) {
		t.Errorf("ParseIDText(IDText(%s)) = %s, %v; want %s", v4, back, err, runqID(v4))
	}
	tag := slotTags()[0]
	other := "zzz" // three digits, but not the tag of the slot they hash to
	for slotTags()[crc16(other)%SlotCount] == other {
		other = other[:2] + string(idDigits[idDigitValues[other[2]]-1])
	}
	for _, bad := range []string{"", "zzzzzzzzzzzzzzzzzz" + tag + "-", "------------------" + other, "------------------{a}",
		"0193f0c27c1a7c579656d96f4fc8c2d2", "-----------------+" + tag, "01a23c58-96c5-7c57-9656-d96f4fc8c2d2"} {
		if id, err := ParseIDText(bad); err == nil {
			t.Errorf("ParseIDText(%q) = %s, want an error", bad, id)
		}
	}
}

// TestSlotTagsAreIDDigits checks that every tag is TagLen digits of
// IDText, so that a task ID's text can end with its tag.
func TestSlotTagsAreIDDigits(t *testing.T) {
	t.Parallel()
	for s, tag := range slotTags() {
		if len(tag) != TagLen || strings.Trim(tag, idDigits) != "" {
			t.Fatalf("slotTags()[%d] = %q, want %d digits of IDText", s, tag, TagLen)
		}
	}
}
