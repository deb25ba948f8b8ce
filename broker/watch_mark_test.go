package broker

import (
	"bytes"
	"testing"
)

// TestPayloadMarks stores payloads, short and packed, with each mix of
// the two marks as packTask and watch.lua write them (watchMark first):
// unpackTask gives the payload back and reads both marks, and unpack
// gives the payload alone.
func TestPayloadMarks(t *testing.T) {
	t.Parallel()
	for _, v := range [][]byte{nil, []byte(`{"a":1}`), records(2048, 7)} {
		for _, hook := range []bool{false, true} {
			for _, watched := range []bool{false, true} {
				nt := NewTask{Payload: v}
				if hook {
					nt.CallbackURL = "https://example.com/hook"
				}
				stored := packTask(nt)
				if watched {
					stored = append([]byte{watchMark}, stored...) // as watch.lua does
				}
				got, gotHook, gotWatched, err := unpackTask(string(stored))
				if err != nil || !bytes.Equal(got, v) || gotHook != hook || gotWatched != watched {
					t.Errorf("unpackTask(%d bytes, hook %v, watched %v) = %d bytes, hook %v, watched %v, %v; want the payload back and both marks",
						len(v), hook, watched, len(got), gotHook, gotWatched, err)
				}
				if got, err := unpack(string(stored)); err != nil || !bytes.Equal(got, v) {
					t.Errorf("unpack(%d bytes, hook %v, watched %v) = %d bytes, %v; want the payload back", len(v), hook, watched, len(got), err)
				}
			}
		}
	}
}
