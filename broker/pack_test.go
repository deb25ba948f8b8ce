package broker

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// records returns about n bytes of JSON records, as task payloads often
// are: an array of objects with the same keys and varied values.
func records(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := []byte(`{"items":[`)
	for len(b) < n-80 {
		b = fmt.Appendf(b, `{"id":%d,"sku":"SKU-%05d","qty":%d,"price":%d.%02d},`, r.IntN(1e6), r.IntN(1e5), r.IntN(10), r.IntN(500), r.IntN(100))
	}
	return append(b, `{}]}`...)
}

// letters returns n pseudo-random lowercase letters inside a JSON string:
// text with no repeats to find.
func letters(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n)
	b = append(b, `{"p":"`...)
	for len(b) < n-2 {
		b = append(b, byte('a'+r.IntN(26)))
	}
	return append(b, `"}`...)
}

func TestPack(t *testing.T) {
	t.Parallel()
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rand.IntN(256))
	}
	for _, tc := range []struct {
		name   string
		v      []byte
		packed bool
	}{
		{"empty", nil, false},
		{"short", []byte(`{"a":1}`), false},
		{"just under packMin", bytes.Repeat([]byte("1"), packMin-1), false},
		{"packMin, compressible", []byte(`[` + strings.Repeat(`1,`, packMin/2) + `1]`), true},
		{"1 KiB of records", records(1024, 1), true},
		{"16 KiB of records", records(16384, 2), true},
		{"1 KiB of letters", letters(1024, 1), false},
		{"random bytes", random, false},
	} {
		stored := pack(tc.v)
		if packed := len(stored) > 0 && stored[0] == packMark; packed != tc.packed {
			t.Errorf("%s: pack(%d bytes) packed = %v, want %v", tc.name, len(tc.v), packed, tc.packed)
		}
		if tc.packed && len(stored) > len(tc.v)-len(tc.v)/8 {
			t.Errorf("%s: pack kept %d of %d bytes, want at most 7/8", tc.name, len(stored), len(tc.v))
		}
		got, err := unpack(string(stored))
		if err != nil || !bytes.Equal(got, tc.v) {
			t.Errorf("%s: unpack(pack(v)) = %d bytes, %v; want the %d bytes back", tc.name, len(got), err, len(tc.v))
		}
	}
}

func TestUnpackRefusesCorruptValues(t *testing.T) {
	t.Parallel()
	good := string(pack(records(2048, 3)))
	for _, tc := range []struct{ name, stored string }{
		{"mark alone", "\x00"},
		{"length past Redis's limit", "\x00\xff\xff\xff\xff\x0f"},
		{"truncated block", good[:len(good)/2]},
		{"length too long", "\x00\x81\x20" + good[3:]},
		{"length too short", "\x00\x01" + good[3:]},
		{"not a block", "\x00\x05hello"},
	} {
		if got, err := unpack(tc.stored); !errors.Is(err, errPacked) {
			t.Errorf("%s: unpack = %d bytes, %v; want errPacked", tc.name, len(got), err)
		}
	}
}

// FuzzUnpack holds unpack to its contract on any stored value: it returns
// the value itself (without the marks of a task's payload, see unmark),
// the bytes a pack made, or errPacked; it never panics.
func FuzzUnpack(f *testing.F) {
	f.Add(string(pack(records(1024, 4))))
	f.Add(`{"a":1}`)
	f.Add("\x00\x03abc")
	f.Add("\x02\x01\x00\x03abc")
	f.Add("\x02\x01" + string(pack(records(1024, 4))))
	f.Add("\x01{}")
	f.Fuzz(func(t *testing.T, stored string) {
		v, err := unpack(stored)
		rest, _, _ := unmark(stored)
		switch {
		case err != nil && !errors.Is(err, errPacked):
			t.Fatalf("unpack(%q) = %v, want errPacked", stored, err)
		case err == nil && (rest == "" || rest[0] != packMark) && string(v) != rest:
			t.Fatalf("unpack(%q) = %q, want %q", stored, v, rest)
		case err == nil && len(v) >= packMin:
			if back, err := unpack(string(pack(v))); err != nil || !bytes.Equal(back, v) {
				t.Fatalf("pack of %d bytes does not round trip: %v", len(v), err)
			}
		}
	})
}

// TestDecodeRecordUnpacks reads a record whose payload and result were
// stored packed, and one whose packed payload is corrupt.
func TestDecodeRecordUnpacks(t *testing.T) {
	t.Parallel()
	payload, result := records(1024, 5), records(4000, 6)
	h := map[string]string{
		layout.FieldMeta: "3,30000,3600000,default,echo", layout.FieldStatus: "succeeded",
		layout.FieldPayload: string(pack(payload)), layout.FieldResult: string(pack(result)),
		layout.FieldCreated: createdField(testID, 1700000000000), layout.FieldFinished: "1700000000200",
		layout.FieldAttempt: "abc,1700000000100,1",
	}
	rec, err := decodeRecord(testID, h)
	if err != nil || !bytes.Equal(rec.Payload, payload) || !bytes.Equal(rec.Result, result) {
		t.Fatalf("decodeRecord of packed fields = %d and %d bytes, %v; want %d and %d", len(rec.Payload), len(rec.Result), err, len(payload), len(result))
	}
	h[layout.FieldPayload] = h[layout.FieldPayload][:20]
	if _, err := decodeRecord(testID, h); !errors.Is(err, results.ErrCorrupt) {
		t.Errorf("decodeRecord of a truncated packed payload = %v, want ErrCorrupt", err)
	}
}

// BenchmarkPack measures what storing a payload packed costs the producer
// (pack) and the worker or reader (unpack), per value of JSON records, and
// what trying costs on text that does not pack (letters).
func BenchmarkPack(b *testing.B) {
	for _, n := range []int{1024, 16384} {
		v := records(n, 7)
		b.Run(fmt.Sprintf("pack/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				pack(v)
			}
		})
		stored := string(pack(v))
		b.Run(fmt.Sprintf("unpack/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := unpack(stored); err != nil {
					b.Fatal(err)
				}
			}
		})
		text := letters(n, 8)
		b.Run(fmt.Sprintf("try-letters/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				pack(text)
			}
		})
	}
}
